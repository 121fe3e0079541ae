// Strict reader for IDX files (the MNIST format: LeCun et al.), plain or gzip-compressed.
// Layout (docs/tasks.md §Files): bytes 0–1 zero, byte 2 the element type (only 0x08, unsigned
// byte, is used by image data sets), byte 3 the number of dimensions, then one big-endian
// uint32 per dimension, then the elements in row-major order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rnnmft {

struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
  std::string path;  // absolute path of the file read
  size_t count() const { return dims.empty() ? 0 : dims[0]; }
};

// Largest payload a header may announce before we refuse it (no allocation because a header
// says so: payloads are read in chunks and the buffer only grows with bytes actually present).
inline constexpr size_t kIdxMaxBytes = size_t(1) << 31;

// Reads the whole file; throws rnnmft::Error naming the file and the problem: missing file,
// wrong magic, unsupported type, bad dimension count, absurd size, truncation, trailing bytes,
// corrupt gzip stream.
IdxArray read_idx(const std::string& path, size_t max_bytes = kIdxMaxBytes);

// Writes an unsigned-byte IDX file (plain, or gzip when gzip is true); used by tests and tools.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims,
               const std::vector<uint8_t>& data, bool gzip = false);

}  // namespace rnnmft
