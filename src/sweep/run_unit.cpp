#include "sweep/run_unit.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
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
  return is_critical_name(init) || is_preset(init) || fs::path(init).extension() == ".json";
}

std::optional<InitSpec> init_moments(const std::string& init, CellType cell, int hidden,
                                     int input_dim, int seq_len) {
  if (is_preset(init)) return preset_moments(init, cell, hidden, input_dim, seq_len);
  if (fs::path(init).extension() == ".json") return load_spec_file(init);
  return std::nullopt;
}

const std::vector<std::string>& result_keys() {
  static const std::vector<std::string> keys = {
      "run",  "sweep",   "params",         "spec",          "xi",
      "xi_infinite",     "chi",            "m1",            "cell",
      "seq_len",         "input_var",      "diverged",      "final_test_acc",
      "final_val_acc",   "final_train_loss", "steps",       "curve",
      "train_curve",     "seconds",        "git"};
  return keys;
}

void check_line_types(const json& line, const std::string& where) {
  if (!line.is_object()) fail("{}: a results line is a JSON object", where);
  auto number_or_null = [&](const char* k) {
    return !line.contains(k) || line[k].is_number() || line[k].is_null();
  };
  const bool ok =
      line.value("run", json()).is_string() && line.value("params", json()).is_object() &&
      (!line.contains("sweep") || line["sweep"].is_string()) &&
      (!line.contains("spec") || line["spec"].is_object() || line["spec"].is_null()) &&
      (!line.contains("cell") || line["cell"].is_string()) &&
      (!line.contains("seq_len") || line["seq_len"].is_number_integer()) &&
      (!line.contains("steps") || line["steps"].is_number_integer()) &&
      (!line.contains("diverged") || line["diverged"].is_boolean()) &&
      (!line.contains("xi_infinite") || line["xi_infinite"].is_boolean()) &&
      (!line.contains("curve") || line["curve"].is_array()) &&
      (!line.contains("train_curve") || line["train_curve"].is_array()) &&
      number_or_null("xi") && number_or_null("chi") && number_or_null("m1") &&
      number_or_null("input_var") && number_or_null("final_test_acc") &&
      number_or_null("final_val_acc") && number_or_null("final_train_loss") &&
      number_or_null("seconds");
  if (!ok)
    fail("{}: not a results line this program wrote (a key has the wrong type: "
         "docs/experiments.md §Results)",
         where);
}

void check_results_line(const json& line, const RunUnit& u, const std::string& where) {
  if (!line.is_object()) fail("{}: a results line is a JSON object", where);
  // Lines written before results carried the spec hash are read as the sweep's when their run
  // and parameters are its run's: sweep.json has been matched against the spec already.
  const bool legacy = !line.contains("sweep");
  for (const auto& k : result_keys())
    if (!line.contains(k) && !(legacy && k == "sweep"))
      fail("{}: not a whole results line: '{}' is missing (the sweep writes every key of "
           "docs/experiments.md §Results)",
           where, k);
  check_line_types(line, where);
  if (line["run"] != u.id)
    fail("{}: the line of run {}, not of run {}", where, line["run"].dump(), u.id);
  if (!legacy && line["sweep"] != u.sweep)
    fail("{}: run {} of another sweep (spec hash {}, this sweep's is {}): its settings differ, so "
         "its results are not this run's",
         where, u.id, line["sweep"].dump(), u.sweep);
  if (line["params"] != u.params)
    fail("{}: run {} has parameters {}, but this sweep's run {} has {}", where, u.id,
         line["params"].dump(), u.id, u.params.dump());
}

namespace {

// Whether `name` in a run directory is what the sweep itself puts there before the run writes
// unit.json: the run's lock, the output of its process, a unit.json being written.
bool sweeps_own_file(const std::string& name) {
  return name == ".lock" || name == "output.log" || name == "unit.json" ||
         name.rfind("unit.json.tmp.", 0) == 0;
}

// A unit.json written before units carried the spec hash: its run's if its settings are.
bool legacy_unit_matches(const json& theirs, const RunUnit& u) {
  if (theirs.value("run", json()) != u.id || theirs.value("params", json()) != u.params ||
      !theirs.contains("config") || !theirs["config"].is_object())
    return false;
  json a = theirs["config"], b = u.config;
  a.erase("out");
  b.erase("out");
  return a == b && theirs.value("spec_overrides", json()) == u.spec_overrides &&
         theirs.value("critical_fix", json()) == u.critical_fix &&
         theirs.value("critical_criterion", json()) == u.critical_criterion;
}

}  // namespace

