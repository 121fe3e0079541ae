// The LSTM: the stationary cell state by sampling, χ by power iteration, the Jacobian moments
// from joint sample means, and the transient from c = 0 (docs/theory.md §4, §5.4).
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

TheoryResult analyze_lstm(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh) {
  TheoryResult r;
  r.cell = s.cell;
  if (opt.samples < 1000) fail("--samples must be at least 1000 (got {})", opt.samples);
  if (opt.groups < 2 || opt.samples / opt.groups < 500)
    fail("--groups must be ≥ 2 with ≥ 500 samples each");
  const LstmGates G{s.gate("input"), s.gate("forget"), s.gate("output"), s.gate("cell")};
  const double R = opt.input_var;
  const int K = opt.groups;
  const int64_t Mg = opt.samples / K, M = Mg * K;

  // Start the population at the exact moments of c for Q_h = 0 (§4.1: c' = f c + i g is affine
  // with fresh gates, so E[c] and E[c²] follow in closed form), shaped as a Gaussian.
  auto exact_c_moments = [&](double Qh, double& Mc, double& Qc) {
    const double qi = preact_var(G.i, Qh, R), qf = preact_var(G.f, Qh, R),
                 qg = preact_var(G.g, Qh, R);
    const double Ef = gh.expect(sigmoid, G.f.bias_mean, qf);
    const double Ef2 = gh.expect([](double u) { return sq(sigmoid(u)); }, G.f.bias_mean, qf);
    const double Ei = gh.expect(sigmoid, G.i.bias_mean, qi);
    const double Ei2 = gh.expect([](double u) { return sq(sigmoid(u)); }, G.i.bias_mean, qi);
    const double Eg = gh.expect([](double u) { return std::tanh(u); }, G.g.bias_mean, qg);
    const double Eg2 = gh.expect([](double u) { return sq(std::tanh(u)); }, G.g.bias_mean, qg);
    // A forget gate at 1 to double precision (bias ≳ 37) integrates without loss: the moments of
    // c grow without bound, and their limit — tanh(c) saturated — is the stationary state the
    // sampler then holds. 1 − E[f] is kept at the resolution of a double so that the limit is
    // reached as a finite, huge c on every build rather than 0/0 (§4.1).
    Mc = Ei * Eg / std::max(1.0 - Ef, 1e-16);
    Qc = (Ei2 * Eg2 + 2.0 * Ef * Ei * Eg * Mc) / std::max(1.0 - Ef2, 1e-16);
  };
  double Mc0, Qc0;
  exact_c_moments(0.0, Mc0, Qc0);
  // One generator per group: the groups are independent populations, run in parallel.
  std::vector<Rng> rngs;
  for (int k = 0; k < K; ++k) rngs.emplace_back(opt.seed, 0x6c73746d00ULL + k /* "lstm" */);
  std::vector<double> c(M);
  const double sd0 = std::sqrt(std::max(Qc0 - Mc0 * Mc0, 0.0));
  for (int64_t j = 0; j < M; ++j) c[j] = Mc0 + sd0 * rngs[j / Mg].normal();

  double Qh = 0;
  std::vector<LstmSums> sums(K);
  std::vector<double> v(M, 1.0), Dh(K, 1.0), logchi(K, 0.0);
  std::vector<int> chi_steps(K, 0);
  const int total = opt.burn_in + opt.average;
  const int power_start = opt.burn_in / 2;
  std::vector<double> qh_g(K, 0.0);
  for (int t = 0; t < total; ++t) {
    if (t <= opt.burn_in / 2) {
      // First half of the burn-in: re-centre the population on the exact moments at the current
      // Q_h after every step (§4.1). The first two moments of c then follow the Q_h iteration at
      // once instead of relaxing on the timescale 1/(1 − E[f²]), which near criticality exceeds
      // any affordable burn-in; only the shape of the distribution is left to relax. At the
      // stationary state the re-centring changes nothing but Monte Carlo noise.
      double Mc, Qc, mean = 0, m2 = 0;
      exact_c_moments(Qh, Mc, Qc);
      for (double x : c) mean += x;
      mean /= double(M);
      for (double x : c) m2 += sq(x - mean);
      const double sd = std::sqrt(m2 / double(M)), target = std::sqrt(std::max(Qc - Mc * Mc, 0.0));
      if (sd > 0)
        for (auto& x : c) x = Mc + (x - mean) * target / sd;
    }
    const double qi = preact_var(G.i, Qh, R), qf = preact_var(G.f, Qh, R),
                 qo = preact_var(G.o, Qh, R), qg = preact_var(G.g, Qh, R);
    const double si = std::sqrt(qi), sf = std::sqrt(qf), so = std::sqrt(qo), sgv = std::sqrt(qg);
    const bool averaging = t >= opt.burn_in, power = t >= power_start;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < K; ++k) {
      LstmSums& S = sums[k];
      Rng& rng = rngs[k];
      double qh_k = 0, vsum = 0, vsum_new = 0, wsum = 0;
      // Chunks of samples as arrays: the gate non-linearities and the sums vectorize (§4.2).
      using A = ChunkArray;
      A z[5];
      for (int64_t j0 = k * Mg; j0 < (k + 1) * Mg; j0 += kChunk) {
        const int n = int(std::min<int64_t>(kChunk, (k + 1) * Mg - j0));
        const int nz = averaging ? 5 : 4;
        for (int q = 0; q < nz; ++q) {
          z[q].resize(n);
          fill_normals<kChunk>(rng, z[q].data(), n);
        }
        const A i = vsigmoid(G.i.bias_mean + si * z[0]), f = vsigmoid(G.f.bias_mean + sf * z[1]),
                o = vsigmoid(G.o.bias_mean + so * z[2]), g = vtanh(G.g.bias_mean + sgv * z[3]);
        Eigen::Map<Eigen::ArrayXd> cseg(c.data() + j0, n);
        const A cp = cseg;
        const A cn = f * cp + i * g;
        cseg = cn;
        const A tc = vtanh(cn), h = o * tc;
        qh_k += h.square().sum();
        const A T = o * (1 - tc.square()), S_ = tc * o * (1 - o);
        // b_k: derivatives of c_t along the three gates that read h_{t−1} (§5.4).
        const A b[3] = {cp * f * (1 - f), g * i * (1 - i), i * (1 - g.square())};
        if (power) {
          // Power iteration of the linearised covariance map along the chain (§4.3).
          Eigen::Map<Eigen::ArrayXd> vseg(v.data() + j0, n);
          // Summed from an aligned copy: Eigen sums a Map from its first aligned element on, so
          // the order of the sum (and χ's last bits) followed where the heap put v.
          const A vp = vseg;
          vsum += vp.sum();
          const A vn = f.square() * vp + Dh[k] * (sq(G.f.recurrent_std) * b[0].square() +
                                                    sq(G.i.recurrent_std) * b[1].square() +
                                                    sq(G.g.recurrent_std) * b[2].square());
          vseg = vn;
          vsum_new += vn.sum();
          wsum += (T.square() * vn).sum() + sq(G.o.recurrent_std) * Dh[k] * S_.square().sum();
        }
        if (!averaging) continue;
        // One more fresh o_{t−1} for T_{t−1} = o_{t−1} tanh'(c_{t−1}) (§5.4).
        const A T1 = vsigmoid(G.o.bias_mean + so * z[4]) * (1 - vtanh(cp).square());
        const A f2 = f.square(), T2 = T.square(), T1s = T1.square();
        S.n += n;
        S.Qh += h.square().sum();
        S.Qc += cn.square().sum();
        S.Mh += h.sum();
        S.Mc += cn.sum();
        S.f2 += f2.sum();
        S.f4 += f2.square().sum();
        S.T1sq += T1s.sum();
        S.T1q += T1s.square().sum();
        S.f2T1sq += (f2 * T1s).sum();
        const A b2[3] = {b[0].square(), b[1].square(), b[2].square()};
        const A f2T2 = f2 * T2, T4 = T2.square();
        for (int a = 0; a < 3; ++a) {
          S.b2[a] += b2[a].sum();
          S.f2b2[a] += (f2 * b2[a]).sum();
          S.T2b2[a] += (T2 * b2[a]).sum();
          S.f2T2b2[a] += (f2T2 * b2[a]).sum();
          S.T4f2b2[a] += (T4 * f2 * b2[a]).sum();
          for (int l = a; l < 3; ++l) {
            const A bb = b2[a] * b2[l];
            const double s1 = bb.sum(), s2 = (T2 * bb).sum();
            S.b2b2[a][l] += s1;
            S.T2b2b2[a][l] += s2;
            if (l != a) {
              S.b2b2[l][a] += s1;
              S.T2b2b2[l][a] += s2;
            }
          }
        }
        const A S2 = S_.square();
        const A bt2[4] = {S2, T2 * b2[0], T2 * b2[1], T2 * b2[2]};
        for (int a = 0; a < 4; ++a) {
          S.bt2[a] += bt2[a].sum();
          for (int l = a; l < 4; ++l) {
            const double s1 = (bt2[a] * bt2[l]).sum();
            S.bt2bt2[a][l] += s1;
            if (l != a) S.bt2bt2[l][a] += s1;
          }
        }
        S.T2f2 += f2T2.sum();
        S.T4f4 += (T4 * f2.square()).sum();
        S.f4T2 += (f2.square() * T2).sum();
        S.S2 += S2.sum();
        S.T2f2S2 += (f2T2 * S2).sum();
      }
      if (power) {
        const double n = double(Mg);
        const double Dh_new = wsum / n;
        const double ratio = (vsum_new / n + Dh_new) / (vsum / n + Dh[k]);
        // Renormalise so that the iteration neither overflows nor underflows.
        for (int64_t j = k * Mg; j < (k + 1) * Mg; ++j) v[j] /= ratio;
        Dh[k] = Dh_new / ratio;
        if (averaging) {
          logchi[k] += std::log(ratio);
          chi_steps[k]++;
        }
      }
      qh_g[k] = qh_k;
    }
    double qh_acc = 0;
    for (double q : qh_g) qh_acc += q;
    Qh = qh_acc / double(M);
  }
  // Estimates over all groups, errors from the spread between groups (batch means).
  LstmSums all;
  auto add = [](LstmSums& a, const LstmSums& b) {
    const double* src = reinterpret_cast<const double*>(&b);
    double* dst = reinterpret_cast<double*>(&a);
    for (size_t i = 0; i < sizeof(LstmSums) / sizeof(double); ++i) dst[i] += src[i];
  };
  for (const auto& g : sums) add(all, g);
  lstm_moments(all, G, r.jacobian, r.jacobian_state);
  r.Q_h = all.Qh / all.n;
  r.Q_c = all.Qc / all.n;
  r.M_h = all.Mh / all.n;
  r.M_c = all.Mc / all.n;
  std::vector<double> gm1(K), gm2(K), gs1(K), gs2(K), gqh(K), gqc(K), gchi(K);
  for (int k = 0; k < K; ++k) {
    Moments2 a, b;
    lstm_moments(sums[k], G, a, b);
    gm1[k] = a.m1;
    gm2[k] = a.m2;
    gs1[k] = b.m1;
    gs2[k] = b.m2;
    gqh[k] = sums[k].Qh / sums[k].n;
    gqc[k] = sums[k].Qc / sums[k].n;
    gchi[k] = std::exp(logchi[k] / std::max(chi_steps[k], 1));
  }
  auto stderr_of = [K](const std::vector<double>& x) {
    double m = 0, v2 = 0;
    for (double y : x) m += y;
    m /= K;
    for (double y : x) v2 += sq(y - m);
    return std::sqrt(v2 / (K - 1) / K);
  };
  r.jacobian.m1_err = stderr_of(gm1);
  r.jacobian.m2_err = stderr_of(gm2);
  r.jacobian_state.m1_err = stderr_of(gs1);
  r.jacobian_state.m2_err = stderr_of(gs2);
  r.Q_h_err = stderr_of(gqh);
  r.Q_c_err = stderr_of(gqc);
  double lc = 0;
  for (int k = 0; k < K; ++k) lc += logchi[k] / std::max(chi_steps[k], 1);
  r.chi = std::exp(lc / K);
  r.chi_err = stderr_of(gchi);
  r.jacobian.diag = all.f2 / all.n;
  r.Q_ab = r.Q_h;
  r.corr = 1.0;
  // Beyond the edge of chaos (χ > 1 at c = 1), or for different inputs, the stable fixed point of
  // the covariance map has c* < 1: follow two sequences (§4.4).
  const double Rab = std::isnan(opt.input_overlap) ? R : opt.input_overlap;
  // The coincident point is a fixed point only for identical inputs (§3.3).
  r.chi_coincident = Rab == R ? r.chi : NAN;
  if (opt.timescale && (r.chi > 1.0 + 2.0 * r.chi_err || Rab < R))
    lstm_pair_chain(G, R, Rab, r.Q_h, c, K, rngs, opt, gh, r);
  r.converged = true;
  r.iterations = total;
  return r;
}

