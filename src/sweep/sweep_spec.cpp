#include "sweep/sweep_spec.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "spec/init_spec.h"
#include "sweep/run_unit.h"
#include "theory/critical.h"
#include "theory/critical_v2.h"
#include "train/trainer.h"
#include "train/weights_io.h"
#include "util/error.h"
#include "util/json_read.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft::sweep {
namespace {

enum class Kind { Int, Uint, Real, Text, Flag, Fixes };

struct OptionInfo {
  Kind kind;
  bool task;  // lives in TrainConfig's "task" object
  const char* field;  // its key there
};

// The table every option lookup reads: key → type and place in the training configuration.
const std::map<std::string, OptionInfo>& options() {
  static const std::map<std::string, OptionInfo> t = {
      {"task", {Kind::Text, true, "name"}},
      {"seq_len", {Kind::Int, true, "seq_len"}},
      {"pad_front", {Kind::Flag, true, "pad_front"}},
      {"unit", {Kind::Text, true, "unit"}},
      {"repeat", {Kind::Int, true, "repeat"}},
      {"standardize", {Kind::Flag, true, "standardize"}},
      {"permute", {Kind::Uint, true, "permute"}},
      {"val_size", {Kind::Uint, true, "val_size"}},
      {"split_seed", {Kind::Uint, true, "split_seed"}},
      {"data_dir", {Kind::Text, false, "data_dir"}},
      {"cell", {Kind::Text, false, "cell"}},
      {"gru_variant", {Kind::Text, false, "gru_variant"}},
      {"hidden", {Kind::Int, false, "hidden"}},
      {"init", {Kind::Text, false, "init"}},
      {"steps", {Kind::Int, false, "steps"}},
      {"batch", {Kind::Int, false, "batch"}},
      {"optimizer", {Kind::Text, false, "optimizer"}},
      {"lr", {Kind::Real, false, "lr"}},
      {"clip", {Kind::Real, false, "clip"}},
      {"schedule", {Kind::Text, false, "schedule"}},
      {"seed", {Kind::Uint, false, "seed"}},
      {"threads", {Kind::Int, false, "threads"}},
      {"log_every", {Kind::Int, false, "log_every"}},
      {"eval_every", {Kind::Int, false, "eval_every"}},
      {"checkpoint_every", {Kind::Int, false, "checkpoint_every"}},
      {"eval_limit", {Kind::Int, false, "eval_limit"}},
      {"test_limit", {Kind::Int, false, "test_limit"}},
      {"device", {Kind::Text, false, "device"}},
      {"precision", {Kind::Text, false, "precision"}},
      {"critical_fix", {Kind::Fixes, false, nullptr}},
      {"critical_criterion", {Kind::Text, false, nullptr}},
  };
  return t;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Int: return "an integer";
    case Kind::Uint: return "a non-negative integer";
    case Kind::Real: return "a number";
    case Kind::Text: return "a string";
    case Kind::Flag: return "true or false";
    case Kind::Fixes: return "an object of \"gate.param\": number";
  }
  return "";
}

bool is_spec_param(const std::string& key) { return key.find('.') != std::string::npos; }

// A spec parameter's name: gate.param with a known param (the gate is checked per run, against
// the run's cell).
void check_spec_param(const std::string& key, const std::string& where) {
  const auto dot = key.find('.');
  const std::string g = key.substr(0, dot), p = key.substr(dot + 1);
  if (g.empty() || (p != "recurrent_std" && p != "input_std" && p != "bias_mean" &&
                    p != "bias_std"))
    fail("{}: '{}' is not gate.param (param: recurrent_std, input_std, bias_mean, bias_std)", where,
         key);
}

