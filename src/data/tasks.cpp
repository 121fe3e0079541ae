#include "data/tasks.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"
#include "util/rng.h"

namespace rnnmft {

Split parse_split(const std::string& s) {
  if (s == "train") return Split::Train;
  if (s == "val" || s == "validation") return Split::Val;
  if (s == "test") return Split::Test;
  fail("unknown split '{}' (expected train, val or test)", s);
}

const char* split_name(Split s) {
  switch (s) {
    case Split::Train:
      return "train";
    case Split::Val:
      return "val";
    case Split::Test:
      return "test";
  }
  return "?";
}

const std::vector<std::string>& task_kind_names() {
  static const std::vector<std::string> k = {"pixel", "row", "padded", "repeat"};
  return k;
}

std::pair<std::string, TaskKind> parse_task_name(const std::string& name) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0)
    fail(
        "unknown task '{}' (expected <dataset>-<kind>, e.g. mnist-pixel, fashion-padded, "
        "cifar10-repeat)",
        name);
  const std::string ds = name.substr(0, dash), kind = name.substr(dash + 1);
  std::string canon;
  try {
    canon = canonical_dataset_name(ds);
  } catch (const Error&) {
    fail("unknown task '{}': unknown dataset '{}' (expected mnist, fashion or cifar10)", name, ds);
  }
  static const TaskKind kinds[] = {TaskKind::Pixel, TaskKind::Row, TaskKind::Padded,
                                   TaskKind::Repeat};
  for (size_t i = 0; i < task_kind_names().size(); ++i)
    if (kind == task_kind_names()[i]) return {canon, kinds[i]};
  fail("unknown task '{}': unknown kind '{}' (expected pixel, row, padded or repeat)", name, kind);
}

Task::Task(std::shared_ptr<const Dataset> data, TaskOptions options)
    : data_(std::move(data)), opt_(std::move(options)) {
  auto [ds, kind] = parse_task_name(opt_.name);
  if (ds != data_->name)
    fail("task {} needs dataset {}, but {} was loaded", opt_.name, ds, data_->name);
  kind_ = kind;
  const ImageSet& tr = data_->train;
  if (opt_.unit != "pixel" && opt_.unit != "row")
    fail("unknown step unit '{}' (expected pixel or row)", opt_.unit);
  row_unit_ = kind_ == TaskKind::Row || (kind_ != TaskKind::Pixel && opt_.unit == "row");
  // Sizes from the files' headers, in 64 bits: an image of 65536 × 32768 pixels has more steps
  // than an int holds.
  constexpr int64_t kMaxSteps = int64_t(1) << 24;
  const int64_t base = row_unit_ ? int64_t(tr.rows) : int64_t(tr.rows) * tr.cols;
  const int64_t in_dim = row_unit_ ? int64_t(tr.cols) * tr.channels : int64_t(tr.channels);
  if (base < 1 || base > kMaxSteps || in_dim < 1 || in_dim > kMaxSteps)
    fail("task {}: images of {} × {} × {} give {} steps of {} inputs; at most {} of each are "
         "supported",
         opt_.name, tr.rows, tr.cols, tr.channels, base, in_dim, kMaxSteps);
  base_len_ = int(base);
  input_dim_ = int(in_dim);

  switch (kind_) {
    case TaskKind::Pixel:
    case TaskKind::Row:
      if (opt_.seq_len != 0 && opt_.seq_len != base_len_)
        fail("task {} has {} steps; --seq-len {} does not apply (use a padded task)", opt_.name,
             base_len_, opt_.seq_len);
      seq_len_ = base_len_;
      break;
    case TaskKind::Padded:
      seq_len_ = opt_.seq_len == 0 ? std::max(1000, base_len_) : opt_.seq_len;
      if (seq_len_ < base_len_)
        fail("task {}: --seq-len {} is shorter than the {} steps of the image{}", opt_.name,
             seq_len_, base_len_,
             row_unit_ ? std::string()
                       : fmt::format(" (with --unit row an image takes {} steps, one per row)",
                                     tr.rows));
      pad_ = seq_len_ - base_len_;
      break;
    case TaskKind::Repeat:
      if (opt_.repeat < 1 || opt_.repeat > 1000)
        fail("task {}: --repeat {} must be between 1 and 1000", opt_.name, opt_.repeat);
      seq_len_ = int(std::min<int64_t>(int64_t(base_len_) * opt_.repeat, INT32_MAX));
      if (int64_t(base_len_) * opt_.repeat > kMaxSteps)
        fail("task {}: {} steps × --repeat {} is beyond the {} steps supported", opt_.name,
             base_len_, opt_.repeat, kMaxSteps);
      if (opt_.seq_len != 0 && opt_.seq_len != seq_len_)
        fail("task {}: --seq-len {} disagrees with {} steps × --repeat {} = {}", opt_.name,
             opt_.seq_len, base_len_, opt_.repeat, seq_len_);
      break;
  }

  perm_.resize(base_len_);
  std::iota(perm_.begin(), perm_.end(), 0);
  if (opt_.permute) {
    Rng rng(*opt_.permute, 0x7065726d /* "perm" */);
    rng.shuffle(perm_);
  }

  // Per-channel statistics of the training file, scaled to [0, 1] (docs/tasks.md §Scaling).
  const int C = tr.channels;
  mean_.assign(C, 0.f);
  std_.assign(C, 1.f);
  if (opt_.standardize) {
    std::vector<double> s(C, 0.0), s2(C, 0.0);
    const size_t npix = tr.count * size_t(tr.rows) * tr.cols;
    for (size_t p = 0; p < npix; ++p)
      for (int c = 0; c < C; ++c) {
        double v = tr.pixels[p * C + c] / 255.0;
        s[c] += v;
        s2[c] += v * v;
      }
    for (int c = 0; c < C; ++c) {
      double m = s[c] / double(npix);
      double var = std::max(s2[c] / double(npix) - m * m, 0.0);
      mean_[c] = float(m);
      std_[c] = float(var > 0 ? std::sqrt(var) : 1.0);
    }
  }

  // Validation: val_size training examples chosen by split_seed, both parts in file order.
  if (opt_.val_size >= tr.count)
    fail("validation size {} leaves no training examples (the training file has {})", opt_.val_size,
         tr.count);
  std::vector<size_t> all(tr.count);
  std::iota(all.begin(), all.end(), size_t(0));
  Rng rng(opt_.split_seed, 0x76616c /* "val" */);
  rng.shuffle(all);
  val_idx_.assign(all.begin(), all.begin() + opt_.val_size);
  train_idx_.assign(all.begin() + opt_.val_size, all.end());
  std::sort(val_idx_.begin(), val_idx_.end());
  std::sort(train_idx_.begin(), train_idx_.end());
  test_idx_.resize(data_->test.count);
  std::iota(test_idx_.begin(), test_idx_.end(), size_t(0));
}