// The transient of the LSTM's Q_h, Q_c from c = 0 (§4.5): the sampler of §4.2 without
// re-centring or averaging, one value per step.
Transient lstm_transient(const InitSpec& s, const TheoryOptions& opt, int steps,
                         int input_steps) {
  const LstmGates G{s.gate("input"), s.gate("forget"), s.gate("output"), s.gate("cell")};
  const int K = std::max(opt.groups, 1);
  const int64_t Mg = std::max<int64_t>(opt.samples / K, 1), M = Mg * K;
  std::vector<Rng> rngs;
  for (int k = 0; k < K; ++k) rngs.emplace_back(opt.seed, 0x7472616e00ULL + k /* "tran" */);
  std::vector<double> c(M, 0.0), qh(K), qc(K);
  Transient out;
  double Qh = 0;
  for (int t = 0; t < steps; ++t) {
    const double R = input_steps >= 0 && t >= input_steps ? 0.0 : opt.input_var;
    const std::array<const GateInit*, 4> gates = {&G.i, &G.f, &G.o, &G.g};
    std::array<double, 4> sd{};
    for (int q = 0; q < 4; ++q) sd[q] = std::sqrt(preact_var(*gates[q], Qh, R));
#pragma omp parallel for schedule(static)
    for (int k = 0; k < K; ++k) {
      using A = ChunkArray;
      A z[4];
      double a = 0, b = 0;
      for (int64_t j0 = k * Mg; j0 < (k + 1) * Mg; j0 += kChunk) {
        const int n = int(std::min<int64_t>(kChunk, (k + 1) * Mg - j0));
        for (int q = 0; q < 4; ++q) {
          z[q].resize(n);
          fill_normals<kChunk>(rngs[k], z[q].data(), n);
        }
        Eigen::Map<Eigen::ArrayXd> cm(c.data() + j0, n);
        const A cn = vsigmoid(G.f.bias_mean + sd[1] * z[1]) * cm +
                     vsigmoid(G.i.bias_mean + sd[0] * z[0]) * vtanh(G.g.bias_mean + sd[3] * z[3]);
        cm = cn;
        a += (vsigmoid(G.o.bias_mean + sd[2] * z[2]) * vtanh(cn)).square().sum();
        b += cn.square().sum();
      }
      qh[k] = a;
      qc[k] = b;
    }
    double a = 0, b = 0;
    for (int k = 0; k < K; ++k) {
      a += qh[k];
      b += qc[k];
    }
    Qh = a / double(M);
    out.Q_h.push_back(Qh);
    out.Q_c.push_back(b / double(M));
  }
  return out;
}

}  // namespace rnnmft::theory::maps
