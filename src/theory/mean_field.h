// Mean field theory of the four cells at initialization (docs/theory.md): fixed points of the
// state moments, the two-sequence covariance map and its timescale, the moments of the squared
// singular values of the state-to-state Jacobian, and (LSTM) the sampled stationary cell state.
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cells/cell_type.h"
#include "spec/init_spec.h"
#include "util/error.h"

namespace rnnmft::theory {

struct TheoryOptions {
  double input_var = 1.0;      // R: per-component second moment of the inputs
  double input_overlap = NAN;  // R_ab of the two sequences (NaN: = R, identical inputs)
  int order = 100;             // Gauss–Hermite order (tanh converges slowly: §1)
  double tol = 1e-12;          // fixed-point tolerance (moment recursions)
  int max_iter = 200000;       // fixed-point iterations
  // LSTM sampling (§4)
  int64_t samples = 16000;
  int groups = 8;  // independent sub-populations for the Monte Carlo errors (batch means)
  int burn_in = 100, average = 100;
  uint64_t seed = 0;
  int horizon = 1000;     // T for the product moments over T steps
  bool timescale = true;  // solve the covariance map (off inside searches that need only m1)
  // GRU only: where the reset gate acts (§3.4 for reset-after, PyTorch's nn.GRU).
  GruVariant gru_variant = GruVariant::ResetBefore;
  // The quadrature's own error (§1.1): the numbers again at half the order; where they differ by
  // more than order_tol (relative, on m1, m2, χ, ξ, c*, Q_h) the order is doubled, up to 400
  // (200 for the reset-after GRU's 4-D integral), and the result says whether it converged.
  // Off inside the critical search, which calls the theory hundreds of times and checks its
  // solution.
  bool order_check = true;
  double order_tol = 1e-4;
  // Raise the order where the check fails (off: report the error at `order`, as the critical
  // search does for its solution, which it solved at that order).
  bool order_raise = true;
};

// How far the quadrature can be trusted (TheoryOptions::order_check).
struct QuadratureCheck {
  bool checked = false;
  int order = 0;           // the order the result is at
  int compared_order = 0;  // the order it was compared with
  double error = 0;        // largest relative difference between the two
  std::string worst;       // which number it is
  bool converged = true;   // error ≤ order_tol
};

struct Moments2 {
  double m1 = 0, m2 = 0, m1_err = 0, m2_err = 0;
  double diag = 0;  // the part of m1 from J's diagonal (the keep gate): ⟨a²⟩ (§5.2)
  double variance() const { return m2 - m1 * m1; }
  double normalized() const { return m2 / (m1 * m1) - 1.0; }
};

struct TheoryResult {
  CellType cell = kDefaultCell;
  GruVariant gru_variant = GruVariant::ResetBefore;  // GRU: which cell the numbers are for
  bool converged = false;
  int iterations = 0;
  double Q_h = 0, M_h = 0, Q_c = 0, M_c = 0;  // fixed point (Q_c, M_c: LSTM)
  double Q_h_err = 0, Q_c_err = 0;            // Monte Carlo errors (LSTM)
  double Q_ab = 0, corr = 1;                  // covariance-map fixed point and c* = Q_ab/Q_h
  double chi = 0, chi_err = 0;                // multiplier of the covariance map at its fixed point
  double chi_coincident = 0;  // multiplier at c = 1 (> 1: nearby trajectories separate, chaos)
  double chi_Q = 0;                           // slope of the variance map (ξ_Q = −1/ln χ_Q)
  Moments2 jacobian;                          // J (LSTM: J_c = ∂c_t/∂c_{t−1})
  Moments2 jacobian_state;                    // full state (LSTM: (c, h), 2N × 2N)
  int horizon = 1000;
  QuadratureCheck quadrature;

  static double timescale(double chi) {
    return chi >= 1.0 ? INFINITY : (chi <= 0.0 ? 0.0 : -1.0 / std::log(chi));
  }
  double xi() const { return timescale(chi); }
  // Chaotic: with identical inputs the coincident state is unstable (§3.3, §4.4).
  bool chaotic() const { return chi_coincident > 1.0 + 1e-9 && corr < 1.0; }
  // ln of the T-step gradient gain of a tied network (§9.2).
  double tied_log_gain(int T) const;
  nlohmann::json to_json() const;
};

// A result the theory cannot give in double arithmetic (a moment is NaN or infinite): phase
// diagrams mark such points instead of failing (theory/phase.h).
class NonFiniteTheory : public Error {
 public:
  using Error::Error;
};

TheoryResult analyze(const InitSpec& spec, const TheoryOptions& opt = {});

// ln G_T, G_T = Σ_k C(T,k)² d2^{T−k} s2^k: the mean squared gain of T steps of a tied linear
// map J = D + X whose diagonal part has ⟨a²⟩ = d2 and whose random part X (free, circular)
// has τ(XXᵀ) = s2 (§9.2). Untied, the same moments give (d2 + s2)^T.
double tied_log_gain(double d2, double s2, int T);

// The state's second moments Q_h(t) (and Q_c(t), LSTM) for t = 1..steps from a silent start
// (h = c = 0), untied: what a network of width N → ∞ shows before it reaches the fixed point.
struct Transient {
  std::vector<double> Q_h, Q_c;
};
// Inputs of second moment R = opt.input_var for t < input_steps, zero after (−1: always R).
Transient transient(const InitSpec& spec, const TheoryOptions& opt, int steps,
                    int input_steps = -1);

}  // namespace rnnmft::theory
