// The theory engine against closed forms, against itself by independent routes (1-D moments vs
// the 2-D covariance map), and against brute-force simulation of wide untied networks
// (docs/validation.md: N = 1000, Jacobians by finite differences).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <array>
#include <cmath>
#include <vector>

#include "theory/critical.h"
#include "theory/gauss.h"
#include "theory/mean_field.h"
#include "theory/normal_batch.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft::theory {
namespace {

using nlohmann::json;

TEST(GaussHermite, ClosedForms) {
  GaussHermite gh(64);
  double wsum = 0;
  for (double w : gh.weights()) wsum += w;
  EXPECT_NEAR(wsum, 1.0, 1e-13);
  EXPECT_NEAR(gh.expect([](double u) { return u * u; }, 0.7, 2.0), 2.0 + 0.49, 1e-12);
  EXPECT_NEAR(gh.expect([](double u) { return u * u * u * u; }, 0.0, 1.5), 3 * 1.5 * 1.5, 1e-11);
  EXPECT_NEAR(gh.expect([](double u) { return std::cos(u); }, 0.3, 0.8),
              std::exp(-0.4) * std::cos(0.3), 1e-12);
  EXPECT_NEAR(gh.expect(sigmoid, 0.0, 3.0), 0.5, 1e-14);  // odd symmetry around 1/2
  // 2-D: E[uv] = c + m1 m2; E[cos(u − v)] = e^{−(v1 + v2 − 2c)/2} cos(m1 − m2).
  EXPECT_NEAR(gh.expect2([](double u, double v) { return u * v; }, 0.2, 1.0, -0.5, 2.0, 0.9),
              0.9 - 0.1, 1e-12);
  EXPECT_NEAR(
      gh.expect2([](double u, double v) { return std::cos(u - v); }, 0.2, 1.0, -0.5, 2.0, 0.9),
      std::exp(-(1.0 + 2.0 - 1.8) / 2) * std::cos(0.7), 1e-11);
  // Degenerate (perfectly correlated) pair.
  EXPECT_NEAR(gh.expect2([](double u, double v) { return std::tanh(u) * std::tanh(v); }, 0.1, 0.5,
                         0.1, 0.5, 0.5),
              gh.expect([](double u) { return std::tanh(u) * std::tanh(u); }, 0.1, 0.5), 1e-12);
  // A hard integrand (tanh has poles ±iπ/2 close to the real axis after scaling) against a
  // fine trapezoid rule: Gauss–Hermite converges, and the default order is accurate to 1e-5.
  auto f = [](double u) { return std::pow(std::tanh(u), 4) * sigmoid(2 * u); };
  double ref = 0;
  const double h = 1e-3, s = std::sqrt(2.5);
  for (double x = -12; x <= 12; x += h)
    ref += std::exp(-x * x / 2) / std::sqrt(2 * M_PI) * h * f(0.4 + s * x);
  EXPECT_NEAR(GaussHermite(200).expect(f, 0.4, 2.5), ref, 2e-8);
  EXPECT_NEAR(GaussHermite(TheoryOptions{}.order).expect(f, 0.4, 2.5), ref, 1e-5);
  EXPECT_NEAR(gh.expect(f, 0.4, 2.5), ref, 2e-4);
  EXPECT_THROW(GaussHermite(1), Error);
}

InitSpec spec_of(const json& j) {
  return InitSpec::from_json(j, "test");
}
json g(double s, double n, double m, double r) {
  return {{"recurrent_std", s}, {"input_std", n}, {"bias_mean", m}, {"bias_std", r}};
}

struct Point {
  const char* name;
  json spec;
  // theory (numpy reference implementation) and brute-force simulation, docs/validation.md
  double Q_th, m1_th, m2_th, Q_sim, m1_sim, m2_sim, chi_sim;
};

std::vector<Point> affine_points() {
  return {
      {"vanilla",
       {{"cell", "vanilla"}, {"gates", {{"hidden", g(1.5, 0.5, 0.1, 0.2)}}}},
       0.4412,
       0.9443,
       2.434,
       0.4416,
       0.9455,
       2.441,
       0.9431},
      {"minimal_a",
       {{"cell", "minimal"},
        {"gates", {{"update", g(2, 0.5, 1, 0.3)}, {"embed", g(0, 1, 0.2, 0.3)}}}},
       0.1109,
       0.5937,
       0.4737,
       0.1108,
       0.5915,
       0.4730,
       0.5920},
      {"minimal_b",
       {{"cell", "minimal"},
        {"gates", {{"update", g(3, 0.3, 3, 0.1)}, {"embed", g(0, 1, 0, 0.1)}}}},
       0.01280,
       0.9097,
       0.8474,
       0.01284,
       0.9102,
       0.8494,
       0.9096},
      {"gru_a",
       {{"cell", "gru"},
        {"gates",
         {{"update", g(1.5, 0.5, 1, 0.3)},
          {"reset", g(1.2, 0.5, 0.5, 0.2)},
          {"candidate", g(1.8, 0.7, 0.2, 0.2)}}}},
       0.08492,
       0.6269,
       0.5278,
       0.08468,
       0.6257,
       0.5259,
       0.6266},
      {"gru_b",
       {{"cell", "gru"},
        {"gates",
         {{"update", g(3, 0.3, 2, 0.1)},
          {"reset", g(2, 0.5, -0.5, 0.2)},
          {"candidate", g(2.5, 0.7, 0.5, 0.2)}}}},
       0.1582,
       0.8061,
       0.8183,
       0.1579,
       0.8033,
       0.8071,
       0.8051},
      {"gru_c",
       {{"cell", "gru"},
        {"gates",
         {{"update", g(0.5, 0.3, 4, 0.1)},
          {"reset", g(0.5, 0.3, 0, 0.1)},
          {"candidate", g(1, 0.5, 0, 0.1)}}}},
       0.00187,
       0.9628,
       0.9272,
       0.00185,
       0.9623,
       0.9263,
       0.9628},
      {"gru_critical",
       {{"cell", "gru"},
        {"gates",
         {{"update", g(0.3, 0.3, 4, 0)},
          {"reset", g(0.3, 0.3, 2, 0)},
          {"candidate", g(17.35, 0.5, 0, 0)}}}},
       NAN,
       1.0000,
       1.0746,
       NAN,
       1.0003,
       1.0757,
       NAN},
  };
}

// The vectorized product rule against the generic 2-D rule with std::tanh / the scalar σ, over
// means, variances and correlations from independent to perfectly correlated.
TEST(GaussHermite, VectorizedProductMatchesGenericRule) {
  const GaussHermite& gh = GaussHermite::cached(100);
  EXPECT_EQ(&gh, &GaussHermite::cached(100));  // one shared rule per order
  for (double m : {-1.3, 0.0, 0.4, 2.5})
    for (double v : {1e-6, 0.3, 2.0, 40.0})
      for (double rho : {-0.6, 0.0, 0.5, 0.999, 1.0}) {
        const double c = rho * v;
        const double gt = gh.expect2([](double a, double b) { return std::tanh(a) * std::tanh(b); },
                                     m, v, m, v, c);
        const double gs =
            gh.expect2([](double a, double b) { return sigmoid(a) * sigmoid(b); }, m, v, -m, v, c);
        EXPECT_NEAR(gh.expect_product(GaussHermite::Act::Tanh, m, v, m, v, c), gt, 1e-14);
        EXPECT_NEAR(gh.expect_product(GaussHermite::Act::Sigmoid, m, v, -m, v, c), gs, 1e-14);
      }
  EXPECT_THROW(GaussHermite::cached(1), Error);
}

// The batch normal sampler of the LSTM sampler: moments to fourth order and tail frequencies
// against Φ from std::erfc, on 4·10⁶ draws (tolerances ≈ 5 standard errors).
TEST(NormalBatch, MomentsAndTailsMatchTheGaussian) {
  Rng rng(99, 7);
  const int n = 4000000, chunk = 255;  // odd chunk: the unpaired last draw is used too
  std::vector<double> z(chunk);
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  std::array<double, 4> cut = {0.5, 1.0, 2.0, 3.0};
  std::array<int64_t, 4> above{};
  for (int done = 0; done < n; done += chunk) {
    fill_normals<256>(rng, z.data(), chunk);
    for (double x : z) {
      s1 += x;
      s2 += x * x;
      s3 += x * x * x;
      s4 += x * x * x * x;
      for (int k = 0; k < 4; ++k) above[k] += x > cut[k];
    }
  }
  const double N = double((n + chunk - 1) / chunk * chunk);
  EXPECT_NEAR(s1 / N, 0.0, 5 / std::sqrt(N));
  EXPECT_NEAR(s2 / N, 1.0, 5 * std::sqrt(2 / N));
  EXPECT_NEAR(s3 / N, 0.0, 5 * std::sqrt(15 / N));
  EXPECT_NEAR(s4 / N, 3.0, 5 * std::sqrt(96 / N));
  for (int k = 0; k < 4; ++k) {
    const double p = 0.5 * std::erfc(cut[k] / std::sqrt(2.0));
    EXPECT_NEAR(double(above[k]) / N, p, 5 * std::sqrt(p * (1 - p) / N)) << "tail above " << cut[k];
  }
}

TEST(MeanField, AffineCellsAgreeWithReferenceAndSimulation) {
  for (const auto& p : affine_points()) {
    SCOPED_TRACE(p.name);
    const TheoryResult r = analyze(spec_of(p.spec));
    EXPECT_TRUE(r.converged);
    // The independent numpy implementation, to its printed digits.
    if (!std::isnan(p.Q_th)) {
      EXPECT_NEAR(r.Q_h, p.Q_th, 6e-4 * p.Q_th + 5e-6);
    }
    EXPECT_NEAR(r.jacobian.m1, p.m1_th, 6e-4);
    EXPECT_NEAR(r.jacobian.m2, p.m2_th, 1e-3 * p.m2_th);
    // Brute-force simulation at N = 1000 (finite-size gaps of ≤ 2 %, 2.5 % for m2).
    if (!std::isnan(p.Q_sim)) {
      EXPECT_NEAR(r.Q_h, p.Q_sim, 0.02 * p.Q_sim);
    }
    EXPECT_NEAR(r.jacobian.m1, p.m1_sim, 0.02 * p.m1_sim);
    EXPECT_NEAR(r.jacobian.m2, p.m2_sim, 0.05 * p.m2_sim);
    if (!std::isnan(p.chi_sim)) {
      EXPECT_NEAR(r.chi, p.chi_sim, 0.02 * p.chi_sim);
      // ξ = −1/ln χ within 10 % of the simulated decay.
      EXPECT_NEAR(r.xi(), -1 / std::log(p.chi_sim), 0.1 * (-1 / std::log(p.chi_sim)));
    }
  }
}

// With identical inputs the coincident fixed point's multiplier, from the 2-D covariance map, is
// m1 from the 1-D Jacobian formulas (§3.3): two independent routes through the code.
TEST(MeanField, CovarianceMapSlopeEqualsM1) {
  for (const auto& p : affine_points()) {
    SCOPED_TRACE(p.name);
    const TheoryResult r = analyze(spec_of(p.spec));
    if (r.jacobian.m1 >= 1.0) continue;
    EXPECT_NEAR(r.chi, r.jacobian.m1, 2e-5);
    EXPECT_DOUBLE_EQ(r.corr, 1.0);
  }
}

// The reset-after GRU (§3.4): the covariance map (a 4-D integral over two reset gates and two
// candidates) and the Jacobian rule (§5.3) are independent routes to m1 at c = 1; with a constant
// reset gate r ⊙ (W h) = W (r h), so both variants' theories must coincide.
TEST(MeanField, GruResetAfterRoutesAgreeAndReduceToResetBefore) {
  TheoryOptions after;
  after.gru_variant = GruVariant::ResetAfter;
  auto gru = [](double r_sigma, double r_nu, double r_rho, double c_sigma) {
    return spec_of({{"cell", "gru"},
                    {"gates",
                     {{"update",
                       {{"recurrent_std", 1.0},
                        {"input_std", 0.5},
                        {"bias_mean", 0.5},
                        {"bias_std", 0.0}}},
                      {"reset",
                       {{"recurrent_std", r_sigma},
                        {"input_std", r_nu},
                        {"bias_mean", 0.3},
                        {"bias_std", r_rho}}},
                      {"candidate",
                       {{"recurrent_std", c_sigma},
                        {"input_std", 1.0},
                        {"bias_mean", 0.0},
                        {"bias_std", 0.0}}}}}});
  };
  for (double rs : {0.5, 2.0, 3.0}) {
    SCOPED_TRACE(fmt::format("reset σ = {}", rs));
    const TheoryResult r = analyze(gru(rs, 0.5, 0.1, 2.5), after);
    ASSERT_LT(r.jacobian.m1, 1.0);
    EXPECT_EQ(r.gru_variant, GruVariant::ResetAfter);
    EXPECT_NEAR(r.chi, r.jacobian.m1, 2e-5);
    EXPECT_DOUBLE_EQ(r.corr, 1.0);
  }
  {
    // Chaotic: the slope at c = 1 is still m1. The wide candidate makes the rule converge
    // algebraically (§1): 2·10⁻³ apart at order 100, 2·10⁻⁵ at 200, 5·10⁻⁶ at 300.
    TheoryOptions fine = after;
    fine.order = 200;
    const TheoryResult r = analyze(gru(4.0, 0.5, 0.1, 6.0), fine);
    ASSERT_TRUE(r.chaotic());
    EXPECT_NEAR(r.chi_coincident, r.jacobian.m1, 1e-4 * r.jacobian.m1);
  }
  const InitSpec constant_reset = gru(0.0, 0.0, 0.0, 3.0);
  const TheoryResult a = analyze(constant_reset, after), b = analyze(constant_reset);
  EXPECT_NEAR(a.Q_h, b.Q_h, 1e-10);
  EXPECT_NEAR(a.jacobian.m1, b.jacobian.m1, 1e-10);
  EXPECT_NEAR(a.jacobian.m2, b.jacobian.m2, 1e-10);
  EXPECT_NEAR(a.chi, b.chi, 1e-8);
  // A varying reset gate makes them differ (the test above would pass for a copy otherwise).
  const InitSpec varying = gru(3.0, 0.5, 0.1, 3.0);
  EXPECT_GT(std::abs(analyze(varying, after).jacobian.m1 - analyze(varying).jacobian.m1), 0.01);
}

TEST(MeanField, DifferentInputsGiveAPartialCorrelation) {
  TheoryOptions o;
  o.input_overlap = 0.3;
  const TheoryResult r = analyze(spec_of(affine_points()[3].spec), o);
  EXPECT_GT(r.corr, 0.0);
  EXPECT_LT(r.corr, 1.0);
  EXPECT_LT(r.chi, 1.0);
  o.input_overlap = 1.5;
  EXPECT_THROW(analyze(spec_of(affine_points()[3].spec), o), Error);
}

// minimalRNN, σ_f → 0: m1 = E[u²] = 1 − 2e^{−μ + q/2} + O(e^{−2μ}) (§6.2).
TEST(MeanField, MinimalSmallSigmaClosedForm) {
  for (double mu : {6.0, 8.0}) {
    const json j = {{"cell", "minimal"},
                    {"gates", {{"update", g(0, 0.3, mu, 0)}, {"embed", g(0, 1, 0, 0)}}}};
    const TheoryResult r = analyze(spec_of(j));
    const double q = 0.09, predicted = 2 * std::exp(-mu + q / 2);
    EXPECT_NEAR(1 - r.jacobian.m1, predicted, 4 * std::exp(-mu) * predicted) << mu;
    EXPECT_NEAR(r.chi, r.jacobian.m1, 1e-9);
  }
}

struct LstmPoint {
  const char* name;
  json spec;
  double Qh_th, Qc_th, m1s_th, m2s_th, chi_th;       // numpy theory (2N (c, h) Jacobian)
  double Qh_sim, Qc_sim, m1s_sim, m2s_sim, chi_sim;  // brute force
};

TEST(MeanField, LstmAgreesWithReferenceAndSimulation) {
  const std::vector<LstmPoint> pts = {
      {"lstm_a",
       {{"cell", "lstm"},
        {"gates",
         {{"input", g(1.2, 0.5, 0, 0.2)},
          {"forget", g(1, 0.5, 2, 0.2)},
          {"output", g(1.3, 0.5, 0.5, 0.2)},
          {"cell", g(1.5, 0.8, 0.3, 0.2)}}}},
       0.1548,
       0.8685,
       0.6488,
       0.978,
       0.8104,
       0.1555,
       0.8756,
       0.6543,
       0.994,
       0.8093},
      {"lstm_b",
       {{"cell", "lstm"},
        {"gates",
         {{"input", g(2, 0.5, -1, 0.3)},
          {"forget", g(2, 0.5, 1, 0.3)},
          {"output", g(2, 0.5, 1, 0.3)},
          {"cell", g(2.5, 0.8, 0, 0.3)}}}},
       0.03695,
       0.08191,
       0.6540,
       1.199,
       0.6934,
       0.0371,
       0.0820,
       0.6555,
       1.175,
       0.6954},
      {"lstm_c",
       {{"cell", "lstm"},
        {"gates",
         {{"input", g(0.5, 0.3, -1, 0.1)},
          {"forget", g(0.5, 0.3, 4, 0.1)},
          {"output", g(0.5, 0.3, 1, 0.1)},
          {"cell", g(1, 0.5, 0, 0.1)}}}},
       0.1480,
       0.5157,
       0.6672,
       0.909,
       0.9787,
       0.1473,
       0.5113,
       0.6700,
       0.916,
       0.9784},
  };
  for (const auto& p : pts) {
    SCOPED_TRACE(p.name);
    const TheoryResult r = analyze(spec_of(p.spec));
    // Reference theory (itself sampled with 2–4·10⁵ samples): 1 % plus 3 Monte Carlo errors.
    EXPECT_NEAR(r.Q_h, p.Qh_th, 0.01 * p.Qh_th + 3 * r.Q_h_err);
    EXPECT_NEAR(r.Q_c, p.Qc_th, 0.01 * p.Qc_th + 3 * r.Q_c_err);
    EXPECT_NEAR(r.jacobian_state.m1, p.m1s_th, 0.01 * p.m1s_th + 3 * r.jacobian_state.m1_err);
    EXPECT_NEAR(r.jacobian_state.m2, p.m2s_th, 0.01 * p.m2s_th + 3 * r.jacobian_state.m2_err);
    EXPECT_NEAR(r.chi, p.chi_th, 0.01 * p.chi_th + 3 * r.chi_err);
    // Simulation: Q and m1 within 2 %, m2 within 5 %, widened by the Monte Carlo error.
    EXPECT_NEAR(r.Q_h, p.Qh_sim, 0.02 * p.Qh_sim + 3 * r.Q_h_err);
    EXPECT_NEAR(r.Q_c, p.Qc_sim, 0.02 * p.Qc_sim + 3 * r.Q_c_err);
    EXPECT_NEAR(r.jacobian_state.m1, p.m1s_sim, 0.02 * p.m1s_sim + 3 * r.jacobian_state.m1_err);
    EXPECT_NEAR(r.jacobian_state.m2, p.m2s_sim, 0.05 * p.m2s_sim + 3 * r.jacobian_state.m2_err);
    EXPECT_NEAR(r.xi(), -1 / std::log(p.chi_sim), 0.1 * (-1 / std::log(p.chi_sim)));
    EXPECT_GT(r.jacobian.m1_err, 0.0);
    if (std::string(p.name) == "lstm_b") {
      // The cell-state Jacobian J_c: theory 0.6920 / 0.7499, simulated 0.6970 / 0.7620.
      EXPECT_NEAR(r.jacobian.m1, 0.6970, 0.02 * 0.6970 + 3 * r.jacobian.m1_err);
      EXPECT_NEAR(r.jacobian.m2, 0.7620, 0.05 * 0.7620 + 3 * r.jacobian.m2_err);
    }
  }
}

TEST(MeanField, LstmSeedReproducesAndMonteCarloErrorShrinks) {
  const json j = {{"cell", "lstm"},
                  {"gates",
                   {{"input", g(1, 0.5, 0, 0.2)},
                    {"forget", g(1, 0.5, 2, 0.2)},
                    {"output", g(1, 0.5, 0.5, 0.2)},
                    {"cell", g(1.5, 0.8, 0.3, 0.2)}}}};
  TheoryOptions small;
  small.samples = 8000;
  const TheoryResult a = analyze(spec_of(j), small), b = analyze(spec_of(j), small);
  EXPECT_EQ(a.jacobian.m1, b.jacobian.m1);
  TheoryOptions large = small;
  large.samples = 64000;
  const TheoryResult c = analyze(spec_of(j), large);
  EXPECT_LT(c.jacobian_state.m1_err, a.jacobian_state.m1_err);
  EXPECT_NEAR(a.Q_h, c.Q_h, 4 * (a.Q_h_err + c.Q_h_err));
}

// A forget gate at 1 to double precision (bias 40) integrates without loss: c's moments grow
// without bound and tanh(c) saturates, so with a constant output gate o = σ(0.5) the state's
// second moment is σ(0.5)² (a closed form), on every build (a portable build once gave 0/0).
TEST(MeanField, LstmForgetGateAtOneSaturates) {
  const json j = {{"cell", "lstm"},
                  {"gates",
                   {{"input", g(1, 0.5, 0, 0.2)},
                    {"forget", g(1, 0.5, 40, 0.2)},
                    {"output", g(0, 0, 0.5, 0)},
                    {"cell", g(1.5, 0.8, 0.3, 0.2)}}}};
  const TheoryResult r = analyze(spec_of(j), TheoryOptions{});
  const double o = 1.0 / (1.0 + std::exp(-0.5));
  EXPECT_NEAR(r.Q_h, o * o, 1e-4 * o * o);
  EXPECT_TRUE(std::isfinite(r.Q_c));
  EXPECT_TRUE(std::isfinite(r.jacobian.m1));
}

// The shipped (tied) criterion: ξ = T in the mean field (T·ln m1 = −1) and a tied gradient gain
// of 1 over T steps, solved for the keep-gate bias and the content scale (docs/theory.md §6, §9).
TEST(Critical, TiedCriterionAtSeveralLengths) {
  for (CellType cell : {CellType::Gru, CellType::Lstm}) {
    double prev_bias = 0;
    for (int T : {300, 1000, 3000}) {
      SCOPED_TRACE(fmt::format("{} T = {}", cell_name(cell), T));
      CriticalOptions o;
      o.seq_len = T;
      o.theory.samples = 8000;  // half the default: the test's tolerances allow it
      const CriticalResult r = critical_init(cell, o);
      EXPECT_EQ(r.criterion, Criterion::Tied);
      EXPECT_TRUE(r.reached);
      ASSERT_EQ(r.knobs.size(), 2u);
      EXPECT_NEAR(T * std::log(r.diagnostics.jacobian.m1), -1.0, 0.01);
      EXPECT_NEAR(r.diagnostics.tied_log_gain(T), 0.0, 0.01);
      // ξ ≈ T (GRU: χ = m1 exactly; LSTM: χ from the power iteration, close to m1 here).
      EXPECT_NEAR(r.diagnostics.xi() / T, 1.0, cell == CellType::Lstm ? 0.1 : 0.02);
      EXPECT_LT(r.diagnostics.jacobian.normalized(), 0.01);
      // The keep bias moves with ln T (1 − f ≈ 1/(2T)): the solution is interior, not a bound.
      const double bias = r.knobs[0].second;
      if (prev_bias != 0) {
        EXPECT_GT(bias, prev_bias + 0.8);
      }
      prev_bias = bias;
      // The spec is a valid spec (round trip through the JSON the trainer reads).
      EXPECT_EQ(InitSpec::from_json(r.spec.to_json(), "x").to_json(), r.spec.to_json());
    }
  }
}

// The untied criterion m1 = 1, solved for the knob that moves m1 (the LSTM's forget bias), at
// long T where the old cell-gate knob stalled at its bracket end (T ≥ 1800).
TEST(Critical, UntiedCriterionAtLongSequences) {
  for (int T : {1000, 2000, 3000}) {
    SCOPED_TRACE(T);
    CriticalOptions o;
    o.seq_len = T;
    o.criterion = Criterion::Untied;
    o.theory.samples = 8000;
    const CriticalResult r = critical_init(CellType::Lstm, o);
    EXPECT_TRUE(r.reached);
    ASSERT_EQ(r.knobs.size(), 1u);
    EXPECT_EQ(r.knobs[0].first, "forget.bias_mean");
    EXPECT_LE(std::abs(T * std::log(r.diagnostics.jacobian.m1)), 0.01);
  }
  CriticalOptions o;
  o.criterion = Criterion::Untied;
  const CriticalResult g = critical_init(CellType::Gru, o);
  EXPECT_TRUE(g.reached);
  EXPECT_LE(std::abs(1000 * std::log(g.diagnostics.jacobian.m1)), 0.01);
  // Untied-critical points make tied networks grow: the result says so.
  EXPECT_GT(g.log_gain_T, std::log(10.0));
  bool noted = false;
  for (const auto& n : g.notes) noted |= n.find("tied networks of this init grow") != std::string::npos;
  EXPECT_TRUE(noted);
}

// An unreachable target fails loudly and names the bracket instead of returning an endpoint.
TEST(Critical, UnreachableTargetsFailNamingTheBracket) {
  CriticalOptions o;
  o.criterion = Criterion::Untied;
  o.theory.samples = 2000;  // only the error matters here
  o.theory.groups = 2;
  o.fixes = {"cell.recurrent_std=80"};  // the content term alone exceeds 1: no forget bias helps
  try {
    critical_init(CellType::Lstm, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("does not change sign for forget.bias_mean in ["), std::string::npos) << m;
  }
  CriticalOptions t;
  t.theory.samples = 2000;
  t.theory.groups = 2;
  t.fixes = {"input.recurrent_std=2"};  // tied networks grow even without the cell gate's weights
  try {
    critical_init(CellType::Lstm, t);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already grow"), std::string::npos) << e.what();
  }
}

TEST(Critical, VanillaAndMinimal) {
  CriticalOptions o;
  const CriticalResult v = critical_init(CellType::Vanilla, o);
  EXPECT_EQ(v.criterion, Criterion::Untied);  // orthogonal W: tied and untied agree
  EXPECT_TRUE(v.reached);
  EXPECT_NEAR(v.diagnostics.jacobian.m1, 1.0, 1e-4);
  // minimalRNN, untied at T = 1000: m1 = 1 lies beyond a jump of the fixed point, in the
  // chaotic phase; the result says so instead of claiming ξ ≥ T.
  o.criterion = Criterion::Untied;
  o.fixes = {"update.input_std=0.3"};
  const CriticalResult m = critical_init(CellType::Minimal, o);
  EXPECT_NEAR(m.diagnostics.jacobian.m1, 1.0, 1e-4);
  EXPECT_TRUE(m.diagnostics.chaotic());
  bool noted = false;
  for (const auto& n : m.notes) noted |= n.find("chaotic phase") != std::string::npos;
  EXPECT_TRUE(noted);
  // Tied (the default): both conditions.
  const CriticalResult mt = critical_init(CellType::Minimal, CriticalOptions{});
  EXPECT_TRUE(mt.reached);
  EXPECT_NEAR(mt.diagnostics.tied_log_gain(1000), 0.0, 0.01);
  // At R = 0 the minimalRNN has no state (h = z = 0): only ξ = T is solved, and it says so.
  CriticalOptions z;
  z.theory.input_var = 0;
  const CriticalResult m0 = critical_init(CellType::Minimal, z);
  EXPECT_TRUE(m0.reached);
  EXPECT_NEAR(1000 * std::log(m0.diagnostics.jacobian.m1), -1.0, 0.01);
  EXPECT_EQ(m0.spec.gate("update").recurrent_std, 0.0);
  noted = false;
  for (const auto& n : m0.notes) noted |= n.find("does not move the tied gain") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Critical, FixesAndErrors) {
  CriticalOptions o;
  o.criterion = Criterion::Untied;
  o.fixes = {"update.bias_mean=4", "update.recurrent_std=0.3", "update.input_std=0.3",
             "reset.recurrent_std=0.3", "reset.input_std=0.3"};
  const CriticalResult r = critical_init(CellType::Gru, o);
  EXPECT_DOUBLE_EQ(r.spec.gate("update").bias_mean, 4.0);
  // The worked example of docs/theory.md §6.4: μ_f = 4 gives σ_h* = 17.355, v = 0.0746.
  ASSERT_EQ(r.knobs.size(), 1u);
  EXPECT_NEAR(r.knobs[0].second, 17.355, 0.01);
  EXPECT_NEAR(r.diagnostics.jacobian.variance(), 0.0746, 5e-4);
  o.fixes = {"update.bias_mean=x"};
  EXPECT_THROW(critical_init(CellType::Gru, o), Error);
  o.fixes = {"nogate.bias_mean=1"};
  EXPECT_THROW(critical_init(CellType::Gru, o), Error);
  o.fixes = {"candidate.recurrent_std=3"};
  EXPECT_THROW(critical_init(CellType::Gru, o), Error);
  o.fixes = {"reset.input_std=-1"};
  EXPECT_THROW(critical_init(CellType::Gru, o), Error);
  CriticalOptions t;  // tied: both knobs are solved
  t.fixes = {"update.bias_mean=5"};
  EXPECT_THROW(critical_init(CellType::Gru, t), Error);
  EXPECT_THROW(parse_criterion("loose"), Error);
}

// ln G_T against closed forms and against the product of a tied random matrix (§9.2).
TEST(TiedGain, ClosedFormsAndTiedMatrixProducts) {
  EXPECT_NEAR(tied_log_gain(0.9, 0.0, 50), 50 * std::log(0.9), 1e-12);
  EXPECT_NEAR(tied_log_gain(0.0, 0.8, 50), 50 * std::log(0.8), 1e-12);
  // T = 2: d² + 4 d s + s².
  EXPECT_NEAR(std::exp(tied_log_gain(0.7, 0.2, 2)), 0.49 + 4 * 0.7 * 0.2 + 0.04, 1e-12);
  // Tied J = z I + a W (W Gaussian, entries of variance 1/N) against the formula, and against
  // the untied (d2 + s2)^T, at N = 600: mean of |J^T v|² over random unit v.
  const int N = 600, T = 40;
  const double z = 0.97, a = 0.05;
  Rng rng(3, 9);
  Eigen::MatrixXd W(N, N);
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j) W(i, j) = rng.normal() / std::sqrt(double(N));
  const Eigen::MatrixXd J = z * Eigen::MatrixXd::Identity(N, N) + a * W;
  double mean = 0;
  const int reps = 20;
  for (int r = 0; r < reps; ++r) {
    Eigen::VectorXd v(N);
    for (int i = 0; i < N; ++i) v(i) = rng.normal();
    v.normalize();
    for (int t = 0; t < T; ++t) v = J * v;
    mean += v.squaredNorm() / reps;
  }
  const double tied = std::exp(tied_log_gain(z * z, a * a, T)),
               untied = std::pow(z * z + a * a, T);
  EXPECT_NEAR(mean, tied, 0.1 * tied);
  EXPECT_GT(tied, 1.5 * untied);  // the point discriminates
}

