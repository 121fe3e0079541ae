#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "temp_dir.h"
#include "util/error.h"

namespace rnnmft {
namespace {

using testing::expect_error;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 7 + 3);
  return v;
}

TEST(Idx, RoundTripPlainAndGzip) {
  TempDir dir;
  const auto data = ramp(5 * 3 * 4);
  for (bool gz : {false, true}) {
    const auto path = dir.file(gz ? "a.idx.gz" : "a.idx");
    write_idx(path, {5, 3, 4}, data, gz);
    const auto bytes = read_bytes(path);
    // A gzip file starts with 1f 8b; a plain one with the IDX magic 00 00 08 03.
    if (gz) {
      EXPECT_EQ(bytes[0], 0x1f);
    } else {
      EXPECT_EQ(bytes.size(), 4 + 3 * 4 + data.size());
      EXPECT_EQ(bytes[2], 0x08);
      EXPECT_EQ(bytes[3], 3);
    }
    IdxArray a = read_idx(path);
    EXPECT_EQ(a.dims, (std::vector<uint32_t>{5, 3, 4}));
    EXPECT_EQ(a.data, data);
    EXPECT_EQ(a.count(), 5u);
  }
}

TEST(Idx, MissingFile) {
  TempDir dir;
  expect_error([&] { read_idx(dir.file("nope")); }, {dir.file("nope"), "file not found"});
}

TEST(Idx, WrongMagic) {
  TempDir dir;
  write_bytes(dir.file("m"), {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 9});
  expect_error([&] { read_idx(dir.file("m")); }, {dir.file("m"), "wrong magic number 0x12340801"});
}

TEST(Idx, UnsupportedType) {
  TempDir dir;
  write_bytes(dir.file("t"), {0, 0, 0x0d, 0x01, 0, 0, 0, 1, 0, 0, 0, 0});
  expect_error([&] { read_idx(dir.file("t")); }, {"unsupported IDX element type 0x0d"});
}

TEST(Idx, BadDimensionCount) {
  TempDir dir;
  write_bytes(dir.file("d"), {0, 0, 0x08, 0x00});
  expect_error([&] { read_idx(dir.file("d")); }, {"implausible number of dimensions 0"});
  write_bytes(dir.file("d9"), {0, 0, 0x08, 0x09});
  expect_error([&] { read_idx(dir.file("d9")); }, {"implausible number of dimensions 9"});
}

TEST(Idx, ZeroDimension) {
  TempDir dir;
  write_bytes(dir.file("z"), {0, 0, 0x08, 0x02, 0, 0, 0, 2, 0, 0, 0, 0});
  expect_error([&] { read_idx(dir.file("z")); }, {"dimension 1 is zero"});
}

TEST(Idx, TruncatedHeader) {
  TempDir dir;
  write_bytes(dir.file("h"), {0, 0});
  expect_error([&] { read_idx(dir.file("h")); }, {"truncated", "magic"});
  write_bytes(dir.file("h2"), {0, 0, 0x08, 0x03, 0, 0, 0, 5, 0, 0});
  expect_error([&] { read_idx(dir.file("h2")); }, {"truncated inside the header"});
}

TEST(Idx, TruncatedData) {
  TempDir dir;
  const auto data = ramp(60);
  write_idx(dir.file("full"), {5, 3, 4}, data);
  auto bytes = read_bytes(dir.file("full"));
  ASSERT_GT(bytes.size(), 7u);
  bytes.erase(bytes.end() - 7, bytes.end());
  write_bytes(dir.file("cut"), bytes);
  expect_error([&] { read_idx(dir.file("cut")); },
               {dir.file("cut"), "truncated: header announces 60 data bytes, file holds 53"});
  // The same through gzip: the size is only known while reading.
  gzFile g = gzopen(dir.file("cut.gz").c_str(), "wb");
  gzwrite(g, bytes.data(), unsigned(bytes.size()));
  gzclose(g);
  expect_error([&] { read_idx(dir.file("cut.gz")); }, {"truncated", "60 data bytes", "holds 53"});
}

TEST(Idx, TrailingBytes) {
  TempDir dir;
  write_idx(dir.file("full"), {4}, ramp(4));
  auto bytes = read_bytes(dir.file("full"));
  bytes.push_back(1);
  bytes.push_back(2);
  write_bytes(dir.file("long"), bytes);
  expect_error([&] { read_idx(dir.file("long")); }, {"2 unexpected bytes after the 4 data bytes"});
}

