#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <set>

#include "data/batches.h"
#include "data/tasks.h"
#include "temp_dir.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

using testing::expect_error;

std::shared_ptr<const Dataset> synthetic(const std::string& name, int side, int channels,
                                         size_t ntrain, size_t ntest) {
  auto ds = std::make_shared<Dataset>();
  ds->name = name;
  ds->class_names = std::vector<std::string>(10, "c");
  Rng rng(42);
  for (ImageSet* s : {&ds->train, &ds->test}) {
    s->count = s == &ds->train ? ntrain : ntest;
    s->rows = s->cols = side;
    s->channels = channels;
    s->pixels.resize(s->count * s->image_size());
    for (auto& p : s->pixels) p = uint8_t(rng.below(256));
    s->labels.resize(s->count);
    for (size_t i = 0; i < s->count; ++i) s->labels[i] = uint8_t((i * 7) % 10);
  }
  return ds;
}

std::vector<float> seq_of(const Task& t, Split s, size_t k, int* label = nullptr) {
  std::vector<float> x(size_t(t.seq_len()) * t.input_dim());
  int l = t.example(s, k, x.data());
  if (label) *label = l;
  return x;
}

TaskOptions opts(const std::string& name) {
  TaskOptions o;
  o.name = name;
  o.val_size = 40;
  return o;
}

TEST(Tasks, PixelIsRowMajorScaledToUnitInterval) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  Task t(ds, opts("mnist-pixel"));
  EXPECT_EQ(t.seq_len(), 784);
  EXPECT_EQ(t.input_dim(), 1);
  int label;
  auto x = seq_of(t, Split::Test, 3, &label);
  EXPECT_EQ(label, ds->test.labels[3]);
  for (int r : {0, 5, 27})
    for (int c : {0, 13, 27})
      EXPECT_FLOAT_EQ(x[r * 28 + c], ds->test.image(3)[r * 28 + c] / 255.0f);
}

TEST(Tasks, RowSteps) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  Task t(ds, opts("mnist-row"));
  EXPECT_EQ(t.seq_len(), 28);
  EXPECT_EQ(t.input_dim(), 28);
  auto x = seq_of(t, Split::Test, 0);
  EXPECT_FLOAT_EQ(x[5 * 28 + 17], ds->test.image(0)[5 * 28 + 17] / 255.0f);
}

TEST(Tasks, PaddingAtTheEndAndInFront) {
  auto ds = synthetic("fashion-mnist", 28, 1, 200, 50);
  TaskOptions o = opts("fashion-padded");
  o.seq_len = 1000;
  Task back(ds, o);
  o.pad_front = true;
  Task front(ds, o);
  auto xb = seq_of(back, Split::Test, 1), xf = seq_of(front, Split::Test, 1);
  ASSERT_EQ(xb.size(), 1000u);
  for (int t = 0; t < 784; ++t) {
    EXPECT_EQ(xb[t], ds->test.image(1)[t] / 255.0f);
    EXPECT_EQ(xf[216 + t], xb[t]);
  }
  for (int t = 784; t < 1000; ++t) EXPECT_EQ(xb[t], 0.0f);
  for (int t = 0; t < 216; ++t) EXPECT_EQ(xf[t], 0.0f);
  EXPECT_TRUE(back.is_padding(784));
  EXPECT_FALSE(back.is_padding(783));
  EXPECT_TRUE(front.is_padding(215));
  EXPECT_FALSE(front.is_padding(216));
}

TEST(Tasks, PaddedRowsAndTooShortLength) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  TaskOptions o = opts("mnist-padded");
  o.unit = "row";
  o.seq_len = 100;
  Task t(ds, o);
  EXPECT_EQ(t.seq_len(), 100);
  EXPECT_EQ(t.input_dim(), 28);
  auto x = seq_of(t, Split::Train, 0);
  EXPECT_TRUE(std::all_of(x.begin() + 28 * 28, x.end(), [](float v) { return v == 0.0f; }));
  o.seq_len = 27;
  expect_error([&] { Task bad(ds, o); }, {"--seq-len 27 is shorter than the 28 steps"});
}

TEST(Tasks, RepeatStructure) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  TaskOptions o = opts("mnist-repeat");
  o.repeat = 3;
  Task t(ds, o);
  EXPECT_EQ(t.seq_len(), 784 * 3);
  auto x = seq_of(t, Split::Test, 2);
  for (int p = 0; p < 784; ++p)
    for (int r = 0; r < 3; ++r) EXPECT_EQ(x[p * 3 + r], ds->test.image(2)[p] / 255.0f);
  o.seq_len = 784 * 4;
  expect_error([&] { Task bad(ds, o); }, {"disagrees with 784 steps × --repeat 3"});
}