// The two-sequence LSTM sampler where the map is one-dimensional: forget gate shut, input and
// output gates open, so c_t = g_t and h = tanh(tanh(u)); c* and χ = F'(Q_ab*) by 2-D Gauss–Hermite.
TEST(MeanField, LstmPairChainAgainstTheOneDimensionalMap) {
  const json j = {{"cell", "lstm"},
                  {"gates",
                   {{"input", g(0, 0, 15, 0)},
                    {"forget", g(0, 0, -15, 0)},
                    {"output", g(0, 0, 15, 0)},
                    {"cell", g(3, 0.5, 0, 0)}}}};
  const TheoryResult r = analyze(spec_of(j));
  const GaussHermite gh(120);
  auto psi = [](double u) { return std::tanh(std::tanh(u)); };
  double Q = 0.5;
  for (int it = 0; it < 500; ++it)
    Q = gh.expect([&](double u) { return psi(u) * psi(u); }, 0.0, 9 * Q + 0.25);
  const double q = 9 * Q + 0.25;
  auto F = [&](double Qab) {
    return gh.expect2([&](double u, double v) { return psi(u) * psi(v); }, 0.0, q, 0.0, q,
                      9 * Qab + 0.25);
  };
  double Qab = 0;
  for (int it = 0; it < 2000; ++it) Qab = F(Qab);
  const double d = 1e-6, chi = (F(Qab + d) - F(Qab - d)) / (2 * d);
  EXPECT_TRUE(r.chaotic());
  EXPECT_NEAR(r.Q_h, Q, 0.01 * Q);
  EXPECT_NEAR(r.corr, Qab / Q, 0.01 + 3 * r.Q_h_err / Q);
  EXPECT_NEAR(r.chi, chi, 0.01 * chi + 3 * r.chi_err);
  EXPECT_NEAR(r.chi_coincident, (F(Q) - F(Q - d)) / d, 0.03);
}