// Checks a value's type and returns it normalised (integers as integers, reals as doubles), so
// that equal values give equal run ids.
json normalise(const std::string& key, const json& v, const std::string& where) {
  if (is_spec_param(key)) {
    if (!v.is_number()) fail("{}: '{}' takes a number, got {}", where, key, v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d)) fail("{}: '{}' is not finite", where, key);
    if (key.find(".bias_mean") == std::string::npos && d < 0)
      fail("{}: '{}' is a standard deviation (≥ 0), got {}", where, key, d);
    return d;
  }
  const auto it = options().find(key);
  if (it == options().end())
    fail("{}: unknown key '{}' (training options: {}; or a spec parameter gate.param)", where, key,
         fmt::join(option_names(), ", "));
  const Kind k = it->second.kind;
  const auto bad = [&] { fail("{}: '{}' takes {}, got {}", where, key, kind_name(k), v.dump()); };
  switch (k) {
    case Kind::Int:
      if (!v.is_number_integer()) bad();
      return v.get<int64_t>();
    case Kind::Uint:
      if (!v.is_number_integer() || v.get<int64_t>() < 0) bad();
      return v.get<uint64_t>();
    case Kind::Real: {
      if (!v.is_number()) bad();
      const double d = v.get<double>();
      if (!std::isfinite(d)) bad();
      return d;
    }
    case Kind::Text:
      if (!v.is_string()) bad();
      return v;
    case Kind::Flag:
      if (!v.is_boolean()) bad();
      return v;
    case Kind::Fixes: {
      if (!v.is_object()) bad();
      json out = json::object();
      for (const auto& [fk, fv] : v.items()) {
        check_spec_param(fk, fmt::format("{}: {}", where, key));
        out[fk] = normalise(fk, fv, fmt::format("{}: {}", where, key));
      }
      return out;
    }
  }
  return v;
}

std::vector<json> axis_values(const std::string& key, const ojson& v, const std::string& where) {
  std::vector<json> out;
  if (v.is_array()) {
    if (v.empty()) fail("{}: axis '{}' has no values", where, key);
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(normalise(key, json::parse(v[i].dump()), fmt::format("{}[{}]", where, i)));
  } else if (v.is_object()) {
    for (const auto& [rk, rv] : v.items())
      if (rk != "lo" && rk != "hi" && rk != "n" && rk != "log")
        fail("{}: unknown range key '{}' (lo, hi, n, log)", where, rk);
    for (const char* rk : {"lo", "hi", "n"})
      if (!v.contains(rk)) fail("{}: range needs lo, hi and n (missing '{}')", where, rk);
    if (!v["lo"].is_number() || !v["hi"].is_number())
      fail("{}: lo and hi must be numbers (got {} and {})", where, v["lo"].dump(), v["hi"].dump());
    if (!v["n"].is_number_integer() || v["n"].get<int64_t>() < 1 || v["n"].get<int64_t>() > 10000)
      fail("{}: n must be an integer between 1 and 10000 (got {})", where, v["n"].dump());
    const bool log = v.contains("log") && (v["log"].is_boolean() ? v["log"].get<bool>() : true);
    if (v.contains("log") && !v["log"].is_boolean())
      fail("{}: log must be true or false (got {})", where, v["log"].dump());
    const double lo = v["lo"], hi = v["hi"];
    const int n = v["n"];
    if (log && !(lo > 0 && hi > 0)) fail("{}: a log range needs lo, hi > 0", where);
    for (int k = 0; k < n; ++k) {
      const double f = n == 1 ? 0.0 : double(k) / (n - 1);
      // Endpoints exact, and (lo·(n−1−k) + hi·k)/(n−1) rather than lo + (hi − lo)·f, so that
      // 0.1..0.5 in 5 gives 0.3, the value a list would hold (and the same run id).
      const double x = log  ? (k == n - 1 ? hi : lo * std::pow(hi / lo, f))
                       : n == 1 ? lo
                                : (lo * double(n - 1 - k) + hi * double(k)) / double(n - 1);
      json val = x;
      if (options().count(key) && (options().at(key).kind == Kind::Int ||
                                   options().at(key).kind == Kind::Uint)) {
        if (std::abs(x - std::round(x)) > 1e-9)
          fail("{}: '{}' takes integers, but the range gives {}", where, key, x);
        val = int64_t(std::llround(x));
      }
      out.push_back(normalise(key, val, where));
    }
  } else {
    fail("{}: axis '{}' must be a list of values or {{\"lo\":, \"hi\":, \"n\":}}", where, key);
  }
  return out;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

const std::vector<std::string>& option_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [k, v] : options()) n.push_back(k);
    return n;
  }();
  return names;
}