TEST(Tasks, PermutationIsAPermutationAppliedToEveryExample) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  TaskOptions o = opts("mnist-pixel");
  o.permute = 7;
  Task t(ds, o);
  std::vector<int> perm = t.permutation();
  std::vector<int> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> iota(784);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(perm, iota);
  for (size_t k : {0u, 9u}) {
    auto x = seq_of(t, Split::Test, k);
    for (int s = 0; s < 784; ++s) EXPECT_EQ(x[s], ds->test.image(k)[perm[s]] / 255.0f);
  }
  Task again(ds, o);
  EXPECT_EQ(again.permutation(), perm);
  o.permute = 8;
  EXPECT_NE(Task(ds, o).permutation(), perm);
}

TEST(Tasks, CifarPixelHasThreeChannelsPerStep) {
  auto ds = synthetic("cifar10", 32, 3, 30, 10);
  TaskOptions o = opts("cifar10-pixel");
  o.val_size = 5;
  Task t(ds, o);
  EXPECT_EQ(t.seq_len(), 1024);
  EXPECT_EQ(t.input_dim(), 3);
  auto x = seq_of(t, Split::Test, 4);
  for (int p : {0, 100, 1023})
    for (int c = 0; c < 3; ++c) EXPECT_EQ(x[p * 3 + c], ds->test.image(4)[p * 3 + c] / 255.0f);
  o.name = "cifar10-repeat";
  o.repeat = 2;
  EXPECT_EQ(Task(ds, o).seq_len(), 2048);
  o.name = "cifar10-padded";
  o.seq_len = 1500;
  Task pad(ds, o);
  EXPECT_TRUE(pad.is_padding(1024));
}

TEST(Tasks, StandardizationUsesTrainingStatistics) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  TaskOptions o = opts("mnist-pixel");
  o.standardize = true;
  o.val_size = 1;
  Task t(ds, o);
  // Over the whole training file (train + validation parts) the standardized pixels have mean 0,
  // std 1.
  double s = 0, s2 = 0;
  size_t n = 0;
  for (Split sp : {Split::Train, Split::Val})
    for (size_t k = 0; k < t.size(sp); ++k) {
      auto x = seq_of(t, sp, k);
      for (float v : x) {
        s += v;
        s2 += double(v) * v;
        ++n;
      }
    }
  EXPECT_NEAR(s / n, 0.0, 1e-4);
  EXPECT_NEAR(std::sqrt(s2 / n - (s / n) * (s / n)), 1.0, 1e-4);
}

TEST(Tasks, ValidationSplitIsDisjointSortedAndSeeded) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  Task t(ds, opts("mnist-row"));
  EXPECT_EQ(t.size(Split::Val), 40u);
  EXPECT_EQ(t.size(Split::Train), 160u);
  EXPECT_EQ(t.size(Split::Test), 50u);
  std::set<size_t> all;
  for (Split s : {Split::Train, Split::Val}) {
    auto idx = t.split_indices(s);
    EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
    all.insert(idx.begin(), idx.end());
  }
  EXPECT_EQ(all.size(), 200u);
  TaskOptions o = opts("mnist-row");
  o.split_seed = 1;
  EXPECT_NE(Task(ds, o).split_indices(Split::Val), t.split_indices(Split::Val));
  EXPECT_EQ(Task(ds, opts("mnist-row")).split_indices(Split::Val), t.split_indices(Split::Val));
  o.val_size = 200;
  expect_error([&] { Task bad(ds, o); }, {"leaves no training examples"});
  expect_error([&] { t.file_index(Split::Test, 50); }, {"example 50 is out of range"});
}

TEST(Tasks, BatchIsTimeMajorCopyOfExamples) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  Task t(ds, opts("mnist-row"));
  std::vector<size_t> ks = {5, 0, 17};
  std::vector<float> x(size_t(t.seq_len()) * ks.size() * t.input_dim());
  std::vector<int> labels(ks.size());
  t.batch(Split::Train, ks, x.data(), labels.data());
  for (size_t b = 0; b < ks.size(); ++b) {
    int l;
    auto e = seq_of(t, Split::Train, ks[b], &l);
    EXPECT_EQ(labels[b], l);
    for (int s = 0; s < t.seq_len(); ++s)
      for (int i = 0; i < t.input_dim(); ++i)
        EXPECT_EQ(x[(s * ks.size() + b) * t.input_dim() + i], e[s * t.input_dim() + i]);
  }
}

