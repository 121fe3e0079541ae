#include <gtest/gtest.h>

#include <cmath>

#include "cells/rnn_model.h"
#include "spec/draw.h"
#include "spec/init_spec.h"
#include "util/error.h"

namespace rnnmft {
namespace {

using nlohmann::json;

void expect_spec_error(const json& j, const std::string& part) {
  try {
    InitSpec::from_json(j, "spec.json");
    ADD_FAILURE() << "accepted: " << j.dump();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

json lstm_spec() {
  json g;
  for (const char* n : {"input", "forget", "cell", "output"})
    g[n] = {{"recurrent_std", 0.5}, {"input_std", 1.0}, {"bias_mean", 0.0}, {"bias_std", 0.1}};
  g["forget"]["bias_mean"] = 3.0;
  return {{"cell", "lstm"}, {"gates", g}};
}

TEST(Spec, RoundTrip) {
  InitSpec s = InitSpec::from_json(lstm_spec(), "x");
  EXPECT_EQ(s.cell, CellType::Lstm);
  EXPECT_DOUBLE_EQ(s.gate("forget").bias_mean, 3.0);
  InitSpec t = InitSpec::from_json(s.to_json(), "y");
  EXPECT_EQ(t.to_json(), s.to_json());
}

TEST(Spec, StrictErrors) {
  json j = lstm_spec();
  j["gates"]["forget"]["bias_stdev"] = 1;
  expect_spec_error(j, "unknown key 'bias_stdev'");
  j = lstm_spec();
  j["gates"]["update"] = j["gates"]["input"];
  expect_spec_error(j, "lstm has no gate 'update'");
  j = lstm_spec();
  j["gates"].erase("output");
  expect_spec_error(j, "gate 'output' of lstm is missing");
  j = lstm_spec();
  j["gates"]["cell"]["input_std"] = "big";
  expect_spec_error(j, "cell.input_std must be a number");
  j = lstm_spec();
  j["gates"]["cell"]["recurrent_dist"] = "uniform";
  expect_spec_error(j, "recurrent_dist must be");
  j = lstm_spec();
  j["cell"] = "transformer";
  expect_spec_error(j, "unknown cell 'transformer'");
  json m = {{"cell", "minimal"},
            {"gates", {{"update", {{"recurrent_std", 1.0}}}, {"embed", {{"recurrent_std", 1.0}}}}}};
  expect_spec_error(m, "embed.recurrent_std must be 0");
  // A negative designed_for integer is refused, not narrowed (-4294967295 would become 1).
  j = lstm_spec();
  j["designed_for"] = {{"seq_len", int64_t(-4294967295)}};
  expect_spec_error(j, "designed_for.seq_len = -4294967295 must be at least 1");
  j["designed_for"] = {{"width", -3}};
  expect_spec_error(j, "designed_for.width = -3 must be at least 1");
}

// Empirical moments of one gate's drawn weights.
struct Moments {
  double w_var, u_var, b_mean, b_var;
};
Moments gate_moments(RnnModel<double>& m, int k) {
  const int N = m.config().hidden, I = m.config().input_dim;
  double* P = m.params().data();
  auto wih = m.w_ih(P).block(k * N, 0, N, I);
  auto bih = m.b_ih(P).segment(k * N, N);
  Moments r{};
  if (k < recurrent_gates(m.config().cell)) {
    auto whh = m.w_hh(P).block(k * N, 0, N, N);
    r.w_var = whh.array().square().mean();
  }
  r.u_var = wih.array().square().mean();
  r.b_mean = bih.mean();
  r.b_var = (bih.array() - r.b_mean).square().mean();
  // Two biases add in the model (b_ih + b_hh): count both.
  if (k < recurrent_gates(m.config().cell)) {
    auto bhh = m.b_hh(P).segment(k * N, N);
    Eigen::VectorXd b = bih + bhh;
    r.b_mean = b.mean();
    r.b_var = (b.array() - r.b_mean).square().mean();
  }
  return r;
}

// The Gaussian moments a preset reports must be the moments of what it actually draws.
TEST(Presets, MomentsMatchTheDrawnWeights) {
  for (CellType cell : {CellType::Lstm, CellType::Gru, CellType::Minimal, CellType::Vanilla})
    for (const char* preset : {"pytorch", "keras", "orthogonal:1.3", "chrono:500"}) {
      if (cell == CellType::Vanilla && std::string(preset).rfind("chrono", 0) == 0) continue;
      const int N = 300, I = 40;
      RnnModel<double> m(ModelConfig{cell, GruVariant::ResetAfter, I, N, 10});
      Rng rng(5);
      draw_preset(m, preset, 784, rng);
      const InitSpec s = preset_moments(preset, cell, N, I, 784);
      const auto& names = gate_names(cell);
      for (size_t k = 0; k < names.size(); ++k) {
        const GateInit& g = s.gate(names[k]);
        const Moments e = gate_moments(m, int(k));
        SCOPED_TRACE(std::string(cell_name(cell)) + " " + preset + " " + names[k]);
        EXPECT_NEAR(e.w_var * N, g.recurrent_std * g.recurrent_std,
                    0.04 * g.recurrent_std * g.recurrent_std + 1e-12);
        EXPECT_NEAR(e.u_var * I, g.input_std * g.input_std,
                    0.05 * g.input_std * g.input_std + 1e-12);
        EXPECT_NEAR(e.b_mean, g.bias_mean, 0.15 * std::max(g.bias_std, 0.02) + 1e-12);
        EXPECT_NEAR(std::sqrt(e.b_var), g.bias_std, 0.15 * g.bias_std + 1e-12);
      }
    }
}

TEST(Presets, ChronoBiases) {
  const int N = 400;
  RnnModel<double> m(ModelConfig{CellType::Lstm, GruVariant::ResetAfter, 1, N, 10});
  Rng rng(9);
  draw_preset(m, "chrono", 1000, rng);
  auto b = m.b_ih(m.params().data());
  for (int i = 0; i < N; ++i) {
    EXPECT_GE(b(N + i), 0.0);
    EXPECT_LE(b(N + i), std::log(999.0));
    EXPECT_DOUBLE_EQ(b(i), -b(N + i));
  }
  EXPECT_THROW(preset_moments("chrono:2", CellType::Lstm, 10, 1, 784), Error);
  EXPECT_THROW(preset_moments("orthogonal:abc", CellType::Lstm, 10, 1, 784), Error);
  EXPECT_THROW(preset_moments("xavier", CellType::Lstm, 10, 1, 784), Error);
}

TEST(Draw, SpecGaussianAndOrthogonal) {
  const int N = 200, I = 30;
  json j = lstm_spec();
  j["gates"]["cell"]["recurrent_dist"] = "orthogonal";
  j["gates"]["cell"]["recurrent_std"] = 2.0;
  RnnModel<double> m(ModelConfig{CellType::Lstm, GruVariant::ResetAfter, I, N, 10});
  Rng rng(1);
  draw_from_spec(m, InitSpec::from_json(j, "x"), rng);
  const Moments f = gate_moments(m, 1);
  EXPECT_NEAR(f.w_var * N, 0.25, 0.01);
  EXPECT_NEAR(f.u_var * I, 1.0, 0.05);
  EXPECT_NEAR(f.b_mean, 3.0, 0.03);
  EXPECT_NEAR(std::sqrt(f.b_var), 0.1, 0.015);
  // The orthogonal block is 2·Q with QᵀQ = I.
  Eigen::MatrixXd w = m.w_hh(m.params().data()).block(2 * N, 0, N, N);
  EXPECT_LT((w.transpose() * w - 4.0 * Eigen::MatrixXd::Identity(N, N)).cwiseAbs().maxCoeff(),
            1e-10);
  Rng r2(2);
  Eigen::MatrixXd q = haar_orthogonal(50, 20, r2);
  EXPECT_LT((q.transpose() * q - Eigen::MatrixXd::Identity(20, 20)).cwiseAbs().maxCoeff(), 1e-12);
  // A spec for another cell is refused.
  RnnModel<double> g(ModelConfig{CellType::Gru, GruVariant::ResetAfter, I, N, 10});
  EXPECT_THROW(draw_from_spec(g, InitSpec::from_json(lstm_spec(), "x"), rng), Error);
}

}  // namespace
}  // namespace rnnmft
