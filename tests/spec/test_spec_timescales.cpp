// Timescale specs (docs/theory.md §13): the keep gate's bias ln(τ − 1) per unit with τ from a
// distribution, the LSTM's input gate coupled to it.
#include <gtest/gtest.h>

#include <cmath>

#include "cells/rnn_model.h"
#include "spec/draw.h"
#include "spec/init_spec.h"
#include "util/error.h"

namespace rnnmft {
namespace {

using nlohmann::json;

// Gaussian recurrent blocks unless `orthogonal` (a Haar draw of a large block is slow).
json spec_json(const char* cell, json timescales, bool orthogonal = true) {
  json g;
  for (const auto& n : gate_names(parse_cell(cell))) {
    const bool rec = gate_index(parse_cell(cell), n) < recurrent_gates(parse_cell(cell));
    g[n] = {{"recurrent_std", rec ? 0.5 : 0.0},
            {"input_std", 0.4},
            {"bias_mean", 0.0},
            {"bias_std", 0.0},
            {"recurrent_dist", rec && orthogonal ? "orthogonal" : "gaussian"}};
  }
  return {{"cell", cell}, {"gates", g}, {"timescales", timescales}};
}

void expect_error(const json& j, const std::string& part) {
  try {
    InitSpec::from_json(j, "spec.json");
    ADD_FAILURE() << "accepted: " << j.dump();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Timescales, RoundTrip) {
  const json j = spec_json("lstm", {{"dist", "log-uniform"}, {"min", 3.0}, {"max", 500.0}});
  const InitSpec s = InitSpec::from_json(j, "x");
  ASSERT_TRUE(s.timescales.has_value());
  EXPECT_EQ(s.timescales->dist, Timescales::Dist::LogUniform);
  EXPECT_EQ(s.timescales->min, 3.0);
  EXPECT_EQ(s.timescales->max, 500.0);
  EXPECT_EQ(InitSpec::from_json(s.to_json(), "y").to_json(), s.to_json());
  EXPECT_EQ(s.to_json()["timescales"]["dist"], "log-uniform");
  // Without timescales nothing is written.
  json k = j;
  k.erase("timescales");
  EXPECT_FALSE(InitSpec::from_json(k, "z").to_json().contains("timescales"));
}

TEST(Timescales, StrictErrors) {
  const json ok = {{"dist", "uniform"}, {"min", 2.0}, {"max", 100.0}};
  auto with = [&](const char* key, json v) {
    json t = ok;
    t[key] = v;
    return spec_json("lstm", t);
  };
  expect_error(with("min", 1.0), "timescales.min = 1 must be in (1, 1e6]");
  expect_error(with("max", 1.5), "timescales.max = 1.5 is below timescales.min = 2");
  expect_error(with("max", "long"), "timescales.max must be a number");
  expect_error(with("dist", "normal"), "timescales.dist must be \"uniform\" or \"log-uniform\"");
  expect_error(with("mean", 3), "timescales: unknown key 'mean'");
  expect_error(spec_json("lstm", {{"min", 2.0}}), "timescales needs min and max");
  expect_error(spec_json("lstm", 5), "timescales must be an object");
  json biased = spec_json("lstm", ok);
  biased["gates"]["forget"]["bias_mean"] = 1.0;
  expect_error(biased, "gates.forget's biases are drawn from them");
  biased = spec_json("lstm", ok);
  biased["gates"]["input"]["bias_std"] = 0.1;
  expect_error(biased, "gates.input's biases are drawn from them");
  expect_error(spec_json("vanilla", ok), "timescales need a gated cell");
  // The output gate's bias is its own.
  json out = spec_json("lstm", ok);
  out["gates"]["output"]["bias_mean"] = 1.0;
  EXPECT_NO_THROW(InitSpec::from_json(out, "x"));
}

// The drawn biases: τ = 1 + e^b within [min, max], distributed as the spec says (mean of τ for
// uniform, of ln τ for log-uniform, within 4 standard errors), the LSTM's input gate −b unit by
// unit, and their sample moments those gaussian_moments reports (closed form / quadrature).
TEST(Timescales, DrawnAsSpecified) {
  const int N = 2000, I = 5;
  for (const char* cell : {"lstm", "gru", "minimal"}) {
    for (const char* dist : {"uniform", "log-uniform"}) {
      SCOPED_TRACE(std::string(cell) + " " + dist);
      const double lo = 2.0, hi = 1000.0;
      const InitSpec s =
          InitSpec::from_json(spec_json(cell, {{"dist", dist}, {"min", lo}, {"max", hi}}, false), "x");
      const CellType ct = parse_cell(cell);
      RnnModel<double> m(ModelConfig{ct, GruVariant::ResetAfter, I, N, 10});
      Rng rng(11);
      draw_from_spec(m, s, rng);
      const CellDesc& d = describe(ct);
      auto b = m.b_ih(m.params().data());
      double sum = 0, sum2 = 0, bm = 0, bm2 = 0;
      for (int i = 0; i < N; ++i) {
        const double kb = b(d.keep_gate * N + i), tau = 1.0 + std::exp(kb);
        ASSERT_GE(tau, lo - 1e-9);
        ASSERT_LE(tau, hi + 1e-9);
        if (d.input_gate >= 0) {
          EXPECT_EQ(b(d.input_gate * N + i), -kb);
        }
        const double v = std::string(dist) == "uniform" ? tau : std::log(tau);
        sum += v;
        sum2 += v * v;
        bm += kb;
        bm2 += kb * kb;
      }
      const double mean = sum / N, sd = std::sqrt(sum2 / N - mean * mean);
      const double expect =
          std::string(dist) == "uniform" ? (lo + hi) / 2 : (std::log(lo) + std::log(hi)) / 2;
      EXPECT_NEAR(mean, expect, 4 * sd / std::sqrt(double(N)));
      const auto [mu, rho] = s.timescales->bias_moments();
      const double bmean = bm / N, bsd = std::sqrt(bm2 / N - bmean * bmean);
      EXPECT_NEAR(bmean, mu, 4 * rho / std::sqrt(double(N)));
      EXPECT_NEAR(bsd, rho, 0.05 * rho);
      const InitSpec g = s.gaussian_moments();
      EXPECT_FALSE(g.timescales.has_value());
      EXPECT_EQ(g.gate(d.gates[size_t(d.keep_gate)]).bias_mean, mu);
      if (d.input_gate >= 0) {
        EXPECT_EQ(g.gate(d.gates[size_t(d.input_gate)]).bias_mean, -mu);
      }
      // The other gates keep their Gaussian biases (here 0).
      for (int k = 0; k < d.input_gates; ++k) {
        if (k == d.keep_gate || k == d.input_gate) continue;
        for (int i = 0; i < N; ++i) ASSERT_EQ(b(k * N + i), 0.0);
      }
    }
  }
}

// {uniform, 2, T_max} is chrono[:T_max]'s distribution of keep biases: the moments the chrono
// preset reports, and the moments of what the preset draws.
TEST(Timescales, UniformIsChrono) {
  const InitSpec s =
      InitSpec::from_json(
          spec_json("lstm", {{"dist", "uniform"}, {"min", 2.0}, {"max", 700.0}}, false), "x");
  const auto [mu, rho] = s.timescales->bias_moments();
  const InitSpec c = preset_moments("chrono:700", CellType::Lstm, 64, 28, 1000);
  EXPECT_NEAR(mu, c.gate("forget").bias_mean, 1e-12);
  EXPECT_NEAR(rho, c.gate("forget").bias_std, 1e-12);
  const int N = 1000;  // chrono's recurrent block is one Haar draw of 4N × N
  RnnModel<double> m(ModelConfig{CellType::Lstm, GruVariant::ResetAfter, 3, N, 10});
  Rng rng(3);
  draw_preset(m, "chrono:700", 1000, rng);
  auto b = m.b_ih(m.params().data());
  double bm = 0;
  for (int i = 0; i < N; ++i) bm += b(N + i) / N;
  EXPECT_NEAR(bm, mu, 4 * rho / std::sqrt(double(N)));
}

// min = max: every unit gets the one timescale, and its moments are ln(τ − 1) and 0.
TEST(Timescales, DegenerateRangeIsOneTimescale) {
  const InitSpec s =
      InitSpec::from_json(spec_json("gru", {{"dist", "log-uniform"}, {"min", 50.0}, {"max", 50.0}}),
                          "x");
  const auto [mu, rho] = s.timescales->bias_moments();
  EXPECT_DOUBLE_EQ(mu, std::log(49.0));
  EXPECT_EQ(rho, 0.0);
  RnnModel<double> m(ModelConfig{CellType::Gru, GruVariant::ResetAfter, 3, 20, 10});
  Rng rng(3);
  draw_from_spec(m, s, rng);
  auto b = m.b_ih(m.params().data());
  for (int i = 0; i < 20; ++i) EXPECT_NEAR(b(describe(CellType::Gru).keep_gate * 20 + i), mu, 1e-12);
}

}  // namespace
}  // namespace rnnmft