SweepSpec SweepSpec::parse(const ojson& j, const std::string& where) {
  if (!j.is_object()) fail("{}: a sweep spec is a JSON object with \"base\" and \"grid\"", where);
  for (const auto& [k, v] : j.items())
    if (k != "name" && k != "description" && k != "base" && k != "grid" && k != "report")
      fail("{}: unknown key '{}' (name, description, base, grid, report)", where, k);
  SweepSpec s;
  if (j.contains("name")) {
    if (!j["name"].is_string()) fail("{}: name must be a string", where);
    s.name = j["name"];
  }
  if (j.contains("description")) {
    if (!j["description"].is_string()) fail("{}: description must be a string", where);
    s.description = j["description"];
  }
  s.base = json::object();
  if (j.contains("base")) {
    if (!j["base"].is_object()) fail("{}: base must be an object of training options", where);
    for (const auto& [k, v] : j["base"].items()) {
      const std::string w = fmt::format("{}: base", where);
      if (is_spec_param(k)) check_spec_param(k, w);
      s.base[k] = normalise(k, json::parse(v.dump()), fmt::format("{}.{}", w, k));
    }
  }
  if (!j.contains("grid") || !j["grid"].is_object() || j["grid"].empty())
    fail("{}: grid must be a non-empty object of axes (e.g. \"seed\": [0, 1, 2])", where);
  for (const auto& [k, v] : j["grid"].items()) {
    const std::string w = fmt::format("{}: grid.{}", where, k);
    Axis a;
    a.name = k;
    a.spec_param = is_spec_param(k);
    if (a.spec_param) check_spec_param(k, fmt::format("{}: grid", where));
    else if (!options().count(k))
      fail("{}: grid: unknown axis '{}' (a training option: {}; or a spec parameter gate.param)",
           where, k, fmt::join(option_names(), ", "));
    if (s.base.contains(k)) fail("{}: '{}' is both in base and an axis of the grid", where, k);
    a.values = axis_values(k, v, w);
    s.axes.push_back(std::move(a));
  }
  if (j.contains("report")) {
    if (!j["report"].is_object()) fail("{}: report must be an object", where);
    s.report = json::parse(j["report"].dump());
    for (const auto& [k, v] : s.report.items()) {
      if (k != "threshold") fail("{}: report: unknown key '{}' (threshold)", where, k);
      if (!v.is_number() || !(v.get<double>() > 0 && v.get<double>() <= 1))
        fail("{}: report.threshold must be a number in (0, 1], got {}", where, v.dump());
    }
  }
  s.source = where;
  if (s.size() > 1000000)
    fail("{}: the grid has {} runs (at most 1000000)", where,
         s.size() == SIZE_MAX ? std::string("2^64 or more") : std::to_string(s.size()));
  return s;
}

SweepSpec SweepSpec::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open the sweep spec", absolute_path(path));
  ojson j;
  try {
    j = parse_json<ojson>(in);
  } catch (const ojson::exception& e) {  // syntax, and numbers beyond a double (1e400)
    fail("{}: not valid JSON ({})", absolute_path(path), e.what());
  }
  return parse(j, absolute_path(path));
}

ojson SweepSpec::canonical() const {
  ojson j;
  j["name"] = name;
  j["description"] = description;
  j["base"] = ojson::parse(base.dump());
  ojson g = ojson::object();
  for (const auto& a : axes) g[a.name] = ojson::parse(json(a.values).dump());
  j["grid"] = g;
  if (!report.is_null()) j["report"] = ojson::parse(report.dump());
  return j;
}

size_t SweepSpec::size() const {
  // Saturating: 8 axes of 256 values are 2^64 runs, which would wrap to 0.
  size_t n = 1;
  for (const auto& a : axes) {
    const size_t k = a.values.size();
    if (k != 0 && n > SIZE_MAX / k) return SIZE_MAX;
    n *= k;
  }
  return n;
}

std::string SweepSpec::runs_hash() const {
  const ojson c = canonical();
  return stable_hash(c["base"].dump() + c["grid"].dump());
}

std::string run_id(const json& params) { return fmt::format("r{}", stable_hash(params.dump())); }

