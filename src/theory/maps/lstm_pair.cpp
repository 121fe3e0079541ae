// Two sequences through one untied LSTM (docs/theory.md §4.4): c* and χ beyond the edge of chaos.
#include "theory/maps/lstm.h"

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "theory/gauss.h"
#include "theory/gru_reset_after.h"
#include "theory/maps/common.h"
#include "theory/normal_batch.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft::theory::maps {

void lstm_pair_chain(const LstmGates& G, double R, double Rab, double Qh,
                     const std::vector<double>& c, int K, std::vector<Rng>& rngs,
                     const TheoryOptions& opt, const GaussHermite& gh, TheoryResult& r) {
  const int64_t M = int64_t(c.size()), Mg = M / K;
  std::vector<double> ca = c, cb(M), cq(M), cc(M);
  // b starts at correlation 0.95 with a: a mix of a's own sample and another one of the same
  // stationary population (rotated by half a group), so the marginal stays stationary.
  double mean = 0;
  for (double x : c) mean += x;
  mean /= double(M);
  const double rho0 = 0.95, rest = std::sqrt(1.0 - rho0 * rho0);
  for (int k = 0; k < K; ++k)
    for (int64_t j = 0; j < Mg; ++j)
      cb[k * Mg + j] = mean + rho0 * (c[k * Mg + j] - mean) +
                       rest * (c[k * Mg + (j + Mg / 2) % Mg] - mean);
  double Qab = rho0 * Qh;  // the start's Q_ab (its h are not drawn yet)
  const std::array<const GateInit*, 4> gates = {&G.i, &G.f, &G.o, &G.g};
  std::array<double, 4> sq_k{};
  for (int q = 0; q < 4; ++q) sq_k[q] = std::sqrt(preact_var(*gates[q], Qh, R));
  // With fresh gates c^a' c^b' = (f^a c^a + i^a g^a)(f^b c^b + i^b g^b) is affine in
  // C = E[c^a c^b]: C' = E[f^a f^b] C + 2 E[f] E[i] E[g] M_c + E[i^a i^b] E[g^a g^b] (§4.4).
  auto q_of = [&](const GateInit& g) { return preact_var(g, Qh, R); };
  const double qi = q_of(G.i), qf = q_of(G.f), qg = q_of(G.g);
  const double Ef = gh.expect(sigmoid, G.f.bias_mean, qf),
               Ei = gh.expect(sigmoid, G.i.bias_mean, qi),
               Eg = gh.expect([](double u) { return std::tanh(u); }, G.g.bias_mean, qg);
  const double Mc = Ei * Eg / (1.0 - Ef);
  auto E2 = [&](GaussHermite::Act act, const GateInit& g, double q, double Q_ab) {
    const double cv = std::min(preact_cov(g, Q_ab, Rab), q);
    return gh.expect_product(act, g.bias_mean, q, g.bias_mean, q, cv);
  };
  auto Eff = [&](double Q_ab) { return E2(GaussHermite::Act::Sigmoid, G.f, qf, Q_ab); };
  auto C_next = [&](double C, double Q_ab) {
    return Eff(Q_ab) * C + 2.0 * Ef * Ei * Eg * Mc +
           E2(GaussHermite::Act::Sigmoid, G.i, qi, Q_ab) * E2(GaussHermite::Act::Tanh, G.g, qg, Q_ab);
  };
  auto C_fixed = [&](double Q_ab) { return C_next(0.0, Q_ab) / (1.0 - Eff(Q_ab)); };
  // Mix c^b with c^a (keeping var c^b) so that cov(c^a, c^b) becomes `target` (raw: + ma·mb).
  auto set_cov = [&](const std::vector<double>& b_in, std::vector<double>& b_out, double target) {
    double ma = 0, mb = 0, va = 0, vb = 0, cab = 0;
    for (int64_t j = 0; j < M; ++j) {
      ma += ca[j];
      mb += b_in[j];
    }
    ma /= double(M);
    mb /= double(M);
    for (int64_t j = 0; j < M; ++j) {
      va += sq(ca[j] - ma);
      vb += sq(b_in[j] - mb);
      cab += (ca[j] - ma) * (b_in[j] - mb);
    }
    b_out = b_in;
    if (!(va > 0) || !(vb > 0)) return;
    const double sa = std::sqrt(va / double(M)), sb = std::sqrt(vb / double(M));
    const double rc = cab / std::sqrt(va * vb),
                 rt = std::clamp((target - ma * mb) / (sa * sb), -1.0, 1.0);
    if (std::abs(rc) >= 1.0 - 1e-12) return;
    const double beta = std::sqrt((1.0 - rt * rt) / (1.0 - rc * rc)), alpha = rt - beta * rc;
    for (int64_t j = 0; j < M; ++j)
      b_out[j] = mb + alpha * sb / sa * (ca[j] - ma) + beta * (b_in[j] - mb);
  };
  // Burn-in: in its first half the pairs are re-centred on the exact C at the current Q_ab after
  // every step (as §4.2 does for one sequence), so Q_ab follows its own map instead of relaxing
  // on the cell state's timescale 1/(1 − E[f^a f^b]); then the chain runs free. Over the
  // averaging steps each step is also taken from C + δC and from Q_ab + δQ with the same draws:
  // finite differences of the sampled Q_ab'.
  const int burn = std::max(opt.burn_in, 100), total = burn + opt.average;
  struct Part {
    double ab = 0, ab_q = 0, ab_c = 0, aa = 0, bb = 0;
  };
  std::vector<Part> parts(K);
  double sum_ab = 0, sum_aa = 0;
  std::array<double, 4> sum_j{};  // ∂C'/∂C, ∂C'/∂Q, ∂Q'/∂C, ∂Q'/∂Q
  std::vector<double> lambdas;
  for (int t = 0; t < total; ++t) {
    if (t < burn / 2) set_cov(cb, cb, C_fixed(Qab));
    const bool avg = t >= burn;
    const double dQ = 1e-5 * std::max(Qh, 1e-12);
    double C = 0, dC = 0;
    if (avg) {
      for (int64_t j = 0; j < M; ++j) C += ca[j] * cb[j];
      C /= double(M);
      double va = 0;
      for (int64_t j = 0; j < M; ++j) va += ca[j] * ca[j];
      dC = 1e-4 * va / double(M);
      set_cov(cb, cc, C + dC);
      double C2 = 0;
      for (int64_t j = 0; j < M; ++j) C2 += ca[j] * cc[j];
      dC = C2 / double(M) - C;  // the change actually made
      cq = cb;
    }
    // Correlation of gate k's pre-activations in a and b at this step (and at Q_ab + δQ).
    std::array<double, 4> rho{}, rho_q{};
    for (int q = 0; q < 4; ++q) {
      const double var = sq(sq_k[q]);
      rho[q] = var > 0 ? std::clamp(preact_cov(*gates[q], Qab, Rab) / var, -1.0, 1.0) : 1.0;
      rho_q[q] = var > 0 ? std::clamp(preact_cov(*gates[q], Qab + dQ, Rab) / var, -1.0, 1.0) : 1.0;
    }
#pragma omp parallel for schedule(static)
    for (int k = 0; k < K; ++k) {
      using A = ChunkArray;
      Part P;
      A z1[4], z2[4];
      for (int64_t j0 = k * Mg; j0 < (k + 1) * Mg; j0 += kChunk) {
        const int n = int(std::min<int64_t>(kChunk, (k + 1) * Mg - j0));
        for (int q = 0; q < 4; ++q) {
          z1[q].resize(n);
          z2[q].resize(n);
          fill_normals<kChunk>(rngs[k], z1[q].data(), n);
          fill_normals<kChunk>(rngs[k], z2[q].data(), n);
        }
        // One chain: its four gates from the shared z1 and, with correlation ρ, its own z2.
        auto chain = [&](const std::array<double, 4>& rh, double* cseg, bool own) -> A {
          A u[4];
          for (int q = 0; q < 4; ++q) {
            const double a = own ? rh[q] : 1.0, b = own ? std::sqrt(1.0 - a * a) : 0.0;
            u[q] = gates[q]->bias_mean + sq_k[q] * (a * z1[q] + b * z2[q]);
          }
          Eigen::Map<Eigen::ArrayXd> cm(cseg, n);
          const A cn = vsigmoid(u[1]) * cm + vsigmoid(u[0]) * vtanh(u[3]);
          cm = cn;
          return A(vsigmoid(u[2]) * vtanh(cn));
        };
        const A ha = chain(rho, ca.data() + j0, false);
        const A hb = chain(rho, cb.data() + j0, true);
        P.ab += (ha * hb).sum();
        P.aa += ha.square().sum();
        P.bb += hb.square().sum();
        if (avg) {
          P.ab_q += (ha * chain(rho_q, cq.data() + j0, true)).sum();
          P.ab_c += (ha * chain(rho, cc.data() + j0, true)).sum();
        }
      }
      parts[k] = P;
    }
    Part all;
    for (const Part& p : parts) {
      all.ab += p.ab;
      all.ab_q += p.ab_q;
      all.ab_c += p.ab_c;
      all.aa += p.aa;
      all.bb += p.bb;
    }
    const double inv = 1.0 / double(M), Qab_prev = Qab;
    Qab = all.ab * inv;
    if (!std::isfinite(Qab)) {
      r.converged = false;
      return;
    }
    if (avg) {
      const std::array<double, 4> J = {
          Eff(Qab_prev), (C_next(C, Qab_prev + dQ) - C_next(C, Qab_prev)) / dQ,
          dC != 0 ? (all.ab_c * inv - Qab) / dC : 0.0, (all.ab_q * inv - Qab) / dQ};
      for (int q = 0; q < 4; ++q) sum_j[q] += J[q];
      const double tr = J[0] + J[3], det = J[0] * J[3] - J[1] * J[2];
      const double disc = tr * tr / 4 - det;
      lambdas.push_back(disc >= 0 ? std::max(std::abs(tr / 2 + std::sqrt(disc)),
                                             std::abs(tr / 2 - std::sqrt(disc)))
                                  : std::sqrt(std::max(det, 0.0)));
      sum_ab += Qab;
      sum_aa += 0.5 * (all.aa + all.bb) * inv;
    }
  }
  const int n = int(lambdas.size());
  if (n == 0) return;
  r.Q_ab = sum_ab / n;
  r.corr = std::clamp(r.Q_ab / (sum_aa / n), -1.0, 1.0);
  // χ from the averaged Jacobian; its error from the spread of the per-step values.
  std::array<double, 4> J{};
  for (int q = 0; q < 4; ++q) J[q] = sum_j[q] / n;
  const double tr = J[0] + J[3], det = J[0] * J[3] - J[1] * J[2], disc = tr * tr / 4 - det;
  r.chi = disc >= 0 ? std::max(std::abs(tr / 2 + std::sqrt(disc)), std::abs(tr / 2 - std::sqrt(disc)))
                    : std::sqrt(std::max(det, 0.0));
  double m = 0, v = 0;
  for (double l : lambdas) m += l / n;
  for (double l : lambdas) v += sq(l - m);
  r.chi_err = n > 1 ? std::sqrt(v / (n - 1) / n) : 0.0;
}

}  // namespace rnnmft::theory::maps
