// A training run in stages (docs/architecture.md §A run in stages). train() calls them in this
// order; a sweep's run (sweep/run_unit.cpp) and a pack's runs (sweep/run_pack.cpp, on a HubSlot)
// go through train() and so through the same stages:
//   open_run_dir        the run directory: new, resumed from its checkpoint, or refused
//   resolve_config      the configuration the run trains with (a resumed run's saved one)
//   run_task, check_run_inputs   the task's data, and what must hold before the first step
//   restore_checkpoint | init_new_run   the model's parameters and optimizer state: from the
//                       checkpoint, or drawn from the init (a critical design, init_spec.json)
//   TrainingLoop        batches, divergence guard, log, validation, checkpoints
//   final_evaluation    validation and test at the end, metrics.json
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/batches.h"
#include "data/tasks.h"
#include "train/optimizers/optimizer.h"
#include "train/step_engine.h"
#include "train/trainer.h"

namespace rnnmft {

// A run directory's JSON files: read whole (a file's name in every error), written atomically.
nlohmann::json read_json(const std::string& path);
void write_json_atomic(const std::string& path, const nlohmann::json& j);

// Whether every parameter is finite (a checkpoint holds only finite ones).
bool all_finite(const AlignedVector<float>& v);

// Where a run keeps its files, and how it begins.
struct RunDir {
  std::filesystem::path dir;
  std::string config, checkpoint, log;  // DIR/config.json, checkpoint.safetensors, log.jsonl
  bool saved_config = false;            // --resume: the configuration is the saved one
  bool from_checkpoint = false;         // continues from the checkpoint (resume with one)
};

// Claims `out` for a new run, or opens it for --resume. Refuses a directory that holds a run (or
// another program's files) without --resume, and one with nothing to resume. A resumed run
// without a checkpoint starts over (its log is dropped).
RunDir open_run_dir(const std::string& out, bool resume);

// The run's configuration: `requested` for a new run; for --resume the saved one, with
// --steps, --device and --precision from `requested` (a move of device is written back).
// Validated, device and precision filled in; --device cuda without a GPU stops here.
TrainConfig resolve_config(const TrainConfig& requested, const RunDir& d);

// The run's task on its (shared, cached) data set.
Task run_task(const TrainConfig& cfg);

// What must hold before anything is written: the batch against the training split, the memory
// of the training and evaluation batches; warns of more threads than cores.
void check_run_inputs(const TrainConfig& cfg, const Task& task);

// The training loss and accuracy summed over the steps since the last periodic log line: the
// next line's averages. A checkpoint keeps them, so a resumed run's next line is the
// uninterrupted run's.
struct LogWindow {
  double loss = 0, accuracy = 0;
  int64_t n = 0;
};

// Where the loop starts and what it carries over.
struct RunStart {
  int64_t step = 0;
  double wall_before = 0;   // training time of the earlier processes
  bool revalidate = false;  // the validation due at `step` is missing from the log
  LogWindow window;         // the log window open at `step`
};

// A resumed run: parameters and optimizer state from the checkpoint (finite, within --steps),
// the log cut back to it.
RunStart restore_checkpoint(const RunDir& d, const TrainConfig& cfg, RnnModel<float>& model,
                            Optimizer& opt);

// A new run: the initial weights (preset, spec, weights file, or a critical init designed for
// the task), then DIR/init_spec.json (critical) and DIR/config.json; the designed init and the
// warnings of a spec designed for another run go to stderr, the warnings also to the log.
RunStart init_new_run(const RunDir& d, const TrainConfig& cfg, const Task& task,
                      RnnModel<float>& model);

class Progress;

// The steps from `start.step` to cfg.steps on the run's engine (its own, or its place in a pack's
// ensemble): batches, the divergence guard, the log, periodic validation and checkpoints.
class TrainingLoop {
 public:
  TrainingLoop(const TrainConfig& cfg, const RunDir& d, const Task& task, RnnModel<float>& model,
               Optimizer& opt, const RunStart& start, const HubSlot* slot);
  ~TrainingLoop();
  TrainingLoop(const TrainingLoop&) = delete;
  TrainingLoop& operator=(const TrainingLoop&) = delete;

  void run();
  // Seconds since the loop began (this process's share of the training time).
  double elapsed() const;
  // On the engine where it can (in batches of B), on the host model otherwise.
  EvalResult evaluate(Split split, int64_t limit);
  void log(const nlohmann::json& entry) const;
  Progress& progress() { return *progress_; }

 private:
  void step(int64_t s);
  void validate(int64_t done);
  void checkpoint(int64_t done);
  [[noreturn]] void diverged(int64_t step, const std::string& why);

  const TrainConfig& cfg_;
  const RunDir& dir_;
  const Task& task_;
  RnnModel<float>& model_;
  Optimizer& opt_;
  const int64_t start_;
  const double wall_before_;
  const bool revalidate_;
  const int T_, I_, B_;
  BatchSampler sampler_;
  AlignedVector<float> x_;  // zero: batches write the data window only
  std::vector<int> labels_;
  std::unique_ptr<StepEngine> engine_;
  Task::Window window_;
  std::unique_ptr<Progress> progress_;
  std::chrono::steady_clock::time_point t0_;
  int64_t last_ckpt_;
  LogWindow log_window_;
  const double divergence_limit_;
};

// Validation and test of the trained model, the log's last line and DIR/metrics.json; returns
// the metrics.
nlohmann::json final_evaluation(TrainingLoop& loop, const TrainConfig& cfg, const RunDir& d,
                                const RunStart& start);

}  // namespace rnnmft
