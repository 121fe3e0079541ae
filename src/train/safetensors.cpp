#include "train/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_read.h"

namespace rnnmft {

using nlohmann::json;

namespace {

// A list of integers from the header, each representable as T: JSON numbers beyond 2^64 parse as
// doubles, and converting those (or any fraction) would be undefined.
template <typename T>
std::vector<T> integers(const nlohmann::json& v, const std::string& where, const std::string& name,
                        const char* key) {
  if (!v.is_array()) fail("{}: tensor '{}' has a {} that is not a list", where, name, key);
  std::vector<T> out;
  for (const auto& x : v) {
    const bool ok = x.is_number_unsigned()
                        ? x.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                        : x.is_number_integer() && (std::is_signed_v<T> || x.get<int64_t>() >= 0);
    if (!ok)
      fail("{}: tensor '{}' has a {} entry that is not an integer in range", where, name, key);
    out.push_back(x.get<T>());
  }
  return out;
}

size_t dtype_size(const std::string& d) {
  if (d == "F32" || d == "I32") return 4;
  if (d == "F64" || d == "I64") return 8;
  if (d == "F16" || d == "BF16" || d == "I16") return 2;
  if (d == "U8" || d == "I8" || d == "BOOL") return 1;
  return 0;
}

template <typename T>
StTensor make(const std::string& dtype, std::vector<int64_t> shape, const T* data) {
  StTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(t.numel() * sizeof(T));
  std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}

}  // namespace

size_t StTensor::numel() const {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  return n;
}

void SafeTensors::add_f32(const std::string& n, std::vector<int64_t> s, const float* d) {
  tensors[n] = make("F32", std::move(s), d);
}
void SafeTensors::add_f64(const std::string& n, std::vector<int64_t> s, const double* d) {
  tensors[n] = make("F64", std::move(s), d);
}
void SafeTensors::add_i64(const std::string& n, std::vector<int64_t> s, const int64_t* d) {
  tensors[n] = make("I64", std::move(s), d);
}

std::vector<float> SafeTensors::get_f32(const std::string& name,
                                        const std::vector<int64_t>& shape) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail("{}: no tensor '{}'", path, name);
  const StTensor& t = it->second;
  if (!shape.empty() && t.shape != shape) {
    std::string got, want;
    for (auto d : t.shape) got += (got.empty() ? "" : "×") + std::to_string(d);
    for (auto d : shape) want += (want.empty() ? "" : "×") + std::to_string(d);
    fail("{}: tensor '{}' has shape {}, expected {}", path, name, got, want);
  }
  std::vector<float> out(t.numel());
  if (t.dtype == "F32") {
    std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  } else if (t.dtype == "F64") {
    for (size_t i = 0; i < out.size(); ++i) {
      double v;
      std::memcpy(&v, t.bytes.data() + 8 * i, 8);
      out[i] = float(v);
    }
  } else {
    fail("{}: tensor '{}' has dtype {}, expected F32 or F64", path, name, t.dtype);
  }
  return out;
}

std::vector<double> SafeTensors::get_f64(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail("{}: no tensor '{}'", path, name);
  if (it->second.dtype != "F64") fail("{}: tensor '{}' is not F64", path, name);
  std::vector<double> out(it->second.numel());
  std::memcpy(out.data(), it->second.bytes.data(), it->second.bytes.size());
  return out;
}

std::vector<int64_t> SafeTensors::get_i64(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail("{}: no tensor '{}'", path, name);
  if (it->second.dtype != "I64") fail("{}: tensor '{}' is not I64", path, name);
  std::vector<int64_t> out(it->second.numel());
  std::memcpy(out.data(), it->second.bytes.data(), it->second.bytes.size());
  return out;
}

const std::string& SafeTensors::meta(const std::string& key) const {
  auto it = metadata.find(key);
  if (it == metadata.end()) fail("{}: metadata has no '{}'", path, key);
  return it->second;
}