void check_run_dir(const RunUnit& u) {
  const fs::path dir(u.config.at("out").get<std::string>());
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  const std::string shown = absolute_path(dir.string());
  const std::string advice =
      "move it out of the way (or delete it) and rerun: the sweep trains the run again there";
  if (!fs::is_directory(dir))
    fail("{}: run {}'s directory is not a directory; {}", shown, u.id, advice);
  bool other_files = false;
  for (const auto& e : fs::directory_iterator(dir))
    if (!sweeps_own_file(e.path().filename().string())) other_files = true;
  const fs::path uj = dir / "unit.json";
  if (!fs::is_regular_file(uj)) {
    if (other_files)
      fail("{}: holds files but no unit.json: not a run directory of this sweep; {}", shown,
           advice);
    return;
  }
  json theirs;
  try {
    std::ifstream in(uj);
    theirs = parse_json(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON ({}); {}", absolute_path(uj.string()), e.what(), advice);
  }
  if (theirs.is_object() && !theirs.contains("sweep") && legacy_unit_matches(theirs, u)) return;
  if (!theirs.is_object() || theirs.value("run", json()) != u.id ||
      theirs.value("sweep", json()) != u.sweep || theirs.value("params", json()) != u.params) {
    const bool obj = theirs.is_object();
    const char* whose = !obj || !theirs.contains("sweep")        ? "a run of an older sweep with other settings, or of no sweep"
                        : theirs.value("run", json()) == u.id ? "this run in another sweep"
                                                              : "another run";
    fail("{}: the directory of {} (run {}, spec hash {}, parameters {}), not of this sweep's run "
         "{} (spec hash {}, parameters {}); {}",
         absolute_path(uj.string()), whose, obj ? theirs.value("run", json()).dump() : "?",
         obj ? theirs.value("sweep", json()).dump() : "?",
         obj ? theirs.value("params", json()).dump() : "?", u.id, u.sweep, u.params.dump(),
         advice);
  }
}

void check_runs_data(const std::vector<const RunUnit*>& units, const std::string& source) {
  // Per task and data directory: the largest batch and the run that asks for it.
  std::map<std::string, const RunUnit*> largest;
  for (const RunUnit* u : units) {
    const std::string key = u->config.at("task").dump() + "\n" + u->config.value("data_dir", "");
    const RunUnit*& l = largest[key];
    if (!l || u->config.at("batch").get<int>() > l->config.at("batch").get<int>()) l = u;
  }
  std::vector<Task> loaded;  // keeps each data set loaded once (shared_dataset) for the next task
  for (const auto& [key, u] : largest) {
    const std::string where = fmt::format("{}: run {} ({})", source, u->id, u->params.dump());
    TrainConfig cfg = TrainConfig::from_json(u->config, where);
    try {
      loaded.push_back(run_task(cfg));
      const Task& task = loaded.back();
      if (size_t(cfg.batch) > task.size(Split::Train))
        fail("batch {} is larger than the {} training examples of {}", cfg.batch,
             task.size(Split::Train), cfg.task.name);
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
  }
}

json finished_result(const RunUnit& u) {
  const fs::path p = fs::path(u.config.at("out").get<std::string>()) / "result.json";
  if (!fs::is_regular_file(p)) return nullptr;
  const std::string where = absolute_path(p.string());
  std::ifstream in(p);
  json j;
  try {
    j = parse_json(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON ({}); delete it and rerun (the run is trained again)", where,
         e.what());
  }
  check_results_line(j, u, where);
  return j;
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
  if (is_critical_name(cfg.init) &&
      critical_name_design(cfg.init, parse_cell(cfg.cell), u.asks_v1_solve()).v2) {
    // Closed form: nothing to cache.
    theory::CriticalV2 v = design_run_critical_v2(cfg, task, stats);
    spec = std::move(v.spec);
    diagnostics = critical_v2_diagnostics(v, stats);
  } else if (is_critical_name(cfg.init)) {
    const json entry = critical_entry(u, cfg, task, stats, where);
    spec = InitSpec::from_json(entry.at("spec"), where);
    diagnostics = entry.at("diagnostics");
    diagnostics["design"] = "v1";
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

  json line = {{"run", u.id}, {"sweep", u.sweep}, {"params", u.params}};
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
