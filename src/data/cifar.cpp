#include "data/cifar.h"

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace rnnmft {

void append_cifar_batch(const std::string& path, ImageSet& set) {
  const std::string where = absolute_path(path);
  const uint64_t size = existing_file_size(path, where);
  if (size == 0) fail("{}: empty file", where);
  if (size % kCifarRecord != 0)
    fail(
        "{}: truncated or not a CIFAR-10 binary batch: {} bytes is not a multiple of the {}-byte "
        "record ({} whole records and {} stray bytes)",
        where, size, kCifarRecord, size / kCifarRecord, size % kCifarRecord);
  // A batch of the real data set has 10000 records; refuse anything absurdly larger.
  if (size / kCifarRecord > 1000000)
    fail("{}: implausibly large ({} records)", where, size / kCifarRecord);

  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open file", where);
  const size_t n = size / kCifarRecord;
  constexpr int plane = kCifarSide * kCifarSide;
  set.rows = set.cols = kCifarSide;
  set.channels = 3;
  const size_t base = set.count;
  set.pixels.resize((base + n) * plane * 3);
  set.labels.resize(base + n);
  std::vector<uint8_t> rec(kCifarRecord);
  for (size_t r = 0; r < n; ++r) {
    if (!in.read(reinterpret_cast<char*>(rec.data()), kCifarRecord))
      fail("{}: read failed at record {}", where, r);
    if (rec[0] > 9) fail("{}: record {} has label {}, outside 0–9", where, r, int(rec[0]));
    set.labels[base + r] = rec[0];
    uint8_t* dst = set.pixels.data() + (base + r) * plane * 3;
    for (int p = 0; p < plane; ++p)
      for (int ch = 0; ch < 3; ++ch) dst[p * 3 + ch] = rec[1 + ch * plane + p];
  }
  set.count = base + n;
  set.files.push_back(where);
}

}  // namespace rnnmft
