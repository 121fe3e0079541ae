// Critical init v2 (docs/theory.md §13): the spec it writes, and the two properties it is built
// for, measured on drawn networks: the cell state never leaves (−1, 1), and the final state's
// sensitivity to the cell gate's bias stays near 1 where the v1 init's is tens.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "cells/rnn_model.h"
#include "sim/task_probe.h"
#include "spec/draw.h"
#include "theory/critical.h"
#include "theory/critical_v2.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

// Rows of a padded task: `data` steps of non-negative inputs (second moment ≈ 0.2), then zeros.
std::vector<double> padded_rows(int S, int T, int I, int data, Rng& rng) {
  std::vector<double> x(size_t(T) * S * I, 0.0);
  for (int t = 0; t < data; ++t)
    for (int b = 0; b < S; ++b)
      for (int i = 0; i < I; ++i)
        x[(size_t(t) * S + b) * I + i] = rng.uniform() < 0.4 ? 0.0 : rng.uniform();
  return x;
}

TEST(CriticalV2, WritesTheDesign) {
  const theory::CriticalV2 v = theory::critical_v2(
      CellType::Lstm, {.seq_len = 700, .data_var = 0.2, .input_dim = 28, .width = 64});
  ASSERT_TRUE(v.spec.timescales.has_value());
  EXPECT_EQ(v.spec.timescales->dist, Timescales::Dist::LogUniform);  // the default spread
  EXPECT_EQ(v.spec.timescales->min, 2.0);
  EXPECT_EQ(v.spec.timescales->max, 700.0);
  EXPECT_NE(v.spec.design.criterion.find("log-uniform"), std::string::npos);
  const theory::CriticalV2 u = theory::critical_v2(
      CellType::Lstm, {.seq_len = 700, .data_var = 0.2, .input_dim = 28, .width = 64,
                       .timescales = Timescales::Dist::Uniform});
  EXPECT_EQ(u.spec.timescales->dist, Timescales::Dist::Uniform);
  EXPECT_EQ(u.spec.to_json()["gates"], v.spec.to_json()["gates"]);  // only the spread differs
  const GateInit& g = v.spec.gate("cell");
  EXPECT_NEAR(g.input_std * g.input_std * 0.2, 0.5, 1e-12);  // ν²R = 1/2 (§13.3)
  EXPECT_EQ(g.recurrent_std, 1.0);
  EXPECT_TRUE(g.orthogonal);
  EXPECT_NEAR(v.spec.gate("forget").input_std, std::sqrt(56.0 / (28 + 256)), 1e-12);
  // The spec survives its own file format, timescales included.
  EXPECT_EQ(InitSpec::from_json(v.spec.to_json(), "x").to_json(), v.spec.to_json());
  for (CellType c : {CellType::Gru, CellType::Minimal})
    EXPECT_TRUE(theory::critical_v2(c, {.seq_len = 100, .data_var = 1, .input_dim = 3,
                                        .width = 8})
                    .spec.timescales.has_value());
  EXPECT_THROW(theory::critical_v2(CellType::Vanilla, {.data_var = 1}), Error);
  EXPECT_THROW(theory::critical_v2(CellType::Lstm, {.data_var = 0}), Error);
  EXPECT_THROW(theory::critical_v2(CellType::Lstm, {.seq_len = 2, .data_var = 1}), Error);
}

// max |c_t| over steps, units and sequences, by the network's own forward steps.
double max_abs_cell(RnnModel<double>& net, const std::vector<double>& x, int S, int T) {
  const int N = net.config().hidden, I = net.config().input_dim, Gi = input_gates(CellType::Lstm);
  std::vector<double> h(size_t(S) * N, 0.0), c = h, h2 = h, c2 = h, gates(size_t(S) * Gi * N),
      extra(size_t(S) * N);
  double m = 0;
  for (int t = 0; t < T; ++t) {
    net.forward_step(x.data() + size_t(t) * S * I, h.data(), c.data(), h2.data(), c2.data(), S,
                     gates.data(), extra.data());
    for (double v : c2) m = std::max(m, std::abs(v));
    h.swap(h2);
    c.swap(c2);
  }
  return m;
}

TEST(CriticalV2, CellStateBoundedAndSensitivityNearOne) {
  const int N = 64, I = 28, T = 1000, S = 6, data = 28;
  Rng xr(4);
  const std::vector<double> x = padded_rows(S, T, I, data, xr);
  auto v2_with = [&](Timescales::Dist dist) {
    return theory::critical_v2(CellType::Lstm, {.seq_len = T, .data_var = 0.2, .input_dim = I,
                                                .width = N, .timescales = dist})
        .spec;
  };
  theory::CriticalOptions co;
  co.seq_len = T;
  co.theory.input_var = 0.2 * data / T;
  const InitSpec v1 = theory::critical_init(CellType::Lstm, co).spec;
  auto cell_gate_rms = [&](const InitSpec& spec, uint64_t seed, double* max_c) {
    RnnModel<double> net(ModelConfig{CellType::Lstm, GruVariant::ResetAfter, I, N, 10});
    Rng rng(seed);
    draw_from_spec(net, spec, rng, false);
    *max_c = max_abs_cell(net, x, S, T);
    Rng pr(seed + 1);
    const sim::NetworkProbe p = sim::probe_network(net, x, S, T, data, 0.05, 1, pr);
    return std::sqrt(p.dc2[2]) / 0.05;  // RMS |Δc_T|/δ of the cell gate's bias
  };
  for (Timescales::Dist dist : {Timescales::Dist::LogUniform, Timescales::Dist::Uniform})
  for (uint64_t seed : {1, 2}) {
    double c2 = 0, c1 = 0;
    const double s2 = cell_gate_rms(v2_with(dist), seed, &c2), s1 = cell_gate_rms(v1, seed, &c1);
    SCOPED_TRACE(testing::Message() << Timescales::dist_name(dist) << ", seed " << seed << ": v2 "
                                    << s2 << " (max |c| " << c2 << "), v1 " << s1 << " (max |c| "
                                    << c1 << ")");
    // §13.1: c is an average of tanh values (< 1), and a bias move δ moves c_T by at most δ per
    // unit, up to what the recurrent weights add. Keep + write = 1 only on average: the gates'
    // input and recurrent terms spread it, most for the fast units (τ near 2, bias near 0),
    // which the log-uniform spread draws many of (§13.1: max |c| 1.04 there).
    EXPECT_LT(c2, dist == Timescales::Dist::Uniform ? 1.0 : 1.1);
    EXPECT_LT(s2, 1.5);
    // The v1 init drifts: the same measurement is tens (docs/experiments.md, E15–E19).
    EXPECT_GT(s1, 10.0);
  }
}