TEST(Idx, AbsurdSizeIsRefusedBeforeAllocation) {
  TempDir dir;
  // 4 dims of 2^16 each: 2^64 bytes; must be refused from the header alone.
  write_bytes(dir.file("huge"),
              {0, 0, 0x08, 0x04, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1});
  expect_error([&] { read_idx(dir.file("huge")); }, {dir.file("huge"), "absurd size"});
  // A gzip file whose header claims 1.5 GB but holds 10 bytes: truncation, found while reading in
  // chunks (the buffer never exceeds one chunk beyond the data present).
  std::vector<uint8_t> lie = {0, 0, 0x08, 0x01, 0x59, 0x68, 0x2f, 0x00, 1,
                              2, 3, 4,    5,    6,    7,    8,    9,    10};
  gzFile g = gzopen(dir.file("lie.gz").c_str(), "wb");
  gzwrite(g, lie.data(), unsigned(lie.size()));
  gzclose(g);
  expect_error([&] { read_idx(dir.file("lie.gz")); },
               {"truncated", "1500000000 data bytes", "holds 10"});
}

TEST(Idx, CorruptGzip) {
  TempDir dir;
  write_idx(dir.file("c.gz"), {200, 50}, ramp(10000), true);
  auto bytes = read_bytes(dir.file("c.gz"));
  ASSERT_GT(bytes.size(), 40u);
  for (size_t i = 20; i < bytes.size() - 10; ++i) bytes[i] ^= 0x5a;
  write_bytes(dir.file("c.gz"), bytes);
  expect_error([&] { read_idx(dir.file("c.gz")); }, {dir.file("c.gz")});
}

TEST(IdxImageSet, LabelsMustMatchImages) {
  TempDir dir;
  write_idx(dir.file("img"), {3, 2, 2}, ramp(12));
  write_idx(dir.file("lab"), {4}, {1, 2, 3, 4});
  expect_error([&] { make_idx_image_set(dir.file("img"), dir.file("lab"), 10); },
               {"holds 4 labels", "holds 3 images"});
}

TEST(IdxImageSet, LabelOutOfRange) {
  TempDir dir;
  write_idx(dir.file("img"), {3, 2, 2}, ramp(12));
  write_idx(dir.file("lab"), {3}, {1, 12, 3});
  expect_error([&] { make_idx_image_set(dir.file("img"), dir.file("lab"), 10); },
               {dir.file("lab"), "label 12 at index 1 is outside 0–9"});
}

TEST(IdxImageSet, WrongRanks) {
  TempDir dir;
  write_idx(dir.file("img"), {12}, ramp(12));
  write_idx(dir.file("lab"), {3}, {1, 2, 3});
  expect_error([&] { make_idx_image_set(dir.file("img"), dir.file("lab"), 10); },
               {"expected a 3-dimensional image file"});
  write_idx(dir.file("img3"), {3, 2, 2}, ramp(12));
  write_idx(dir.file("lab2"), {3, 1}, {1, 2, 3});
  expect_error([&] { make_idx_image_set(dir.file("img3"), dir.file("lab2"), 10); },
               {"expected a 1-dimensional label file"});
}

TEST(IdxImageSet, MissingFileInDataDir) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("mnist"));
  write_idx(dir.file("mnist/train-images-idx3-ubyte"), {3, 2, 2}, ramp(12));
  write_idx(dir.file("mnist/train-labels-idx1-ubyte"), {3}, {1, 2, 3});
  expect_error([&] { load_dataset("mnist", dir.str()); }, {"missing t10k-images-idx3-ubyte"});
  expect_error([&] { load_dataset("mnist", dir.file("elsewhere")); },
               {"dataset mnist not found", "elsewhere"});
}

}  // namespace
}  // namespace rnnmft

namespace rnnmft {
namespace {

// A gzip stream without its CRC-32 and length trailer, and one whose CRC does not match the data
// (a corrupted byte the deflate stream still decodes), are refused: zlib's end-of-stream status
// is checked, not only the byte count.
TEST(Idx, GzipTrailerIsChecked) {
  TempDir dir;
  write_idx(dir.file("t.gz"), {300}, ramp(300), true);
  const auto bytes = read_bytes(dir.file("t.gz"));
  ASSERT_GT(bytes.size(), 20u);
  write_bytes(dir.file("cut.gz"), std::vector<uint8_t>(bytes.begin(), bytes.end() - 8));
  expect_error([&] { read_idx(dir.file("cut.gz")); }, {dir.file("cut.gz"), "end"});
  auto crc = bytes;
  crc[crc.size() - 8] ^= 0x01;  // the trailer's CRC-32
  write_bytes(dir.file("crc.gz"), crc);
  expect_error([&] { read_idx(dir.file("crc.gz")); }, {dir.file("crc.gz")});
}

}  // namespace
}  // namespace rnnmft
