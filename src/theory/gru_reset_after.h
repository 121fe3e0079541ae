// The candidate of the reset-after GRU (PyTorch's nn.GRU), docs/theory.md §3.4:
//   ĥ = tanh(u),  u = μ + s_x ξ + r v,  r = σ(u^reset),  v = (W_hn h)_i ~ N(0, σ_n² Q_h),
// with s_x² = ν_n² R + ρ_n² (the input and bias part). The reset gate multiplies the recurrent
// product row by row, so u is a Gaussian scale mixture, not a Gaussian: every expectation is an
// outer rule over the reset pre-activation and an inner one over u given r.
#pragma once

#include <array>

#include "spec/init_spec.h"
#include "theory/gauss.h"

namespace rnnmft::theory {

// The joint expectations over (u^reset, v, ξ) that the reset-after GRU's fixed point and
// Jacobian moments need (§3.4, §5.3). ĥ' = 1 − ĥ², r' = σ'(u^reset).
struct ResetAfterSums {
  std::array<double, 5> z{};    // E[ĥⁿ], n = 0..4
  double hp2r2 = 0;             // E[ĥ'² r²]
  double h1hp2r2 = 0;           // E[ĥ ĥ'² r²]
  double h2hp2r2 = 0;           // E[ĥ² ĥ'² r²]
  double hp2rp2v2 = 0;          // E[ĥ'² r'² v²]
  double h1hp2rp2v2 = 0;        // E[ĥ ĥ'² r'² v²]
  double h2hp2rp2v2 = 0;        // E[ĥ² ĥ'² r'² v²]
  double hp4r4 = 0;             // E[ĥ'⁴ r⁴]
  double hp4rp4v4 = 0;          // E[ĥ'⁴ r'⁴ v⁴]
  double hp4r2rp2v2 = 0;        // E[ĥ'⁴ r² r'² v²]
};

class ResetAfterCandidate {
 public:
  // `outer` is the rule over the reset gate (σ is smooth: a modest order suffices), `inner` the
  // rule over u given r (tanh of a wide Gaussian: the full order, §1).
  ResetAfterCandidate(const InitSpec& spec, const GaussHermite& outer, const GaussHermite& inner,
                      double R, double Rab);
  // All sums at the state's second moment Q (one tanh per node pair).
  ResetAfterSums sums(double Q) const;
  // E[ĥⁿ] only (the fixed-point iteration).
  std::array<double, 5> z_moments(double Q) const;
  // E[ĥ^a ĥ^b] of two sequences whose states have second moments Q and overlap Q_ab (§3.4).
  double pair(double Q, double Qab) const;

 private:
  const GateInit &reset_, &cand_;
  const GaussHermite &outer_, &inner_;
  double R_, Rab_;
};

}  // namespace rnnmft::theory
