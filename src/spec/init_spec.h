// The init spec: per gate, W ~ N(0, σ²/N) (or σ·orthogonal), U ~ N(0, ν²/I), b ~ N(μ, ρ²).
// One JSON format shared by training (`--init`), the theory and the simulator (docs/cells.md
// §Init).
#pragma once

#include <cmath>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cells/cell_type.h"

namespace rnnmft {

struct GateInit {
  double recurrent_std = 0;  // σ
  double input_std = 0;      // ν
  double bias_mean = 0;      // μ
  double bias_std = 0;       // ρ
  bool orthogonal = false;   // recurrent_dist: "orthogonal" (σ·Haar) instead of "gaussian"
};

// What a spec was designed for (JSON "designed_for"), so that a run on something else can say
// so. Unset fields (0, NaN, empty) are neither written nor checked.
struct SpecDesign {
  int seq_len = 0;          // T
  double input_var = NAN;   // R: per-component second moment of the inputs
  std::string gru_variant;  // gru only: the variant the theory describes
  int width = 0;            // N (hidden units)
  std::string task;         // e.g. "mnist-padded"
  std::string criterion;    // how it was chosen, free text

  bool empty() const {
    return seq_len == 0 && std::isnan(input_var) && gru_variant.empty() && width == 0 &&
           task.empty() && criterion.empty();
  }
};

// A spread of timescales over units in place of the keep gate's Gaussian bias (docs/theory.md
// §13): unit k draws τ_k from `dist` on [min, max], its keep gate's bias is ln(τ_k − 1) (keep
// σ = 1 − 1/τ_k) and, in the LSTM, its input gate's bias is −ln(τ_k − 1) (write σ = 1/τ_k), so
// every unit's write is coupled to its keep: c is an average of the cell gate and its drift gain
// write/(1 − keep) is 1. The GRU's and the minimalRNN's writes (1 − keep) are coupled by the
// cell. chrono[:T_max] is {uniform, 2, T_max}.
struct Timescales {
  enum class Dist { Uniform, LogUniform };
  Dist dist = Dist::Uniform;
  double min = 2, max = 2;
  static const char* dist_name(Dist d) { return d == Dist::Uniform ? "uniform" : "log-uniform"; }
  // "uniform" or "log-uniform"; nullopt for anything else.
  static std::optional<Dist> dist_from_name(std::string_view name) {
    if (name == "uniform") return Dist::Uniform;
    if (name == "log-uniform") return Dist::LogUniform;
    return std::nullopt;
  }
  // E[b] and the standard deviation of b = ln(τ − 1): the Gaussian moments the mean field uses.
  std::pair<double, double> bias_moments() const;
};

struct InitSpec {
  CellType cell = kDefaultCell;
  std::map<std::string, GateInit> gates;  // every gate of the cell, by gate_names(cell)
  std::string source;                     // where it came from (file, preset), for reports
  SpecDesign design;                      // "designed_for"; empty for specs that do not say
  std::optional<Timescales> timescales;   // "timescales": the keep gate's biases, coupled

  // The spec the mean-field theory reads: the timescales replaced by their bias moments (keep
  // gate μ, ρ; LSTM input gate −μ, ρ), the per-unit coupling dropped (docs/theory.md §13).
  // Without timescales, the spec itself.
  InitSpec gaussian_moments() const;

  const GateInit& gate(const std::string& name) const;
  nlohmann::json to_json() const;
  // Strict: unknown keys, missing or unknown gates, negative or non-finite values, recurrent
  // weights on minimal's embed gate, a malformed "designed_for" are errors naming `where`.
  static InitSpec from_json(const nlohmann::json& j, const std::string& where);
};

// How a run differs from what `d` was designed for, one sentence per mismatch (seq_len, GRU
// variant, width, input_var by more than 0.05); empty when it matches or `d` is empty.
// `what` names the spec in the sentences.
std::vector<std::string> design_mismatches(const SpecDesign& d, const std::string& what,
                                           int seq_len, double input_var,
                                           const std::string& gru_variant, int width,
                                           const std::string& task);

InitSpec load_spec_file(const std::string& path);
void save_spec_file(const InitSpec& spec, const std::string& path);

// Built-in presets (docs/cells.md §Presets): pytorch, keras, orthogonal[:gain], chrono[:T_max].
// Throws an Error for a preset with an argument it does not take (keras:5, pytorch:x) or one that
// is not a number (chrono:x), and for a name too long to be a file's (every command asks this
// first about an --init).
bool is_preset(const std::string& init);

// The Gaussian moments (σ, ν, μ, ρ per gate) of a preset for a layer of N units and I inputs,
// as the theory sees it. chrono's T_max defaults to seq_len.
InitSpec preset_moments(const std::string& preset, CellType cell, int hidden, int input_dim,
                        int seq_len);

}  // namespace rnnmft
