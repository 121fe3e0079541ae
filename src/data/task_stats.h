// The input statistics of a task as the mean field theory sees them: the per-component second
// moment R of the inputs (docs/tasks.md §Input statistics).
#pragma once

#include <string>

#include "data/tasks.h"

namespace rnnmft {

struct TaskInputStats {
  double input_var = 0;     // R to design an init for (0 for the zero stretch of end-padded tasks)
  double data_var = 0;      // mean of x² over the training split's data steps and input components
  int data_steps = 0;       // steps that show image data
  int pad_steps = 0;        // zero steps (padded tasks)
  int seq_len = 0;          // T = data_steps + pad_steps
  int input_dim = 0;        // I
  std::string description;  // one line for reports
};

TaskInputStats task_input_stats(const Task& task);

// R over the steps that carry data, padding excluded: what a gate's saturation depends on
// (critical init v2, docs/theory.md §13.3).
inline double data_steps_var(const TaskInputStats& s) {
  return s.data_steps > 0 && s.data_var > 0 ? s.data_var : s.input_var;
}

}  // namespace rnnmft