void write_safetensors(const std::string& path, const SafeTensors& st) {
  json header = json::object();
  size_t offset = 0;
  for (const auto& [name, t] : st.tensors) {
    header[name] = {{"dtype", t.dtype},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  const uint64_t n = h.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char(uint8_t(n >> (8 * i)));
  out += h;
  for (const auto& [name, t] : st.tensors)
    out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  write_file_atomic(path, out);  // checked, fsynced, renamed: a checkpoint is whole or absent
}

bool looks_like_safetensors(const std::string& path) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  uint8_t b[9];
  if (ec || size < 9 || !in.read(reinterpret_cast<char*>(b), 9)) return false;
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(b[i]) << (8 * i);
  return n <= size - 8 && b[8] == '{';  // a JSON text's first 8 bytes make a far larger n
}

SafeTensors read_safetensors(const std::string& path, bool with_data) {
  SafeTensors st;
  st.path = absolute_path(path);
  const std::string& where = st.path;
  const uint64_t size = existing_file_size(path, where);
  std::ifstream in(path, std::ios::binary);
  if (!in || size < 8) fail("{}: not a safetensors file (shorter than 8 bytes)", where);
  uint8_t len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(len[i]) << (8 * i);
  if (n > size - 8 || n > (uint64_t(100) << 20)) {
    // A JSON text's first 8 bytes read as a huge length: say what the file looks like instead.
    size_t k = 0;
    while (k < 8 && (len[k] == ' ' || len[k] == '\n' || len[k] == '\r' || len[k] == '\t')) ++k;
    if (k < 8 && (len[k] == '{' || len[k] == '['))
      fail(
          "{}: not a safetensors file: it begins like JSON text (an init spec goes to `train "
          "--init`; weights are written by `rnnmft export`)",
          where);
    fail("{}: not a safetensors file: header length {} does not fit the {}-byte file", where, n,
         size);
  }
  std::string h(n, '\0');
  in.read(h.data(), std::streamsize(n));
  json header;
  try {
    header = parse_json(h);
  } catch (const json::exception& e) {  // syntax, and numbers beyond a double (1e400)
    fail("{}: header is not valid JSON ({})", where, e.what());
  }
  if (!header.is_object()) fail("{}: header is not a JSON object", where);
  const uint64_t data_size = size - 8 - n;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      for (auto& [k, val] : v.items()) {
        if (!val.is_string()) fail("{}: metadata '{}' is not a string", where, k);
        st.metadata[k] = val.get<std::string>();
      }
      continue;
    }
    try {
      StTensor t;
      t.dtype = v.at("dtype").get<std::string>();
      t.shape = integers<int64_t>(v.at("shape"), where, name, "shape");
      auto off = integers<uint64_t>(v.at("data_offsets"), where, name, "data_offsets");
      const size_t es = dtype_size(t.dtype);
      if (es == 0) fail("{}: tensor '{}' has unknown dtype {}", where, name, t.dtype);
      // Counted without wrapping: [2^32, 2^32] elements must not pass for 0 bytes.
      size_t numel = 1, nbytes = 0;
      for (auto d : t.shape) {
        if (d < 0 || d > (int64_t(1) << 40)) fail("{}: tensor '{}' has a bad shape", where, name);
        if (__builtin_mul_overflow(numel, size_t(d), &numel))
          fail("{}: tensor '{}' has a shape of 2^64 elements or more", where, name);
      }
      if (__builtin_mul_overflow(numel, es, &nbytes))
        fail("{}: tensor '{}' has a shape of 2^64 bytes or more", where, name);
      if (off.size() != 2 || off[0] > off[1] || off[1] > data_size)
        fail("{}: tensor '{}' has data offsets outside the file", where, name);
      if (off[1] - off[0] != nbytes)
        fail("{}: tensor '{}' holds {} bytes, its shape and dtype need {}", where, name,
             off[1] - off[0], nbytes);
      if (!with_data) {
        st.tensors[name] = std::move(t);
        continue;
      }
      t.bytes.resize(off[1] - off[0]);
      in.seekg(std::streamoff(8 + n + off[0]));
      in.read(reinterpret_cast<char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
      if (!in) fail("{}: truncated while reading tensor '{}'", where, name);
      st.tensors[name] = std::move(t);
    } catch (const json::exception& e) {
      fail("{}: tensor '{}' has a malformed header entry ({})", where, name, e.what());
    }
  }
  return st;
}

}  // namespace rnnmft
