// task_input_stats on real MNIST (fetched by ./test.sh; these tests fail, not skip, without it),
// against two independent computations: the training split's raw bytes / 255, and the mean of x²
// over what Task::example actually writes for every training example.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/task_stats.h"
#include "data/tasks.h"

namespace rnnmft {
namespace {

std::shared_ptr<const Dataset> mnist() {
  static auto ds = std::make_shared<const Dataset>(load_dataset("mnist", resolve_data_dir()));
  return ds;
}

// Mean of (v/255)² over the training split's images, straight from the file's bytes.
double raw_mean_square(const Task& t) {
  const ImageSet& tr = t.dataset().train;
  double s = 0;
  for (size_t fi : t.split_indices(Split::Train)) {
    const uint8_t* img = tr.image(fi);
    for (size_t p = 0; p < tr.image_size(); ++p) s += (img[p] / 255.0) * (img[p] / 255.0);
  }
  return s / double(t.size(Split::Train) * tr.image_size());
}

// Mean of x² over the non-padding steps of every training example, as the task feeds them.
double fed_mean_square(const Task& t) {
  const int T = t.seq_len(), I = t.input_dim();
  std::vector<float> x(size_t(T) * I);
  double s = 0;
  size_t n = 0;
  for (size_t k = 0; k < t.size(Split::Train); ++k) {
    t.example(Split::Train, k, x.data());
    for (int step = 0; step < T; ++step) {
      if (t.is_padding(step)) continue;
      for (int i = 0; i < I; ++i) s += double(x[size_t(step) * I + i]) * x[size_t(step) * I + i];
      n += size_t(I);
    }
  }
  return s / double(n);
}

Task make(const std::string& name, int seq_len = 0, const std::string& unit = "pixel") {
  TaskOptions o;
  o.name = name;
  o.seq_len = seq_len;
  o.unit = unit;
  return Task(mnist(), o);
}

TEST(TaskStats, MnistRowAndPixel) {
  for (const char* name : {"mnist-row", "mnist-pixel"}) {
    SCOPED_TRACE(name);
    const Task t = make(name);
    const TaskInputStats s = task_input_stats(t);
    EXPECT_EQ(s.seq_len, t.seq_len());
    EXPECT_EQ(s.data_steps, t.seq_len());
    EXPECT_EQ(s.pad_steps, 0);
    EXPECT_EQ(s.input_dim, t.input_dim());
    EXPECT_NEAR(s.data_var, raw_mean_square(t), 1e-6);
    EXPECT_NEAR(s.data_var, fed_mean_square(t), 1e-9);
    EXPECT_EQ(s.input_var, s.data_var);
    // MNIST: mean 0.1307, std 0.3081 over the training file → E[x²] ≈ 0.112.
    EXPECT_NEAR(s.data_var, 0.112, 0.002);
    EXPECT_NE(s.description.find(name), std::string::npos) << s.description;
  }
}

TEST(TaskStats, MnistPaddedIsDesignedForTheZeros) {
  const Task t = make("mnist-padded", 100, "row");
  const TaskInputStats s = task_input_stats(t);
  EXPECT_EQ(s.seq_len, 100);
  EXPECT_EQ(s.data_steps, 28);
  EXPECT_EQ(s.pad_steps, 72);
  EXPECT_EQ(s.input_dim, 28);
  EXPECT_EQ(s.input_var, 0.0);  // exactly: the stretch the network must bridge
  EXPECT_NEAR(s.data_var, raw_mean_square(t), 1e-6);
  EXPECT_NEAR(s.data_var, fed_mean_square(t), 1e-9);
  EXPECT_NE(s.description.find("28 data steps"), std::string::npos) << s.description;
  EXPECT_NE(s.description.find("72 zero steps"), std::string::npos) << s.description;
  EXPECT_NE(s.description.find("designed for R = 0"), std::string::npos) << s.description;

  // Zeros in front: nothing has to cross them, the data's R is the one to design for.
  TaskOptions o;
  o.name = "mnist-padded";
  o.seq_len = 100;
  o.unit = "row";
  o.pad_front = true;
  const TaskInputStats f = task_input_stats(Task(mnist(), o));
  EXPECT_EQ(f.pad_steps, 72);
  EXPECT_EQ(f.input_var, f.data_var);
  EXPECT_EQ(f.data_var, s.data_var);
}

TEST(TaskStats, MnistRepeatAndPermutation) {
  TaskOptions o;
  o.name = "mnist-repeat";
  o.unit = "row";
  o.repeat = 3;
  o.permute = 7;
  const Task t(mnist(), o);
  const TaskInputStats s = task_input_stats(t);
  EXPECT_EQ(s.seq_len, 84);
  EXPECT_EQ(s.data_steps, 84);
  EXPECT_EQ(s.pad_steps, 0);
  EXPECT_NEAR(s.data_var, fed_mean_square(t), 1e-9);
  EXPECT_NEAR(s.data_var, raw_mean_square(t), 1e-6);
  EXPECT_EQ(s.input_var, s.data_var);
  // The default: pixels shown 4 times each.
  const Task p = make("mnist-repeat");
  const TaskInputStats sp = task_input_stats(p);
  EXPECT_EQ(sp.seq_len, 3136);
  EXPECT_NEAR(sp.data_var, fed_mean_square(p), 1e-9);
}

TEST(TaskStats, StandardizedInputsHaveUnitSecondMoment) {
  TaskOptions o;
  o.name = "mnist-row";
  o.standardize = true;
  const Task t(mnist(), o);
  const TaskInputStats s = task_input_stats(t);
  EXPECT_NEAR(s.data_var, fed_mean_square(t), 1e-9);
  // 1 over the whole training file; the training split is 55 of its 60 thousand images.
  EXPECT_NEAR(s.data_var, 1.0, 0.01);
}

}  // namespace
}  // namespace rnnmft
