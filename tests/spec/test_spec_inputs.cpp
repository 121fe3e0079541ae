// Inits that look valid but are not: arguments to presets that take none, a gate field left out,
// a name too long to be a file's. Each is refused with what is wrong and where.
#include <gtest/gtest.h>

#include <string>

#include "../data/temp_dir.h"
#include "cells/rnn_model.h"
#include "spec/draw.h"
#include "spec/init_spec.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

using nlohmann::json;
using testing::expect_error;

TEST(PresetArguments, RefusedWhereThePresetTakesNone) {
  expect_error([] { is_preset("keras:5"); }, {"init 'keras:5'", "keras takes no argument"});
  expect_error([] { is_preset("pytorch:xyz"); }, {"pytorch takes no argument"});
  expect_error([] { is_preset("pytorch:"); }, {"pytorch takes no argument"});
  expect_error([] { preset_moments("keras:5", CellType::Lstm, 8, 1, 100); },
               {"keras takes no argument"});
  ModelConfig mc{CellType::Gru, GruVariant::ResetAfter, 1, 8, 2};
  RnnModel<float> m(mc);
  Rng rng(1);
  expect_error([&] { draw_preset(m, "pytorch:xyz", 100, rng); }, {"pytorch takes no argument"});
  // The arguments that exist are numbers.
  expect_error([] { is_preset("chrono:abc"); }, {"'abc' is not a number"});
  expect_error([] { is_preset("orthogonal:"); }, {"is not a number"});
  EXPECT_TRUE(is_preset("orthogonal:1.5"));
  EXPECT_TRUE(is_preset("chrono:784"));
  EXPECT_TRUE(is_preset("keras"));
  EXPECT_FALSE(is_preset("critical"));
  EXPECT_FALSE(is_preset("kerasx"));
}

TEST(PresetArguments, TooLongForAFileName) {
  const std::string name(10000, 'a');
  expect_error([&] { is_preset(name); },
               {"init 'aaaa", "10000 characters", "too long for a file", "--init"});
  expect_error([&] { is_preset("dir/" + std::string(300, 'b') + ".json"); },
               {"too long for a file"});
  EXPECT_FALSE(is_preset("some/dir/" + std::string(200, 'c') + ".json"));
}

json vanilla(const json& gate) { return {{"cell", "vanilla"}, {"gates", {{"hidden", gate}}}}; }

TEST(GateFields, MissingFieldIsAnErrorNamingItsKeyPath) {
  const json full = {{"recurrent_std", 1.0}, {"input_std", 1.0}, {"bias_mean", 0.5},
                     {"bias_std", 0.1}};
  EXPECT_NO_THROW(InitSpec::from_json(vanilla(full), "spec.json"));
  for (const char* key : {"recurrent_std", "input_std", "bias_mean", "bias_std"}) {
    json g = full;
    g.erase(key);
    expect_error([&] { InitSpec::from_json(vanilla(g), "spec.json"); },
                 {"spec.json", std::string("gates.hidden.") + key + " is missing"});
  }
  // recurrent_dist is optional (gaussian).
  json g = full;
  g["recurrent_dist"] = "orthogonal";
  EXPECT_TRUE(InitSpec::from_json(vanilla(g), "s").gate("hidden").orthogonal);
  EXPECT_FALSE(InitSpec::from_json(vanilla(full), "s").gate("hidden").orthogonal);
}

}  // namespace
}  // namespace rnnmft