// The LSTM's chaotic phase (docs/theory.md §4.4): beyond the edge of chaos the coincident state
// is unstable, two sequences settle at c* < 1 with a finite ξ, and an untied simulation agrees.
TEST(MeanField, LstmChaoticPhase) {
  const json chaotic = {{"cell", "lstm"},
                        {"gates",
                         {{"input", g(0.3, 0.3, -3.454, 0)},
                          {"forget", g(0.3, 0.3, 6.67, 0)},
                          {"output", g(0.3, 0.3, 4, 0)},
                          {"cell", g(20, 0.5, 0, 0)}}}};
  TheoryOptions o;
  o.horizon = 1000;
  const TheoryResult r = analyze(spec_of(chaotic), o);
  EXPECT_GT(r.chi_coincident, 1.005);
  EXPECT_TRUE(r.chaotic());
  EXPECT_LT(r.corr, 0.2);
  EXPECT_LT(r.chi, 1.0);
  EXPECT_TRUE(std::isfinite(r.xi()));
  EXPECT_LT(r.xi(), 1000.0);
  EXPECT_GT(r.jacobian.m1, 1.005);  // and gradients explode
  // An ordered point stays at c* = 1.
  json ordered = chaotic;
  ordered["gates"]["cell"] = g(1.0, 0.5, 0, 0);
  const TheoryResult q = analyze(spec_of(ordered), o);
  EXPECT_FALSE(q.chaotic());
  EXPECT_DOUBLE_EQ(q.corr, 1.0);
  // Different inputs (R_ab < R) give a partial correlation at an ordered point too.
  TheoryOptions d = o;
  d.input_overlap = 0.2;
  const TheoryResult p = analyze(spec_of(ordered), d);
  EXPECT_LT(p.corr, 0.99);
  EXPECT_GT(p.corr, 0.0);
  EXPECT_FALSE(p.chaotic());
}

}  // namespace
}  // namespace rnnmft::theory
