#include "theory/phase.h"

#include <cmath>

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
  // Check both parameters once, before the parallel loop.
  {
    InitSpec probe = base;
    apply_fix(probe, fmt::format("{}={}", x.param, x.lo));
    apply_fix(probe, fmt::format("{}={}", y.param, y.lo));
  }
  std::vector<PhasePoint> out(size_t(x.n) * y.n);
#pragma omp parallel for schedule(dynamic)
  for (int k = 0; k < x.n * y.n; ++k) {
    const int i = k % x.n, j = k / x.n;
    InitSpec s = base;
    apply_fix(s, fmt::format("{}={:.17g}", x.param, x.at(i)));
    apply_fix(s, fmt::format("{}={:.17g}", y.param, y.at(j)));
    out[k] = {x.at(i), y.at(j), analyze(s, opt)};
  }
  return out;
}

}  // namespace rnnmft::theory
