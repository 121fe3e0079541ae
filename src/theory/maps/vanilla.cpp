// The vanilla tanh cell: Q_h' = E[φ(u)²] (docs/theory.md §3.1, §3.3, §5.3).
#include "theory/maps/common.h"

#include <cmath>

#include "theory/gauss.h"

namespace rnnmft::theory::maps {

double vanilla_cov_map(const InitSpec& s, const GaussHermite& gh, double Q, double Qab, double R,
                       double Rab) {
  const GateInit& g = s.gate("hidden");
  const double q = preact_var(g, Q, R), c = std::min(preact_cov(g, Qab, Rab), q);
  return gh.expect_product(GaussHermite::Act::Tanh, g.bias_mean, q, g.bias_mean, q, c);
}

TheoryResult analyze_vanilla(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh) {
  TheoryResult r;
  r.cell = s.cell;
  const GateInit& g = s.gate("hidden");
  const double R = opt.input_var,
               Rab = std::isnan(opt.input_overlap) ? opt.input_var : opt.input_overlap;
  auto G = [&](double Q) {
    return gh.expect([](double u) { return sq(std::tanh(u)); }, g.bias_mean, preact_var(g, Q, R));
  };
  double Q = 1.0;
  for (r.iterations = 1; r.iterations <= opt.max_iter; ++r.iterations) {
    const double Qn = G(Q);
    const bool done = std::abs(Qn - Q) <= opt.tol * std::max(1.0, Q);
    Q = Qn;
    if (done) {
      r.converged = true;
      break;
    }
  }
  r.Q_h = Q;
  r.M_h = gh.expect([](double u) { return std::tanh(u); }, g.bias_mean, preact_var(g, Q, R));
  const double dq = 1e-6 * std::max(Q, 1e-9);
  r.chi_Q = (G(Q + dq) - G(std::max(Q - dq, 0.0))) / (Q + dq - std::max(Q - dq, 0.0));
  const double q = preact_var(g, Q, R), s2 = sq(g.recurrent_std);
  const double p2 = gh.expect([](double u) { return sq(1 - sq(std::tanh(u))); }, g.bias_mean, q);
  const double p4 =
      gh.expect([](double u) { return sq(sq(1 - sq(std::tanh(u)))); }, g.bias_mean, q);
  r.jacobian.m1 = s2 * p2;
  r.jacobian.m2 = s2 * s2 * (p4 + (g.orthogonal ? 0.0 : sq(p2)));
  r.jacobian_state = r.jacobian;
  if (!opt.timescale) return r;
  auto map = [&](double Qab) { return vanilla_cov_map(s, gh, Q, Qab, R, Rab); };
  solve_cov_map(map, Q, sq(r.M_h), Rab == R, r);
  return r;
}

Transient vanilla_transient(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh,
                            int steps, int input_steps) {
  const GateInit& g = s.gate("hidden");
  Transient out;
  double Q = 0;
  for (int t = 0; t < steps; ++t) {
    const double R = input_steps >= 0 && t >= input_steps ? 0.0 : opt.input_var;
    Q = gh.expect([](double u) { return sq(std::tanh(u)); }, g.bias_mean, preact_var(g, Q, R));
    out.Q_h.push_back(Q);
  }
  return out;
}

}  // namespace rnnmft::theory::maps
