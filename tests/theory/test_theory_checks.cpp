// The theory's checks on itself: a critical search that says "reached" meets its criterion (or
// documents the one knob it could not set), and the quadrature reports its own error
// (docs/theory.md §1.1, §6.1).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/mean_field.h"
#include "theory/verdict.h"

namespace rnnmft::theory {
namespace {

double knob(const CriticalResult& r, const std::string& name) {
  for (const auto& [k, v] : r.knobs)
    if (k == name) return v;
  ADD_FAILURE() << "no knob " << name;
  return NAN;
}

// At T = 200 the GRU's content scale was declared "free" because at σ = 1000 the saturated
// candidate gives the tied gain of σ = 0 back; the search then kept σ = 0, ln G_T = −0.999, and
// still said "reached", and the solution jumped from σ = 0 (T = 230) to 3.01 (T = 240).
TEST(Critical, GruTiedGainIsSolvedAtShortLengthsWithoutAJump) {
  double prev = NAN;
  for (int T : {100, 200, 230, 240}) {
    SCOPED_TRACE(T);
    CriticalOptions o;
    o.seq_len = T;
    const CriticalResult r = critical_init(CellType::Gru, o);
    EXPECT_TRUE(r.reached);
    EXPECT_NEAR(r.log_gain_T, 0.0, o.tol);
    EXPECT_NEAR(r.log_m1_T, -1.0, o.tol);
    const double sigma = knob(r, "candidate.recurrent_std");
    EXPECT_GT(sigma, 2.0);
    EXPECT_TRUE(r.notes.empty() || r.notes[0].find("no recurrent signal") == std::string::npos);
    if (!std::isnan(prev)) {
      EXPECT_NEAR(sigma, prev, 0.1);
    }
    prev = sigma;
  }
  // Also with the task's input statistics (pixel MNIST's R at T = 100).
  CriticalOptions px;
  px.seq_len = 100;
  px.theory.input_var = 0.112;
  const CriticalResult r = critical_init(CellType::Gru, px);
  EXPECT_TRUE(r.reached);
  EXPECT_NEAR(r.log_gain_T, 0.0, px.tol);
  EXPECT_GT(knob(r, "candidate.recurrent_std"), 2.0);
}

// Where there is truly no recurrent signal (the minimalRNN with R = 0: h = 0, J = z·I), no content
// scale moves the tied gain: ξ = T alone is solved, and the note says so.
TEST(Critical, MinimalWithoutInputsHasNoGainToSet) {
  CriticalOptions o;
  o.seq_len = 200;
  o.theory.input_var = 0.0;
  const CriticalResult r = critical_init(CellType::Minimal, o);
  EXPECT_NEAR(r.log_m1_T, -1.0, o.tol);
  EXPECT_EQ(knob(r, "update.recurrent_std"), 0.0);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("no recurrent signal"), std::string::npos);
}

InitSpec narrow_gru() {  // a candidate scale of 25: tanh' far narrower than the rule's spacing
  return InitSpec::from_json(nlohmann::json::parse(R"({"cell": "gru", "gates": {
      "update": {"recurrent_std": 0, "input_std": 0, "bias_mean": 0.5, "bias_std": 0},
      "reset": {"recurrent_std": 0, "input_std": 0, "bias_mean": 2, "bias_std": 0},
      "candidate": {"recurrent_std": 25, "input_std": 0.5, "bias_mean": 0, "bias_std": 0}}})"),
                             "narrow");
}

// m1 at orders 100 / 200 / 400: 0.72 / 1.75 / 3.07. The result says it is not converged, at the
// highest order tried, and the verdict leads with it.
TEST(Quadrature, UnconvergedTheoryIsReportedAndTheOrderRaised) {
  TheoryOptions o;
  const TheoryResult r = analyze(narrow_gru(), o);
  ASSERT_TRUE(r.quadrature.checked);
  EXPECT_FALSE(r.quadrature.converged);
  EXPECT_EQ(r.quadrature.order, 400);
  EXPECT_EQ(r.quadrature.compared_order, 200);
  EXPECT_GT(r.quadrature.error, 0.1);
  EXPECT_EQ(verdict(r, 1000).rfind("NOT CONVERGED", 0), 0u) << verdict(r, 1000);
  EXPECT_FALSE(r.to_json()["quadrature"]["converged"].get<bool>());
  // The same numbers as a direct evaluation at that order.
  TheoryOptions at400;
  at400.order = 400;
  at400.order_check = false;
  EXPECT_EQ(analyze(narrow_gru(), at400).jacobian.m1, r.jacobian.m1);
}

// The shipped points converge at the default order: no warning, and an error below the tolerance
// (measured against order 50: ξ within 4.4e-5 for the minimalRNN, 2.3e-5 for the vanilla cell,
// whose ξ = 6·10⁵ is the most sensitive number here).
TEST(Quadrature, ShippedPointsConvergeAtTheDefaultOrder) {
  for (CellType cell : {CellType::Gru, CellType::Vanilla, CellType::Minimal}) {
    SCOPED_TRACE(cell_name(cell));
    CriticalOptions co;
    co.seq_len = 1000;
    const CriticalResult cr = critical_init(cell, co);
    EXPECT_TRUE(cr.diagnostics.quadrature.checked);
    EXPECT_TRUE(cr.diagnostics.quadrature.converged);
    EXPECT_EQ(cr.diagnostics.quadrature.order, co.theory.order);
    EXPECT_LT(cr.diagnostics.quadrature.error, co.theory.order_tol);
    EXPECT_EQ(verdict(cr.diagnostics, 1000).find("NOT CONVERGED"), std::string::npos);
  }
}

}  // namespace
}  // namespace rnnmft::theory
