// The init spec: per gate, W ~ N(0, σ²/N) (or σ·orthogonal), U ~ N(0, ν²/I), b ~ N(μ, ρ²).
// One JSON format shared by training (`--init`), the theory and the simulator (docs/cells.md
// §Init).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cells/cell_type.h"

namespace rnnmft {

struct GateInit {
  double recurrent_std = 0;  // σ
  double input_std = 0;      // ν
  double bias_mean = 0;      // μ
  double bias_std = 0;       // ρ
  bool orthogonal = false;   // recurrent_dist: "orthogonal" (σ·Haar) instead of "gaussian"
};

struct InitSpec {
  CellType cell = CellType::Lstm;
  std::map<std::string, GateInit> gates;  // every gate of the cell, by gate_names(cell)
  std::string source;                     // where it came from (file, preset), for reports

  const GateInit& gate(const std::string& name) const;
  nlohmann::json to_json() const;
  // Strict: unknown keys, missing or unknown gates, negative or non-finite values, recurrent
  // weights on minimal's embed gate are errors naming `where`.
  static InitSpec from_json(const nlohmann::json& j, const std::string& where);
};

InitSpec load_spec_file(const std::string& path);
void save_spec_file(const InitSpec& spec, const std::string& path);

// Built-in presets (docs/cells.md §Presets): pytorch, keras, orthogonal[:gain], chrono[:T_max].
bool is_preset(const std::string& init);

// The Gaussian moments (σ, ν, μ, ρ per gate) of a preset for a layer of N units and I inputs,
// as the theory sees it. chrono's T_max defaults to seq_len.
InitSpec preset_moments(const std::string& preset, CellType cell, int hidden, int input_dim,
                        int seq_len);

}  // namespace rnnmft
