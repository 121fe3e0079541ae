#include "train/trainer.h"

#include <Eigen/Core>
#include <chrono>
#include <filesystem>
#include <memory>

#include "data/task_stats.h"
#include "spec/draw.h"
#include "spec/init_spec.h"
#include "train/optimizers/optimizer.h"
#include "train/run_stages.h"
#include "train/safetensors.h"
#include "train/weights_io.h"
#include "util/error.h"
#include "util/rng.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft {

namespace {
Rng init_rng(uint64_t seed) {
  return Rng(seed, 0x696e6974 /* "init" */);
}
}  // namespace

std::optional<InitSpec> initialize_model(RnnModel<float>& model, const std::string& init,
                                         int seq_len, uint64_t seed) {
  Rng rng = init_rng(seed);
  if (is_preset(init)) {
    draw_preset(model, init, seq_len, rng);
  } else if ((init.size() > 12 && init.substr(init.size() - 12) == ".safetensors") ||
             (fs::is_regular_file(init) && looks_like_safetensors(init))) {
    import_weights(model, read_safetensors(init));
  } else if (is_critical_name(init)) {
    fail("--init {} depends on the task: init_new_run designs it", init);
  } else if (fs::is_regular_file(init)) {
    InitSpec spec = load_spec_file(init);
    draw_from_spec(model, spec, rng);
    return spec;
  } else {
    fail(
        "--init '{}' is neither a preset (pytorch, keras, orthogonal[:gain], chrono[:T_max], "
        "critical, critical-v1, critical-v2) nor an existing spec file or .safetensors weights "
        "file",
        init);
  }
  return std::nullopt;
}

void initialize_model_from_spec(RnnModel<float>& model, const InitSpec& spec, uint64_t seed) {
  Rng rng = init_rng(seed);
  draw_from_spec(model, spec, rng);
}

theory::CriticalResult solve_run_critical(const TrainConfig& cfg, const Task& task,
                                          const TaskInputStats& stats,
                                          const std::vector<std::string>& fixes,
                                          std::optional<theory::Criterion> criterion) {
  const CellType cell = parse_cell(cfg.cell);
  theory::CriticalOptions opt;
  opt.seq_len = task.seq_len();
  opt.fixes = fixes;
  opt.criterion = criterion;
  opt.theory.input_var = stats.input_var;
  if (describe(cell).reset_gate) opt.theory.gru_variant = parse_gru_variant(cfg.gru_variant);
  // The solve takes seconds to tens of seconds (the LSTM's sampled maps): say what it is doing.
  fmt::print(stderr, "solving the critical init for {} at T = {}, R = {:.4g} ({}) ...\n",
             cell_name(cell), opt.seq_len, stats.input_var, stats.description);
  const auto t0 = std::chrono::steady_clock::now();
  theory::CriticalResult r = theory::critical_init(cell, opt);
  fmt::print(stderr, "critical init solved in {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  // critical_init records T, R, the criterion and the GRU variant of the theory.
  SpecDesign& d = r.spec.design;
  d.width = cfg.hidden;
  d.task = cfg.task.name;
  r.spec.source = fmt::format("critical init for {} at T = {}, R = {:.4g}", cell_name(cell),
                              d.seq_len, d.input_var);
  return r;
}

bool is_critical_name(const std::string& init) {
  return init == "critical" || init == "critical-v1" || init == "critical-v2";
}

theory::CriticalDesignChoice critical_name_design(const std::string& init, CellType cell,
                                                  bool v1_knobs) {
  if (init == "critical-v1") return {.v2 = false, .why = ""};
  if (init == "critical-v2") return {};
  return theory::critical_design(cell, v1_knobs);
}

nlohmann::json critical_v2_diagnostics(const theory::CriticalV2& v, const TaskInputStats& stats) {
  return {{"design", "v2"}, {"notes", v.notes}, {"task_inputs", stats.description}};
}

theory::CriticalV2 design_run_critical_v2(const TrainConfig& cfg, const Task& task,
                                          const TaskInputStats& stats) {
  const CellType cell = parse_cell(cfg.cell);
  theory::CriticalV2 v = theory::critical_v2(cell, {.seq_len = task.seq_len(),
                                                    .data_var = data_steps_var(stats),
                                                    .input_dim = task.input_dim(),
                                                    .width = cfg.hidden});
  SpecDesign& d = v.spec.design;
  d.task = cfg.task.name;
  d.input_var = stats.input_var;  // the task's R, as design_mismatches compares it
  if (describe(cell).reset_gate) d.gru_variant = gru_variant_name(parse_gru_variant(cfg.gru_variant));
  v.spec.source = fmt::format("critical v2 for T = {}", task.seq_len());
  return v;
}

RnnModel<float> load_run_model(const std::string& dir) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const TrainConfig cfg = TrainConfig::from_json(read_json(cfg_path), absolute_path(cfg_path));
  const SafeTensors ck = read_safetensors((fs::path(dir) / "checkpoint.safetensors").string());
  const Task task = run_task(cfg);
  RnnModel<float> model(model_config(cfg, task));
  model.set_params(ck.get_f32("params", {int64_t(model.params().size())}));
  return model;
}

json train(const TrainConfig& requested, bool resume, const HubSlot* slot) {
  const RunDir d = open_run_dir(requested.out, resume);
  const TrainConfig cfg = resolve_config(requested, d);
  // Everything that can be wrong with the input is found here, before the first step.
  const Task task = run_task(cfg);
  check_run_inputs(cfg, task);
  RnnModel<float> model(model_config(cfg, task));
  auto opt = make_optimizer(cfg.optimizer, model.params().size());
  const RunStart start = d.from_checkpoint ? restore_checkpoint(d, cfg, model, *opt)
                                           : init_new_run(d, cfg, task, model);
  // Eigen's thread count is process-wide: the runs of a pack (threads of one process) leave it.
  if (!slot) Eigen::setNbThreads(cfg.threads);
  TrainingLoop loop(cfg, d, task, model, *opt, start, slot);
  loop.run();
  return final_evaluation(loop, cfg, d, start);
}

}  // namespace rnnmft
