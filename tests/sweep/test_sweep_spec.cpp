// The sweep spec: every error named, the grid's expansion and the run ids' stability.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "sweep/sweep_spec.h"
#include "util/error.h"

namespace rnnmft::sweep {
namespace {

SweepSpec parse(const std::string& text) { return SweepSpec::parse(ojson::parse(text), "spec.json"); }

// The message of the error `text` raises ("" when it parses).
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kBase = R"("base": {"task": "mnist-padded", "seq_len": 40, "hidden": 8})";

TEST(SweepSpec, ErrorsNameTheKey) {
  struct Case {
    std::string text, fragment;
  };
  const std::vector<Case> cases = {
      {R"({"grid": {"seed": [1]}, "bogus": 1})", "unknown key 'bogus'"},
      {std::string("{") + kBase + R"(, "grid": {"sede": [1]}})", "unknown axis 'sede'"},
      {std::string("{") + kBase + R"(, "grid": {}})", "grid must be a non-empty object"},
      {std::string("{") + kBase + "}", "grid must be a non-empty object"},
      {std::string("{") + kBase + R"(, "grid": {"seed": []}})", "axis 'seed' has no values"},
      {std::string("{") + kBase + R"(, "grid": {"seed": 3}})", "must be a list of values"},
      {std::string("{") + kBase + R"(, "grid": {"lr": {"lo": "a", "hi": 1, "n": 3}}})",
       "lo and hi must be numbers"},
      {std::string("{") + kBase + R"(, "grid": {"lr": {"lo": 0.1, "hi": 1}}})", "missing 'n'"},
      {std::string("{") + kBase + R"(, "grid": {"lr": {"lo": 0.1, "hi": 1, "n": 0}}})",
       "n must be an integer between 1 and 10000"},
      {std::string("{") + kBase + R"(, "grid": {"lr": {"lo": 0.1, "hi": 1, "n": 2, "step": 1}}})",
       "unknown range key 'step'"},
      {std::string("{") + kBase + R"(, "grid": {"seed": {"lo": 0, "hi": 1, "n": 3}}})",
       "takes integers, but the range gives 0.5"},
      {std::string("{") + kBase + R"(, "grid": {"seed": ["a"]}})", "'seed' takes a non-negative integer"},
      {std::string("{") + kBase + R"(, "grid": {"seed": [-1]}})", "'seed' takes a non-negative integer"},
      {std::string("{") + kBase + R"(, "grid": {"lr": ["fast"]}})", "'lr' takes a number"},
      {std::string("{") + kBase + R"(, "grid": {"forget.bias_men": [1]}})", "is not gate.param"},
      {std::string("{") + kBase + R"(, "grid": {"forget.bias_std": [-1]}})",
       "is a standard deviation"},
      {std::string("{") + kBase + R"(, "grid": {"hidden": [8]}})", "both in base and an axis"},
      {R"({"base": {"tsk": "mnist-row"}, "grid": {"seed": [1]}})", "unknown key 'tsk'"},
      {R"({"base": {"task": "mnist-row", "critical_fix": {"forget.bias": 1}}, "grid": {"seed": [1]}})",
       "is not gate.param"},
      {R"({"base": {"task": "mnist-row"}, "grid": {"forget.bias_mean": {"lo": -1, "hi": 1, "n": 2, "log": true}}})",
       "a log range needs lo, hi > 0"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.fragment), std::string::npos) << c.text << "\n  gave: " << e;
    if (!e.empty()) {
      EXPECT_NE(e.find("spec.json"), std::string::npos) << e;
    }
  }
}

TEST(SweepSpec, ExpansionIsTheCartesianProductInOrder) {
  const SweepSpec s = parse(std::string("{") + kBase +
                            R"(, "grid": {"init": ["pytorch", "chrono"], "seed": [0, 1, 2],
                                "forget.bias_mean": {"lo": 0, "hi": 2, "n": 3}}})");
  ASSERT_EQ(s.size(), 18u);
  const auto units = expand(s, "/tmp/sweep-test");
  ASSERT_EQ(units.size(), 18u);
  // First axis slowest, last fastest.
  EXPECT_EQ(units[0].params["init"], "pytorch");
  EXPECT_EQ(units[0].params["seed"], 0);
  EXPECT_DOUBLE_EQ(units[1].params["forget.bias_mean"].get<double>(), 1.0);
  EXPECT_EQ(units[3].params["seed"], 1);
  EXPECT_EQ(units[9].params["init"], "chrono");
  std::set<std::string> ids, combos;
  for (const auto& u : units) {
    ids.insert(u.id);
    combos.insert(u.params.dump());
    // Options land in the training configuration, spec parameters in the overrides.
    EXPECT_EQ(u.config["init"], u.params["init"]);
    EXPECT_EQ(u.config["seed"], u.params["seed"]);
    EXPECT_EQ(u.config["hidden"], 8);
    EXPECT_EQ(u.config["task"]["seq_len"], 40);
    EXPECT_EQ(u.spec_overrides["forget.bias_mean"], u.params["forget.bias_mean"]);
    EXPECT_EQ(u.config["out"], "/tmp/sweep-test/runs/" + u.id);
  }
  EXPECT_EQ(ids.size(), 18u);
  EXPECT_EQ(combos.size(), 18u);
}

