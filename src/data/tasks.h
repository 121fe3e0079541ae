// Sequence tasks: deterministic maps from (data set, options, split, index) to a sequence of
// shape T × I and a label. Definitions: docs/tasks.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace rnnmft {

enum class TaskKind { Pixel, Row, Padded, Repeat };
enum class Split { Train, Val, Test };

Split parse_split(const std::string& s);
const char* split_name(Split s);

struct TaskOptions {
  std::string name = "mnist-row";  // "<dataset>-<kind>", e.g. mnist-pixel, fashion-padded
  int seq_len = 0;                 // padded: total length (0: default 1000); repeat: optional check
  bool pad_front = false;          // padded: zeros before the image instead of after
  std::string unit = "pixel";      // padded/repeat: the base step, "pixel" or "row"
  int repeat = 4;                  // repeat: copies of every base step
  std::optional<uint64_t> permute;  // permute the base steps with this seed
  bool standardize = false;  // (x − mean)/std by the training file's per-channel statistics
  size_t val_size = 5000;    // validation examples held out of the training file
  uint64_t split_seed = 0;   // which ones
};

// Splits "<dataset>-<kind>" into the canonical data set name and the kind; throws on bad names.
std::pair<std::string, TaskKind> parse_task_name(const std::string& name);
const std::vector<std::string>& task_kind_names();

class Task {
 public:
  Task(std::shared_ptr<const Dataset> data, TaskOptions options);

  const TaskOptions& options() const { return opt_; }
  const Dataset& dataset() const { return *data_; }
  TaskKind kind() const { return kind_; }
  int seq_len() const { return seq_len_; }
  int input_dim() const { return input_dim_; }
  int num_classes() const { return data_->num_classes; }
  int base_len() const { return base_len_; }
  size_t size(Split s) const;

  // Index into the split (file order) → index into the underlying file.
  size_t file_index(Split s, size_t k) const;
  const std::vector<size_t>& split_indices(Split s) const;

  // Writes example k of split s as T × I floats (row-major: step t at out + t·I) and returns
  // its label.
  int example(Split s, size_t k, float* out) const;
  // Time-major batch: x[(t·B + b)·I + i] for the examples ks of split s; labels[b].
  void batch(Split s, const std::vector<size_t>& ks, float* x, int* labels) const;

  // Steps t0 ≤ t < t1 of x that batch_window writes; the same for every example.
  struct Window {
    int t0 = 0, t1 = 0;
  };
  // The smallest window that holds every step with image data: every step outside it is zero
  // padding (the whole sequence for tasks without padding).
  Window data_window() const;
  // batch() for the steps of `w` only; steps outside it are left as they are (the caller keeps
  // them zero). x has ks.size() rows per step, as in batch().
  void batch_window(Split s, const std::vector<size_t>& ks, float* x, int* labels, Window w) const;

  // Which steps carry no image data (the zero padding of the padded tasks).
  bool is_padding(int t) const;
  // For step t (not padding), the base step it shows (pixel or row index after permutation).
  int base_step(int t) const;
  const std::vector<int>& permutation() const { return perm_; }

  const std::vector<float>& channel_mean() const { return mean_; }
  const std::vector<float>& channel_std() const { return std_; }

 private:
  void write_base_step(const uint8_t* img, int b, float* out) const;

  std::shared_ptr<const Dataset> data_;
  TaskOptions opt_;
  TaskKind kind_;
  bool row_unit_ = false;
  int base_len_ = 0, seq_len_ = 0, input_dim_ = 0, pad_ = 0;
  std::vector<int> perm_;  // base step shown at position j of the base sequence
  std::vector<float> mean_, std_;
  std::vector<size_t> train_idx_, val_idx_, test_idx_;
};

}  // namespace rnnmft
