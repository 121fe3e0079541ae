#include "spec/init_spec.h"

#include <limits.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_read.h"

namespace rnnmft {

using nlohmann::json;

const GateInit& InitSpec::gate(const std::string& name) const {
  auto it = gates.find(name);
  if (it == gates.end()) fail("init spec for {} has no gate '{}'", cell_name(cell), name);
  return it->second;
}

json InitSpec::to_json() const {
  json g = json::object();
  for (const auto& name : gate_names(cell)) {
    const GateInit& k = gate(name);
    g[name] = {{"recurrent_std", k.recurrent_std},
               {"input_std", k.input_std},
               {"bias_mean", k.bias_mean},
               {"bias_std", k.bias_std},
               {"recurrent_dist", k.orthogonal ? "orthogonal" : "gaussian"}};
  }
  json j = {{"cell", cell_name(cell)}, {"gates", g}};
  if (timescales)
    j["timescales"] = {{"dist", Timescales::dist_name(timescales->dist)},
                       {"min", timescales->min},
                       {"max", timescales->max}};
  if (!design.empty()) {
    json d = {{"cell", cell_name(cell)}};
    if (design.seq_len > 0) d["seq_len"] = design.seq_len;
    if (std::isfinite(design.input_var)) d["input_var"] = design.input_var;
    if (!design.gru_variant.empty()) d["gru_variant"] = design.gru_variant;
    if (design.width > 0) d["width"] = design.width;
    if (!design.task.empty()) d["task"] = design.task;
    if (!design.criterion.empty()) d["criterion"] = design.criterion;
    j["designed_for"] = d;
  }
  return j;
}

namespace {

// Moments of ln U(a, b): E[L] and the standard deviation of L, in closed form.
std::pair<double, double> log_uniform_moments(double a, double b) {
  auto F1 = [](double x) { return x * std::log(x) - x; };
  auto F2 = [](double x) {
    const double l = std::log(x);
    return x * (l * l - 2 * l + 2);
  };
  const double m1 = (F1(b) - F1(a)) / (b - a), m2 = (F2(b) - F2(a)) / (b - a);
  return {m1, std::sqrt(std::max(m2 - m1 * m1, 0.0))};
}

// "timescales": {"dist": "uniform" | "log-uniform", "min": τ_min > 1, "max": τ_max ≥ τ_min}.
// The gates whose biases it draws must not draw their own (bias_mean = bias_std = 0).
Timescales parse_timescales(const json& t, const InitSpec& s, const std::string& where) {
  if (!t.is_object()) fail("{}: timescales must be an object", where);
  const CellDesc& d = describe(s.cell);
  if (d.keep_gate < 0)
    fail("{}: timescales need a gated cell (lstm, gru, minimal); {} has no keep gate", where,
         cell_name(s.cell));
  Timescales ts;
  bool has_min = false, has_max = false;
  for (auto& [key, v] : t.items()) {
    if (key == "dist") {
      const auto dist = v.is_string() ? Timescales::dist_from_name(v.get<std::string>())
                                      : std::nullopt;
      if (!dist) fail("{}: timescales.dist must be \"uniform\" or \"log-uniform\"", where);
      ts.dist = *dist;
    } else if (key == "min" || key == "max") {
      if (!v.is_number()) fail("{}: timescales.{} must be a number", where, key);
      const double x = v.get<double>();
      if (!std::isfinite(x) || x <= 1 || x > 1e6)
        fail("{}: timescales.{} = {} must be in (1, 1e6] (steps; the keep gate's bias is "
             "ln(τ − 1))",
             where, key, x);
      (key == "min" ? ts.min : ts.max) = x;
      (key == "min" ? has_min : has_max) = true;
    } else {
      fail("{}: timescales: unknown key '{}' (expected dist, min, max)", where, key);
    }
  }
  if (!has_min || !has_max) fail("{}: timescales needs min and max", where);
  if (ts.max < ts.min)
    fail("{}: timescales.max = {} is below timescales.min = {}", where, ts.max, ts.min);
  for (int gi : {d.keep_gate, d.input_gate}) {
    if (gi < 0) continue;
    const std::string& name = d.gates[size_t(gi)];
    const GateInit& g = s.gate(name);
    if (g.bias_mean != 0 || g.bias_std != 0)
      fail("{}: with timescales, gates.{}'s biases are drawn from them: its bias_mean and "
           "bias_std must be 0 (got {} and {})",
           where, name, g.bias_mean, g.bias_std);
  }
  return ts;
}

SpecDesign parse_design(const json& d, CellType cell, const std::string& where) {
  if (!d.is_object()) fail("{}: designed_for must be an object", where);
  SpecDesign s;
  auto positive_int = [&](const std::string& key, const json& v) {
    if (!v.is_number_integer()) fail("{}: designed_for.{} must be an integer", where, key);
    // Read wide so that a huge value is reported, not wrapped.
    if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(INT_MAX) : v.get<int64_t>() > INT_MAX)
      fail("{}: designed_for.{} = {} is too large", where, key, v.dump());
    // Negative values too, before narrowing: -4294967295 would wrap to 1.
    if (!v.is_number_unsigned() && v.get<int64_t>() < 1)
      fail("{}: designed_for.{} = {} must be at least 1", where, key, v.dump());
    const int n = v.get<int>();
    if (n < 1) fail("{}: designed_for.{} = {} must be at least 1", where, key, n);
    return n;
  };
  auto string_value = [&](const std::string& key, const json& v) {
    if (!v.is_string()) fail("{}: designed_for.{} must be a string", where, key);
    return v.get<std::string>();
  };
  for (auto& [key, v] : d.items()) {
    if (key == "seq_len") {
      s.seq_len = positive_int(key, v);
    } else if (key == "width") {
      s.width = positive_int(key, v);
    } else if (key == "input_var") {
      if (!v.is_number()) fail("{}: designed_for.input_var must be a number", where);
      s.input_var = v.get<double>();
      if (!std::isfinite(s.input_var) || s.input_var < 0)
        fail("{}: designed_for.input_var = {} must be a finite number ≥ 0 (a second moment)", where,
             s.input_var);
    } else if (key == "cell") {
      const std::string c = string_value(key, v);
      if (c != cell_name(cell))
        fail("{}: designed_for.cell is '{}', but the spec's cell is '{}'", where, c,
             cell_name(cell));
    } else if (key == "gru_variant") {
      s.gru_variant = string_value(key, v);
      if (s.gru_variant != "reset-after" && s.gru_variant != "reset-before")
        fail("{}: designed_for.gru_variant '{}' must be \"reset-after\" or \"reset-before\"", where,
             s.gru_variant);
      if (!describe(cell).reset_gate)
        fail("{}: designed_for.gru_variant is set, but the spec is for {}, which has no variants",
             where, cell_name(cell));
    } else if (key == "task") {
      s.task = string_value(key, v);
    } else if (key == "criterion") {
      s.criterion = string_value(key, v);
    } else {
      fail(
          "{}: designed_for: unknown key '{}' (expected seq_len, input_var, cell, gru_variant, "
          "width, task, criterion)",
          where, key);
    }
  }
  return s;
}

}  // namespace

