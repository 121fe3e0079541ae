#include "theory/phase.h"

#include <cmath>
#include <exception>
#include <string>

#include "theory/critical.h"
#include "util/error.h"

namespace rnnmft::theory {

Axis Axis::parse(const std::string& text) {
  Axis a;
  const auto eq = text.find('=');
  if (eq == std::string::npos) fail("axis '{}' is not gate.param=lo:hi:n", text);
  a.param = text.substr(0, eq);
  const std::string rest = text.substr(eq + 1);
  double lo, hi;
  int n;
  char c1, c2;
  char tail;
  if (std::sscanf(rest.c_str(), "%lf%c%lf%c%d%c", &lo, &c1, &hi, &c2, &n, &tail) != 5 ||
      c1 != ':' || c2 != ':')
    fail("axis '{}' is not gate.param=lo:hi:n", text);
  if (n < 1 || n > 1000) fail("axis '{}': n must be between 1 and 1000", text);
  if (!std::isfinite(lo) || !std::isfinite(hi)) fail("axis '{}': bounds must be finite", text);
  a.lo = lo;
  a.hi = hi;
  a.n = n;
  return a;
}

std::vector<PhasePoint> phase_grid(const InitSpec& base, const Axis& x, const Axis& y,
                                   const TheoryOptions& opt) {
  // Both ends of both axes once, before the parallel loop (a standard deviation must stay ≥ 0
  // over the whole range), and the options through one point.
  for (const Axis* a : {&x, &y})
    for (double v : {a->lo, a->hi}) {
      InitSpec probe = base;
      apply_fix(probe, fmt::format("{}={:.17g}", a->param, v), a == &x ? "--x" : "--y");
    }
  std::vector<PhasePoint> out(size_t(x.n) * y.n);
  std::vector<std::string> errors(out.size());
  // An exception must not leave an OpenMP region: each point keeps its own error, and a point
  // where the theory is not finite (its numbers beyond double's range) is reported as NaN.
#pragma omp parallel for schedule(dynamic)
  for (int k = 0; k < x.n * y.n; ++k) {
    const int i = k % x.n, j = k / x.n;
    out[k].x = x.at(i);
    out[k].y = y.at(j);
    try {
      InitSpec s = base;
      apply_fix(s, fmt::format("{}={:.17g}", x.param, x.at(i)));
      apply_fix(s, fmt::format("{}={:.17g}", y.param, y.at(j)));
      out[k].r = analyze(s, opt);
    } catch (const NonFiniteTheory&) {
      out[k].failed = true;
      TheoryResult& r = out[k].r;
      r.cell = base.cell;
      r.Q_h = r.M_h = r.Q_c = r.chi = r.corr = r.chi_coincident = r.chi_Q = NAN;
      r.jacobian.m1 = r.jacobian.m2 = r.jacobian_state.m1 = r.jacobian_state.m2 = NAN;
      r.horizon = opt.horizon;
    } catch (const std::exception& e) {
      errors[k] = e.what();
    }
  }
  for (const auto& e : errors)
    if (!e.empty()) fail("{}", e);
  return out;
}

}  // namespace rnnmft::theory
