// The probe of a tied network on a task's inputs (docs/theory.md §12), each number by a second
// route: the memory gain against the product of the analytic step Jacobians (sim/jacobian.h), and
// the state, slope, keep gate, offsets and bias sensitivity against a scalar recursion of each
// unit written here (with no recurrent weights the units are independent).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "../cell_cases.h"
#include "cells/rnn_model.h"
#include "sim/jacobian.h"
#include "sim/task_probe.h"
#include "spec/draw.h"
#include "theory/trainability.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using nlohmann::json;

InitSpec spec_with(CellType cell, double sigma) {
  json gates;
  for (const auto& name : gate_names(cell)) {
    const bool embed = cell == CellType::Minimal && name == "embed";
    const bool keep = name == "forget" || name == "update";
    gates[name] = {{"recurrent_std", embed ? 0.0 : sigma},
                   {"input_std", 1.1},
                   {"bias_mean", keep ? 1.5 : 0.2},
                   {"bias_std", 0.3}};
  }
  return InitSpec::from_json({{"cell", cell_name(cell)}, {"gates", gates}}, "test");
}

// Non-negative inputs (as pixels are) for `data` steps, then zeros up to T: S sequences.
std::vector<double> padded_inputs(int S, int T, int I, int data, Rng& rng) {
  std::vector<double> x(size_t(T) * S * I, 0.0);
  for (int t = 0; t < data; ++t)
    for (int b = 0; b < S; ++b)
      for (int i = 0; i < I; ++i) x[(size_t(t) * S + b) * I + i] = rng.uniform() < 0.4 ? 0.0 : rng.uniform();
  return x;
}

using Case = test::CellCase;
class TaskProbeGain : public ::testing::TestWithParam<Case> {};

// ln tr(PᵀP)/D for the product P of the analytic step Jacobians of steps t0…T−1 along one
// sequence (T × I, row-major): E|P v|²/|v|² over random directions v.
double jacobian_log_gain(RnnModel<double>& net, const std::vector<double>& one, int T, int t0) {
  const ModelConfig& mc = net.config();
  const int N = mc.hidden, I = mc.input_dim, Gi = input_gates(mc.cell);
  const bool lstm = describe(mc.cell).cell_state;
  const int D = lstm ? 2 * N : N;
  VectorXd h = VectorXd::Zero(N), c = h, h2 = h, c2 = h, o_prev = h;
  VectorXd gates(Gi * N), extra(N);
  MatrixXd P = MatrixXd::Identity(D, D);
  for (int t = 0; t < T; ++t) {
    net.forward_step(one.data() + size_t(t) * I, h.data(), c.data(), h2.data(), c2.data(), 1,
                     gates.data(), extra.data());
    if (t >= t0) {
      sim::StepRecord r{h, c, h2, c2, gates, extra, o_prev};
      const sim::Jacobians J = sim::step_jacobians(net, r);
      P = (lstm ? J.J_state : J.J) * P;
    }
    if (lstm) o_prev = gates.segment(3 * N, N);
    h = h2;
    c = c2;
  }
  return std::log((P.transpose() * P).trace() / D);
}

std::vector<double> sequence(const std::vector<double>& x, int S, int T, int I, int b) {
  std::vector<double> one(size_t(T) * I);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < I; ++i) one[size_t(t) * I + i] = x[(size_t(t) * S + b) * I + i];
  return one;
}

// Each sequence's gain, the mean of |P v|²/|v|² over 200 directions, against ln tr(PᵀP)/D.
TEST_P(TaskProbeGain, IsTheProductOfTheStepJacobians) {
  const Case cs = GetParam();
  const int N = 6, I = 3, T = 40, t0 = 10, S = 3, K = 200;
  RnnModel<double> net(ModelConfig{cs.cell, cs.gru, I, N, 2});
  Rng rng(5);
  draw_from_spec(net, spec_with(cs.cell, 1.3), rng, false);
  Rng xr(9);
  const std::vector<double> x = padded_inputs(S, T, I, 20, xr);
  Rng pr(11);
  const sim::NetworkProbe p = sim::probe_network(net, x, S, T, t0, 0.05, K, pr);
  double mean_expected = 0;
  for (int b = 0; b < S; ++b) {
    const double expected = jacobian_log_gain(net, sequence(x, S, T, I, b), T, t0);
    // 200 directions: the mean's relative standard error is below 10 % for these spectra.
    EXPECT_NEAR(p.log_gain[b], expected, 0.3) << "sequence " << b << ", " << T - t0 << " steps";
    mean_expected += expected / S;
  }
  EXPECT_GT(std::abs(mean_expected), 0.5) << "the case must move the gain away from 1";
}

