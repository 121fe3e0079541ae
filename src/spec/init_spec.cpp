#include "spec/init_spec.h"

#include <cmath>
#include <fstream>
#include <set>

#include "util/error.h"

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
  return {{"cell", cell_name(cell)}, {"gates", g}};
}

InitSpec InitSpec::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: an init spec must be a JSON object", where);
  for (auto& [key, v] : j.items())
    if (key != "cell" && key != "gates" && key != "comment" && key != "source" &&
        key != "diagnostics")
      fail("{}: unknown key '{}' (expected cell, gates)", where, key);
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
      if (key != "bias_mean" && *dst < 0)
        fail("{}: {}.{} = {} is negative (standard deviations are ≥ 0)", where, name, key, *dst);
    }
    if (s.cell == CellType::Minimal && name == "embed" && k.recurrent_std != 0)
      fail("{}: minimal's embed gate has no recurrent weights: embed.recurrent_std must be 0",
           where);
    s.gates[name] = k;
  }
  for (const auto& n : names)
    if (!s.gates.count(n)) fail("{}: gate '{}' of {} is missing", where, n, cell_name(s.cell));
  return s;
}

InitSpec load_spec_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open init spec", absolute_path(path));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    fail("{}: not valid JSON: {}", absolute_path(path), e.what());
  }
  return InitSpec::from_json(j, absolute_path(path));
}

void save_spec_file(const InitSpec& spec, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) fail("{}: cannot write", absolute_path(path));
    out << spec.to_json().dump(2) << "\n";
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("{}: cannot write", absolute_path(path));
}

bool is_preset(const std::string& init) {
  const std::string base = init.substr(0, init.find(':'));
  return base == "pytorch" || base == "keras" || base == "orthogonal" || base == "chrono";
}

namespace {

// Moments of log U(a, b): E[L] and E[L²] in closed form.
std::pair<double, double> log_uniform_moments(double a, double b) {
  auto F1 = [](double x) { return x * std::log(x) - x; };
  auto F2 = [](double x) {
    const double l = std::log(x);
    return x * (l * l - 2 * l + 2);
  };
  const double m1 = (F1(b) - F1(a)) / (b - a), m2 = (F2(b) - F2(a)) / (b - a);
  return {m1, std::sqrt(std::max(m2 - m1 * m1, 0.0))};
}

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
  for (const auto& name : gate_names(cell)) {
    GateInit k;
    const bool no_recurrent = cell == CellType::Minimal && name == "embed";
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
      if (cell == CellType::Lstm && name == "forget") k.bias_mean = 1.0;
    } else {  // orthogonal[:gain]
      const double gain = preset_param(preset, 1.0);
      if (gain <= 0) fail("init '{}': the gain must be positive", preset);
      k.recurrent_std = no_recurrent ? 0 : gain;
      k.orthogonal = !no_recurrent;
      k.input_std = 1.0;
      if (cell == CellType::Lstm && name == "forget") k.bias_mean = 1.0;
    }
    s.gates[name] = k;
  }
  if (base == "chrono") {
    const double tmax = preset_param(preset, seq_len);
    if (!(tmax > 2)) fail("init '{}': chrono needs T_max > 2 (got {})", preset, tmax);
    auto [m, sd] = log_uniform_moments(1.0, tmax - 1.0);
    if (cell == CellType::Lstm) {
      s.gates["forget"].bias_mean = m;
      s.gates["forget"].bias_std = sd;
      s.gates["input"].bias_mean = -m;
      s.gates["input"].bias_std = sd;
    } else if (cell == CellType::Gru || cell == CellType::Minimal) {
      s.gates["update"].bias_mean = m;
      s.gates["update"].bias_std = sd;
    } else {
      fail("init chrono needs a gated cell (lstm, gru, minimal), not vanilla");
    }
  }
  return s;
}

}  // namespace rnnmft
