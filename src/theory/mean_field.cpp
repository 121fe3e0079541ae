// Equations: docs/theory.md (section numbers in the comments).
#include "theory/mean_field.h"

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <array>
#include <cmath>
#include <vector>

#include "theory/gauss.h"
#include "theory/gru_reset_after.h"
#include "theory/normal_batch.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/rng.h"

namespace rnnmft::theory {

using nlohmann::json;

namespace {

double dsig(double s) {
  return s * (1.0 - s);
}  // σ' in terms of σ

// Pre-activation variance of gate g when the matrix multiplies a vector of raw second moment Qin
// and the inputs have second moment R (§2): q = σ² Qin + ν² R + ρ².
double preact_var(const GateInit& g, double Qin, double R) {
  return g.recurrent_std * g.recurrent_std * Qin + g.input_std * g.input_std * R +
         g.bias_std * g.bias_std;
}
double preact_cov(const GateInit& g, double Qab, double Rab) {
  return g.recurrent_std * g.recurrent_std * Qab + g.input_std * g.input_std * Rab +
         g.bias_std * g.bias_std;
}
double sq(double x) {
  return x * x;
}

// ---------------------------------------------------------------- vanilla, minimal, GRU (§3)

struct AffineCell {
  // h' = a h + (1 − a) z with a gate a and candidate z independent of h and of each other.
  const InitSpec& spec;
  const TheoryOptions& opt;
  const GaussHermite& gh;
  double R, Rab;

  bool gru() const { return spec.cell == CellType::Gru; }
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

double vanilla_cov_map(const InitSpec& s, const GaussHermite& gh, double Q, double Qab, double R,
                       double Rab) {
  const GateInit& g = s.gate("hidden");
  const double q = preact_var(g, Q, R), c = std::min(preact_cov(g, Qab, Rab), q);
  return gh.expect_product(GaussHermite::Act::Tanh, g.bias_mean, q, g.bias_mean, q, c);
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

// ---------------------------------------------------------------- LSTM (§4)

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

void lstm_moments(const LstmSums& s, const LstmGates& G, Moments2& jc, Moments2& js) {
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
    Mc = Ei * Eg / (1.0 - Ef);
    Qc = (Ei2 * Eg2 + 2.0 * Ef * Ei * Eg * Mc) / (1.0 - Ef2);
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
          vsum += vseg.sum();
          const A vn = f.square() * vseg + Dh[k] * (sq(G.f.recurrent_std) * b[0].square() +
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

}  // namespace

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

Transient transient(const InitSpec& spec, const TheoryOptions& opt, int steps, int input_steps) {
  if (steps < 1) fail("transient: steps must be ≥ 1 (got {})", steps);
  const GaussHermite& gh = GaussHermite::cached(opt.order);
  auto R_at = [&](int t) { return input_steps >= 0 && t >= input_steps ? 0.0 : opt.input_var; };
  Transient out;
  switch (spec.cell) {
    case CellType::Vanilla: {
      const GateInit& g = spec.gate("hidden");
      double Q = 0;
      for (int t = 0; t < steps; ++t) {
        Q = gh.expect([](double u) { return sq(std::tanh(u)); }, g.bias_mean,
                      preact_var(g, Q, R_at(t)));
        out.Q_h.push_back(Q);
      }
      break;
    }
    case CellType::Minimal:
    case CellType::Gru: {
      const AffineCell with{spec, opt, gh, opt.input_var, opt.input_var},
          without{spec, opt, gh, 0.0, 0.0};
      std::array<double, 5> m{1, 0, 0, 0, 0};
      for (int t = 0; t < steps; ++t) {
        m = (R_at(t) > 0 ? with : without).step(m);
        out.Q_h.push_back(m[2]);
      }
      break;
    }
    case CellType::Lstm:
      out = lstm_transient(spec, opt, steps, input_steps);
      break;
  }
  return out;
}

json TheoryResult::to_json() const {
  // JSON has no infinity: a non-finite number is written as null (docs/theory.md §10).
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  auto jac = [&](const Moments2& m) {
    json j = {{"m1", m.m1},
              {"m2", m.m2},
              {"variance", m.variance()},
              {"normalized_variance", m.normalized()}};
    if (cell == CellType::Lstm) {
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
  if (cell == CellType::Lstm) {
    fp["Q_c"] = Q_c;
    fp["M_c"] = M_c;
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
  if (cell == CellType::Lstm) {
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
  if (cell == CellType::Gru) j["gru_variant"] = gru_variant_name(gru_variant);
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
      fail("the theory's {} is not finite for {} (the spec's numbers are too large for the "
           "Gaussian integrals: keep standard deviations and biases to a few hundred)",
           name, spec.source.empty() ? "this spec" : spec.source);
}

TheoryResult analyze(const InitSpec& spec, const TheoryOptions& opt) {
  if (!(opt.input_var >= 0) || !std::isfinite(opt.input_var))
    fail("--input-var must be ≥ 0 (got {})", opt.input_var);
  if (opt.order < 4 || opt.order > 1000)
    fail("--order must be between 4 and 1000 (got {})", opt.order);
  if (opt.horizon < 1) fail("the horizon T must be ≥ 1 (got {})", opt.horizon);
  if (spec.cell == CellType::Lstm) {
    if (opt.burn_in < 2) fail("--burn-in must be ≥ 2 (got {})", opt.burn_in);
    if (opt.average < 1) fail("--average must be ≥ 1 (got {})", opt.average);
    // The sampler keeps about six doubles per sample (§4.2, §4.4).
    if (opt.samples > 0)
      check_fits_memory(uint64_t(opt.samples) * 48,
                        fmt::format("--samples {} (the LSTM sampler)", opt.samples));
  }
  if (!std::isnan(opt.input_overlap) && !(std::abs(opt.input_overlap) <= opt.input_var))
    fail("--input-overlap must satisfy |R_ab| ≤ R = {} (got {})", opt.input_var, opt.input_overlap);
  const GaussHermite& gh = GaussHermite::cached(opt.order);
  TheoryResult r;
  switch (spec.cell) {
    case CellType::Vanilla:
      r = analyze_vanilla(spec, opt, gh);
      break;
    case CellType::Minimal:
    case CellType::Gru:
      r = analyze_affine(spec, opt, gh);
      break;
    case CellType::Lstm:
      r = analyze_lstm(spec, opt, gh);
      break;
  }
  r.horizon = opt.horizon;
  check_finite(r, spec);
  return r;
}

}  // namespace rnnmft::theory