std::string stable_hash(const std::string& text) { return fmt::format("{:016x}", fnv1a(text)); }

json RunUnit::to_json() const {
  return {{"run", id},
          {"sweep", sweep},
          {"params", params},
          {"config", config},
          {"spec_overrides", spec_overrides},
          {"critical_fix", critical_fix},
          {"critical_criterion", critical_criterion},
          {"git", git},
          {"cache_dir", cache_dir}};
}

RunUnit RunUnit::from_json(const json& j, const std::string& where) {
  RunUnit u;
  try {
    u.id = j.at("run");
    u.sweep = j.at("sweep");
    u.params = j.at("params");
    u.config = j.at("config");
    u.spec_overrides = j.at("spec_overrides");
    u.critical_fix = j.at("critical_fix");
    u.critical_criterion = j.at("critical_criterion");
    u.git = j.value("git", "");
    u.cache_dir = j.value("cache_dir", "");
  } catch (const json::exception& e) {
    fail("{}: malformed run unit ({})", where, e.what());
  }
  return u;
}

// Run r's value on each axis: the mixed-radix digits of r, the last axis fastest.
json SweepSpec::point(size_t r) const {
  const SweepSpec& spec = *this;
  json params = json::object();
  size_t rest = r;
  std::vector<size_t> digit(spec.axes.size());
  for (size_t a = spec.axes.size(); a-- > 0;) {
    digit[a] = rest % spec.axes[a].values.size();
    rest /= spec.axes[a].values.size();
  }
  for (size_t a = 0; a < spec.axes.size(); ++a)
    params[spec.axes[a].name] = spec.axes[a].values[digit[a]];
  return params;
}

