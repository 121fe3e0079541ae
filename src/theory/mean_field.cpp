// Equations: docs/theory.md (section numbers in the comments). The maps of each cell are in
// maps/ (affine.cpp: minimalRNN and GRU; vanilla.cpp; lstm.cpp, lstm_pair.cpp), found through
// cells.h; this file holds the checks of options and results, the tied gain and the JSON.
#include "theory/mean_field.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "theory/cells.h"
#include "theory/gauss.h"
#include "theory/maps/common.h"
#include "util/error.h"
#include "util/memory.h"

namespace rnnmft::theory {

using nlohmann::json;


double tied_log_gain(double d2, double s2, int T) {
  d2 = std::max(d2, 0.0);
  s2 = std::max(s2, 0.0);
  if (d2 == 0 && s2 == 0) return -INFINITY;
  if (s2 == 0) return T * std::log(d2);
  if (d2 == 0) return T * std::log(s2);
  // log-sum-exp over k of 2 ln C(T,k) + (T − k) ln d2 + k ln s2.
  const double ld = std::log(d2), ls = std::log(s2), lgT = std::lgamma(T + 1.0);
  std::vector<double> terms(size_t(T) + 1);
  double mx = -INFINITY;
  for (int k = 0; k <= T; ++k) {
    const double lc = lgT - std::lgamma(k + 1.0) - std::lgamma(T - k + 1.0);
    terms[k] = 2 * lc + (T - k) * ld + k * ls;
    mx = std::max(mx, terms[k]);
  }
  double sum = 0;
  for (double x : terms) sum += std::exp(x - mx);
  return mx + std::log(sum);
}

double TheoryResult::tied_log_gain(int T) const {
  return theory::tied_log_gain(jacobian.diag, jacobian.m1 - jacobian.diag, T);
}

Transient transient(const InitSpec& spec_in, const TheoryOptions& opt, int steps,
                    int input_steps) {
  const InitSpec spec = spec_in.gaussian_moments();  // timescales as bias moments (§13)
  if (steps < 1) fail("transient: steps must be ≥ 1 (got {})", steps);
  const GaussHermite& gh = GaussHermite::cached(opt.order);
  return cell_theory(spec.cell).transient(spec, opt, gh, steps, input_steps);
}

json TheoryResult::to_json() const {
  // JSON has no infinity: a non-finite number is written as null (docs/theory.md §10).
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  auto jac = [&](const Moments2& m) {
    json j = {{"m1", m.m1},
              {"m2", m.m2},
              {"variance", m.variance()},
              {"normalized_variance", m.normalized()}};
    if (cell_theory(cell).sampled) {
      j["m1_err"] = m.m1_err;
      j["m2_err"] = m.m2_err;
    }
    // Moments of the product of `horizon` Jacobians under freeness (§5.6).
    const double m1T = std::pow(m.m1, horizon);
    j["product"] = {{"steps", horizon},
                    {"m1", num(m1T)},
                    {"m2", num(m1T * m1T * (1.0 + horizon * m.normalized()))}};
    return j;
  };
  json fp = {{"Q_h", Q_h}, {"M_h", M_h}, {"converged", converged}, {"iterations", iterations}};
  if (describe(cell).cell_state) {
    fp["Q_c"] = Q_c;
    fp["M_c"] = M_c;
  }
  if (cell_theory(cell).sampled) {
    fp["Q_h_err"] = Q_h_err;
    fp["Q_c_err"] = Q_c_err;
  }
  json ts = {{"chi", chi},
             {"xi", num(xi())},
             {"xi_infinite", std::isinf(xi())},
             {"c_star", corr},
             {"chi_coincident", num(chi_coincident)},
             {"chaotic", chaotic()},
             {"chi_Q", chi_Q},
             {"xi_Q", num(timescale(chi_Q))},
             {"xi_Q_infinite", std::isinf(timescale(chi_Q))}};
  if (cell_theory(cell).sampled) {
    ts["chi_err"] = chi_err;
    ts.erase("chi_Q");
    ts.erase("xi_Q");
    ts.erase("xi_Q_infinite");
  }
  json j = {{"cell", cell_name(cell)},
            {"fixed_point", fp},
            {"timescale", ts},
            {"jacobian", jac(jacobian)},
            {"jacobian_state", jac(jacobian_state)}};
  j["jacobian"]["diagonal_m1"] = jacobian.diag;
  if (describe(cell).reset_gate) j["gru_variant"] = gru_variant_name(gru_variant);
  if (quadrature.checked)
    j["quadrature"] = {{"order", quadrature.order},
                       {"compared_order", quadrature.compared_order},
                       {"relative_error", num(quadrature.error)},
                       {"worst", quadrature.worst},
                       {"converged", quadrature.converged}};
  const double lg = tied_log_gain(horizon);
  j["tied_gain"] = {{"steps", horizon},
                    {"log_gain", num(lg)},
                    {"gain", num(std::exp(lg))},
                    {"untied_log_gain", num(horizon * std::log(jacobian.m1))}};
  return j;
}

// What a reported number must be: finite (ξ may be infinite, but it is derived from χ).
void check_finite(const TheoryResult& r, const InitSpec& spec) {
  const std::pair<const char*, double> v[] = {{"Q_h", r.Q_h},
                                              {"M_h", r.M_h},
                                              {"Q_c", r.Q_c},
                                              {"χ", r.chi},
                                              {"c*", r.corr},
                                              {"m1", r.jacobian.m1},
                                              {"m2", r.jacobian.m2},
                                              {"state m1", r.jacobian_state.m1},
                                              {"state m2", r.jacobian_state.m2}};
  for (const auto& [name, x] : v)
    if (!std::isfinite(x))
      throw NonFiniteTheory(fmt::format(
          "the theory's {} is not finite for {} (the spec's numbers are too large for the "
          "Gaussian integrals: keep standard deviations and biases to a few hundred)",
          name, spec.source.empty() ? "this spec" : spec.source));
}

namespace {

TheoryResult analyze_at_order(const InitSpec& spec, const TheoryOptions& opt, int order) {
  const GaussHermite& gh = GaussHermite::cached(order);
  TheoryResult r = cell_theory(spec.cell).analyze(spec, opt, gh);
  r.horizon = opt.horizon;
  check_finite(r, spec);
  return r;
}

// Largest relative difference between the reported numbers of two results (ξ: ∞ = ∞; c*, a
// correlation, by its absolute difference), and which number it is.
std::pair<double, const char*> relative_difference(const TheoryResult& a, const TheoryResult& b) {
  auto d = [](double x, double y) {
    if (x == y) return 0.0;  // equal, or both infinite
    if (!std::isfinite(x) || !std::isfinite(y)) return double(INFINITY);
    return std::abs(x - y) / std::max(std::abs(x), std::abs(y));
  };
  const std::pair<double, const char*> v[] = {{d(a.jacobian.m1, b.jacobian.m1), "m1"},
                                              {d(a.jacobian.m2, b.jacobian.m2), "m2"},
                                              {d(a.chi, b.chi), "χ"},
                                              {d(a.xi(), b.xi()), "ξ"},
                                              // a correlation: its absolute change (it may be 0)
                                              {std::abs(a.corr - b.corr), "c*"},
                                              {d(a.Q_h, b.Q_h), "Q_h"}};
  return *std::max_element(std::begin(v), std::end(v),
                           [](const auto& p, const auto& q) { return p.first < q.first; });
}

// §1.1: compare with half the order; while the two differ by more than the tolerance, double the
// order (and compare with the previous one). A result the theory cannot give at the other order
// counts as not converged.
void check_quadrature(const InitSpec& spec, const TheoryOptions& opt, TheoryResult& r) {
  const int cap = describe(spec.cell).reset_gate && opt.gru_variant == GruVariant::ResetAfter
                      ? std::max(opt.order, 200)
                      : std::max(opt.order, 400);
  auto differ = [&](const TheoryResult& a, int order) -> std::pair<double, const char*> {
    try {
      return relative_difference(a, analyze_at_order(spec, opt, order));
    } catch (const NonFiniteTheory&) {
      return {INFINITY, "a non-finite moment"};
    }
  };
  QuadratureCheck q;
  q.checked = true;
  q.order = opt.order;
  q.compared_order = std::max(4, opt.order / 2);
  if (cell_theory(spec.cell).sampled) {
    // The LSTM's numbers come from sampling (§4), its integrals are over the gates only: the two
    // orders are compared on a sixteenth of the samples with the same seed (common random
    // numbers cancel the sampling noise), so the check costs an eighth of the sampling.
    TheoryOptions few = opt;
    few.samples = std::min<int64_t>(opt.samples, std::max<int64_t>(1000, opt.samples / 16));
    few.groups = 2;  // the groups only estimate the sampling error, which cancels here
    try {
      std::tie(q.error, q.worst) = relative_difference(
          analyze_at_order(spec, few, q.order), analyze_at_order(spec, few, q.compared_order));
    } catch (const NonFiniteTheory&) {
      q.error = INFINITY;
      q.worst = "a non-finite moment";
    }
  } else {
    std::tie(q.error, q.worst) = differ(r, q.compared_order);
  }
  while (opt.order_raise && q.error > opt.order_tol && 2 * q.order <= cap) {
    TheoryResult up;
    try {
      up = analyze_at_order(spec, opt, 2 * q.order);
    } catch (const NonFiniteTheory&) {
      break;
    }
    std::tie(q.error, q.worst) = relative_difference(up, r);
    q.compared_order = q.order;
    q.order *= 2;
    r = up;
  }
  q.converged = q.error <= opt.order_tol;
  r.quadrature = q;
}

}  // namespace

TheoryResult analyze(const InitSpec& spec_in, const TheoryOptions& opt) {
  const InitSpec spec = spec_in.gaussian_moments();  // timescales as bias moments (§13)
  if (!(opt.input_var >= 0) || !std::isfinite(opt.input_var))
    fail("--input-var must be ≥ 0 (got {})", opt.input_var);
  if (opt.order < 4 || opt.order > 1000)
    fail("--order must be between 4 and 1000 (got {})", opt.order);
  if (opt.horizon < 1) fail("the horizon T must be ≥ 1 (got {})", opt.horizon);
  if (cell_theory(spec.cell).sampled) {
    if (opt.burn_in < 2) fail("--burn-in must be ≥ 2 (got {})", opt.burn_in);
    if (opt.average < 1) fail("--average must be ≥ 1 (got {})", opt.average);
    // The sampler keeps about six doubles per sample (§4.2, §4.4).
    if (opt.samples > 0)
      check_fits_memory(uint64_t(opt.samples) * 48,
                        fmt::format("--samples {} (the LSTM sampler)", opt.samples));
  }
  if (!std::isnan(opt.input_overlap) && !(std::abs(opt.input_overlap) <= opt.input_var))
    fail("--input-overlap must satisfy |R_ab| ≤ R = {} (got {})", opt.input_var, opt.input_overlap);
  TheoryResult r = analyze_at_order(spec, opt, opt.order);
  if (opt.order_check) check_quadrature(spec, opt, r);
  return r;
}

}  // namespace rnnmft::theory

