#include "theory/critical.h"

#include <cmath>
#include <functional>

#include "util/error.h"

namespace rnnmft::theory {

namespace {

GateInit gate(double s, double n, double m, double r, bool orth = false) {
  GateInit g;
  g.recurrent_std = s;
  g.input_std = n;
  g.bias_mean = m;
  g.bias_std = r;
  g.orthogonal = orth;
  return g;
}

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
  InitSpec s;
  s.cell = cell;
  s.source = "rnnmft critical";
  const double logT = std::log(double(std::max(T, 3)));
  switch (cell) {
    case CellType::Vanilla:
      // Orthogonal W and small input and bias variance: φ' ≈ 1 at a small fixed point.
      s.gates["hidden"] = gate(1.0, 0.025, 0.0, 0.0, true);
      break;
    case CellType::Minimal: {
      // Large update-gate bias: E[u²] ≈ 1 − 2e^{−μ + q/2}, μ = ln(2T) + q/2 gives ξ ≈ T (§6.2).
      GateInit u = gate(0.3, 0.3, 0.0, 0.0);
      const double q = u.input_std * u.input_std * R;
      u.bias_mean = std::log(2.0 * T) + q / 2;
      s.gates["update"] = u;
      s.gates["embed"] = gate(0.0, 1.0, 0.0, 0.0);
      break;
    }
    case CellType::Gru:
      // Small gate weights, the update (keep) gate nearly closed to change: 1 − E[f] ≈ 1/T.
      s.gates["update"] = gate(0.3, 0.3, logT, 0.0);
      s.gates["reset"] = gate(0.3, 0.3, 2.0, 0.0);
      s.gates["candidate"] = gate(1.0, 0.5, 0.0, 0.0);
      break;
    case CellType::Lstm:
      // Keep c small (input gate mostly shut), output gate open, forget gate near 1 (§6.3).
      // μ_i = −½ ln T keeps E[c²] ≈ e^{2μ_i} E[g²] / (1 − E[f²]) of order 0.1–1 (tanh unsaturated).
      s.gates["input"] = gate(0.3, 0.3, -0.5 * logT, 0.0);
      s.gates["forget"] = gate(0.3, 0.3, logT + 1.0, 0.0);
      s.gates["output"] = gate(0.3, 0.3, 4.0, 0.0);
      s.gates["cell"] = gate(1.0, 0.5, 0.0, 0.0);
      break;
  }
  return s;
}

void apply_fix(InitSpec& spec, const std::string& fix) {
  const auto eq = fix.find('=');
  if (eq == std::string::npos) fail("--fix '{}' is not gate.param=value", fix);
  const std::string key = fix.substr(0, eq), val = fix.substr(eq + 1);
  if (key.size() > 15 && key.substr(key.size() - 15) == ".recurrent_dist") {
    auto it = spec.gates.find(key.substr(0, key.size() - 15));
    if (it == spec.gates.end()) fail("--fix '{}': no such gate", fix);
    if (val != "gaussian" && val != "orthogonal") fail("--fix '{}': gaussian or orthogonal", fix);
    it->second.orthogonal = val == "orthogonal";
    return;
  }
  double v;
  try {
    size_t used = 0;
    v = std::stod(val, &used);
    if (used != val.size()) throw std::invalid_argument("");
  } catch (const std::exception&) {
    fail("--fix '{}': '{}' is not a number", fix, val);
  }
  if (!std::isfinite(v)) fail("--fix '{}': not finite", fix);
  if (key.find("bias_mean") == std::string::npos && v < 0)
    fail("--fix '{}': standard deviations are ≥ 0", fix);
  param_ref(spec, key) = v;
}

CriticalResult critical_init(CellType cell, const CriticalOptions& opt) {
  if (opt.seq_len < 2) fail("--seq-len must be at least 2 (got {})", opt.seq_len);
  CriticalResult res;
  res.spec = critical_base(cell, opt.seq_len, opt.theory.input_var);
  for (const auto& f : opt.fixes) apply_fix(res.spec, f);
  // The knob: the recurrent scale of the gate that feeds new content into the state.
  res.knob = cell == CellType::Vanilla   ? "hidden.recurrent_std"
             : cell == CellType::Minimal ? "update.recurrent_std"
             : cell == CellType::Gru     ? "candidate.recurrent_std"
                                         : "cell.recurrent_std";
  for (const auto& f : opt.fixes)
    if (f.substr(0, f.find('=')) == res.knob)
      fail("--fix {}: that is the parameter the search solves for", f);
  TheoryOptions topt = opt.theory;
  topt.horizon = opt.seq_len;
  TheoryOptions search = topt;
  search.timescale = false;
  auto m1_at = [&](double x) {
    param_ref(res.spec, res.knob) = x;
    return analyze(res.spec, search).jacobian.m1;
  };
  // Bracket m1(x) = 1 from x = 0 upwards (m1 grows with the recurrent scale on the stable
  // branch), then bisect in x²; a bracket that closes with |m1 − 1| large is a jump of the
  // fixed point (§2.2), reported as such.
  double lo = 0, flo = m1_at(0);
  double hi = 0.5, fhi = m1_at(hi);
  if (flo > 1.0) {
    res.notes.push_back(
        fmt::format("m1 = {:.6f} > 1 already without recurrent weights on {}", flo, res.knob));
    hi = 0;
  } else {
    while (fhi < 1.0 && hi < 1e4) {
      lo = hi;
      flo = fhi;
      hi *= 2;
      fhi = m1_at(hi);
    }
    if (fhi < 1.0) {
      res.notes.push_back(
          fmt::format("m1 stays below 1 (≤ {:.6f}) for {} up to {}", fhi, res.knob, hi));
    } else {
      for (int it = 0; it < 200 && std::abs(fhi - 1.0) > opt.tol; ++it) {
        // Regula falsi in x² (m1 is nearly linear in σ²), guarded by bisection.
        double x2 = lo * lo + (1.0 - flo) * (hi * hi - lo * lo) / (fhi - flo);
        double x = std::sqrt(std::max(x2, 0.0));
        if (!(x > lo && x < hi) || it % 3 == 2) x = 0.5 * (lo + hi);
        const double fx = m1_at(x);
        if (fx < 1.0) {
          lo = x;
          flo = fx;
        } else {
          hi = x;
          fhi = fx;
        }
        if (std::abs(fx - 1.0) <= opt.tol) {
          hi = x;
          fhi = fx;
          break;
        }
        if (hi - lo < 1e-10 * std::max(1.0, hi)) {
          // m1 jumps over 1: stay on the stable lower branch, just below the jump.
          res.notes.push_back(fmt::format(
              "the fixed point jumps at {} ≈ {:.6g}: m1 goes from {:.6f} to {:.6f} there; the "
              "lower branch is kept",
              res.knob, hi, flo, fhi));
          hi = lo;
          fhi = flo;
          break;
        }
      }
    }
  }
  param_ref(res.spec, res.knob) = hi;
  res.knob_value = hi;
  res.diagnostics = analyze(res.spec, topt);
  res.reached = std::abs(res.diagnostics.jacobian.m1 - 1.0) <= std::max(opt.tol, 1e-3);
  if (res.diagnostics.xi() < opt.seq_len)
    res.notes.push_back(
        fmt::format("ξ = {:.1f} is shorter than T = {}", res.diagnostics.xi(), opt.seq_len));
  return res;
}

}  // namespace rnnmft::theory
