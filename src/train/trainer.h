// Training runs: configuration, the loop (log, validation, checkpoints, NaN guard, resume) and
// evaluation (docs/training.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cells/rnn_model.h"
#include "data/task_stats.h"
#include "data/tasks.h"
#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/critical_v2.h"
#include "train/step_engine.h"

namespace rnnmft {

struct TrainConfig {
  TaskOptions task;
  std::string data_dir;  // empty: the default data directory
  std::string cell = "lstm", gru_variant = "reset-after";
  int hidden = 128;
  // preset, "critical", "critical-v1", "critical-v2", spec JSON file or weights .safetensors
  std::string init = "pytorch";
  int64_t steps = 1000;
  int batch = 64;
  std::string optimizer = "adam";
  double lr = 1e-3, clip = 0;
  std::string schedule = "constant";  // or cosine
  uint64_t seed = 0;
  std::string out;
  int threads = 1;
  int64_t log_every = 10, eval_every = 500, checkpoint_every = 500;
  int64_t eval_limit = 2000;  // validation examples of each validation (≤ 0: all)
  int64_t test_limit = 0;     // test examples of the final evaluation (≤ 0: all)
  // Where the steps run (train/step_engine.h): cpu, cuda or cpu-ensemble, and the products'
  // precision on cuda. Empty: cpu and fp32 for a new run, the saved choice for a resumed one.
  std::string device, precision;

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j, const std::string& where);
  // Rejects impossible values before any work starts.
  void validate() const;
};

struct EvalResult {
  double loss = 0, accuracy = 0;
  size_t count = 0;
};

// Mean loss and accuracy over the first `limit` examples of a split (all when limit ≤ 0).
EvalResult evaluate(RnnModel<float>& model, const Task& task, Split split, int64_t limit,
                    int batch = 256);

// The model a run trains on its task (cell, variant, width, the task's inputs and classes).
ModelConfig model_config(const TrainConfig& cfg, const Task& task);

// The same on an engine that evaluates (StepEngine::evaluates), in batches of its `batch`.
EvalResult evaluate_on_engine(StepEngine& engine, const Task& task, Split split, int64_t limit,
                              int batch);

// Draws or loads the initial weights: a preset, an init spec file, or a weights file. Returns
// the spec when the init is a spec file. (The critical inits need the task: see
// solve_run_critical and design_run_critical_v2.)
std::optional<InitSpec> initialize_model(RnnModel<float>& model, const std::string& init,
                                         int seq_len, uint64_t seed);

// Draws the weights from a spec through the same seeded stream as initialize_model.
void initialize_model_from_spec(RnnModel<float>& model, const InitSpec& spec, uint64_t seed);

// "critical", "critical-v1" or "critical-v2": an init designed for the run's task.
bool is_critical_name(const std::string& init);

// The design a critical init name (is_critical_name) draws for a run of `cell`
// (theory::critical_design): critical-v1 and critical-v2 theirs, "critical" v2 for a gated cell
// unless `v1_knobs` (a sweep's critical_fix or critical_criterion) asks for v1's solve.
theory::CriticalDesignChoice critical_name_design(const std::string& init, CellType cell,
                                                  bool v1_knobs = false);

// init_spec.json's diagnostics for a v2 design: {design, notes, task_inputs}.
nlohmann::json critical_v2_diagnostics(const theory::CriticalV2& v, const TaskInputStats& stats);

// --init critical-v1 (and critical where it draws v1): theory::critical_init for the run's cell at
// the task's T and R (GRU: the run's variant), its design fields set from the run. Says on stderr
// what it solves for before the solve (seconds to tens of seconds) and how long it took after.
// `fixes` ("gate.param=value") and `criterion` as in theory::CriticalOptions.
theory::CriticalResult solve_run_critical(const TrainConfig& cfg, const Task& task,
                                          const TaskInputStats& stats,
                                          const std::vector<std::string>& fixes = {},
                                          std::optional<theory::Criterion> criterion = {});

// --init critical-v2, and critical on a gated cell (docs/theory.md §13): theory::critical_v2 for
// the run's cell at the task's T, I and R over the steps that carry data (data_steps_var), width N,
// log-uniform timescales; its design fields set from the run, as `rnnmft critical --design v2
// --task` sets them.
theory::CriticalV2 design_run_critical_v2(const TrainConfig& cfg, const Task& task,
                                          const TaskInputStats& stats);

// Runs (or, with resume, continues) a training run through its stages (train/run_stages.h);
// returns the final metrics JSON. With `slot`, the steps and evaluations run on that place of an
// ensemble shared with other runs (train/ensemble_hub.h) instead of an engine of the run's own.
nlohmann::json train(const TrainConfig& cfg, bool resume, const HubSlot* slot = nullptr);

// Loads the model of a finished or interrupted run directory (its config and checkpoint).
RnnModel<float> load_run_model(const std::string& dir);

}  // namespace rnnmft
