// The model's starting point (train/run_stages.h): a resumed run's checkpoint, or a new run's
// init — drawn from a preset or spec, loaded from weights, or the critical init solved for the
// task — with the files a new run writes before its first step.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/task_stats.h"
#include "spec/init_spec.h"
#include "train/run_stages.h"
#include "train/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_read.h"
#include "util/parse_number.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft {

bool all_finite(const AlignedVector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

namespace {

// Keeps the log consistent with a checkpoint: drops entries after `step`, and with
// `drop_train_at_step` the training line at `step` (a last step's line whose window the
// checkpoint carries on). Returns whether a periodic validation at `step` stays in it.
bool truncate_log(const std::string& path, int64_t step, bool drop_train_at_step) {
  std::ifstream in(path);
  std::vector<std::string> keep;
  std::string line;
  bool val_at_step = false;
  while (std::getline(in, line)) {
    try {
      const json j = parse_json(line);
      const int64_t s = j.value("step", int64_t(0));
      // The final evaluation of the interrupted run is not part of the continued one.
      if (s <= step && !j.contains("test_loss") &&
          !(drop_train_at_step && s == step && j.contains("loss"))) {
        keep.push_back(line);
        val_at_step |= s == step && j.contains("val_loss");
      }
    } catch (const json::exception&) {
    }
  }
  in.close();
  std::string out;
  for (const auto& l : keep) out += l + "\n";
  write_file_atomic(path, out);  // whole or not at all: no history lost to a crash here
  return val_at_step;
}

// A critical init for a new run: the model drawn from the designed spec; init_spec.json's
// content, the line that reports it, and a warning when v1's search missed its criterion.
struct SolvedInit {
  json spec_file;
  std::string line;
  std::vector<std::string> warnings;
};

// --init critical-v1, or critical where v2 does not apply (`why`: theory::critical_design's
// reason; empty for critical-v1).
SolvedInit solve_critical_init(const RunDir& d, const TrainConfig& cfg, const Task& task,
                               RnnModel<float>& model, const std::string& why) {
  const TaskInputStats stats = task_input_stats(task);
  const theory::CriticalResult r = solve_run_critical(cfg, task, stats);
  initialize_model_from_spec(model, r.spec, cfg.seed);
  SolvedInit s;
  if (!r.reached)
    s.warnings.push_back(fmt::format(
        "--init {}: the {} criterion was not reached for {} (T·ln m1 = {:.4f}, ln G_T = "
        "{:.4f}); the spec is the nearest the search found (notes in init_spec.json)",
        cfg.init, theory::criterion_name(r.criterion), cfg.cell, r.log_m1_T, r.log_gain_T));
  json diag = r.to_json();
  diag["design"] = "v1";
  diag["task_inputs"] = stats.description;
  s.spec_file = r.spec.to_json();
  s.spec_file["diagnostics"] = diag;
  s.line = fmt::format(
      "init {} ({}{} criterion): solved {} for {} at T = {}, R = {:.4g} ({}); m1 = {:.4f}, "
      "ξ = {:.4g}, tied gain over T = {:.3g}; spec in {}",
      cfg.init, why.empty() ? "" : "v1: " + why + "; ", theory::criterion_name(r.criterion),
      r.knobs_text(), cfg.cell, task.seq_len(), stats.input_var, stats.description,
      r.diagnostics.jacobian.m1, r.diagnostics.xi(), std::exp(r.log_gain_T),
      absolute_path((d.dir / "init_spec.json").string()));
  return s;
}

// --init critical-v2 (and critical on a gated cell): designed in closed form (no solve), drawn,
// and saved as init_spec.json.
SolvedInit design_critical_v2_init(const RunDir& d, const TrainConfig& cfg, const Task& task,
                                   RnnModel<float>& model) {
  const TaskInputStats stats = task_input_stats(task);
  const theory::CriticalV2 v = design_run_critical_v2(cfg, task, stats);
  initialize_model_from_spec(model, v.spec, cfg.seed);
  SolvedInit s;
  s.spec_file = v.spec.to_json();
  s.spec_file["diagnostics"] = critical_v2_diagnostics(v, stats);
  s.line = fmt::format(
      "init {}{}: {} with timescales {} on [2, {}] and writes coupled to keeps, its content "
      "gate unsaturated at R = {:.4g}, the inputs' second moment over the {} steps that carry "
      "data; spec in {}",
      cfg.init, cfg.init == "critical" ? " (v2)" : "", cfg.cell,
      Timescales::dist_name(v.spec.timescales->dist), task.seq_len(), data_steps_var(stats),
      stats.data_steps > 0 ? stats.data_steps : task.seq_len(),
      absolute_path((d.dir / "init_spec.json").string()));
  return s;
}

}  // namespace

RunStart restore_checkpoint(const RunDir& d, const TrainConfig& cfg, RnnModel<float>& model,
                            Optimizer& opt) {
  const std::string& ck_path = d.checkpoint;
  const SafeTensors ck = read_safetensors(ck_path);
  model.set_params(ck.get_f32("params", {int64_t(model.params().size())}));
  for (auto& [name, v] : opt.state()) *v = ck.get_f32(name, {int64_t(v->size())});
  if (!all_finite(model.params()))
    fail("{}: the checkpoint holds non-finite parameters and cannot be resumed",
         absolute_path(ck_path));
  RunStart s;
  s.step = parse_int64_strict(ck.meta("step"), absolute_path(ck_path) + ": metadata 'step'");
  s.wall_before = parse_double_strict(ck.meta("wall_time_s"),
                                      absolute_path(ck_path) + ": metadata 'wall_time_s'");
  if (s.step < 0 || !(s.wall_before >= 0) || !std::isfinite(s.wall_before))
    fail("{}: metadata 'step' = {} and 'wall_time_s' = {} must be non-negative",
         absolute_path(ck_path), s.step, s.wall_before);
  if (s.step > cfg.steps)
    fail("{}: checkpoint is at step {}, beyond --steps {}", ck_path, s.step, cfg.steps);
  // The log window open at the checkpoint (steps since the last --log-every line, their summed
  // loss and accuracy): the next line then averages the same steps as the uninterrupted run's.
  const bool has_window = ck.metadata.count("log_window_steps") > 0;
  if (has_window) {
    const std::string where = absolute_path(ck_path) + ": metadata 'log_window_";
    s.window.n = parse_int64_strict(ck.meta("log_window_steps"), where + "steps'");
    s.window.loss = parse_double_strict(ck.meta("log_window_loss"), where + "loss'");
    s.window.accuracy = parse_double_strict(ck.meta("log_window_accuracy"), where + "accuracy'");
    // At most the steps since the last multiple of --log-every (fewer after a resume from a
    // checkpoint that had no window).
    if (s.window.n < 0 || s.window.n > s.step % cfg.log_every ||
        !std::isfinite(s.window.loss) || !std::isfinite(s.window.accuracy))
      fail("{}: metadata 'log_window_*' = {}, {}, {} do not fit step {} with --log-every {}",
           absolute_path(ck_path), s.window.n, s.window.loss, s.window.accuracy, s.step,
           cfg.log_every);
  } else if (s.step % cfg.log_every != 0 && s.step < cfg.steps) {
    // An older checkpoint lost the window: its steps are missing from the next line's averages.
    fmt::print(stderr,
               "warning: {} has no log window (an older checkpoint): the training line after "
               "step {} averages only the steps after it, unlike the uninterrupted run's\n",
               absolute_path(ck_path), s.step);
  }
  // A finished run extended past its end logged its validation at `step` as part of the final
  // evaluation, which the log drops: the loop redoes it where a validation is due. Its training
  // line at a last step off the --log-every grid goes too: the restored window continues it.
  const bool drop_train = has_window && s.window.n > 0 && s.step < cfg.steps;
  s.revalidate = !truncate_log(d.log, s.step, drop_train) && s.step > 0 &&
                 s.step % cfg.eval_every == 0 && s.step < cfg.steps;
  return s;
}

RunStart init_new_run(const RunDir& d, const TrainConfig& cfg, const Task& task,
                      RnnModel<float>& model) {
  SolvedInit solved;  // --init critical, critical-v1 and critical-v2 only
  std::vector<std::string> warnings;
  // A resumed run reloads its checkpoint instead: the critical init is solved once, here.
  if (is_critical_name(cfg.init)) {
    const theory::CriticalDesignChoice choice =
        critical_name_design(cfg.init, parse_cell(cfg.cell));
    solved = choice.v2 ? design_critical_v2_init(d, cfg, task, model)
                       : solve_critical_init(d, cfg, task, model, choice.why);
    warnings = solved.warnings;
  } else if (auto spec = initialize_model(model, cfg.init, task.seq_len(), cfg.seed);
             spec && !spec->design.empty()) {
    const TaskInputStats stats = task_input_stats(task);
    warnings = design_mismatches(spec->design, spec->source, task.seq_len(), stats.input_var,
                                 cfg.gru_variant, cfg.hidden, cfg.task.name);
  }
  fs::create_directories(d.dir);
  if (!solved.spec_file.is_null())
    write_json_atomic((d.dir / "init_spec.json").string(), solved.spec_file);
  write_json_atomic(d.config, cfg.to_json());
  if (!solved.line.empty()) fmt::print(stderr, "{}\n", solved.line);
  for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  // Every log line goes out in one checked write and reaches the disk (util/atomic_file.h).
  for (const auto& w : warnings) append_line(d.log, json{{"warning", w}}.dump());
  return {};
}

}  // namespace rnnmft
