// What the theory commands (theory, critical: theory_cmd.cpp; compare, phase: compare_cmd.cpp)
// share: the theory's options as flags, the tied check beside the theory, the printed report.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <optional>

#include "data/tasks.h"
#include "sim/tied_check.h"
#include "spec/init_spec.h"
#include "theory/mean_field.h"

namespace rnnmft::cli {

void print_theory(const theory::TheoryResult& r, const InitSpec& spec, int T);
void add_theory_flags(CLI::App* cmd, theory::TheoryOptions& o);

// The GRU variant of a spec: --gru-variant when given, else the spec's designed_for, else the
// option's default (reset-before).
theory::TheoryOptions with_variant(theory::TheoryOptions o, const CLI::App* cmd,
                                   const InitSpec& spec);

// The finite-width, tied check beside the mean-field numbers (docs/theory.md §9.4).
struct TiedFlags {
  bool on = true;
  bool asked_on = false, asked_off = false;  // --tied-check, --no-tied-check given
  // With I = 1 a tied network's Q varies ~70 % between networks (docs/theory.md §9.4): 12
  // networks bring two standard errors to about ±40 %, inside the check's 3× band.
  int trials = 12;
  uint64_t seed = 0;
};
void add_tied_flags(CLI::App* cmd, TiedFlags& f);
// The check for T steps (none with --no-tied-check or beyond its step limit); a padded task's
// data steps and their second moment when data_steps ≥ 0.
std::optional<sim::TiedCheck> run_tied_check(const InitSpec& spec, const TiedFlags& f, int hidden,
                                             int input_dim, int T,
                                             const theory::TheoryOptions& opt,
                                             double data_var = NAN, int data_steps = -1);

void check_model_flags(int hidden, int input_dim, int seq_len);

struct TaskFlags;
// --task, --unit, --pad-front, --repeat, --standardize, --data-dir of the theory commands (a task
// sets T, R and I; docs/tasks.md §Input statistics); `what` is --task's help.
void add_design_task_flags(CLI::App* c, TaskFlags& task, const std::string& what);
// The task of those flags, if --task names one; it sets T (seq_len: a padded task's length when
// --seq-len is given, else the task's own), R and I (refusing --input-var, and an --input-dim
// that differs from the task's).
std::optional<Task> design_task(const TaskFlags& flags, CLI::App* cmd, int& seq_len,
                                double& input_var, int& input_dim);

}  // namespace rnnmft::cli