// The directions are the same for every sequence: copies of one sequence get the same gain to
// the last bit, so the spread over sequences measures the sequences, not the directions.
TEST_P(TaskProbeGain, SharesItsDirectionsBetweenSequences) {
  const Case cs = GetParam();
  const int N = 6, I = 3, T = 30, t0 = 8, S = 4;
  RnnModel<double> net(ModelConfig{cs.cell, cs.gru, I, N, 2});
  Rng rng(6);
  draw_from_spec(net, spec_with(cs.cell, 1.3), rng, false);
  Rng xr(2);
  const std::vector<double> one = padded_inputs(1, T, I, 15, xr);
  std::vector<double> x(size_t(T) * S * I);
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < S; ++b)
      for (int i = 0; i < I; ++i) x[(size_t(t) * S + b) * I + i] = one[size_t(t) * I + i];
  Rng pr(3);
  const sim::NetworkProbe p = sim::probe_network(net, x, S, T, t0, 0.05, 3, pr);
  for (int b = 1; b < S; ++b) EXPECT_EQ(p.log_gain[b], p.log_gain[0]) << b;
  EXPECT_TRUE(std::isfinite(p.log_gain[0]));
}

INSTANTIATE_TEST_SUITE_P(Cells, TaskProbeGain, ::testing::ValuesIn(test::cell_cases()),
                         [](const auto& info) { return info.param.name; });

double sigmoid(double a) { return 1 / (1 + std::exp(-a)); }

// With no recurrent weights each unit follows its own scalar recursion from its input row and
// bias; run it here and compare every number of the probe.
class TaskProbeScalar : public ::testing::TestWithParam<Case> {};

TEST_P(TaskProbeScalar, MatchesEachUnitsOwnRecursion) {
  const Case cs = GetParam();
  const int N = 5, I = 4, T = 30, S = 6;
  const double delta = 0.05;
  RnnModel<double> net(ModelConfig{cs.cell, cs.gru, I, N, 2});
  Rng rng(3);
  draw_from_spec(net, spec_with(cs.cell, 0.0), rng, false);
  Rng xr(4);
  const std::vector<double> x = padded_inputs(S, T, I, 12, xr);
  Rng pr(1);
  const sim::NetworkProbe p = sim::probe_network(net, x, S, T, 12, delta, 2, pr);

  const auto& P = net.params();
  const size_t w = net.layout().w_ih, bi = net.layout().b_ih;
  const int Gi = input_gates(cs.cell);
  // Pre-activation of gate g of unit j for sequence b at step t, its bias moved by `move`.
  auto pre = [&](int g, int j, int b, int t, double move) {
    double a = P[bi + size_t(g) * N + j] + move;
    for (int i = 0; i < I; ++i) a += P[w + (size_t(g) * N + j) * I + i] * x[(size_t(t) * S + b) * I + i];
    return a;
  };
  struct End {
    double h, c, act, keep;
  };
  auto unit = [&](int j, int b, int moved_gate) {
    double h = 0, c = 0, act = 0, keep = 0;
    for (int t = 0; t < T; ++t) {
      auto a = [&](int g) { return pre(g, j, b, t, g == moved_gate ? delta : 0.0); };
      if (cs.cell == CellType::Lstm) {
        const double i = sigmoid(a(0)), f = sigmoid(a(1)), g = std::tanh(a(2)), o = sigmoid(a(3));
        c = f * c + i * g;
        h = o * std::tanh(c);
        act = std::tanh(c);
        keep = f;
      } else if (cs.cell == CellType::Gru) {  // no W_hh and b_hh = 0: the reset gate has nothing to reset
        const double z = sigmoid(a(1)), n = std::tanh(a(2));
        h = (1 - z) * n + z * h;
        act = n;
        keep = z;
      } else if (cs.cell == CellType::Minimal) {  // h' = u h + (1 − u) e, the slope of e
        const double u = sigmoid(a(0)), e = std::tanh(a(1));
        h = u * h + (1 - u) * e;
        act = e;
        keep = u;
      } else {  // vanilla: h' = tanh(pre), the slope of h itself, no keep gate
        h = std::tanh(a(0));
        act = h;
      }
    }
    return End{h, c, act, keep};
  };
  double qh = 0, qc = 0, slope = 0, keep = 0, mean_sq = 0;
  std::vector<double> dh2(Gi, 0.0), dc2(Gi, 0.0);
  for (int j = 0; j < N; ++j) {
    double mean_h = 0;
    for (int b = 0; b < S; ++b) {
      const End e = unit(j, b, -1);
      qh += e.h * e.h;
      qc += e.c * e.c;
      slope += (1 - e.act * e.act) * (1 - e.act * e.act);
      keep += e.keep;
      mean_h += e.h / S;
      for (int g = 0; g < Gi; ++g) {
        const End m = unit(j, b, g);
        dh2[g] += (m.h - e.h) * (m.h - e.h);
        dc2[g] += (m.c - e.c) * (m.c - e.c);
      }
    }
    mean_sq += mean_h * mean_h * S;
  }
  const double n = double(N) * S;
  EXPECT_NEAR(p.Q_h, qh / n, 1e-12);
  EXPECT_NEAR(p.offset_h, mean_sq / qh, 1e-12);
  EXPECT_NEAR(p.slope, slope / n, 1e-12);
  EXPECT_NEAR(p.keep, keep / n, 1e-12);
  if (cs.cell == CellType::Lstm) {
    EXPECT_NEAR(p.Q_c, qc / n, 1e-12);
  }
  for (int g = 0; g < Gi; ++g) {
    EXPECT_NEAR(p.dh2[g], dh2[g] / n, 1e-12 + 1e-9 * dh2[g] / n) << gate_names(cs.cell)[g];
    if (cs.cell == CellType::Lstm) {
      EXPECT_NEAR(p.dc2[g], dc2[g] / n, 1e-12 + 1e-9 * dc2[g] / n);
    }
  }
  EXPECT_GT(p.offset_h, 0.05) << "non-negative inputs through a tied U give per-unit offsets";
}

