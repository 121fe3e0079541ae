// The LSTM's sampled stationary state (docs/theory.md §4): the chunked arrays of the sampler,
// the gates, the per-group sums of §5.4 and the two-sequence chain of §4.4. Internal.
#pragma once

#include <Eigen/Core>
#include <vector>

#include "theory/gauss.h"
#include "theory/maps/common.h"
#include "util/rng.h"

namespace rnnmft::theory::maps {

// Samples per vectorized chunk of the sampler.
constexpr int kChunk = 256;

// Arrays of one chunk live on the stack: no allocation per chunk and step.
using ChunkArray = Eigen::Array<double, Eigen::Dynamic, 1, 0, kChunk, 1>;
template <typename X>
ChunkArray vsigmoid(const X& x) {
  return array_sigmoid<ChunkArray>(x);
}
template <typename X>
ChunkArray vtanh(const X& x) {
  return array_tanh<ChunkArray>(x);
}

// Per-group sums of the per-unit quantities the Jacobian moments need (§5.4).
struct LstmSums {
  double n = 0;
  double Qh = 0, Qc = 0, Mh = 0, Mc = 0;
  double f2 = 0, f4 = 0, T1sq = 0, T1q = 0, f2T1sq = 0;
  std::array<double, 3> b2{}, f2b2{}, T2b2{}, f2T2b2{}, T4f2b2{};
  std::array<std::array<double, 3>, 3> b2b2{}, T2b2b2{};
  std::array<double, 4> bt2{};
  std::array<std::array<double, 4>, 4> bt2bt2{};
  double T2f2 = 0, T4f4 = 0, f4T2 = 0, S2 = 0, T2f2S2 = 0;
};

struct LstmGates {
  const GateInit &i, &f, &o, &g;
};

inline void lstm_moments(const LstmSums& s, const LstmGates& G, Moments2& jc, Moments2& js) {
  const double n = s.n;
  auto E = [n](double v) { return v / n; };
  const std::array<double, 3> sg = {sq(G.f.recurrent_std), sq(G.i.recurrent_std),
                                    sq(G.g.recurrent_std)};
  const std::array<bool, 3> orth = {G.f.orthogonal, G.i.orthogonal, G.g.orthogonal};
  const std::array<double, 4> sgt = {sq(G.o.recurrent_std), sg[0], sg[1], sg[2]};
  // J_c = D_f + Σ_k D_{b_k} W_k D_{T_{t−1}} (§5.4).
  const double T1 = E(s.T1sq), T1_4 = E(s.T1q);
  double m1 = E(s.f2), m2 = E(s.f4);
  for (int k = 0; k < 3; ++k) {
    m1 += T1 * sg[k] * E(s.b2[k]);
    m2 += 2 * sg[k] * (E(s.f2b2[k]) * T1 + E(s.b2[k]) * E(s.f2T1sq));
    for (int l = 0; l < 3; ++l) {
      m2 += sg[k] * sg[l] * (E(s.b2b2[k][l]) * T1 * T1 + E(s.b2[k]) * E(s.b2[l]) * T1_4);
      if (k == l && orth[k]) m2 -= sg[k] * sg[k] * sq(E(s.b2[k]) * T1);
    }
  }
  jc.m1 = m1;
  jc.m2 = m2;
  // (c, h) state, 2N × 2N (§5.4).
  double a = E(s.f2), b = E(s.T2f2);
  for (int k = 0; k < 3; ++k) a += sg[k] * E(s.b2[k]);
  for (int k = 0; k < 4; ++k) b += sgt[k] * E(s.bt2[k]);
  js.m1 = 0.5 * (a + b);
  double t11 = E(s.f4), t12 = E(s.f4T2), t22 = E(s.T4f4) + 2 * sgt[0] * E(s.T2f2S2);
  double sum_b2 = 0;
  for (int k = 0; k < 3; ++k) sum_b2 += sg[k] * E(s.b2[k]);
  t12 += sgt[0] * E(s.S2) * sum_b2;
  // Orthogonal W_k: W_k W_kᵀ = σ_k² I, so the k = l product-of-means terms drop (§5.5).
  const std::array<bool, 4> orth_t = {G.o.orthogonal, orth[0], orth[1], orth[2]};
  for (int k = 0; k < 3; ++k) {
    t11 += 2 * sg[k] * E(s.f2b2[k]);
    t12 += 2 * sg[k] * E(s.f2T2b2[k]);
    t22 += 2 * sg[k] * E(s.T4f2b2[k]);
    for (int l = 0; l < 3; ++l) {
      const bool drop = k == l && orth[k];
      t11 += sg[k] * sg[l] * (E(s.b2b2[k][l]) + (drop ? 0.0 : E(s.b2[k]) * E(s.b2[l])));
      t12 += sg[k] * sg[l] * (E(s.T2b2b2[k][l]) + (drop ? 0.0 : E(s.T2b2[k]) * E(s.b2[l])));
    }
  }
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < 4; ++l)
      t22 += sgt[k] * sgt[l] *
             (E(s.bt2bt2[k][l]) + (k == l && orth_t[k] ? 0.0 : E(s.bt2[k]) * E(s.bt2[l])));
  js.m2 = 0.5 * (t11 + 2 * t12 + t22);
}

// Two sequences a and b through one untied LSTM (§4.4): per sample the cell states c^a, c^b.
// Gate pre-activations of a and b are jointly Gaussian with variance q_k = σ_k² Q_h + ν_k² R + ρ_k²
// and covariance σ_k² Q_ab + ν_k² R_ab + ρ_k². The chain settles at the stable fixed point
// c* = Q_ab / Q_h; χ there is the leading eigenvalue of the linearised map of the two moments
// that carry the correlation, (C = E[c^a c^b], Q_ab) ↦ (C', Q_ab').
void lstm_pair_chain(const LstmGates& G, double R, double Rab, double Qh,
                     const std::vector<double>& c, int K, std::vector<Rng>& rngs,
                     const TheoryOptions& opt, const GaussHermite& gh, TheoryResult& r);

}  // namespace rnnmft::theory::maps