InitSpec InitSpec::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: an init spec must be a JSON object", where);
  for (auto& [key, v] : j.items())
    if (key != "cell" && key != "gates" && key != "comment" && key != "source" &&
        key != "diagnostics" && key != "designed_for" && key != "timescales")
      fail("{}: unknown key '{}' (expected cell, gates, timescales, designed_for)", where, key);
  if (!j.contains("cell") || !j["cell"].is_string()) fail("{}: missing \"cell\" (a string)", where);
  InitSpec s;
  s.cell = parse_cell(j["cell"].get<std::string>());
  s.source = where;
  if (!j.contains("gates") || !j["gates"].is_object())
    fail("{}: missing \"gates\" (an object with one entry per gate)", where);
  const auto& names = gate_names(s.cell);
  const std::set<std::string> known(names.begin(), names.end());
  for (auto& [name, g] : j["gates"].items()) {
    if (!known.count(name)) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      fail("{}: {} has no gate '{}' (its gates: {})", where, cell_name(s.cell), name, list);
    }
    if (!g.is_object()) fail("{}: gate '{}' must be an object", where, name);
    GateInit k;
    for (auto& [key, v] : g.items()) {
      if (key == "recurrent_dist") {
        if (!v.is_string() || (v != "gaussian" && v != "orthogonal"))
          fail("{}: {}.recurrent_dist must be \"gaussian\" or \"orthogonal\"", where, name);
        k.orthogonal = v == "orthogonal";
        continue;
      }
      double* dst = key == "recurrent_std" ? &k.recurrent_std
                    : key == "input_std"   ? &k.input_std
                    : key == "bias_mean"   ? &k.bias_mean
                    : key == "bias_std"    ? &k.bias_std
                                           : nullptr;
      if (!dst)
        fail(
            "{}: {}: unknown key '{}' (expected recurrent_std, input_std, bias_mean, bias_std, "
            "recurrent_dist)",
            where, name, key);
      if (!v.is_number()) fail("{}: {}.{} must be a number", where, name, key);
      *dst = v.get<double>();
      if (!std::isfinite(*dst)) fail("{}: {}.{} is not finite", where, name, key);
      // Parameters are floats: a value that is finite as a double may not be one as a float, and
      // nothing beyond this bound trains.
      if (std::abs(*dst) > 1e6)
        fail("{}: {}.{} = {} is beyond ±1e6 (the weights are floats; nothing trains there)", where,
             name, key, *dst);
      if (key != "bias_mean" && *dst < 0)
        fail("{}: {}.{} = {} is negative (standard deviations are ≥ 0)", where, name, key, *dst);
    }
    if (gate_index(s.cell, name) >= recurrent_gates(s.cell) && k.recurrent_std != 0)
      fail("{}: {}'s {} gate has no recurrent weights: {}.recurrent_std must be 0", where,
           cell_name(s.cell), name, name);
    // No field has a default (docs/cells.md §Init spec) except recurrent_dist ("gaussian"): a
    // field left out must not become 0.
    for (const char* key : {"recurrent_std", "input_std", "bias_mean", "bias_std"})
      if (!g.contains(key))
        fail("{}: gates.{}.{} is missing (every gate needs recurrent_std, input_std, bias_mean "
             "and bias_std)",
             where, name, key);
    s.gates[name] = k;
  }
  for (const auto& n : names)
    if (!s.gates.count(n)) fail("{}: gate '{}' of {} is missing", where, n, cell_name(s.cell));
  if (j.contains("designed_for")) s.design = parse_design(j["designed_for"], s.cell, where);
  if (j.contains("timescales")) s.timescales = parse_timescales(j["timescales"], s, where);
  return s;
}

