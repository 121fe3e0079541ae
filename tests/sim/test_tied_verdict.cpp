// The tied check's verdict (docs/theory.md §9.4): agrees only when every comparison is decided
// in the theory's favour, disagrees when one is decided against it, and is inconclusive when a
// measurement's noise spans a bound.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sim/tied_check.h"
#include "spec/init_spec.h"

namespace rnnmft::sim {
namespace {

TiedCheck ordered_ok() {
  TiedCheck c;
  c.width = 128;
  c.steps = 1000;
  c.chi = 0.999;
  c.chi_lo = 0.998;
  c.chi_hi = 1.0;
  c.corr = 1.0;
  c.corr_se = 0.0;
  c.Q_h = 1.0;
  c.Q_h_se = 0.1;
  c.Q_h_theory = 1.0;
  c.judge_phase = true;
  c.theory_chi = 0.999;
  return c;
}

TEST(TiedVerdict, AgreesOnlyWhenEveryComparisonIsDecided) {
  const TiedCheck c = ordered_ok();
  EXPECT_EQ(c.agreement(), Agreement::Agrees);
  EXPECT_NE(c.summary().find("behaves as the theory says"), std::string::npos);
  EXPECT_EQ(c.to_json()["verdict"], "agrees");
}

// The main job's chrono LSTM: Q_h 10.11× the theory with ±2 s.e. spanning 0.43–20×: that says
// neither "behaves" nor "does not".
TEST(TiedVerdict, NoisyQIsInconclusive) {
  TiedCheck c = ordered_ok();
  c.Q_h_theory = 5.3e-6;
  c.Q_h = 5.36e-5;
  c.Q_h_se = 2.6e-5;
  EXPECT_EQ(c.q_agreement(c.Q_h, c.Q_h_se, c.Q_h_theory), Agreement::Inconclusive);
  EXPECT_EQ(c.agreement(), Agreement::Inconclusive);
  EXPECT_FALSE(c.holds());
  EXPECT_NE(c.summary().find("inconclusive"), std::string::npos);
  EXPECT_EQ(c.summary().find("behaves as the theory says"), std::string::npos);
  // Decided against: the whole interval beyond 3×.
  c.Q_h_se = 1e-6;
  EXPECT_EQ(c.agreement(), Agreement::Disagrees);
}

// A chaotic theory (χ = 1.21 at c = 1, c* = 0.6) and a tied network whose trajectories
// converge (correlation 1, χ = 0.99989): not "behaves", whatever its distance's slope.
TEST(TiedVerdict, ChaoticTheoryAgainstAnOrderedNetworkDisagrees) {
  TiedCheck c = ordered_ok();
  c.theory_chaotic = true;
  c.theory_chi_coincident = 1.21;
  c.theory_c_star = 0.6;
  c.chi = 0.99989;
  c.corr = 0.9999;
  c.corr_se = 1e-4;
  EXPECT_EQ(c.phase_agreement(), Agreement::Disagrees);
  EXPECT_NE(c.summary().find("DOES NOT"), std::string::npos);
  // The same theory, and a network that stays apart at c*: agrees.
  c.corr = 0.62;
  c.corr_se = 0.02;
  EXPECT_EQ(c.phase_agreement(), Agreement::Agrees);
  // … with a correlation too noisy to tell.
  c.corr_se = 0.2;
  EXPECT_EQ(c.phase_agreement(), Agreement::Inconclusive);
}

// An ordered theory whose distance shrinks 10⁹× over the fitted steps, and trajectories that
// stay apart in the tied network (it is chaotic where the theory is not).
TEST(TiedVerdict, TrajectoriesApartWhereTheTheoryConvergesDisagree) {
  TiedCheck c = ordered_ok();
  c.theory_chi = 0.7;
  c.chi = 0.99983;
  c.chi_lo = 0.999;
  c.chi_hi = 1.0007;
  c.corr = 0.15;
  c.corr_se = 0.1;
  EXPECT_EQ(c.phase_agreement(), Agreement::Disagrees);
  // A growing distance, decided on χ's interval.
  TiedCheck g = ordered_ok();
  g.chi = 1.01;
  g.chi_lo = 1.008;
  g.chi_hi = 1.012;
  EXPECT_EQ(g.phase_agreement(), Agreement::Disagrees);
  g.chi_lo = 0.99;  // the interval spans the bound
  EXPECT_EQ(g.phase_agreement(), Agreement::Inconclusive);
}

// End to end: a GRU whose theory is ordered with ξ ≈ 3 but whose tied network (spectral radius
// 1.26 at the zero state) keeps two trajectories apart, checked by simulation.
TEST(TiedVerdict, SimulatedTiedChaosIsCaught) {
  const InitSpec spec = InitSpec::from_json(nlohmann::json::parse(R"({"cell": "gru", "gates": {
      "update": {"recurrent_std": 0, "input_std": 0, "bias_mean": 0, "bias_std": 0},
      "reset": {"recurrent_std": 0, "input_std": 0, "bias_mean": 2, "bias_std": 0},
      "candidate": {"recurrent_std": 2, "input_std": 0.5, "bias_mean": 0, "bias_std": 0}}})"),
                                            "tied-chaos");
  TiedCheckOptions o;
  o.width = 128;
  o.steps = 400;
  o.trials = 4;
  const TiedCheck c = tied_check(spec, o);
  EXPECT_FALSE(c.theory_chaotic);
  EXPECT_LT(c.theory_chi, 0.8);
  EXPECT_GT(c.radius_init, 1.1);
  EXPECT_EQ(c.phase_agreement(), Agreement::Disagrees) << c.summary();
  EXPECT_FALSE(c.holds());
}

}  // namespace
}  // namespace rnnmft::sim