namespace {

// The init's settings of one run: an existing spec or weights file (made absolute, so that the
// run resumes from any working directory), gate.params of its cell, spec parameters on an init
// with Gaussian moments, critical_fix and critical_criterion with init "critical-v1" or
// "critical" (which they make v1's solve: theory::critical_design).
void check_unit_init(RunUnit& u, json& cfg, const std::string& where) {
  std::string init = cfg["init"];
  if (!is_preset(init) && !is_critical_name(init)) {
    if (!fs::is_regular_file(init))
      fail(
          "{}: init '{}' is neither a preset (pytorch, keras, orthogonal[:gain], chrono[:T_max], "
          "critical, critical-v1, critical-v2) nor an existing file",
          where, init);
    init = absolute_path(init);
    cfg["init"] = init;
  }
  // Every gate.param names a gate of the run's cell and a parameter its init has: a v2 spec
  // draws the keep gates' biases from its timescales (checked here, not in the run process).
  try {
    const CellType cell = parse_cell(cfg["cell"].get<std::string>());
    const bool v2 =
        is_critical_name(init) && critical_name_design(init, cell, u.asks_v1_solve()).v2;
    InitSpec probe = theory::critical_base(cell, 100, 1.0);
    InitSpec spec_probe =
        v2 ? theory::critical_v2(cell, {.seq_len = 100, .data_var = 1.0}).spec : probe;
    for (const auto& [k, v] : u.spec_overrides.items())
      theory::apply_fix(spec_probe, fmt::format("{}={:.17g}", k, v.get<double>()),
                        "spec parameter");
    for (const auto& [k, v] : u.critical_fix.items())
      theory::apply_fix(probe, fmt::format("{}={:.17g}", k, v.get<double>()), "critical_fix");
  } catch (const Error& e) {
    fail("{}: {}", where, e.what());
  }
  if (!u.spec_overrides.empty() && !has_gaussian_moments(init))
    fail("{}: spec parameters ({}) need an init with Gaussian moments (a preset, critical or a "
         "spec .json), not the weights file '{}'",
         where, u.spec_overrides.dump(), init);
  for (const auto& [key, set] : {std::pair{"critical_fix", !u.critical_fix.empty()},
                                 std::pair{"critical_criterion", !u.critical_criterion.empty()}})
    if (set && init != "critical" && init != "critical-v1")
      fail(
          "{}: {} sets a knob of v1's solve: it applies to init \"critical-v1\" (or "
          "\"critical\", which it then makes v1) only (init is \"{}\")",
          where, key, init);
  if (!u.critical_criterion.empty() && u.critical_criterion != "tied" &&
      u.critical_criterion != "untied")
    fail("{}: critical_criterion must be tied or untied (got \"{}\")", where,
         u.critical_criterion);
}

// The init files of the runs, read once per (file, cell, width) as each run would read them: a
// spec file whole, a weights file's header (its shapes against the run's cell and width).
void check_init_files(const std::vector<RunUnit>& units, const std::string& source) {
  std::set<std::string> seen;
  for (const auto& u : units) {
    const std::string init = u.config.at("init"), cell = u.config.at("cell"),
                      gru = u.config.at("gru_variant");
    const int hidden = u.config.at("hidden");
    if (is_preset(init) || is_critical_name(init) ||
        !seen.insert(fmt::format("{}\n{}\n{}\n{}", init, cell, gru, hidden)).second)
      continue;
    try {
      if (is_weights_init(init)) {
        check_weights_file(init, {parse_cell(cell), parse_gru_variant(gru), 0, hidden, 0});
      } else {
        const InitSpec s = load_spec_file(init);
        if (s.cell != parse_cell(cell))
          fail("init spec {} is for {}, but the run's cell is {}", absolute_path(init),
               cell_name(s.cell), cell);
      }
    } catch (const Error& e) {
      fail("{}: run {} ({}): {}", source, u.id, u.params.dump(), e.what());
    }
  }
}

// One run of the grid: its id, configuration (checked) and what the sweep changes in its init.
RunUnit make_unit(const SweepSpec& spec, const json& params, const std::string& out_dir,
                  const std::string& git) {
  json all = spec.base;
  for (const auto& [k, v] : params.items()) all[k] = v;
  RunUnit u;
  u.params = params;
  u.id = run_id(params);
  u.git = git;
  u.cache_dir = (fs::path(out_dir) / "cache").string();
  u.spec_overrides = json::object();
  u.critical_fix = json::object();
  json cfg = TrainConfig().to_json();
  cfg["data_dir"] = "";
  for (const auto& [k, v] : all.items()) {
    if (is_spec_param(k)) {
      u.spec_overrides[k] = v;
      continue;
    }
    const OptionInfo& o = options().at(k);
    if (k == "critical_fix") u.critical_fix = v;
    else if (k == "critical_criterion") u.critical_criterion = v.get<std::string>();
    else if (o.task) cfg["task"][o.field] = v;
    else cfg[o.field] = v;
  }
  if (cfg["data_dir"].get<std::string>() != "")
    cfg["data_dir"] = absolute_path(cfg["data_dir"].get<std::string>());
  const std::string where = fmt::format(
      "{}: run {} ({})", spec.source.empty() ? "sweep" : spec.source, u.id, params.dump());
  if (!all.contains("task")) fail("{}: no task (set \"task\" in base or the grid)", where);
  check_unit_init(u, cfg, where);
  cfg["out"] = (fs::path(out_dir) / "runs" / u.id).string();
  TrainConfig tc = TrainConfig::from_json(cfg, where);
  try {
    tc.validate();
  } catch (const Error& e) {
    fail("{}: {}", where, e.what());
  }
  u.config = tc.to_json();
  u.config["out"] = cfg["out"];
  return u;
}

}  // namespace

std::vector<RunUnit> expand(const SweepSpec& spec, const std::string& out_dir,
                            const std::string& git) {
  std::vector<RunUnit> units;
  const size_t n = spec.size();
  units.reserve(n);
  for (size_t r = 0; r < n; ++r)
    units.push_back(make_unit(spec, spec.point(r), out_dir, git));
  const std::string hash = spec.runs_hash();
  for (auto& u : units) u.sweep = hash;
  check_init_files(units, spec.source.empty() ? "sweep" : spec.source);
  // Distinct parameters give distinct ids; a collision would merge two runs' results.
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < units.size(); ++i)
    if (!seen.emplace(units[i].id, i).second)
      fail("runs {} and {} have the same id {}: repeated values on an axis?",
           units[seen[units[i].id]].params.dump(), units[i].params.dump(), units[i].id);
  return units;
}

}  // namespace rnnmft::sweep
