#include "data/task_stats.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <vector>

namespace rnnmft {

TaskInputStats task_input_stats(const Task& task) {
  TaskInputStats s;
  s.seq_len = task.seq_len();
  s.input_dim = task.input_dim();
  for (int t = 0; t < s.seq_len; ++t) (task.is_padding(t) ? s.pad_steps : s.data_steps)++;

  // Every data step shows one base step and every base step is shown equally often (once, or
  // --repeat times; a permutation only reorders them), so the mean of x² over data steps and
  // components is the mean over all pixels and channels of the images. All training-split images
  // are counted, through a histogram of byte values per channel; each value is mapped to x with
  // the task's own float expression (tasks.cpp, write_base_step), so x is what the model is fed.
  const ImageSet& train = task.dataset().train;
  const int C = train.channels;
  const size_t pixels = size_t(train.rows) * train.cols;
  std::vector<std::array<uint64_t, 256>> hist(C);
  for (auto& h : hist) h.fill(0);
  for (size_t fi : task.split_indices(Split::Train)) {
    const uint8_t* img = train.image(fi);
    for (size_t p = 0; p < pixels; ++p)
      for (int c = 0; c < C; ++c) hist[c][img[p * C + c]]++;
  }
  double sum = 0;
  uint64_t count = 0;
  for (int c = 0; c < C; ++c)
    for (int v = 0; v < 256; ++v) {
      const float x = (v / 255.0f - task.channel_mean()[c]) / task.channel_std()[c];
      sum += double(hist[c][v]) * double(x) * double(x);
      count += hist[c][v];
    }
  s.data_var = count ? sum / double(count) : 0.0;

  const std::string& name = task.options().name;
  if (task.kind() == TaskKind::Padded && !task.options().pad_front) {
    // The network must carry the image across the zeros: the state it lives in for most of T,
    // and the one its gradients cross, is the stationary state of R = 0.
    s.input_var = 0;
    s.description = fmt::format(
        "{}: {} data steps (R = {:.3g}), then {} zero steps (R = 0): designed for R = 0", name,
        s.data_steps, s.data_var, s.pad_steps);
  } else if (task.kind() == TaskKind::Padded) {
    // Zeros first: nothing has to cross them, the label depends on the last data steps only.
    s.input_var = s.data_var;
    s.description = fmt::format(
        "{}: {} zero steps (R = 0), then {} data steps (R = {:.3g}): designed for R = {:.3g}", name,
        s.pad_steps, s.data_steps, s.data_var, s.input_var);
  } else {
    s.input_var = s.data_var;
    s.description = fmt::format(
        "{}: {} data steps of {} input{} (R = {:.3g}): designed for R = {:.3g}", name, s.data_steps,
        s.input_dim, s.input_dim == 1 ? "" : "s", s.data_var, s.input_var);
  }
  return s;
}

}  // namespace rnnmft
