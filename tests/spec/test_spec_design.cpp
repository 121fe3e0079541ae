// What a spec was designed for ("designed_for"): the JSON round trip, strict parsing, and the
// mismatches train warns about.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "../data/temp_dir.h"
#include "spec/init_spec.h"
#include "util/error.h"

namespace rnnmft {
namespace {

using nlohmann::json;
using testing::TempDir;

json gru_spec() {
  json g;
  for (const char* n : {"reset", "update", "candidate"})
    g[n] = {{"recurrent_std", 0.3}, {"input_std", 0.3}, {"bias_mean", 1.0}, {"bias_std", 0.0}};
  return {{"cell", "gru"}, {"gates", g}};
}

json full_design() {
  return {{"seq_len", 300},       {"input_var", 0.112},
          {"cell", "gru"},        {"gru_variant", "reset-before"},
          {"width", 128},         {"task", "mnist-padded"},
          {"criterion", "m1 = 1"}};
}

// The error names the file and the offending key.
void expect_design_error(const json& design, const std::string& part,
                         const json& base = gru_spec()) {
  json j = base;
  j["designed_for"] = design;
  try {
    InitSpec::from_json(j, "/some/spec.json");
    ADD_FAILURE() << "accepted: " << j.dump();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/some/spec.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << "message: " << msg << "\nmissing: " << part;
  }
}

TEST(SpecDesign, RoundTripAllFields) {
  json j = gru_spec();
  j["designed_for"] = full_design();
  const InitSpec s = InitSpec::from_json(j, "x");
  EXPECT_EQ(s.design.seq_len, 300);
  EXPECT_DOUBLE_EQ(s.design.input_var, 0.112);
  EXPECT_EQ(s.design.gru_variant, "reset-before");
  EXPECT_EQ(s.design.width, 128);
  EXPECT_EQ(s.design.task, "mnist-padded");
  EXPECT_EQ(s.design.criterion, "m1 = 1");
  EXPECT_FALSE(s.design.empty());
  EXPECT_EQ(s.to_json()["designed_for"], full_design());
  EXPECT_EQ(InitSpec::from_json(s.to_json(), "y").to_json(), s.to_json());
}

TEST(SpecDesign, SaveLoadRoundTrip) {
  TempDir dir;
  InitSpec s = InitSpec::from_json(gru_spec(), "x");
  s.design.seq_len = 60;
  s.design.input_var = 0.0;  // set, although zero: it is written
  s.design.width = 8;
  save_spec_file(s, dir.file("spec.json"));
  const InitSpec t = load_spec_file(dir.file("spec.json"));
  EXPECT_EQ(t.design.seq_len, 60);
  EXPECT_EQ(t.design.input_var, 0.0);
  EXPECT_EQ(t.design.width, 8);
  EXPECT_TRUE(t.design.gru_variant.empty());
  EXPECT_TRUE(t.design.task.empty());
  EXPECT_EQ(t.to_json(), s.to_json());
  // Only the set fields are written, with the spec's cell.
  EXPECT_EQ(t.to_json()["designed_for"],
            json({{"cell", "gru"}, {"seq_len", 60}, {"input_var", 0.0}, {"width", 8}}));
}

TEST(SpecDesign, AbsentOrEmptyIsNotWritten) {
  const InitSpec s = InitSpec::from_json(gru_spec(), "x");
  EXPECT_TRUE(s.design.empty());
  EXPECT_TRUE(std::isnan(s.design.input_var));
  EXPECT_FALSE(s.to_json().contains("designed_for"));
  json j = gru_spec();
  j["designed_for"] = json::object();
  EXPECT_TRUE(InitSpec::from_json(j, "x").design.empty());
  // Only the cell: nothing was designed for, nothing to write back.
  j["designed_for"] = {{"cell", "gru"}};
  EXPECT_FALSE(InitSpec::from_json(j, "x").to_json().contains("designed_for"));
}

TEST(SpecDesign, OtherKnownKeysStillAccepted) {
  json j = gru_spec();
  j["diagnostics"] = {{"chi", 1.0}};
  j["comment"] = "hand made";
  j["source"] = "rnnmft critical";
  j["designed_for"] = {{"seq_len", 100}};
  EXPECT_EQ(InitSpec::from_json(j, "x").design.seq_len, 100);
  j["designed_fro"] = j["designed_for"];
  try {
    InitSpec::from_json(j, "x");
    ADD_FAILURE() << "accepted a misspelt key";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'designed_fro'"), std::string::npos);
  }
}

TEST(SpecDesign, StrictErrors) {
  expect_design_error(json::array({300}), "designed_for must be an object");
  expect_design_error({{"seq_length", 300}}, "designed_for: unknown key 'seq_length'");
  expect_design_error({{"seq_len", "300"}}, "designed_for.seq_len must be an integer");
  expect_design_error({{"seq_len", 300.5}}, "designed_for.seq_len must be an integer");
  expect_design_error({{"seq_len", 0}}, "designed_for.seq_len = 0 must be at least 1");
  expect_design_error({{"seq_len", -5}}, "designed_for.seq_len = -5 must be at least 1");
  expect_design_error({{"seq_len", 1e12}}, "designed_for.seq_len must be an integer");
  expect_design_error({{"seq_len", 5000000000}}, "designed_for.seq_len = 5000000000 is too large");
  expect_design_error({{"width", 0}}, "designed_for.width = 0 must be at least 1");
  expect_design_error({{"width", "wide"}}, "designed_for.width must be an integer");
  expect_design_error({{"input_var", -0.1}}, "designed_for.input_var = -0.1 must be");
  expect_design_error({{"input_var", "0.1"}}, "designed_for.input_var must be a number");
  expect_design_error({{"input_var", nullptr}}, "designed_for.input_var must be a number");
  expect_design_error({{"cell", "lstm"}},
                      "designed_for.cell is 'lstm', but the spec's cell is 'gru'");
  expect_design_error({{"cell", 3}}, "designed_for.cell must be a string");
  expect_design_error({{"gru_variant", "reset-middle"}}, "designed_for.gru_variant 'reset-middle'");
  expect_design_error({{"gru_variant", true}}, "designed_for.gru_variant must be a string");
  expect_design_error({{"task", 7}}, "designed_for.task must be a string");
  expect_design_error({{"criterion", json::object()}}, "designed_for.criterion must be a string");
  // A GRU variant on a spec for another cell.
  const json g = {{"recurrent_std", 1.0}, {"input_std", 1.0}, {"bias_mean", 0.0}, {"bias_std", 0.0}};
  json lstm = {{"cell", "lstm"},
               {"gates", {{"input", g}, {"forget", g}, {"cell", g}, {"output", g}}}};
  expect_design_error({{"gru_variant", "reset-before"}}, "designed_for.gru_variant is set", lstm);
}

TEST(SpecDesign, Mismatches) {
  SpecDesign d;
  EXPECT_TRUE(design_mismatches(d, "s.json", 100, 0.0, "reset-after", 8, "mnist-padded").empty());
  d.seq_len = 300;
  d.input_var = 0.0;
  d.gru_variant = "reset-before";
  d.width = 8;
  EXPECT_TRUE(design_mismatches(d, "s.json", 300, 0.0, "reset-before", 8, "t").empty());
  // R within 0.05 (absolute) is a match, beyond is not.
  EXPECT_TRUE(design_mismatches(d, "s.json", 300, 0.04, "reset-before", 8, "t").empty());
  auto w = design_mismatches(d, "s.json", 100, 0.112, "reset-after", 16, "mnist-padded");
  ASSERT_EQ(w.size(), 4u);
  EXPECT_NE(w[0].find("designed for T = 300, but task mnist-padded has T = 100"), std::string::npos)
      << w[0];
  EXPECT_NE(w[1].find("reset-before GRU, but this run uses --gru-variant reset-after"),
            std::string::npos)
      << w[1];
  EXPECT_NE(w[2].find("width 8, but this run has --hidden 16"), std::string::npos) << w[2];
  EXPECT_NE(w[3].find("R = 0, but task mnist-padded has R = 0.112"), std::string::npos) << w[3];
  for (const auto& m : w) EXPECT_NE(m.find("s.json"), std::string::npos) << m;
}

}  // namespace
}  // namespace rnnmft
