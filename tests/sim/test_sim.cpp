// The simulator: its analytic Jacobians against finite differences of the cells' forward map, and
// the theory engine against wide untied networks (N = 1000) across cells and hyperparameters.
#include <gtest/gtest.h>

#include <cmath>

#include "../cell_cases.h"
#include "cells/rnn_model.h"
#include "sim/jacobian.h"
#include "sim/simulate.h"
#include "sim/tied_check.h"
#include "spec/draw.h"
#include "theory/critical.h"
#include "theory/mean_field.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using nlohmann::json;

json g(double s, double n, double m, double r) {
  return {{"recurrent_std", s}, {"input_std", n}, {"bias_mean", m}, {"bias_std", r}};
}

InitSpec unit_spec(CellType cell) {
  json gates;
  for (const auto& name : gate_names(cell))
    gates[name] = g(cell == CellType::Minimal && name == "embed" ? 0 : 1.2, 0.8, 0.3, 0.4);
  return InitSpec::from_json({{"cell", cell_name(cell)}, {"gates", gates}}, "test");
}

using Case = test::CellCase;
class SimJacobian : public ::testing::TestWithParam<Case> {};

TEST_P(SimJacobian, MatchesFiniteDifferencesOfTheForwardStep) {
  const Case cs = GetParam();
  const int N = 7, I = 3;
  RnnModel<double> m(ModelConfig{cs.cell, cs.gru, I, N, 2});
  Rng rng(21);
  draw_from_spec(m, unit_spec(cs.cell), rng);
  VectorXd x(I), h(N), c(N), o_prev(N);
  for (int i = 0; i < I; ++i) x(i) = rng.normal();
  for (int j = 0; j < N; ++j) {
    c(j) = rng.normal();
    o_prev(j) = rng.uniform(0.1, 0.9);
    h(j) = cs.cell == CellType::Lstm ? o_prev(j) * std::tanh(c(j)) : std::tanh(rng.normal());
  }
  const int Gi = input_gates(cs.cell);
  auto step = [&](const VectorXd& hh, const VectorXd& cc, VectorXd& h2, VectorXd& c2,
                  VectorXd* gates = nullptr, VectorXd* extra = nullptr) {
    h2.resize(N);
    c2.resize(N);
    VectorXd gt(Gi * N), ex(N);
    m.forward_step(x.data(), hh.data(), cc.data(), h2.data(), c2.data(), 1, gt.data(), ex.data());
    if (gates) *gates = gt;
    if (extra) *extra = ex;
  };
  sim::StepRecord s;
  s.h_prev = h;
  s.c_prev = c;
  s.o_prev = o_prev;
  step(h, c, s.h, s.c, &s.gates, &s.extra);
  const sim::Jacobians J = sim::step_jacobians(m, s);
  const double eps = 1e-6;
  if (cs.cell != CellType::Lstm) {
    MatrixXd fd(N, N);
    for (int j = 0; j < N; ++j) {
      VectorXd hp = h, hm = h, a, b, ca, cb;
      hp(j) += eps;
      hm(j) -= eps;
      step(hp, c, a, ca);
      step(hm, c, b, cb);
      fd.col(j) = (a - b) / (2 * eps);
    }
    EXPECT_LT((J.J - fd).cwiseAbs().maxCoeff(), 1e-8);
    return;
  }
  // Full (c, h) state.
  MatrixXd fd(2 * N, 2 * N);
  for (int j = 0; j < 2 * N; ++j) {
    VectorXd cp = c, cm = c, hp = h, hm = h, h1, h2, c1, c2;
    if (j < N) {
      cp(j) += eps;
      cm(j) -= eps;
    } else {
      hp(j - N) += eps;
      hm(j - N) -= eps;
    }
    step(hp, cp, h1, c1);
    step(hm, cm, h2, c2);
    fd.col(j) << (c1 - c2) / (2 * eps), (h1 - h2) / (2 * eps);
  }
  EXPECT_LT((J.J_state - fd).cwiseAbs().maxCoeff(), 1e-8);
  // J_c: c_{t−1} ↦ c_t through h_{t−1} = o_{t−1} tanh(c_{t−1}).
  MatrixXd fdc(N, N);
  for (int j = 0; j < N; ++j) {
    VectorXd cp = c, cm = c, h1, h2, c1, c2;
    cp(j) += eps;
    cm(j) -= eps;
    step((o_prev.array() * cp.array().tanh()).matrix(), cp, h1, c1);
    step((o_prev.array() * cm.array().tanh()).matrix(), cm, h2, c2);
    fdc.col(j) = (c1 - c2) / (2 * eps);
  }
  EXPECT_LT((J.J - fdc).cwiseAbs().maxCoeff(), 1e-8);
}

