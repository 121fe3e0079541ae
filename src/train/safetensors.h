// safetensors files: an 8-byte little-endian header length, a JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
// raw little-endian data. The reader is strict (offsets, sizes, dtypes) and names the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rnnmft {

struct StTensor {
  std::string dtype;  // "F32", "F64", "I32", "I64"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  size_t numel() const;
};

struct SafeTensors {
  std::map<std::string, StTensor> tensors;
  std::map<std::string, std::string> metadata;
  std::string path;  // absolute path when read from a file

  void add_f32(const std::string& name, std::vector<int64_t> shape, const float* data);
  void add_f64(const std::string& name, std::vector<int64_t> shape, const double* data);
  void add_i64(const std::string& name, std::vector<int64_t> shape, const int64_t* data);
  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // Values of an F32/F64 tensor as float, checking the shape when `shape` is non-empty.
  std::vector<float> get_f32(const std::string& name, const std::vector<int64_t>& shape = {}) const;
  std::vector<double> get_f64(const std::string& name) const;
  std::vector<int64_t> get_i64(const std::string& name) const;
  const std::string& meta(const std::string& key) const;
};

// Written atomically: a temporary file beside the target, then rename.
void write_safetensors(const std::string& path, const SafeTensors& st);
// with_data = false: the header only, checked as strictly (each tensor's bytes within the file),
// with every tensor's `bytes` left empty: the shapes of a file before anything is allocated.
SafeTensors read_safetensors(const std::string& path, bool with_data = true);
// Whether a file begins as a safetensors file does (an 8-byte header length that fits the file,
// then '{'): how --init tells weights from a spec whatever the file is named.
bool looks_like_safetensors(const std::string& path);

}  // namespace rnnmft
