#include <gtest/gtest.h>
#include <unistd.h>

#include "data/cifar.h"
#include "data/dataset.h"
#include "temp_dir.h"
#include "util/error.h"

namespace rnnmft {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

// A record with label l whose R, G, B planes hold distinct, position-dependent values.
std::vector<uint8_t> record(uint8_t label, uint8_t salt) {
  std::vector<uint8_t> r(kCifarRecord);
  r[0] = label;
  for (int ch = 0; ch < 3; ++ch)
    for (int p = 0; p < 1024; ++p) r[1 + ch * 1024 + p] = uint8_t(p * 3 + ch * 85 + salt);
  return r;
}

void write_batch(const std::string& path, const std::vector<uint8_t>& labels, uint8_t salt = 0) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < labels.size(); ++i) {
    auto r = record(labels[i], uint8_t(salt + i));
    bytes.insert(bytes.end(), r.begin(), r.end());
  }
  write_bytes(path, bytes);
}

TEST(Cifar, PlanesBecomeInterleavedPixels) {
  TempDir dir;
  write_batch(dir.file("b.bin"), {3, 9, 0});
  ImageSet set;
  append_cifar_batch(dir.file("b.bin"), set);
  ASSERT_EQ(set.count, 3u);
  EXPECT_EQ(set.rows, 32);
  EXPECT_EQ(set.channels, 3);
  EXPECT_EQ(set.labels, (std::vector<uint8_t>{3, 9, 0}));
  for (size_t i = 0; i < 3; ++i)
    for (int p : {0, 1, 33, 1023})
      for (int ch = 0; ch < 3; ++ch)
        EXPECT_EQ(set.image(i)[p * 3 + ch], uint8_t(p * 3 + ch * 85 + i))
            << i << " " << p << " " << ch;
}

TEST(Cifar, TruncatedRecord) {
  TempDir dir;
  write_batch(dir.file("b.bin"), {1, 2});
  auto bytes = testing::read_bytes(dir.file("b.bin"));
  ASSERT_GT(bytes.size(), 100u);
  bytes.erase(bytes.end() - 100, bytes.end());
  write_bytes(dir.file("b.bin"), bytes);
  ImageSet set;
  expect_error([&] { append_cifar_batch(dir.file("b.bin"), set); },
               {dir.file("b.bin"), "not a multiple of the 3073-byte record",
                "1 whole records and 2973 stray bytes"});
}

TEST(Cifar, LabelOutOfRange) {
  TempDir dir;
  write_batch(dir.file("b.bin"), {1, 10, 2});
  ImageSet set;
  expect_error([&] { append_cifar_batch(dir.file("b.bin"), set); },
               {dir.file("b.bin"), "record 1 has label 10"});
}

TEST(Cifar, EmptyAndMissing) {
  TempDir dir;
  write_bytes(dir.file("e.bin"), {});
  ImageSet set;
  expect_error([&] { append_cifar_batch(dir.file("e.bin"), set); }, {"empty file"});
  expect_error([&] { append_cifar_batch(dir.file("none.bin"), set); }, {"file not found"});
}

TEST(Cifar, LoadsFiveTrainingBatchesAndTheTestBatch) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("cifar10"));
  for (int b = 1; b <= 5; ++b)
    write_batch(dir.file("cifar10/data_batch_" + std::to_string(b) + ".bin"),
                {uint8_t(b), uint8_t(b + 1)}, uint8_t(b));
  write_batch(dir.file("cifar10/test_batch.bin"), {7, 8, 9});
  Dataset ds = load_dataset("cifar", dir.str());
  EXPECT_EQ(ds.name, "cifar10");
  EXPECT_EQ(ds.train.count, 10u);
  EXPECT_EQ(ds.test.count, 3u);
  EXPECT_EQ(ds.train.labels[0], 1);
  EXPECT_EQ(ds.train.labels[9], 6);
  EXPECT_EQ(ds.train.files.size(), 5u);
  EXPECT_EQ(ds.class_names[ds.test.labels[0]], "horse");
}

TEST(Cifar, MissingBatchNamesTheFile) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("cifar10"));
  write_batch(dir.file("cifar10/data_batch_1.bin"), {1});
  expect_error([&] { load_dataset("cifar10", dir.str()); }, {"data_batch_2.bin", "file not found"});
}

TEST(Cifar, AbsentDataSetExplainsWhereToPutIt) {
  TempDir dir;
  expect_error([&] { load_dataset("cifar10", dir.str()); },
               {"dataset cifar10 not found", "cannot be downloaded", "test_batch.bin"});
}

}  // namespace
}  // namespace rnnmft