INSTANTIATE_TEST_SUITE_P(
    AllCells, SimJacobian,
    ::testing::ValuesIn(test::cell_cases()),
    [](const auto& info) { return info.param.name; });

// Theory against untied simulation: Q within 2 %, m1 within 2 %, m2 within 5 %, ξ within 10 %,
// each widened by three standard errors of the simulation and of the theory's Monte Carlo.
void compare(const InitSpec& spec, const sim::SimOptions& so, bool check_xi) {
  theory::TheoryOptions to;
  to.gru_variant = so.gru;
  const theory::TheoryResult th = theory::analyze(spec, to);
  const sim::SimResult sm = sim::simulate(spec, so);
  auto se = [](const sim::Stat& s) { return s.n > 1 ? s.std / std::sqrt(double(s.n)) : 0.0; };
  EXPECT_NEAR(sm.Q_h.mean, th.Q_h, 0.02 * th.Q_h + 3 * se(sm.Q_h) + 3 * th.Q_h_err);
  if (spec.cell == CellType::Lstm) {
    EXPECT_NEAR(sm.Q_c.mean, th.Q_c, 0.02 * th.Q_c + 3 * se(sm.Q_c) + 3 * th.Q_c_err);
  }
  EXPECT_NEAR(sm.m1.mean, th.jacobian.m1,
              0.02 * th.jacobian.m1 + 3 * se(sm.m1) + 3 * th.jacobian.m1_err);
  EXPECT_NEAR(sm.m2.mean, th.jacobian.m2,
              0.05 * th.jacobian.m2 + 3 * se(sm.m2) + 3 * th.jacobian.m2_err);
  EXPECT_NEAR(sm.m1_state.mean, th.jacobian_state.m1,
              0.02 * th.jacobian_state.m1 + 3 * se(sm.m1_state) + 3 * th.jacobian_state.m1_err);
  EXPECT_NEAR(sm.m2_state.mean, th.jacobian_state.m2,
              0.05 * th.jacobian_state.m2 + 3 * se(sm.m2_state) + 3 * th.jacobian_state.m2_err);
  if (check_xi) {
    ASSERT_GT(sm.fitted_trials, 0);
    const double half = 0.5 * std::abs(sm.xi_hi - sm.xi_lo);
    // dξ = dχ / (χ ln²χ): the theory's Monte Carlo error on χ, carried to ξ.
    const double xi_err = th.chi_err / (th.chi * std::log(th.chi) * std::log(th.chi));
    EXPECT_NEAR(sm.xi, th.xi(), 0.1 * th.xi() + half + 3 * xi_err);
  }
}

sim::SimOptions fast_opts() {
  sim::SimOptions o;
  o.width = 1000;
  o.input_dim = 100;  // many inputs per step: the theory's Gaussian input term
  o.steps = 200;
  o.t0 = 80;
  o.trials = 2;
  o.jacobians = 3;
  return o;
}

InitSpec spec(const json& j) {
  return InitSpec::from_json(j, "test");
}

TEST(TheoryVsSimulation, Vanilla) {
  compare(spec({{"cell", "vanilla"}, {"gates", {{"hidden", g(1.5, 0.5, 0.1, 0.2)}}}}), fast_opts(),
          true);
  compare(spec({{"cell", "vanilla"}, {"gates", {{"hidden", g(0.8, 1.0, -0.3, 0.5)}}}}), fast_opts(),
          true);
}