// The data window holds every non-zero step, and batch_window over a zeroed buffer writes
// exactly what batch writes (padded at the end, in front, and a task without padding).
TEST(Tasks, DataWindowAndWindowedBatches) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  TaskOptions o = opts("mnist-padded");
  o.unit = "row";
  o.seq_len = 60;
  Task back(ds, o);
  o.pad_front = true;
  o.permute = 3;
  Task front(ds, o);
  Task row(ds, opts("mnist-row"));
  EXPECT_EQ(back.data_window().t0, 0);
  EXPECT_EQ(back.data_window().t1, 28);
  EXPECT_EQ(front.data_window().t0, 32);
  EXPECT_EQ(front.data_window().t1, 60);
  EXPECT_EQ(row.data_window().t1, 28);
  std::vector<size_t> ks = {5, 0, 17, 5};
  for (const Task* t : {&back, &front, &row}) {
    const size_t n = size_t(t->seq_len()) * ks.size() * t->input_dim();
    std::vector<float> full(n, 1.f), win(n, 0.f);
    std::vector<int> lf(ks.size()), lw(ks.size());
    t->batch(Split::Val, ks, full.data(), lf.data());
    t->batch_window(Split::Val, ks, win.data(), lw.data(), t->data_window());
    EXPECT_EQ(full, win);
    EXPECT_EQ(lf, lw);
  }
  expect_error([&] { std::vector<float> x(10); std::vector<int> l(1);
                     back.batch_window(Split::Train, {0}, x.data(), l.data(), {5, 61}); },
               {"batch window [5, 61) outside the task's 60 steps"});
}

TEST(Tasks, BadNames) {
  auto ds = synthetic("mnist", 28, 1, 200, 50);
  expect_error([&] { Task t(ds, opts("mnist-spiral")); }, {"unknown kind 'spiral'"});
  expect_error([&] { Task t(ds, opts("svhn-pixel")); }, {"unknown dataset 'svhn'"});
  expect_error([&] { Task t(ds, opts("fashion-pixel")); }, {"needs dataset fashion-mnist"});
  expect_error([&] { parse_split("dev"); }, {"unknown split 'dev'"});
}

TEST(Batches, SameSeedSameBatchesAndEpochsArePermutations) {
  BatchSampler a(103, 10, 5), b(103, 10, 5), c(103, 10, 6);
  EXPECT_EQ(a.batches_per_epoch(), 10u);
  std::set<size_t> epoch0;
  bool differs = false;
  for (uint64_t step = 0; step < 25; ++step) {
    auto ba = a.batch_at(step);
    EXPECT_EQ(ba, b.batch_at(step));
    differs |= ba != c.batch_at(step);
    if (step < 10) epoch0.insert(ba.begin(), ba.end());
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(epoch0.size(), 100u);  // no repeats within an epoch
  // Random access (as after resuming) gives the same batch as sequential access.
  BatchSampler d(103, 10, 5);
  EXPECT_EQ(d.batch_at(23), a.batch_at(23));
  EXPECT_NE(a.batch_at(0), a.batch_at(10));  // a new permutation each epoch
  expect_error([] { BatchSampler bad(5, 6, 0); }, {"batch size 6 is larger than the 5 examples"});
}

TEST(Rng, SeededAndRoughlyUniformAndNormal) {
  Rng a(1), b(1), c(2);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  Rng r(3);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double z = r.normal();
    s += z;
    s2 += z * z;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.01);
  // Fourth moment 3 and the two-sided tails of the standard normal (P(|z| > 2) = 0.0455,
  // P(|z| > 3.5) = 4.65e-4: beyond the ziggurat's base strip r = 3.44).
  Rng q(4);
  double s4 = 0;
  int t2 = 0, t35 = 0;
  const int m = 2000000;
  for (int i = 0; i < m; ++i) {
    const double z = q.normal();
    s4 += z * z * z * z;
    t2 += std::abs(z) > 2;
    t35 += std::abs(z) > 3.5;
  }
  EXPECT_NEAR(s4 / m, 3.0, 0.03);
  EXPECT_NEAR(double(t2) / m, 0.0455, 0.001);
  EXPECT_NEAR(double(t35) / m, 4.65e-4, 6e-5);
  std::vector<int> hist(10, 0);
  for (int i = 0; i < n; ++i) hist[r.below(10)]++;
  for (int h : hist) EXPECT_NEAR(h, n / 10, 600);
}

}  // namespace
}  // namespace rnnmft

namespace rnnmft {
namespace {

// Header sizes whose step count overflows an int (65536 × 32768 pixels) are refused clearly, not
// wrapped (no pixels are needed to find out).
TEST(Tasks, HugeImagesAreRefusedNotWrapped) {
  auto ds = std::make_shared<Dataset>();
  ds->name = "mnist";
  ds->class_names = std::vector<std::string>(10, "c");
  for (ImageSet* s : {&ds->train, &ds->test}) {
    s->count = 1;
    s->rows = 65536;
    s->cols = 32768;
    s->channels = 1;
  }
  TaskOptions o;
  o.name = "mnist-pixel";
  testing::expect_error([&] { Task t(ds, o); }, {"2147483648 steps", "at most 16777216"});
  o.name = "mnist-repeat";
  o.unit = "row";
  o.repeat = 1000;
  testing::expect_error([&] { Task t(ds, o); }, {"65536 steps × --repeat 1000"});
}

}  // namespace
}  // namespace rnnmft
