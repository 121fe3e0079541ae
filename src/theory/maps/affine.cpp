// The minimalRNN and the GRU (both variants): h' = a h + (1 − a) z with a fresh gate a and a fresh
// candidate z, whose moments close (docs/theory.md §3, §5.3).
#include "theory/maps/common.h"

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

struct AffineCell {
  // h' = a h + (1 − a) z with a gate a and candidate z independent of h and of each other.
  const InitSpec& spec;
  const TheoryOptions& opt;
  const GaussHermite& gh;
  double R, Rab;

  bool gru() const { return describe(spec.cell).reset_gate; }
  // PyTorch's GRU: the reset gate multiplies W_hn h after the product (§3.4).
  bool reset_after() const { return gru() && opt.gru_variant == GruVariant::ResetAfter; }
  ResetAfterCandidate reset_after_candidate(const GaussHermite& outer) const {
    return ResetAfterCandidate(spec, outer, gh, R, Rab);
  }
  const GateInit& gate() const { return spec.gate("update"); }
  const GateInit& cand() const { return spec.gate(gru() ? "candidate" : "embed"); }

  double q_gate(double Q) const { return preact_var(gate(), Q, R); }
  double Er2(double Q) const {  // E[r²], GRU reset gate
    const GateInit& r = spec.gate("reset");
    return gh.expect([](double u) { return sq(sigmoid(u)); }, r.bias_mean, preact_var(r, Q, R));
  }
  double q_cand(double Q) const {
    return gru() ? preact_var(cand(), Er2(Q) * Q, R) : preact_var(cand(), 0.0, R);
  }
  // E[z^n], n = 0..4: one tanh per node, the powers by multiplication.
  std::array<double, 5> z_moments(double Q) const {
    if (reset_after()) return reset_after_candidate(gh).z_moments(Q);
    std::array<double, 5> e{};
    const double sd = std::sqrt(std::max(q_cand(Q), 0.0)), mu = cand().bias_mean;
    const auto &x = gh.nodes(), &w = gh.weights();
    for (size_t j = 0; j < x.size(); ++j) {
      const double z = std::tanh(mu + sd * x[j]);
      double p = w[j];
      for (int n = 0; n <= 4; ++n, p *= z) e[n] += p;
    }
    return e;
  }
  // A[k][n] = E[a^k (1 − a)^{n−k}]: one σ per node, the powers by multiplication.
  std::array<std::array<double, 5>, 5> gate_moments(double Q) const {
    std::array<std::array<double, 5>, 5> A{};
    const double sd = std::sqrt(std::max(q_gate(Q), 0.0)), mu = gate().bias_mean;
    const auto &x = gh.nodes(), &w = gh.weights();
    for (size_t j = 0; j < x.size(); ++j) {
      const double a = sigmoid(mu + sd * x[j]), b = 1.0 - a;
      std::array<double, 5> pa, pb;
      pa[0] = pb[0] = 1.0;
      for (int k = 1; k <= 4; ++k) {
        pa[k] = pa[k - 1] * a;
        pb[k] = pb[k - 1] * b;
      }
      for (int n = 0; n <= 4; ++n)
        for (int k = 0; k <= n; ++k) A[k][n] += w[j] * pa[k] * pb[n - k];
    }
    return A;
  }
  // One step of the moment recursion (§3.1): m'_n = Σ_k C(n,k) E[a^k(1−a)^{n−k}] m_k E[z^{n−k}].
  std::array<double, 5> step(const std::array<double, 5>& m) const {
    static const int C[5][5] = {{1}, {1, 1}, {1, 2, 1}, {1, 3, 3, 1}, {1, 4, 6, 4, 1}};
    const auto A = gate_moments(m[2]);
    const auto ez = z_moments(m[2]);
    std::array<double, 5> out{};
    for (int n = 0; n <= 4; ++n)
      for (int k = 0; k <= n; ++k) out[n] += C[n][k] * A[k][n] * m[k] * ez[n - k];
    return out;
  }
  // For fixed gate statistics (those at Q), the fixed point of the (then linear, triangular)
  // recursion in closed form; iterating Q ↦ G(Q) is the fixed-point search (§3.1).
  std::array<double, 5> solve_linear(double Q) const {
    static const int C[5][5] = {{1}, {1, 1}, {1, 2, 1}, {1, 3, 3, 1}, {1, 4, 6, 4, 1}};
    const auto A = gate_moments(Q);
    const auto ez = z_moments(Q);
    std::array<double, 5> m{};
    m[0] = 1;
    for (int n = 1; n <= 4; ++n) {
      double s = 0;
      for (int k = 0; k < n; ++k) s += C[n][k] * A[k][n] * m[k] * ez[n - k];
      m[n] = s / (1.0 - A[n][n]);
    }
    return m;
  }
};