std::pair<double, double> Timescales::bias_moments() const {
  // b = ln(τ − 1). Uniform τ: b = ln u, u ~ U(min − 1, max − 1), in closed form. Log-uniform τ:
  // by quadrature in ln τ (the midpoint rule on 4096 cells is exact to ~1e-7 here).
  if (max <= min) {
    const double b = std::log(min - 1.0);
    return {b, 0.0};
  }
  if (dist == Dist::Uniform) return log_uniform_moments(min - 1.0, max - 1.0);
  const int n = 4096;
  const double a = std::log(min), z = std::log(max);
  double m1 = 0, m2 = 0;
  for (int k = 0; k < n; ++k) {
    const double b = std::log(std::exp(a + (z - a) * (k + 0.5) / n) - 1.0);
    m1 += b / n;
    m2 += b * b / n;
  }
  return {m1, std::sqrt(std::max(m2 - m1 * m1, 0.0))};
}

InitSpec InitSpec::gaussian_moments() const {
  if (!timescales) return *this;
  InitSpec s = *this;
  s.timescales.reset();
  const CellDesc& d = describe(cell);
  const auto [m, sd] = timescales->bias_moments();
  GateInit& keep = s.gates[d.gates[size_t(d.keep_gate)]];
  keep.bias_mean = m;
  keep.bias_std = sd;
  if (d.input_gate >= 0) {
    GateInit& in = s.gates[d.gates[size_t(d.input_gate)]];
    in.bias_mean = -m;
    in.bias_std = sd;
  }
  return s;
}

std::vector<std::string> design_mismatches(const SpecDesign& d, const std::string& what,
                                           int seq_len, double input_var,
                                           const std::string& gru_variant, int width,
                                           const std::string& task) {
  std::vector<std::string> out;
  if (d.seq_len > 0 && d.seq_len != seq_len)
    out.push_back(fmt::format("init spec {} was designed for T = {}, but task {} has T = {}", what,
                              d.seq_len, task, seq_len));
  if (!d.gru_variant.empty() && d.gru_variant != gru_variant)
    out.push_back(
        fmt::format("init spec {} was designed for the {} GRU, but this run uses --gru-variant {}",
                    what, d.gru_variant, gru_variant));
  if (d.width > 0 && d.width != width)
    out.push_back(
        fmt::format("init spec {} was designed for width {}, but this run has --hidden {}", what,
                    d.width, width));
  // Absolute, not relative: padding's R = 0 has no scale of its own.
  if (std::isfinite(d.input_var) && std::abs(d.input_var - input_var) > 0.05)
    out.push_back(fmt::format(
        "init spec {} was designed for input second moment R = {:.4g}, but task {} has R = {:.4g}",
        what, d.input_var, task, input_var));
  return out;
}

InitSpec load_spec_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open init spec", absolute_path(path));
  json j;
  try {
    j = parse_json(in);
  } catch (const json::exception& e) {  // syntax, and numbers beyond a double (1e400)
    fail("{}: not valid JSON: {}", absolute_path(path), e.what());
  }
  return InitSpec::from_json(j, absolute_path(path));
}

void save_spec_file(const InitSpec& spec, const std::string& path) {
  write_file_atomic(path, spec.to_json().dump(2) + "\n");
}

