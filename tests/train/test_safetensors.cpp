#include <gtest/gtest.h>

#include <fstream>

#include "../data/temp_dir.h"
#include "train/optimizers/adam.h"
#include "train/safetensors.h"
#include "util/error.h"

namespace rnnmft {
namespace {

using testing::expect_error;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

TEST(SafeTensors, RoundTripAndHeaderLayout) {
  TempDir dir;
  SafeTensors st;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<int64_t> b = {7, -8};
  st.add_f32("a", {2, 3}, a.data());
  st.add_i64("b", {2}, b.data());
  st.metadata["k"] = "v";
  write_safetensors(dir.file("x.safetensors"), st);
  auto bytes = read_bytes(dir.file("x.safetensors"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 6 * 4 + 2 * 8);
  SafeTensors r = read_safetensors(dir.file("x.safetensors"));
  EXPECT_EQ(r.get_f32("a", {2, 3}), a);
  EXPECT_EQ(r.get_i64("b"), b);
  EXPECT_EQ(r.meta("k"), "v");
  expect_error([&] { r.get_f32("a", {3, 2}); }, {"tensor 'a' has shape 2×3, expected 3×2"});
  expect_error([&] { r.get_f32("c"); }, {"no tensor 'c'"});
}

TEST(SafeTensors, MalformedFiles) {
  TempDir dir;
  write_bytes(dir.file("short"), {1, 2, 3});
  expect_error([&] { read_safetensors(dir.file("short")); }, {"shorter than 8 bytes"});
  write_bytes(dir.file("len"), {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'});
  expect_error([&] { read_safetensors(dir.file("len")); }, {"does not fit"});
  auto put = [&](const std::string& name, const std::string& header, size_t data) {
    std::vector<uint8_t> b(8, 0);
    b[0] = uint8_t(header.size());
    b.insert(b.end(), header.begin(), header.end());
    b.resize(b.size() + data, 0);
    write_bytes(dir.file(name), b);
  };
  put("json", "{not json", 0);
  expect_error([&] { read_safetensors(dir.file("json")); }, {"not valid JSON"});
  put("off", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  expect_error([&] { read_safetensors(dir.file("off")); }, {"offsets outside the file"});
  put("size", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16);
  expect_error([&] { read_safetensors(dir.file("size")); }, {"holds 16 bytes", "need 12"});
  put("dtype", R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", 1);
  expect_error([&] { read_safetensors(dir.file("dtype")); }, {"unknown dtype Q7"});
  // 2^32 × 2^32 elements wrap to 0 in 64 bits: refused, not read as an empty tensor.
  put("wrap", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0);
  expect_error([&] { read_safetensors(dir.file("wrap")); }, {"tensor 'a'", "2^64 elements or more"});
  // Integers beyond 2^64 parse as doubles; fractions and negative offsets are not sizes either.
  put("huge", R"({"a":{"dtype":"F32","shape":[42946972964697496729],"data_offsets":[0,0]}})", 0);
  expect_error([&] { read_safetensors(dir.file("huge")); }, {"tensor 'a'", "shape entry"});
  put("frac", R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4);
  expect_error([&] { read_safetensors(dir.file("frac")); }, {"shape entry", "not an integer"});
  put("neg", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4);
  expect_error([&] { read_safetensors(dir.file("neg")); }, {"data_offsets entry"});
  put("list", R"({"a":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", 16);
  expect_error([&] { read_safetensors(dir.file("list")); }, {"shape that is not a list"});
}

// Adam against its closed form on the first step: p ← p − lr·sign(g) (bias-corrected m/√v).
TEST(Optimizers, AdamFirstStepIsSignedLearningRate) {
  Adam adam(3);
  std::vector<float> p = {1, 1, 1}, g = {0.5f, -2.0f, 1e-3f};
  adam.step(p.data(), g.data(), 3, 0.1f);
  EXPECT_NEAR(p[0], 0.9f, 1e-6);
  EXPECT_NEAR(p[1], 1.1f, 1e-6);
  EXPECT_NEAR(p[2], 0.9f, 1e-4);
}

}  // namespace
}  // namespace rnnmft