TEST(TheoryVsSimulation, Minimal) {
  compare(spec({{"cell", "minimal"},
                {"gates", {{"update", g(2, 0.5, 1, 0.3)}, {"embed", g(0, 1, 0.2, 0.3)}}}}),
          fast_opts(), true);
  compare(spec({{"cell", "minimal"},
                {"gates", {{"update", g(3, 0.3, 3, 0.1)}, {"embed", g(0, 1, 0, 0.1)}}}}),
          fast_opts(), true);
}

TEST(TheoryVsSimulation, Gru) {
  compare(spec({{"cell", "gru"},
                {"gates",
                 {{"update", g(1.5, 0.5, 1, 0.3)},
                  {"reset", g(1.2, 0.5, 0.5, 0.2)},
                  {"candidate", g(1.8, 0.7, 0.2, 0.2)}}}}),
          fast_opts(), true);
  compare(spec({{"cell", "gru"},
                {"gates",
                 {{"update", g(3, 0.3, 2, 0.1)},
                  {"reset", g(2, 0.5, -0.5, 0.2)},
                  {"candidate", g(2.5, 0.7, 0.5, 0.2)}}}}),
          fast_opts(), true);
}

// The reset-after GRU (PyTorch's, docs/theory.md §3.4) at points where the two variants'
// theories differ: Q and m1 within 1 %, ξ within 5 % (each widened by three standard errors),
// c* at a chaotic point within 0.03; the reset-before theory is outside those bounds at the
// same points, so the comparison can tell the cells apart.
TEST(TheoryVsSimulation, GruResetAfter) {
  auto gru = [](double ur_sigma, double u_mu, double r_sigma, double r_mu, double c_sigma,
                double c_nu) {
    return spec({{"cell", "gru"},
                 {"gates",
                  {{"update", g(ur_sigma, 0.5, u_mu, 0.1)},
                   {"reset", g(r_sigma, 0.5, r_mu, 0.1)},
                   {"candidate", g(c_sigma, c_nu, 0.0, 0.1)}}}});
  };
  sim::SimOptions o = fast_opts();
  o.gru = GruVariant::ResetAfter;
  theory::TheoryOptions after, before;
  after.gru_variant = GruVariant::ResetAfter;
  before.gru_variant = GruVariant::ResetBefore;
  auto se = [](const sim::Stat& s) { return s.n > 1 ? s.std / std::sqrt(double(s.n)) : 0.0; };
  {
    SCOPED_TRACE("ordered: wide reset gate, saturating candidate");
    const InitSpec sp = gru(1.0, 0.0, 3.0, 0.0, 3.0, 1.0);
    const theory::TheoryResult th = theory::analyze(sp, after), rb = theory::analyze(sp, before);
    const sim::SimResult sm = sim::simulate(sp, o);
    EXPECT_NEAR(sm.Q_h.mean, th.Q_h, 0.01 * th.Q_h + 3 * se(sm.Q_h));
    EXPECT_NEAR(sm.m1.mean, th.jacobian.m1, 0.01 * th.jacobian.m1 + 3 * se(sm.m1));
    EXPECT_NEAR(sm.m2.mean, th.jacobian.m2, 0.05 * th.jacobian.m2 + 3 * se(sm.m2));
    ASSERT_GT(sm.fitted_trials, 0);
    EXPECT_NEAR(sm.xi, th.xi(), 0.05 * th.xi() + 0.5 * std::abs(sm.xi_hi - sm.xi_lo));
    EXPECT_GT(std::abs(rb.xi() - sm.xi), 0.1 * sm.xi) << "the variants' ξ must differ here";
  }
  {
    SCOPED_TRACE("chaotic: the reset gate decides c*");
    const InitSpec sp = gru(1.0, -1.0, 4.0, -1.0, 5.0, 0.5);
    const theory::TheoryResult th = theory::analyze(sp, after), rb = theory::analyze(sp, before);
    ASSERT_TRUE(th.chaotic());
    const sim::SimResult sm = sim::simulate(sp, o);
    EXPECT_NEAR(sm.Q_h.mean, th.Q_h, 0.01 * th.Q_h + 3 * se(sm.Q_h));
    EXPECT_NEAR(sm.m1.mean, th.jacobian.m1, 0.01 * th.jacobian.m1 + 3 * se(sm.m1));
    EXPECT_NEAR(sm.corr.mean, th.corr, 0.03 + 3 * se(sm.corr));
    EXPECT_GT(std::abs(rb.Q_h - sm.Q_h.mean), 0.2 * sm.Q_h.mean);
    EXPECT_GT(std::abs(rb.corr - sm.corr.mean), 0.3);
  }
}

