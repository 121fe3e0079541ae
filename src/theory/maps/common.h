// Shared by the mean-field maps of the cells (docs/theory.md §2, §3.3): pre-activation
// moments and the solver of a two-sequence covariance map. Internal to src/theory/.
#pragma once

#include <algorithm>
#include <cmath>

#include "spec/init_spec.h"
#include "theory/gauss.h"
#include "theory/mean_field.h"

namespace rnnmft::theory::maps {

inline double dsig(double s) {
  return s * (1.0 - s);
}  // σ' in terms of σ

// Pre-activation variance of gate g when the matrix multiplies a vector of raw second moment Qin
// and the inputs have second moment R (§2): q = σ² Qin + ν² R + ρ².
inline double preact_var(const GateInit& g, double Qin, double R) {
  return g.recurrent_std * g.recurrent_std * Qin + g.input_std * g.input_std * R +
         g.bias_std * g.bias_std;
}
inline double preact_cov(const GateInit& g, double Qab, double Rab) {
  return g.recurrent_std * g.recurrent_std * Qab + g.input_std * g.input_std * Rab +
         g.bias_std * g.bias_std;
}
inline double sq(double x) {
  return x * x;
}

// Fixed point of a covariance map and its multiplier χ (§3.3). With identical inputs the
// coincident point Q_ab = Q is a fixed point; if its one-sided slope is < 1 it is the stable one.
template <typename F>
void solve_cov_map(F&& map, double Q, double start, bool identical, TheoryResult& r) {
  const double d = 1e-5 * std::max(Q, 1e-12);
  r.chi_coincident = NAN;
  if (identical) {
    // One-sided slope at the coincident point; up to rounding, ≤ 1 means it is the stable
    // fixed point (χ = 1 is the critical line itself: ξ diverges).
    const double slope = (map(Q) - map(Q - d)) / d;
    r.chi_coincident = slope;
    if (slope <= 1.0 + 1e-7) {
      r.Q_ab = Q;
      r.chi = slope;
      r.corr = 1.0;
      return;
    }
  }
  // A few plain iterations, then Newton on F(x) − x with a finite-difference slope.
  double x = start;
  for (int it = 0; it < 50; ++it) x = std::min(map(x), Q);
  for (int it = 0; it < 100; ++it) {
    const double lo = std::max(x - d, -Q), hi = std::min(x + d, Q);
    const double fx = map(x), slope = (map(hi) - map(lo)) / (hi - lo);
    if (std::abs(fx - x) <= 1e-14 * std::max(1.0, Q) || std::abs(slope - 1.0) < 1e-12) break;
    x = std::clamp(x - (fx - x) / (slope - 1.0), -Q, Q);
  }
  r.Q_ab = x;
  r.corr = Q > 0 ? x / Q : 1.0;
  const double lo = std::max(x - d, -Q), hi = std::min(x + d, Q);
  r.chi = hi > lo ? (map(hi) - map(lo)) / (hi - lo) : 0.0;
}


// The maps of each cell (maps/*.cpp), dispatched by analyze() and transient().
TheoryResult analyze_affine(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh);
TheoryResult analyze_vanilla(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh);
TheoryResult analyze_lstm(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh);
// Q_h(t) of the minimalRNN and the GRU (the moment recursion of §3.1 from a silent start).
Transient affine_transient(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh,
                           int steps, int input_steps);
Transient vanilla_transient(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh,
                            int steps, int input_steps);
Transient lstm_transient(const InitSpec& s, const TheoryOptions& opt, int steps, int input_steps);

}  // namespace rnnmft::theory::maps
