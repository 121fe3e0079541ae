#include "sweep/run_unit.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "data/dataset.h"
#include "data/task_stats.h"
#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/mean_field.h"
#include "train/run_stages.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_read.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft::sweep {
namespace {

std::vector<json> read_log(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    try {
      out.push_back(parse_json(line));
    } catch (const json::exception&) {
    }
  }
  return out;
}

json num(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

std::string fix_text(const std::string& key, const json& v) {
  return fmt::format("{}={:.17g}", key, v.get<double>());
}

}  // namespace

bool has_gaussian_moments(const std::string& init) {
  return init == "critical" || is_preset(init) || fs::path(init).extension() == ".json";
}

std::optional<InitSpec> init_moments(const std::string& init, CellType cell, int hidden,
                                     int input_dim, int seq_len) {
  if (is_preset(init)) return preset_moments(init, cell, hidden, input_dim, seq_len);
  if (fs::path(init).extension() == ".json") return load_spec_file(init);
  return std::nullopt;
}

json finished_result(const std::string& run_dir) {
  const fs::path p = fs::path(run_dir) / "result.json";
  if (!fs::is_regular_file(p)) return nullptr;
  std::ifstream in(p);
  try {
    json j = parse_json(in);
    if (j.is_object() && j.contains("run")) return j;
  } catch (const json::exception&) {
  }
  return nullptr;
}