TEST(TheoryVsSimulation, Lstm) {
  compare(spec({{"cell", "lstm"},
                {"gates",
                 {{"input", g(2, 0.5, -1, 0.3)},
                  {"forget", g(2, 0.5, 1, 0.3)},
                  {"output", g(2, 0.5, 1, 0.3)},
                  {"cell", g(2.5, 0.8, 0, 0.3)}}}}),
          fast_opts(), true);
  compare(spec({{"cell", "lstm"},
                {"gates",
                 {{"input", g(1.2, 0.5, 0, 0.2)},
                  {"forget", g(1, 0.5, 2, 0.2)},
                  {"output", g(1.3, 0.5, 0.5, 0.2)},
                  {"cell", g(1.5, 0.8, 0.3, 0.2)}}}}),
          fast_opts(), true);
}

// The usual inits, through their Gaussian moments (docs/cells.md §Presets): PyTorch's for the
// LSTM and the GRU at N = 1000, Keras' (orthogonal recurrent weights, redrawn Haar matrices at
// every step) for the GRU at N = 300.
TEST(TheoryVsSimulation, Presets) {
  for (CellType cell : {CellType::Lstm, CellType::Gru}) {
    SCOPED_TRACE(cell_name(cell));
    compare(preset_moments("pytorch", cell, 1000, 100, 1000), fast_opts(), true);
  }
  sim::SimOptions o = fast_opts();
  o.width = 300;
  o.steps = 120;
  o.t0 = 70;
  o.trials = 3;
  compare(preset_moments("keras", CellType::Gru, 300, 100, 1000), o, true);
}

// The critical inits: untied simulation confirms the theory's m1 (ξ is too long to fit here).
TEST(TheoryVsSimulation, CriticalGruAndLstm) {
  for (CellType cell : {CellType::Gru, CellType::Lstm}) {
    SCOPED_TRACE(cell_name(cell));
    theory::CriticalOptions co;
    co.theory.samples = 8000;
    const theory::CriticalResult cr = theory::critical_init(cell, co);
    sim::SimOptions o = fast_opts();
    o.trials = 2;
    const sim::SimResult sm = sim::simulate(cr.spec, o);
    EXPECT_NEAR(sm.m1.mean, cr.diagnostics.jacobian.m1,
                0.02 + 3 * sm.m1.std / std::sqrt(double(sm.m1.n)));
    EXPECT_NEAR(sm.m2.mean, cr.diagnostics.jacobian.m2, 0.05 * cr.diagnostics.jacobian.m2);
  }
}

// The LSTM's chaotic phase against an untied simulation: the two trajectories decorrelate to the
// theory's c* (≈ 0 here); at an ordered point they merge (docs/theory.md §4.4).
TEST(TheoryVsSimulation, LstmChaoticCorrelation) {
  auto lstm = [](double cell_std, double forget_bias = 6.67) {
    return spec({{"cell", "lstm"},
                 {"gates",
                  {{"input", g(0.3, 0.3, -3.454, 0)},
                   {"forget", g(0.3, 0.3, forget_bias, 0)},
                   {"output", g(0.3, 0.3, 4, 0)},
                   {"cell", g(cell_std, 0.5, 0, 0)}}}});
  };
  sim::SimOptions o = fast_opts();
  o.width = 500;
  o.steps = 300;
  o.t0 = 100;
  o.trials = 2;
  o.jacobians = 0;
  const theory::TheoryResult th = theory::analyze(lstm(20));
  ASSERT_TRUE(th.chaotic());
  const sim::SimResult chaotic = sim::simulate(lstm(20), o);
  EXPECT_NEAR(chaotic.corr.mean, th.corr, 0.3);
  // An ordered point with a short memory (ξ of a few steps) merges within the run.
  ASSERT_FALSE(theory::analyze(lstm(1, 1.0)).chaotic());
  const sim::SimResult ordered = sim::simulate(lstm(1, 1.0), o);
  EXPECT_GT(ordered.corr.mean, 0.99);
}

