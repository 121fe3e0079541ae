// Each subcommand registers itself on the top-level app; the handlers live in one file each.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "data/tasks.h"
#include "sweep/runner.h"
#include "sweep/sweep_spec.h"

namespace rnnmft::cli {

void register_data(CLI::App& app);
void register_train(CLI::App& app);
void register_theory(CLI::App& app);
void register_trainability(CLI::App& app);
void register_critical(CLI::App& app);
void register_compare(CLI::App& app);
void register_simulate(CLI::App& app);
void register_phase(CLI::App& app);
void register_bench(CLI::App& app);
void register_sweep(CLI::App& app);

// Flags that define a task (shared by every subcommand that reads one).
struct TaskFlags {
  TaskOptions options;
  std::string data_dir;
  int64_t permute = -1;
};
void add_task_flags(CLI::App* cmd, TaskFlags& flags, bool task_required = true);

// For counts, seeds and indices: "-1" is refused by name (CLI11 would wrap it around in an
// unsigned flag, and a signed one may read it as "unset").
inline CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const auto i = v.find_first_not_of(" \t");
        return i != std::string::npos && v[i] == '-' ? "takes an integer ≥ 0, got " + v : "";
      },
      // No text beside the type: the help's UINT says it (and CLI11 aligns the columns by
      // bytes, so a '≥' there would shift them).
      "");
}
// What `report` (and `trainability --sweep`) accept from a sweep's results.jsonl: whole lines of
// runs of the directory's grid, one per run (sweep_cmd.cpp).
sweep::LineCheck report_lines(const sweep::SweepSpec& spec);

// Loads the data set the task needs and builds it (throws rnnmft::Error with the reason).
Task make_task(const TaskFlags& flags);

}  // namespace rnnmft::cli
