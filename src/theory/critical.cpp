#include "theory/critical.h"

#include <cmath>
#include <algorithm>
#include <functional>

#include <fmt/ranges.h>

#include "theory/cells.h"
#include "util/error.h"

namespace rnnmft::theory {

namespace {

double& param_ref(InitSpec& spec, const std::string& gate_param) {
  const auto dot = gate_param.find('.');
  if (dot == std::string::npos) fail("'{}' is not gate.param", gate_param);
  const std::string g = gate_param.substr(0, dot), p = gate_param.substr(dot + 1);
  auto it = spec.gates.find(g);
  if (it == spec.gates.end())
    fail("'{}': {} has no gate '{}'", gate_param, cell_name(spec.cell), g);
  if (p == "recurrent_std") return it->second.recurrent_std;
  if (p == "input_std") return it->second.input_std;
  if (p == "bias_mean") return it->second.bias_mean;
  if (p == "bias_std") return it->second.bias_std;
  fail("'{}': unknown parameter '{}' (recurrent_std, input_std, bias_mean, bias_std)", gate_param,
       p);
}

}  // namespace

InitSpec critical_base(CellType cell, int T, double R) {
  InitSpec s = cell_theory(cell).critical_base(T, R);
  s.cell = cell;
  s.source = "rnnmft critical";
  return s;
}

void apply_fix(InitSpec& spec, const std::string& fix, const std::string& flag) {
  const auto eq = fix.find('=');
  if (eq == std::string::npos) fail("{} '{}' is not gate.param=value", flag, fix);
  const std::string key = fix.substr(0, eq), val = fix.substr(eq + 1);
  if (key.size() > 15 && key.substr(key.size() - 15) == ".recurrent_dist") {
    auto it = spec.gates.find(key.substr(0, key.size() - 15));
    if (it == spec.gates.end()) fail("{} '{}': no such gate", flag, fix);
    if (val != "gaussian" && val != "orthogonal")
      fail("{} '{}': gaussian or orthogonal", flag, fix);
    it->second.orthogonal = val == "orthogonal";
    return;
  }
  double v;
  try {
    size_t used = 0;
    v = std::stod(val, &used);
    if (used != val.size()) throw std::invalid_argument("");
  } catch (const std::exception&) {
    fail("{} '{}': '{}' is not a number", flag, fix, val);
  }
  if (!std::isfinite(v)) fail("{} '{}': not finite", flag, fix);
  // The bound a spec file has (docs/cells.md §Init spec): refused here, where a sweep checks its
  // runs, rather than in every run.
  if (std::abs(v) > 1e6)
    fail("{} '{}': {} is beyond ±1e6 (the weights are floats; nothing trains there)", flag, fix,
         val);
  if (key.find("bias_mean") == std::string::npos && v < 0)
    fail("{} '{}': standard deviations are ≥ 0", flag, fix);
  if (spec.timescales && (key.ends_with(".bias_mean") || key.ends_with(".bias_std"))) {
    const CellDesc& d = describe(spec.cell);
    const std::string gate = key.substr(0, key.rfind('.'));
    for (int gi : {d.keep_gate, d.input_gate})
      if (gi >= 0 && gate == d.gates[size_t(gi)])
        fail("{} '{}': the spec draws {}'s biases from its timescales (docs/theory.md §13)", flag,
             fix, gate);
  }
  param_ref(spec, key) = v;
}

Criterion parse_criterion(const std::string& name) {
  if (name == "tied") return Criterion::Tied;
  if (name == "untied") return Criterion::Untied;
  fail("--criterion '{}': expected tied or untied", name);
}

const char* criterion_name(Criterion c) {
  return c == Criterion::Tied ? "tied" : "untied";
}

std::string CriticalResult::knobs_text() const {
  std::string s;
  for (const auto& [k, v] : knobs) s += fmt::format("{}{} = {:.6g}", s.empty() ? "" : ", ", k, v);
  return s;
}

nlohmann::json CriticalResult::to_json() const {
  nlohmann::json j = diagnostics.to_json();
  j["criterion"] = criterion_name(criterion);
  j["knobs"] = nlohmann::json::object();
  for (const auto& [k, v] : knobs) j["knobs"][k] = v;
  j["log_m1_T"] = log_m1_T;
  j["log_gain_T"] = log_gain_T;
  j["reached"] = reached;
  j["notes"] = notes;
  return j;
}

namespace {

// Root of an increasing f(x) − target on [lo_lim, hi_lim]: bracket from x0 towards the root in
// small steps (`step` added, or for scales (step < 0) a factor 1 − step = 1.25 per step), so the
// first sign change met is the crossing nearest x0 (from a base point below it, the lowest: a
// jump of the fixed point is met from below), then regula falsi with the Illinois modification.
// Throws, naming the bracket, when f − target keeps its sign.
double solve_increasing(const std::function<double(double)>& f, double target, double x0,
                        double step, double lo_lim, double hi_lim, double tol,
                        const std::string& what, const std::string& knob,
                        std::vector<std::string>* notes = nullptr) {
  double a = x0, fa = f(a) - target;
  if (std::abs(fa) <= tol) return a;
  double b = a, fb = fa;
  const double dir = fa < 0 ? 1.0 : -1.0;
  for (int it = 0; it < 400 && (fb < 0) == (fa < 0); ++it) {
    a = b;
    fa = fb;
    const double next = step < 0 ? (dir > 0 ? std::max(b * (1 - step), 1e-3) : b / (1 - step))
                                 : b + dir * step;
    b = std::clamp(next, lo_lim, hi_lim);
    fb = f(b) - target;
    if (std::abs(fb) <= tol) return b;
    if ((b == lo_lim || b == hi_lim || (step < 0 && b < 1e-6)) && (fb < 0) == (fa < 0)) {
      fail("critical: {} − target does not change sign for {} in [{:.6g}, {:.6g}] (from {:.6g} "
           "to {:.6g}); the base point cannot reach it — change it with --fix",
           what, knob, std::min(x0, b), std::max(x0, b), std::min(fa, fb), std::max(fa, fb));
    }
  }
  if ((fb < 0) == (fa < 0))
    fail("critical: no bracket for {} found along {}", what, knob);
  // Illinois regula falsi on [a, b] with f(a), f(b) of opposite signs (fa, fb get halved; the
  // values at the ends are kept for the message).
  double fa_end = fa, fb_end = fb;
  int side = 0;
  for (int it = 0; it < 100; ++it) {
    const double x = b - fb * (b - a) / (fb - fa);
    const double fx = f(x) - target;
    if (std::abs(fx) <= tol) return x;
    if (std::abs(b - a) < 1e-10 * std::max(1.0, std::abs(x))) {
      // f leaps over the target: a jump of the fixed point (§3.1). Stay on the lower branch.
      const double lo = fa < 0 ? a : b, flo = std::min(fa_end, fb_end),
                   fhi = std::max(fa_end, fb_end);
      if (notes)
        notes->push_back(fmt::format("the fixed point jumps at {} ≈ {:.6g}: {} goes from {:.4g} "
                                     "to {:.4g} there; the lower branch is kept",
                                     knob, lo, what, flo + target, fhi + target));
      return lo;
    }
    if ((fx < 0) == (fb < 0)) {
      b = x;
      fb = fb_end = fx;
      if (side == -1) fa /= 2;
      side = -1;
    } else {
      a = x;
      fa = fa_end = fx;
      if (side == 1) fb /= 2;
      side = 1;
    }
  }
  fail("critical: {} did not converge along {} (bracket [{:.6g}, {:.6g}])", what, knob, a, b);
}

// True when g(x) stays within tol of g0 over content scales 10⁻² … 10³ (a factor √10 apart).
bool content_has_no_effect(const std::function<double(double)>& g, double g0, double tol) {
  for (double x = 1e-2; x <= 1.001e3; x *= std::sqrt(10.0))
    if (std::abs(g(x) - g0) > tol) return false;
  return true;
}

}  // namespace

CriticalResult critical_init(CellType cell, const CriticalOptions& opt) {
  if (opt.seq_len < 2) fail("--seq-len must be at least 2 (got {})", opt.seq_len);
  if (!(opt.tol > 0)) fail("critical: tolerance must be > 0");
  const int T = opt.seq_len;
  CriticalResult res;
  const CriticalKnobs& kn = describe(cell).critical;  // docs/theory.md §6.1
  res.criterion =
      opt.criterion.value_or(kn.tied_by_default ? Criterion::Tied : Criterion::Untied);
  res.spec = critical_base(cell, T, opt.theory.input_var);
  for (const auto& f : opt.fixes) apply_fix(res.spec, f);
  if (res.criterion == Criterion::Tied && kn.keep == nullptr) {
    res.criterion = Criterion::Untied;
    res.notes.push_back("the vanilla cell's orthogonal W is normal: tied and untied agree (m1 = 1)");
  }
  const bool tied = res.criterion == Criterion::Tied;
  // Untied m1 = 1: the knob that moves m1 most. The LSTM's m1 hardly depends on the cell gate at
  // long T (E[f²] dominates), so its forget bias; the GRU's and minimalRNN's keep-gate term also
  // scales the content term ((1 − f)² in b_h), so m1 = 1 needs their content scale.
  std::vector<std::string> solved;
  if (tied)
    solved = {kn.keep, kn.content};
  else
    solved = {kn.untied_moves_keep ? kn.keep : kn.content};
  for (const auto& f : opt.fixes)
    for (const auto& k : solved)
      if (f.substr(0, f.find('=')) == k)
        fail("--fix {}: that is a parameter the search solves for ({})", f,
             fmt::format("{}", fmt::join(solved, ", ")));
  TheoryOptions topt = opt.theory;
  topt.horizon = T;
  topt.order_raise = false;  // the solution's numbers at the order it was solved at, with their error
  TheoryOptions search = topt;
  search.timescale = false;
  search.order_check = false;
  auto eval = [&](const std::string& knob, double x) {
    param_ref(res.spec, knob) = x;
    return analyze(res.spec, search);
  };
  auto logm1T = [&](const TheoryResult& r) { return T * std::log(r.jacobian.m1); };
  const double tol = opt.tol;
  bool gain_free = false;  // tied: the content scale cannot move G_T (nothing to solve for it)
  if (!tied) {
    const std::string knob = solved[0];
    const bool bias = knob.find("bias_mean") != std::string::npos;
    double& ref = param_ref(res.spec, knob);
    const double x0 = bias ? std::log(double(T)) + 1.0 : std::max(ref, 0.5);
    ref = solve_increasing([&](double x) { return logm1T(eval(knob, x)); }, 0.0, x0,
                           bias ? 1.0 : -0.25, bias ? -30.0 : 0.0, bias ? 60.0 : 1e4, tol,
                           "T·ln m1", knob, &res.notes);
  } else {
    // Alternate: the keep bias for T·ln m1 = −1 at the current content scale, then the content
    // scale for ln G_T = 0 at that bias; each moves the other's condition only a little (§9.3).
    double keep = std::log(2.0 * T), content = 0.0;
    gain_free = false;
    for (int round = 0; round < 20; ++round) {
      param_ref(res.spec, kn.content) = content;
      keep = solve_increasing([&](double x) { return logm1T(eval(kn.keep, x)); }, -1.0, keep, 0.5,
                              -30.0, 60.0, tol / 4, "T·ln m1", kn.keep);
      param_ref(res.spec, kn.keep) = keep;
      const TheoryResult at0 = eval(kn.content, 0.0);
      if (at0.tied_log_gain(T) > 0)
        fail("critical: with {} = 0 tied networks already grow over T = {} (ln G_T = {:.3g}): the "
             "other recurrent weights are too large for this T; lower them with --fix",
             kn.content, T, at0.tied_log_gain(T));
      // Without a state to feed back (the minimalRNN at R = 0: h = z = 0) the content scale has
      // no recurrent part to set: only ξ = T is left to solve. One large scale is not enough to
      // tell: it saturates the content nonlinearity (tanh' → 0), which also gives G_T(0) back
      // (the GRU at T = 200: ln G_T = −0.999 at σ = 0 and at σ = 1000, +33 at σ = 100). So the
      // whole range is probed before the knob is declared free.
      if (std::abs(eval(kn.content, 1e3).tied_log_gain(T) - at0.tied_log_gain(T)) <= tol &&
          content_has_no_effect([&](double x) { return eval(kn.content, x).tied_log_gain(T); },
                                at0.tied_log_gain(T), tol)) {
        content = 0;
        param_ref(res.spec, kn.content) = 0;
        gain_free = true;
        res.notes.push_back(fmt::format(
            "{} does not move the tied gain here (no recurrent signal): set to 0, only ξ = T solved",
            kn.content));
        keep = solve_increasing([&](double x) { return logm1T(eval(kn.keep, x)); }, -1.0, keep,
                                0.5, -30.0, 60.0, tol / 4, "T·ln m1", kn.keep);
        param_ref(res.spec, kn.keep) = keep;
        break;
      }
      content = solve_increasing([&](double x) { return eval(kn.content, x).tied_log_gain(T); },
                                 0.0, std::max(content, 1e-3), -0.25, 0.0, 1e4, tol / 4, "ln G_T",
                                 kn.content);
      param_ref(res.spec, kn.content) = content;
      const TheoryResult r = analyze(res.spec, search);
      if (std::abs(logm1T(r) + 1.0) <= tol && std::abs(r.tied_log_gain(T)) <= tol) break;
    }
  }
  for (const auto& k : solved) res.knobs.emplace_back(k, param_ref(res.spec, k));
  res.diagnostics = analyze(res.spec, topt);
  res.log_m1_T = logm1T(res.diagnostics);
  res.log_gain_T = res.diagnostics.tied_log_gain(T);
  res.reached = tied ? std::abs(res.log_m1_T + 1.0) <= tol &&
                           (gain_free || std::abs(res.log_gain_T) <= tol)
                     : std::abs(res.log_m1_T) <= tol;
  res.spec.source = fmt::format("rnnmft critical ({} criterion, T = {})",
                                criterion_name(res.criterion), T);
  res.spec.design.seq_len = T;
  res.spec.design.input_var = opt.theory.input_var;
  res.spec.design.criterion = criterion_name(res.criterion);
  if (describe(cell).reset_gate)
    res.spec.design.gru_variant = gru_variant_name(opt.theory.gru_variant);
  if (!tied && res.log_gain_T > std::log(10.0))
    res.notes.push_back(fmt::format(
        "tied networks of this init grow: gradient gain over T ≈ 10^{:.1f} (ln G_T = {:.3g}); "
        "the tied criterion avoids this",
        res.log_gain_T / std::log(10.0), res.log_gain_T));
  if (res.diagnostics.chaotic())
    res.notes.push_back(fmt::format(
        "the solution lies in the chaotic phase (c* = {:.3g}, χ = {:.4g} at c = 1)",
        res.diagnostics.corr, res.diagnostics.chi_coincident));
  if (res.diagnostics.xi() < 0.9 * T)
    res.notes.push_back(fmt::format("ξ = {:.1f} is shorter than T = {}", res.diagnostics.xi(), T));
  return res;
}

}  // namespace rnnmft::theory