// The tied check is the simulator's tied run (same seed, same numbers) plus the theory's
// transient over the same steps.
TEST(TiedCheck, IsTheTiedSimulationBesideTheTheory) {
  const theory::CriticalResult cr = theory::critical_init(CellType::Gru, {});
  sim::TiedCheckOptions to;
  to.width = 64;
  to.input_dim = 8;
  to.steps = 200;
  to.trials = 2;
  to.seed = 5;
  const sim::TiedCheck tc = sim::tied_check(cr.spec, to);
  sim::SimOptions so;
  so.width = 64;
  so.input_dim = 8;
  so.steps = 200;
  so.t0 = 60;
  so.untied = false;
  so.trials = 2;
  so.seed = 5;
  so.jacobians = 0;
  so.spectral_radius = true;
  const sim::SimResult sm = sim::simulate(cr.spec, so);
  EXPECT_EQ(tc.Q_h, sm.Q_h.mean);
  EXPECT_EQ(tc.chi, sm.chi);
  EXPECT_EQ(tc.radius_init, sm.radius_init.mean);
  EXPECT_EQ(tc.radius_end, sm.radius_end.mean);
  const theory::Transient tr = theory::transient(cr.spec, {}, 200);
  double q = 0;
  for (int t = 100; t < 200; ++t) q += tr.Q_h[t] / 100;
  EXPECT_DOUBLE_EQ(tc.Q_h_theory, q);
  // The transient rises towards the fixed point from a silent start.
  EXPECT_LT(tr.Q_h[10], tr.Q_h[199]);
  EXPECT_LT(tr.Q_h[199], theory::analyze(cr.spec).Q_h * 1.0001);
}

// The spectral radius of the tied GRU Jacobian at the zero state: z·I + a·W has its
// eigenvalues in a disc of centre z and radius a·σ (circular law), so the radius is z + a·σ.
TEST(TiedCheck, SpectralRadiusAtTheZeroStateFollowsTheCircularLaw) {
  const json j = {{"cell", "gru"},
                  {"gates",
                   {{"update", g(0, 0, 3.0, 0)},
                    {"reset", g(0, 0, 30.0, 0)},  // r = 1
                    {"candidate", g(4.0, 0, 0, 0)}}}};  // no inputs: ĥ' = 1 at h = 0
  sim::SimOptions so;
  so.width = 500;
  so.steps = 20;
  so.t0 = 10;
  so.untied = false;
  so.trials = 2;
  so.jacobians = 0;
  so.input_var = 0;
  so.spectral_radius = true;
  const sim::SimResult sm = sim::simulate(spec(j), so);
  const double z = 1.0 / (1.0 + std::exp(-3.0)), a = 1 - z;
  EXPECT_NEAR(sm.radius_init.mean, z + a * 4.0, 0.02);
}

// The shipped critical specs for T = 1000 in tied networks of width 400 (docs/theory.md §9.5):
// the distance of two trajectories does not grow (χ ≤ 1.005), Q stays within 3× of the theory
// (its transient over the same steps, and its fixed point), and the spectral radius is ≈ 1.
// The untied-critical GRU (m1 = 1) grows out of the theory's state: the check can fail.
TEST(TiedCheck, ShippedCriticalSpecsBehaveAsTheTheorySays) {
  sim::TiedCheckOptions target_opts;  // width 400, T = 1000, I = 28, 2 networks
  target_opts.width = 400;
  target_opts.input_dim = 28;
  target_opts.steps = 1000;
  target_opts.trials = 2;
  for (CellType cell : {CellType::Gru, CellType::Lstm}) {
    SCOPED_TRACE(cell_name(cell));
    const theory::CriticalResult cr = theory::critical_init(cell, {});
    const sim::TiedCheck tc = sim::tied_check(cr.spec, target_opts);
    EXPECT_TRUE(tc.holds()) << tc.summary();
    EXPECT_LE(tc.chi, 1.005);
    EXPECT_NEAR(tc.radius_end, 1.0, 0.01);
    EXPECT_GT(tc.Q_ratio(), 1.0 / 3);
    EXPECT_LT(tc.Q_ratio(), 3.0);
    const double ratio_fixed_point = tc.Q_h / cr.diagnostics.Q_h;
    EXPECT_GT(ratio_fixed_point, 1.0 / 3);
    EXPECT_LT(ratio_fixed_point, 3.0);
  }
  theory::CriticalOptions u;
  u.criterion = theory::Criterion::Untied;
  const theory::CriticalResult old = theory::critical_init(CellType::Gru, u);
  const sim::TiedCheck tc = sim::tied_check(old.spec, target_opts);
  EXPECT_FALSE(tc.holds()) << tc.summary();
  EXPECT_GT(tc.radius_init, 1.02);
}

