// The real files fetched by ./test.sh (scripts/fetch_data.sh): these tests fail, not skip, when
// the data are missing.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "data/dataset.h"
#include "data/tasks.h"

namespace rnnmft {
namespace {

double mean_pixel(const ImageSet& s) {
  double sum = 0;
  for (uint8_t p : s.pixels) sum += p;
  return sum / double(s.pixels.size()) / 255.0;
}

TEST(RealData, Mnist) {
  Dataset ds = load_dataset("mnist", resolve_data_dir());
  EXPECT_EQ(ds.train.count, 60000u);
  EXPECT_EQ(ds.test.count, 10000u);
  EXPECT_EQ(ds.train.rows, 28);
  EXPECT_EQ(ds.train.cols, 28);
  EXPECT_EQ(ds.train.labels[0], 5);
  EXPECT_EQ(ds.test.labels[0], 7);
  // The widely quoted normalisation constant of MNIST's training set.
  EXPECT_NEAR(mean_pixel(ds.train), 0.1307, 5e-4);
  std::vector<int> counts(10, 0);
  for (uint8_t l : ds.train.labels) counts[l]++;
  EXPECT_EQ(counts[1], 6742);  // the largest class
  EXPECT_EQ(counts[5], 5421);  // the smallest
}

TEST(RealData, FashionMnist) {
  Dataset ds = load_dataset("fashion-mnist", resolve_data_dir());
  EXPECT_EQ(ds.train.count, 60000u);
  EXPECT_EQ(ds.test.count, 10000u);
  EXPECT_EQ(ds.train.rows, 28);
  EXPECT_EQ(ds.train.labels[0], 9);  // ankle boot
  EXPECT_EQ(ds.test.labels[0], 9);
  std::vector<int> counts(10, 0);
  for (uint8_t l : ds.train.labels) counts[l]++;
  for (int c : counts) EXPECT_EQ(c, 6000);  // Fashion-MNIST is exactly balanced
}

TEST(RealData, MnistPixelTaskOnRealData) {
  auto ds = std::make_shared<const Dataset>(load_dataset("mnist", resolve_data_dir()));
  TaskOptions o;
  o.name = "mnist-pixel";
  Task t(ds, o);
  EXPECT_EQ(t.size(Split::Train), 55000u);
  EXPECT_EQ(t.size(Split::Val), 5000u);
  std::vector<float> x(784);
  EXPECT_EQ(t.example(Split::Test, 0, x.data()), 7);
  // A digit's border is blank; its centre is not.
  EXPECT_EQ(x[0], 0.0f);
  float centre = 0;
  for (int r = 10; r < 18; ++r)
    for (int c = 10; c < 18; ++c) centre += x[r * 28 + c];
  EXPECT_GT(centre, 5.0f);
}

}  // namespace
}  // namespace rnnmft