TEST(SweepSpec, LogRangesAndIntegerRanges) {
  const SweepSpec s = parse(std::string("{") + kBase +
                            R"(, "grid": {"lr": {"lo": 0.001, "hi": 0.1, "n": 3, "log": true},
                                "steps": {"lo": 10, "hi": 30, "n": 3}}})");
  EXPECT_NEAR(s.axes[0].values[1].get<double>(), 0.01, 1e-15);
  EXPECT_TRUE(s.axes[1].values[1].is_number_integer());
  EXPECT_EQ(s.axes[1].values[1].get<int>(), 20);
}

TEST(SweepSpec, RunIdsAreStable) {
  // The id depends on the parameters only: not on key order, not on 1 vs 1.0 for a real, and it
  // is the same in every build (a sweep resumed by a newer binary finds its runs).
  const auto a = run_id(nlohmann::json::parse(R"({"seed": 1, "init": "chrono"})"));
  const auto b = run_id(nlohmann::json::parse(R"({"init": "chrono", "seed": 1})"));
  EXPECT_EQ(a, b);
  // FNV-1a of '{"init":"chrono","seed":1}', computed independently (Python, 64-bit wrap).
  EXPECT_EQ(a, "r4bacbd171f57ad9c");
  EXPECT_NE(a, run_id(nlohmann::json::parse(R"({"init": "chrono", "seed": 2})")));
  const SweepSpec s1 = parse(std::string("{") + kBase + R"(, "grid": {"forget.bias_mean": [1]}})");
  const SweepSpec s2 = parse(std::string("{") + kBase + R"(, "grid": {"forget.bias_mean": [1.0]}})");
  EXPECT_EQ(expand(s1, "d")[0].id, expand(s2, "d")[0].id);
  // A range gives the value a list would hold: 0.1..0.5 in 5 steps has 0.3, not 0.30000000000000004.
  const SweepSpec r = parse(std::string("{") + kBase + R"(, "grid": {"lr": {"lo": 0.1, "hi": 0.5, "n": 5}}})");
  const SweepSpec l = parse(std::string("{") + kBase + R"(, "grid": {"lr": [0.3]}})");
  EXPECT_EQ(expand(r, "d")[2].id, expand(l, "d")[0].id);
}

TEST(SweepSpec, RunConfigurationsAreValidatedBeforeWork) {
  auto expand_error = [](const std::string& text) -> std::string {
    try {
      expand(parse(text), "d");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(expand_error(R"({"base": {"task": "mnist-row"}, "grid": {"cell": ["lstm", "lsmt"]}})")
                .find("lsmt"),
            std::string::npos);
  EXPECT_NE(expand_error(R"({"base": {"hidden": 8}, "grid": {"seed": [0]}})").find("no task"),
            std::string::npos);
  EXPECT_NE(expand_error(R"({"base": {"task": "mnist-row", "critical_fix": {"forget.bias_mean": 1}},
                             "grid": {"init": ["pytorch"]}})")
                .find("critical_fix sets a knob of v1's solve: it applies to init \"critical-v1\""),
            std::string::npos);
  // critical-v2 solves nothing: v1's knobs are refused there, not silently dropped.
  EXPECT_NE(expand_error(R"({"base": {"task": "mnist-row", "critical_criterion": "untied"},
                             "grid": {"init": ["critical-v2"]}})")
                .find("critical_criterion sets a knob of v1's solve"),
            std::string::npos);
  // "critical" is v2 on the LSTM: its forget biases come from the timescales, so a spec
  // parameter on them is refused before any run, not in each run; v1 (a critical_fix) takes it.
  EXPECT_NE(expand_error(R"({"base": {"task": "mnist-row", "init": "critical"},
                             "grid": {"forget.bias_mean": [1, 2]}})")
                .find("the spec draws forget's biases from its timescales"),
            std::string::npos);
  EXPECT_EQ(expand_error(R"({"base": {"task": "mnist-row", "init": "critical",
                                      "critical_fix": {"cell.input_std": 0.5}},
                             "grid": {"forget.bias_mean": [1, 2]}})"),
            "");
  EXPECT_NE(
      expand_error(R"({"base": {"task": "mnist-row", "init": "critical-v2", "cell": "vanilla"},
                             "grid": {"seed": [0]}})")
          .find("the vanilla cell has no gate"),
      std::string::npos);
  EXPECT_NE(expand_error(R"({"base": {"task": "mnist-row"}, "grid": {"lr": [-1]}})").find("--lr"),
            std::string::npos);
  EXPECT_NE(expand_error(R"({"base": {"task": "mnist-row"}, "grid": {"init": ["no/such/spec.json"]}})")
                .find("neither a preset"),
            std::string::npos);
}

TEST(SweepSpec, CanonicalFormRoundTrips) {
  const SweepSpec s = parse(std::string("{") + kBase +
                            R"(, "grid": {"seed": [0, 1], "cell.recurrent_std": {"lo": 0, "hi": 1, "n": 2}}})");
  const SweepSpec t = SweepSpec::parse(s.canonical(), "canonical");
  EXPECT_EQ(s.canonical().dump(), t.canonical().dump());
  EXPECT_EQ(t.axes[0].name, "seed");  // the spec's axis order is kept
}

}  // namespace
}  // namespace rnnmft::sweep