// The longest length v2 is for (T = 10 000), over widths and draws: the slowest unit keeps for
// T steps, the cell state does not drift over the 9972 zero steps after the data, and c_T stays
// insensitive to the cell gate's bias (§13.1 quotes the ranges this prints).
TEST(CriticalV2, HoldsAtTenThousandSteps) {
  const int I = 28, T = 10000, S = 2, data = 28;
  double lo_c = 1e9, hi_c = 0, lo_s = 1e9, hi_s = 0;
  for (int N : {32, 64})
    for (uint64_t seed : {1, 2, 3, 4}) {
      SCOPED_TRACE(testing::Message() << "N = " << N << ", seed " << seed);
      const InitSpec spec = theory::critical_v2(CellType::Lstm, {.seq_len = T, .data_var = 0.2,
                                                                 .input_dim = I, .width = N})
                                .spec;
      ASSERT_TRUE(spec.timescales.has_value());
      EXPECT_EQ(spec.timescales->max, double(T));
      Rng xr(seed + 10);
      const std::vector<double> x = padded_rows(S, T, I, data, xr);
      RnnModel<double> net(ModelConfig{CellType::Lstm, GruVariant::ResetAfter, I, N, 10});
      Rng rng(seed);
      draw_from_spec(net, spec, rng, false);
      // A unit of timescale τ has keep-gate bias ln(τ − 1) (§13.1): at most ln(T − 1), and the
      // slowest of N draws of ln τ, uniform on [ln 2, ln T], is above ln(T/2) but for odds 2^-N.
      const auto b = net.b_ih(net.params().data());
      const int keep = describe(CellType::Lstm).keep_gate;
      const double b_max = b.segment(keep * N, N).maxCoeff();
      EXPECT_LE(b_max, std::log(T - 1.0) + 1e-9);
      EXPECT_GT(b_max, std::log(0.5 * T));
      // |c| peaks while the data drive the gates (keep + write is 1 only on average there,
      // §13.1); over the zero stretch it only decays.
      const double c_data = max_abs_cell(net, x, S, data + 1), c_all = max_abs_cell(net, x, S, T);
      EXPECT_LE(c_all, c_data + 0.01);
      EXPECT_LT(c_data, 1.5);  // tanh(1.5) = 0.91: not saturated
      Rng pr(seed + 20);
      const sim::NetworkProbe probe = sim::probe_network(net, x, S, T, data, 0.05, 1, pr);
      const double sens = std::sqrt(probe.dc2[2]) / 0.05;  // RMS |Δc_T|/δ, cell gate's bias
      EXPECT_LT(sens, 1.5);
      lo_c = std::min(lo_c, c_all), hi_c = std::max(hi_c, c_all);
      lo_s = std::min(lo_s, sens), hi_s = std::max(hi_s, sens);
    }
  std::printf("T = %d, N = 32 and 64, 4 draws each: max |c| %.2f–%.2f, |Δc_T|/δ %.2f–%.2f\n", T,
              lo_c, hi_c, lo_s, hi_s);
}

// What the name "critical" draws (docs/theory.md §13.5): v2 for one layer of a gated cell, v1
// for the vanilla cell, a stacked module or v1's knobs, each with its reason.
TEST(CriticalV2, WhatCriticalNames) {
  for (CellType c : {CellType::Lstm, CellType::Gru, CellType::Minimal}) {
    const auto d = theory::critical_design(c, false);
    EXPECT_TRUE(d.v2) << cell_name(c);
    EXPECT_TRUE(d.why.empty()) << d.why;
    EXPECT_NO_THROW(theory::critical_v2(c, {.seq_len = 100, .data_var = 0.1}));
  }
  const auto vanilla = theory::critical_design(CellType::Vanilla, false);
  EXPECT_FALSE(vanilla.v2);
  EXPECT_NE(vanilla.why.find("vanilla cell has no keep gate"), std::string::npos) << vanilla.why;
  EXPECT_THROW(theory::critical_v2(CellType::Vanilla, {.seq_len = 100, .data_var = 0.1}), Error);
  const auto stacked = theory::critical_design(CellType::Lstm, false, true);
  EXPECT_FALSE(stacked.v2);
  EXPECT_NE(stacked.why.find("layers above the first"), std::string::npos) << stacked.why;
  const auto knobs = theory::critical_design(CellType::Gru, true);
  EXPECT_FALSE(knobs.v2);
  EXPECT_NE(knobs.why.find("v1's solve"), std::string::npos) << knobs.why;
}

}  // namespace
}  // namespace rnnmft