void affine_fixed_point(const AffineCell& ac, TheoryResult& r, std::array<double, 5>& m) {
  // Iterating Q ↦ G(Q) from a silent state (Q = 0) reaches the lowest stable branch (§3.1).
  double Q = 0;
  const int plain = std::min(ac.opt.max_iter, 500);
  for (r.iterations = 1; r.iterations <= plain; ++r.iterations) {
    m = ac.solve_linear(Q);
    const double dQ = std::abs(m[2] - Q);
    Q = m[2];
    if (dQ <= ac.opt.tol * std::max(1.0, Q)) {
      r.converged = true;
      break;
    }
  }
  if (!r.converged) {
    // Slow convergence (near a jump of the fixed point): the same branch is the smallest root
    // of H(Q) = G(Q) − Q, H(0) > 0; find its first sign change on a log grid, then bisect.
    auto H = [&](double q) { return ac.solve_linear(q)[2] - q; };
    double lo = Q, hi = -1;
    for (double q = std::max(Q, 1e-12); q <= 4.0; q *= 1.25) {
      if (H(q) <= 0) {
        hi = q;
        break;
      }
      lo = q;
    }
    if (hi > 0) {
      for (int it = 0; it < 200 && hi - lo > ac.opt.tol * std::max(1.0, hi); ++it) {
        const double mid = 0.5 * (lo + hi);
        (H(mid) > 0 ? lo : hi) = mid;
      }
      Q = 0.5 * (lo + hi);
      r.converged = true;
    }
  }
  m = ac.solve_linear(Q);
  r.Q_h = m[2];
  r.M_h = m[1];
}

// Largest |eigenvalue| of the linearised one-step moment map at the fixed point: χ_Q (§3.2).
double moment_map_slope(const AffineCell& ac, const std::array<double, 5>& m) {
  Eigen::Matrix4d J;
  for (int j = 1; j <= 4; ++j) {
    const double h = 1e-6 * std::max(1e-3, std::abs(m[j]));
    auto mp = m, mm = m;
    mp[j] += h;
    mm[j] -= h;
    const auto fp = ac.step(mp), fm = ac.step(mm);
    for (int i = 1; i <= 4; ++i) J(i - 1, j - 1) = (fp[i] - fm[i]) / (2 * h);
  }
  return J.eigenvalues().cwiseAbs().maxCoeff();
}

// Order of the outer (reset-gate pair) rule of the reset-after GRU's covariance map (§3.4).
constexpr int kResetOuterOrder = 32;

// Two-sequence covariance map Q_ab ↦ F(Q_ab) at the variance fixed point (§3.3).
double affine_cov_map(const AffineCell& ac, const TheoryResult& r, const std::array<double, 5>& ez,
                      double Qab) {
  const GaussHermite& gh = ac.gh;
  const GateInit& g = ac.gate();
  const double qf = ac.q_gate(r.Q_h), cf = std::min(preact_cov(g, Qab, ac.Rab), qf);
  const double Ef = gh.expect(sigmoid, g.bias_mean, qf);
  const double Eff =
      gh.expect_product(GaussHermite::Act::Sigmoid, g.bias_mean, qf, g.bias_mean, qf, cf);
  double Ezz;
  if (ac.reset_after()) {
    // A 4-D integral (two reset gates, two candidates): the outer rule at a modest order.
    Ezz = ac.reset_after_candidate(GaussHermite::cached(std::min(gh.order(), kResetOuterOrder)))
              .pair(r.Q_h, Qab);
    return Eff * Qab + 2.0 * (Ef - Eff) * r.M_h * ez[1] + (1.0 - 2.0 * Ef + Eff) * Ezz;
  }
  double qz = ac.q_cand(r.Q_h), cz;
  const GateInit& z = ac.cand();
  if (ac.gru()) {
    const GateInit& rg = ac.spec.gate("reset");
    const double qr = preact_var(rg, r.Q_h, ac.R), cr = std::min(preact_cov(rg, Qab, ac.Rab), qr);
    const double Err =
        gh.expect_product(GaussHermite::Act::Sigmoid, rg.bias_mean, qr, rg.bias_mean, qr, cr);
    cz = preact_cov(z, Err * Qab, ac.Rab);
  } else {
    cz = preact_cov(z, 0.0, ac.Rab);
  }
  cz = std::min(cz, qz);
  Ezz =
      gh.expect_product(GaussHermite::Act::Tanh, z.bias_mean, qz, z.bias_mean, qz, cz);
  return Eff * Qab + 2.0 * (Ef - Eff) * r.M_h * ez[1] + (1.0 - 2.0 * Ef + Eff) * Ezz;
}