// The recursion above is written for every cell and GRU variant.
INSTANTIATE_TEST_SUITE_P(Cells, TaskProbeScalar, ::testing::ValuesIn(test::cell_cases()),
                         [](const auto& info) { return info.param.name; });

// Each criterion of the rule, alone, decides and names itself with its numbers.
TEST(Trainability, EachCriterionDecidesAndSaysWhy) {
  const theory::TrainabilityRule& rule = theory::trainability_rule();
  sim::TaskProbe ok;
  ok.cell = CellType::Lstm;
  ok.steps = 1000;
  ok.memory_from = 28;
  ok.log_gain = 0.5 * (rule.min_log_gain + rule.max_log_gain);
  ok.log_gain_sd = 0.5 * rule.max_log_gain_sd;
  ok.slope = 2 * rule.min_slope;
  ok.sensitivity = {{"input", 1.0, 0.5 * rule.max_dc}};
  EXPECT_TRUE(theory::predict_trainable(ok).trainable);
  EXPECT_TRUE(theory::predict_trainable(ok).reasons.empty());
  struct Case {
    std::function<void(sim::TaskProbe&)> change;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {[&](sim::TaskProbe& p) { p.log_gain = rule.min_log_gain - 1; }, "memory too short"},
      {[&](sim::TaskProbe& p) { p.log_gain = -INFINITY; }, "memory too short"},
      {[&](sim::TaskProbe& p) { p.log_gain = rule.max_log_gain + 1; }, "perturbations grow"},
      {[&](sim::TaskProbe& p) { p.log_gain_sd = rule.max_log_gain_sd + 1; }, "edge of chaos"},
      {[&](sim::TaskProbe& p) { p.slope = 0.5 * rule.min_slope; }, "saturated"},
      {[&](sim::TaskProbe& p) { p.sensitivity[0].dc = 2 * rule.max_dc; }, "too sensitive"},
  };
  for (const Case& c : cases) {
    sim::TaskProbe p = ok;
    c.change(p);
    const theory::Trainability t = theory::predict_trainable(p);
    EXPECT_FALSE(t.trainable) << c.reason;
    ASSERT_EQ(t.reasons.size(), 1u) << c.reason;
    EXPECT_NE(t.reasons[0].find(c.reason), std::string::npos) << t.reasons[0];
  }
  // A spread that could not be measured does not decide.
  sim::TaskProbe unmeasured = ok;
  unmeasured.log_gain_sd = NAN;
  EXPECT_TRUE(theory::predict_trainable(unmeasured).trainable);
  // The cell state's sensitivity is the LSTM's criterion only.
  sim::TaskProbe gru = ok;
  gru.cell = CellType::Gru;
  gru.sensitivity[0].dc = 2 * rule.max_dc;
  EXPECT_TRUE(theory::predict_trainable(gru).trainable);
}

}  // namespace
}  // namespace rnnmft