namespace {

// An init that is not a preset is a file name: one the system cannot take ("File name too long"
// from the first stat) is named as the option's value here.
void check_init_name_length(const std::string& init) {
  size_t longest = 0;
  for (size_t b = 0, e; b <= init.size(); b = e + 1) {
    e = init.find('/', b);
    if (e == std::string::npos) e = init.size();
    longest = std::max(longest, e - b);
  }
  if (init.size() >= PATH_MAX || longest > NAME_MAX)
    fail(
        "init '{}…' ({} characters) is not a preset, and its name is too long for a file (at most "
        "{} characters, {} between slashes): --init (a sweep's \"init\") takes a preset, "
        "\"critical\", or the path of a spec or weights file",
        init.substr(0, 40), init.size(), PATH_MAX - 1, NAME_MAX);
}

}  // namespace

bool is_preset(const std::string& init) {
  check_init_name_length(init);
  const size_t colon = init.find(':');
  const std::string base = init.substr(0, colon);
  if (base != "pytorch" && base != "keras" && base != "orthogonal" && base != "chrono")
    return false;
  // Refused here, where every command first looks at an init, rather than ignored later.
  if (colon != std::string::npos && (base == "pytorch" || base == "keras"))
    fail("init '{}': {} takes no argument (only orthogonal[:gain] and chrono[:T_max] do)", init,
         base);
  if (colon != std::string::npos) {
    const std::string arg = init.substr(colon + 1);
    char* end = nullptr;
    errno = 0;
    const double v = arg.empty() ? NAN : std::strtod(arg.c_str(), &end);
    if (arg.empty() || end != arg.c_str() + arg.size() || errno == ERANGE || !std::isfinite(v))
      fail("init '{}': '{}' is not a number", init, arg);
  }
  return true;
}

namespace {

double preset_param(const std::string& init, double dflt) {
  auto colon = init.find(':');
  if (colon == std::string::npos) return dflt;
  try {
    size_t used = 0;
    double v = std::stod(init.substr(colon + 1), &used);
    if (used != init.size() - colon - 1 || !std::isfinite(v)) throw std::invalid_argument("");
    return v;
  } catch (const std::exception&) {
    fail("init '{}': '{}' is not a number", init, init.substr(colon + 1));
  }
}

}  // namespace

InitSpec preset_moments(const std::string& preset, CellType cell, int N, int I, int seq_len) {
  const std::string base = preset.substr(0, preset.find(':'));
  if (!is_preset(preset))
    fail("unknown init preset '{}' (expected pytorch, keras, orthogonal[:gain], chrono[:T_max])",
         preset);
  InitSpec s;
  s.cell = cell;
  s.source = preset;
  const int Gi = input_gates(cell), Gh = recurrent_gates(cell);
  const CellDesc& d = describe(cell);
  for (int gi = 0; gi < d.input_gates; ++gi) {
    const std::string& name = d.gates[size_t(gi)];
    GateInit k;
    const bool no_recurrent = gi >= d.recurrent_gates;  // minimal's embed
    if (base == "pytorch") {
      // U(−1/√N, 1/√N): variance 1/(3N) = σ²/N = ν²/I; two such biases add.
      k.recurrent_std = no_recurrent ? 0 : std::sqrt(1.0 / 3.0);
      k.input_std = std::sqrt(double(I) / (3.0 * N));
      k.bias_std = std::sqrt((no_recurrent ? 1.0 : 2.0) / (3.0 * N));
    } else if (base == "keras" || base == "chrono") {
      // Glorot-uniform over (I, Gi·N): variance 2/(I + Gi·N) = ν²/I. Orthogonal over (N, Gh·N):
      // entries of variance 1/(Gh·N) = σ²/N.
      k.input_std = std::sqrt(2.0 * I / (I + double(Gi) * N));
      k.recurrent_std = no_recurrent ? 0 : std::sqrt(1.0 / Gh);
      k.orthogonal = !no_recurrent;
      k.bias_mean = d.preset_bias[size_t(gi)];  // the LSTM's forget gate: 1
    } else {  // orthogonal[:gain]
      const double gain = preset_param(preset, 1.0);
      if (gain <= 0) fail("init '{}': the gain must be positive", preset);
      k.recurrent_std = no_recurrent ? 0 : gain;
      k.orthogonal = !no_recurrent;
      k.input_std = 1.0;
      k.bias_mean = d.preset_bias[size_t(gi)];
    }
    s.gates[name] = k;
  }
  if (base == "chrono") {
    const double tmax = preset_param(preset, seq_len);
    if (!(tmax > 2)) fail("init '{}': chrono needs T_max > 2 (got {})", preset, tmax);
    if (d.keep_gate < 0)
      fail("init chrono needs a gated cell (lstm, gru, minimal), not {}", d.name);
    // The keep gate's bias ~ log U(1, T_max − 1), the LSTM's input gate its negative: timescales
    // uniform on [2, T_max] (docs/theory.md §13), read through their moments.
    s.timescales = Timescales{.dist = Timescales::Dist::Uniform, .min = 2.0, .max = tmax};
    return s.gaussian_moments();
  }
  return s;
}

}  // namespace rnnmft