// General Jacobian rule (§5.2) for J = A + Σ_k B_k W_k C_k; orthogonal W_k drop ⟨b_k²⟩²⟨c_k²⟩²
// from the k = k term (§5.5).
TheoryResult analyze_affine(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh) {
  TheoryResult r;
  r.cell = s.cell;
  r.gru_variant = opt.gru_variant;
  const double R = opt.input_var,
               Rab = std::isnan(opt.input_overlap) ? opt.input_var : opt.input_overlap;
  AffineCell ac{s, opt, gh, R, Rab};
  std::array<double, 5> m{};
  affine_fixed_point(ac, r, m);
  const double Q = m[2], M = m[1];
  r.chi_Q = moment_map_slope(ac, m);
  const auto ez = ac.z_moments(Q);

  // Jacobian moments (§5.3).
  const GateInit& g = ac.gate();
  const double qf = ac.q_gate(Q), mf = g.bias_mean;
  auto Ef = [&](auto fn) { return gh.expect([&](double u) { return fn(sigmoid(u)); }, mf, qf); };
  const double f2 = Ef([](double f) { return f * f; }), f4 = Ef([](double f) { return sq(f * f); });
  const double fp2 = Ef([](double f) { return sq(dsig(f)); }),
               fp4 = Ef([](double f) { return sq(sq(dsig(f))); }),
               f2fp2 = Ef([](double f) { return sq(f * dsig(f)); });
  // E[(h − z)²], E[(h − z)⁴] with h independent of the fresh candidate z.
  const double hz2 = Q - 2 * M * ez[1] + ez[2];
  const double hz4 = m[4] - 4 * m[3] * ez[1] + 6 * m[2] * ez[2] - 4 * m[1] * ez[3] + ez[4];
  const double sf2 = sq(g.recurrent_std);
  const double orth_f = g.orthogonal ? 1.0 : 0.0;
  double m1 = f2 + sf2 * fp2 * hz2;
  double m2 = f4 + 2 * sf2 * (f2fp2 + fp2 * f2) * hz2 +
              sf2 * sf2 * (fp4 * hz4 + (1.0 - orth_f) * sq(fp2 * hz2));
  if (ac.reset_after()) {
    // J = D_a + D_{b_a} W_a + D_{(1−a) ĥ' r} W_n + D_{(1−a) ĥ' r' v} W_r (§5.3): three random
    // blocks, all with C = I.
    const GateInit& rg = s.gate("reset");
    const GateInit& hg = s.gate("candidate");
    const ResetAfterSums c = ac.reset_after_candidate(gh).sums(Q);
    const double omf2 = Ef([](double f) { return sq(1 - f); }),
                 omf4 = Ef([](double f) { return sq(sq(1 - f)); }),
                 f2omf2 = Ef([](double f) { return sq(f * (1 - f)); }),
                 fp2omf2 = Ef([](double f) { return sq(dsig(f) * (1 - f)); });
    const double sn2 = sq(hg.recurrent_std), sr2 = sq(rg.recurrent_std);
    const double bf2 = fp2 * hz2;
    const double Bn2 = omf2 * c.hp2r2, Br2 = omf2 * c.hp2rp2v2;
    // ⟨b_a² B_k²⟩ with b_a = a'(h − ĥ), h independent of the fresh candidate.
    const double baBn = fp2omf2 * (Q * c.hp2r2 - 2 * M * c.h1hp2r2 + c.h2hp2r2);
    const double baBr = fp2omf2 * (Q * c.hp2rp2v2 - 2 * M * c.h1hp2rp2v2 + c.h2hp2rp2v2);
    const double on = hg.orthogonal ? 0.0 : 1.0, orr = rg.orthogonal ? 0.0 : 1.0;
    m1 += sn2 * Bn2 + sr2 * Br2;
    m2 += 2 * sn2 * (f2omf2 * c.hp2r2 + Bn2 * f2) + 2 * sr2 * (f2omf2 * c.hp2rp2v2 + Br2 * f2) +
          sn2 * sn2 * (omf4 * c.hp4r4 + on * sq(Bn2)) +
          sr2 * sr2 * (omf4 * c.hp4rp4v4 + orr * sq(Br2)) +
          2 * sn2 * sr2 * (omf4 * c.hp4r2rp2v2 + Bn2 * Br2) + 2 * sf2 * sn2 * (baBn + bf2 * Bn2) +
          2 * sf2 * sr2 * (baBr + bf2 * Br2);
  } else if (ac.gru()) {
    const GateInit& rg = s.gate("reset");
    const GateInit& hg = s.gate("candidate");
    const double qr = preact_var(rg, Q, R), qh = ac.q_cand(Q);
    auto Er = [&](auto fn) {
      return gh.expect([&](double u) { return fn(sigmoid(u)); }, rg.bias_mean, qr);
    };
    auto Eh = [&](auto fn) {
      return gh.expect([&](double u) { return fn(std::tanh(u)); }, hg.bias_mean, qh);
    };
    const double r2 = Er([](double x) { return x * x; }),
                 r4 = Er([](double x) { return sq(x * x); }),
                 rp2 = Er([](double x) { return sq(dsig(x)); }),
                 rp4 = Er([](double x) { return sq(sq(dsig(x))); }),
                 r2rp2 = Er([](double x) { return sq(x * dsig(x)); });
    const double hp2 = Eh([](double x) { return sq(1 - x * x); }),
                 hp4 = Eh([](double x) { return sq(sq(1 - x * x)); }),
                 hhp2 = Eh([](double x) { return x * sq(1 - x * x); }),
                 h2hp2 = Eh([](double x) { return sq(x * (1 - x * x)); });
    const double omf2 = Ef([](double f) { return sq(1 - f); }),
                 omf4 = Ef([](double f) { return sq(sq(1 - f)); }),
                 f2omf2 = Ef([](double f) { return sq(f * (1 - f)); }),
                 fp2omf2 = Ef([](double f) { return sq(dsig(f) * (1 - f)); });
    const double sh2 = sq(hg.recurrent_std), sr2 = sq(rg.recurrent_std);
    const double tauE = r2 + sr2 * rp2 * Q;
    const double tauE2 = r4 + 2 * sr2 * (r2rp2 + rp2 * r2) * Q +
                         sr2 * sr2 * (rp4 * m[4] + (rg.orthogonal ? 0.0 : 1.0) * sq(rp2 * Q));
    const double bf2 = fp2 * hz2, bh2 = omf2 * hp2, bh4 = omf4 * hp4, c2 = Q * rp2;
    const double a2bh2 = f2omf2 * hp2;
    const double hzhp2 = Q * hp2 - 2 * M * hhp2 + h2hp2;  // E[(h − ĥ)² ĥ'²]
    const double bf2bh2 = fp2omf2 * hzhp2;
    m1 += sh2 * bh2 * tauE;
    m2 += 2 * sh2 * tauE * (a2bh2 + sf2 * bf2bh2) +
          2 * sh2 * bh2 * (f2 * r2 + sr2 * f2 * c2 + sf2 * bf2 * r2 + sf2 * sr2 * bf2 * c2) +
          sh2 * sh2 * (bh4 * sq(tauE) + (hg.orthogonal ? 0.0 : 1.0) * sq(bh2) * tauE2);
  }
  r.jacobian.m1 = r.jacobian_state.m1 = m1;
  r.jacobian.m2 = r.jacobian_state.m2 = m2;
  r.jacobian.diag = r.jacobian_state.diag = f2;

  if (!opt.timescale) return r;
  const bool identical = Rab == R;
  auto map = [&](double Qab) { return affine_cov_map(ac, r, ez, Qab); };
  solve_cov_map(map, Q, M * M, identical, r);
  return r;
}


Transient affine_transient(const InitSpec& s, const TheoryOptions& opt, const GaussHermite& gh,
                           int steps, int input_steps) {
  const AffineCell with{s, opt, gh, opt.input_var, opt.input_var}, without{s, opt, gh, 0.0, 0.0};
  Transient out;
  std::array<double, 5> m{1, 0, 0, 0, 0};
  for (int t = 0; t < steps; ++t) {
    m = (input_steps >= 0 && t >= input_steps ? without : with).step(m);
    out.Q_h.push_back(m[2]);
  }
  return out;
}

}  // namespace rnnmft::theory::maps