const std::vector<size_t>& Task::split_indices(Split s) const {
  switch (s) {
    case Split::Train:
      return train_idx_;
    case Split::Val:
      return val_idx_;
    default:
      return test_idx_;
  }
}

size_t Task::size(Split s) const {
  return split_indices(s).size();
}

size_t Task::file_index(Split s, size_t k) const {
  const auto& idx = split_indices(s);
  if (k >= idx.size())
    fail("example {} is out of range: the {} split of {} has {} examples", k, split_name(s),
         opt_.name, idx.size());
  return idx[k];
}

Task::Window Task::data_window() const {
  if (kind_ != TaskKind::Padded) return {0, seq_len_};
  return opt_.pad_front ? Window{pad_, seq_len_} : Window{0, base_len_};
}

void Task::batch_window(Split s, const std::vector<size_t>& ks, float* x, int* labels,
                        Window w) const {
  if (w.t0 < 0 || w.t1 > seq_len_ || w.t0 > w.t1)
    fail("batch window [{}, {}) outside the task's {} steps", w.t0, w.t1, seq_len_);
  const size_t B = ks.size(), I = input_dim_;
  for (size_t b = 0; b < B; ++b) {
    const size_t fi = file_index(s, ks[b]);
    const ImageSet& set = s == Split::Test ? data_->test : data_->train;
    const uint8_t* img = set.image(fi);
    labels[b] = set.labels[fi];
    for (int t = w.t0; t < w.t1; ++t) {
      float* o = x + (size_t(t) * B + b) * I;
      if (is_padding(t))
        std::fill(o, o + I, 0.0f);
      else
        write_base_step(img, base_step(t), o);
    }
  }
}

bool Task::is_padding(int t) const {
  if (kind_ != TaskKind::Padded) return false;
  return opt_.pad_front ? t < pad_ : t >= base_len_;
}

int Task::base_step(int t) const {
  if (kind_ == TaskKind::Repeat) return perm_[t / opt_.repeat];
  if (kind_ == TaskKind::Padded && opt_.pad_front) return perm_[t - pad_];
  return perm_[t];
}

void Task::write_base_step(const uint8_t* img, int b, float* out) const {
  const int C = data_->train.channels;
  const uint8_t* src = img + size_t(b) * input_dim_;  // a row is cols·C bytes, a pixel C bytes
  for (int i = 0; i < input_dim_; ++i) {
    const int c = i % C;
    out[i] = (src[i] / 255.0f - mean_[c]) / std_[c];
  }
}

int Task::example(Split s, size_t k, float* out) const {
  const size_t fi = file_index(s, k);
  const ImageSet& set = s == Split::Test ? data_->test : data_->train;
  const uint8_t* img = set.image(fi);
  for (int t = 0; t < seq_len_; ++t) {
    float* o = out + size_t(t) * input_dim_;
    if (is_padding(t))
      std::fill(o, o + input_dim_, 0.0f);
    else
      write_base_step(img, base_step(t), o);
  }
  return set.labels[fi];
}

void Task::batch(Split s, const std::vector<size_t>& ks, float* x, int* labels) const {
  const size_t B = ks.size(), I = input_dim_;
  std::vector<float> seq(size_t(seq_len_) * I);
  for (size_t b = 0; b < B; ++b) {
    labels[b] = example(s, ks[b], seq.data());
    for (int t = 0; t < seq_len_; ++t)
      std::copy_n(seq.data() + size_t(t) * I, I, x + (size_t(t) * B + b) * I);
  }
}

}  // namespace rnnmft
