#include "theory/verdict.h"

#include <fmt/core.h>

#include <cmath>

namespace rnnmft::theory {

std::string factor(double log_gain) {
  if (!std::isfinite(log_gain)) return log_gain > 0 ? "∞" : "0";
  if (std::abs(log_gain) < std::log(100.0)) return fmt::format("{:.2f}", std::exp(log_gain));
  return fmt::format("10^{:.0f}", log_gain / std::log(10.0));
}

std::string xi_text(double xi) {
  return std::isfinite(xi) ? fmt::format("{:.1f}", xi) : "∞";
}

std::string verdict(const TheoryResult& r, int T) {
  const double xi = r.xi(), v = r.jacobian.normalized(), m1 = r.jacobian.m1;
  std::string s;
  if (r.chaotic())
    s = fmt::format(
        "chaotic: nearby trajectories separate (χ = {:.4f} at c = 1) and two sequences "
        "decorrelate to c* = {:.3f} within ξ ≈ {:.0f} steps",
        r.chi_coincident, r.corr, xi);
  else if (xi >= T)
    s = fmt::format("signals survive T = {} steps (ξ = {})", T,
                    std::isfinite(xi) ? fmt::format("{:.0f}", xi) : "∞");
  else
    s = fmt::format("signals fade after ~{:.0f} of T = {} steps (ξ/T = {:.2g})", xi, T, xi / T);
  const double logm1T = T * std::log(m1);
  if (std::abs(logm1T) > std::log(100.0))
    s += fmt::format("; gradients {} by ~10^{:.0f} over T (m1 = {:.4f})",
                     logm1T < 0 ? "vanish" : "explode", std::abs(logm1T) / std::log(10.0), m1);
  else
    s += fmt::format("; gradient norms stay within 100× over T (m1 = {:.4f})", m1);
  s += fmt::format("; spectrum spread T·v = {:.3g}", T * v);
  const double lg = r.tied_log_gain(T);
  s += fmt::format("; tied networks: gradient gain over T ≈ {}{}", factor(lg),
                   lg > std::log(100.0) ? " (they grow out of the theory's state)" : "");
  if (r.quadrature.checked && !r.quadrature.converged)
    s = fmt::format("NOT CONVERGED, unreliable: {} changes by {} between quadrature orders {} and {} "
                    "(the integrands are narrower than the rule resolves; docs/theory.md §1.1) — {}",
                    r.quadrature.worst,
                    std::isfinite(r.quadrature.error)
                        ? fmt::format("{:.2g} %", 100 * r.quadrature.error)
                        : std::string("an infinite amount"),
                    r.quadrature.compared_order, r.quadrature.order, s);
  return s;
}

}  // namespace rnnmft::theory