// Orthogonal recurrent weights: m1 unchanged, vanilla m2 = σ⁴ E[φ'⁴] (docs/theory.md §5.5).
TEST(TheoryVsSimulation, OrthogonalVanillaSecondMoment) {
  json j = {{"cell", "vanilla"}, {"gates", {{"hidden", g(1.2, 0.5, 0.0, 0.1)}}}};
  j["gates"]["hidden"]["recurrent_dist"] = "orthogonal";
  sim::SimOptions o = fast_opts();
  o.width = 400;
  o.steps = 120;
  o.t0 = 70;
  compare(spec(j), o, false);
  // And it is not the Gaussian value.
  json gj = j;
  gj["gates"]["hidden"]["recurrent_dist"] = "gaussian";
  EXPECT_GT(theory::analyze(spec(gj)).jacobian.m2, 1.2 * theory::analyze(spec(j)).jacobian.m2);
}

// Orthogonal recurrent weights in the gated cells, at points where the rule moves m2 well away
// from the Gaussian value: GRU J, LSTM J_c and the LSTM's (c, h) state (docs/theory.md §5.5),
// against networks whose Haar matrices are redrawn at every step.
TEST(TheoryVsSimulation, OrthogonalGatedSecondMoments) {
  const json gru = {{"cell", "gru"},
                    {"gates",
                     {{"update", g(1.5, 0.3, -1.0, 0.1)},
                      {"reset", g(1.5, 0.3, 1.0, 0.1)},
                      {"candidate", g(2.5, 0.3, 0.0, 0.1)}}}};
  const json lstm = {{"cell", "lstm"},
                     {"gates",
                      {{"input", g(1.5, 0.3, 0.0, 0.1)},
                       {"forget", g(1.5, 0.3, -1.0, 0.1)},
                       {"output", g(1.5, 0.3, 1.0, 0.1)},
                       {"cell", g(2.5, 0.3, 0.0, 0.1)}}}};
  for (json j : {gru, lstm}) {
    SCOPED_TRACE(j["cell"].get<std::string>());
    const json gauss = j;
    for (auto& [name, gate] : j["gates"].items()) gate["recurrent_dist"] = "orthogonal";
    const theory::TheoryResult th = theory::analyze(spec(j)), tg = theory::analyze(spec(gauss));
    sim::SimOptions o = fast_opts();
    o.width = 300;
    o.steps = 120;
    o.t0 = 70;
    o.trials = 2;
    const sim::SimResult sm = sim::simulate(spec(j), o);
    auto se = [](const sim::Stat& s) { return s.n > 1 ? s.std / std::sqrt(double(s.n)) : 0.0; };
    EXPECT_NEAR(sm.m1.mean, th.jacobian.m1, 0.02 * th.jacobian.m1 + 3 * se(sm.m1));
    EXPECT_NEAR(sm.m2.mean, th.jacobian.m2,
                0.05 * th.jacobian.m2 + 3 * se(sm.m2) + 3 * th.jacobian.m2_err);
    EXPECT_NEAR(sm.m2_state.mean, th.jacobian_state.m2,
                0.05 * th.jacobian_state.m2 + 3 * se(sm.m2_state) + 3 * th.jacobian_state.m2_err);
    // The points discriminate: the Gaussian rule is off by more than the tolerance.
    EXPECT_GT(tg.jacobian.m2, 1.3 * th.jacobian.m2);
    EXPECT_GT(tg.jacobian_state.m2, 1.3 * th.jacobian_state.m2);
  }
}

}  // namespace
}  // namespace rnnmft