namespace {

// The unit's directory: its unit.json, and whether the run continues from its checkpoint (a run
// stopped before its first checkpoint, or never started, starts again from nothing).
bool open_unit_dir(const RunUnit& u, const fs::path& dir, const std::string& where) {
  fs::create_directories(dir);
  write_file_atomic((dir / "unit.json").string(), u.to_json().dump(2) + "\n");
  const fs::path ck_path = dir / "checkpoint.safetensors";
  const bool resume = fs::is_regular_file(dir / "config.json") && fs::is_regular_file(ck_path);
  if (resume)
    fmt::print(stderr, "{}: resuming from its checkpoint ({})\n", where, absolute_path(ck_path));
  if (!resume)
    for (const char* f :
         {"config.json", "log.jsonl", "init_spec.json", "metrics.json", "checkpoint.safetensors"})
      fs::remove(dir / f);
  return resume;
}

// A cached critical solve, or null when there is none for `key` (or it is not whole).
json read_critical_cache(const fs::path& cached, const json& key) {
  if (cached.empty() || !fs::is_regular_file(cached)) return nullptr;
  std::ifstream in(cached);
  try {
    json entry = parse_json(in);
    if (entry.at("key") != key || !entry.at("reached").is_boolean() ||
        !entry.at("knobs").is_string() || !entry.at("spec").is_object() ||
        !entry.contains("diagnostics"))
      return nullptr;
    return entry;
  } catch (const json::exception&) {
    return nullptr;
  }
}

// The critical init of the unit: {key, spec, diagnostics, reached, knobs}, solved once per key in
// the sweep's cache (runs that differ only in seed or training options share one solve).
json critical_entry(const RunUnit& u, const TrainConfig& cfg, const Task& task,
                    const TaskInputStats& stats, const std::string& where) {
  std::vector<std::string> fixes;
  for (const auto& [k, v] : u.critical_fix.items()) fixes.push_back(fix_text(k, v));
  std::optional<theory::Criterion> crit;
  if (!u.critical_criterion.empty()) crit = theory::parse_criterion(u.critical_criterion);
  const json key = {{"cell", cfg.cell},   {"seq_len", task.seq_len()},
                    {"input_var", stats.input_var}, {"fixes", fixes},
                    {"criterion", u.critical_criterion}, {"hidden", cfg.hidden},
                    {"task", cfg.task.name}};
  const fs::path cached =
      u.cache_dir.empty()
          ? fs::path()
          : fs::path(u.cache_dir) / ("critical_" + stable_hash(key.dump()) + ".json");
  std::optional<FileLock> lock;  // one solve per entry; the others wait and read it
  if (!cached.empty()) {
    fs::create_directories(cached.parent_path());
    lock.emplace(cached.string() + ".lock");
  }
  json entry = read_critical_cache(cached, key);
  if (entry.is_null()) {
    const theory::CriticalResult r = solve_run_critical(cfg, task, stats, fixes, crit);
    json d = r.to_json();
    d["task_inputs"] = stats.description;
    entry = {{"key", key},
             {"spec", r.spec.to_json()},
             {"diagnostics", d},
             {"reached", r.reached},
             {"knobs", r.knobs_text()}};
    if (!cached.empty()) write_file_atomic(cached.string(), entry.dump(2) + "\n");
  } else {
    fmt::print(stderr, "{}: critical spec from {}\n", where, absolute_path(cached.string()));
  }
  if (!entry["reached"].get<bool>())
    fmt::print(stderr, "warning: {}: the critical search did not reach its criterion ({})\n",
               where, entry["knobs"].get<std::string>());
  return entry;
}

// The init as a spec file in the run directory whenever the sweep changes it (critical, or spec
// parameters): cfg.init then names that file.
void write_unit_spec(const RunUnit& u, TrainConfig& cfg, const Task& task,
                     const TaskInputStats& stats, const fs::path& spec_path,
                     const std::string& where) {
  std::optional<InitSpec> spec;
  json diagnostics;
  if (cfg.init == "critical") {
    const json entry = critical_entry(u, cfg, task, stats, where);
    spec = InitSpec::from_json(entry.at("spec"), where);
    diagnostics = entry.at("diagnostics");
  } else if (!u.spec_overrides.empty()) {
    spec = init_moments(cfg.init, parse_cell(cfg.cell), cfg.hidden, task.input_dim(),
                        task.seq_len());
    if (!spec)
      fail("{}: spec parameters ({}) need an init with Gaussian moments (a preset, critical or a "
           "spec .json), not '{}'",
           where, u.spec_overrides.dump(), cfg.init);
  }
  if (!spec) return;
  for (const auto& [k, v] : u.spec_overrides.items()) {
    try {
      theory::apply_fix(*spec, fix_text(k, v));
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
  }
  json sj = spec->to_json();
  if (!diagnostics.is_null()) sj["diagnostics"] = diagnostics;
  write_file_atomic(spec_path.string(), sj.dump(2) + "\n");
  cfg.init = spec_path.string();
}

// The run's metrics, or null when it stopped on a divergence its log records; other failures
// throw.
json train_unit(const TrainConfig& cfg, bool resume, const HubSlot* slot,
                const fs::path& log_path) {
  try {
    return train(cfg, resume, slot);
  } catch (const Error& e) {
    for (const auto& l : read_log(log_path.string()))
      if (l.contains("error")) return nullptr;
    throw;
  }
}

// The theory of the init at the run's T and input second moment: spec, xi, xi_infinite, chi, m1.
void add_theory(json& line, const TrainConfig& cfg, const Task& task,
                const TaskInputStats& stats, const fs::path& spec_path) {
  std::optional<InitSpec> theory_spec;
  if (fs::is_regular_file(spec_path)) theory_spec = load_spec_file(spec_path.string());
  else
    theory_spec = init_moments(cfg.init, parse_cell(cfg.cell), cfg.hidden, task.input_dim(),
                               task.seq_len());
  line["spec"] = theory_spec ? theory_spec->to_json() : json(nullptr);
  line["xi"] = nullptr;
  line["xi_infinite"] = false;
  line["chi"] = nullptr;
  line["m1"] = nullptr;
  if (!theory_spec) return;
  theory::TheoryOptions to;
  to.input_var = stats.input_var;
  to.horizon = task.seq_len();
  const theory::TheoryResult tr = theory::analyze(*theory_spec, to);
  line["xi"] = num(tr.xi());
  line["xi_infinite"] = std::isinf(tr.xi());
  line["chi"] = num(tr.chi);
  line["m1"] = num(tr.jacobian.m1);
}

// What the run did, from its log and metrics (null metrics: it diverged).
void add_outcome(json& line, const TrainConfig& cfg, const json& metrics,
                 const fs::path& log_path) {
  const bool diverged = metrics.is_null();
  json curve = json::array(), train_curve = json::array();
  double train_loss = NAN, seconds = NAN;
  for (const auto& l : read_log(log_path.string())) {
    if (l.contains("val_accuracy") && !l.contains("test_accuracy"))
      curve.push_back({l["step"], l["val_accuracy"], l["val_loss"]});
    if (l.contains("loss")) {
      train_loss = l["loss"];
      train_curve.push_back({l["step"], l["loss"], l["accuracy"]});
    }
    if (l.contains("time_s")) seconds = l["time_s"];
  }
  line["diverged"] = diverged;
  if (!diverged) {
    curve.push_back({metrics["steps"], metrics["val"]["accuracy"], metrics["val"]["loss"]});
    seconds = metrics["train_time_s"];
  }
  line["final_test_acc"] = diverged ? json(nullptr) : metrics["test"]["accuracy"];
  line["final_val_acc"] = diverged ? json(nullptr) : metrics["val"]["accuracy"];
  line["final_train_loss"] = num(train_loss);
  line["steps"] = cfg.steps;
  line["curve"] = curve;
  line["train_curve"] = train_curve;
  line["seconds"] = num(seconds);
}

}  // namespace

json run_unit(const RunUnit& u, const HubSlot* slot) {
  const std::string where = fmt::format("run {}", u.id);
  TrainConfig cfg = TrainConfig::from_json(u.config, where);
  cfg.out = u.config.at("out").get<std::string>();
  const fs::path dir(cfg.out), spec_path = dir / "init_spec.json", log_path = dir / "log.jsonl";
  const bool resume = open_unit_dir(u, dir, where);
  const Task task = run_task(cfg);
  const TaskInputStats stats = task_input_stats(task);
  if (!resume) write_unit_spec(u, cfg, task, stats, spec_path, where);
  const json metrics = train_unit(cfg, resume, slot, log_path);

  json line = {{"run", u.id}, {"params", u.params}};
  add_theory(line, cfg, task, stats, spec_path);
  line["cell"] = cfg.cell;
  line["seq_len"] = task.seq_len();
  line["input_var"] = stats.input_var;
  add_outcome(line, cfg, metrics, log_path);
  line["git"] = u.git;
  write_file_atomic((dir / "result.json").string(), line.dump() + "\n");
  return line;
}

}  // namespace rnnmft::sweep
