// Wide random networks drawn from an init spec, run on i.i.d. Gaussian inputs: measured state
// moments, two-trajectory distance decay (ξ) and Jacobian spectra, tied or untied
// (docs/validation.md). The cells' own forward code (RnnModel::forward_step) runs the networks.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cells/cell_type.h"
#include "spec/init_spec.h"

namespace rnnmft::sim {

struct SimOptions {
  int width = 1000;
  int input_dim = 100;
  int steps = 300;  // total steps per trial
  int t0 = 100;     // inputs of the two trajectories are identical from this step on
  bool untied = true;
  int trials = 4;
  double input_var = 1.0;
  uint64_t seed = 0;
  int jacobians = 2;  // Jacobians measured per trial (at the last steps before t0)
  GruVariant gru = GruVariant::ResetBefore;
  std::string out_dir;     // trajectories and singular values as CSV when non-empty
  int product_steps = 10;  // Jacobians multiplied for the product's singular values (with out_dir)
};

struct Stat {
  double mean = 0, std = 0;  // over trials (std: sample standard deviation)
  int n = 0;
};

struct SimResult {
  CellType cell;
  int width = 0;
  bool untied = true;
  Stat Q_h, Q_c;                                 // stationary: mean over [t0/2, t0)
  Stat m1, m2;                                   // jacobian (LSTM: J_c)
  Stat m1_state, m2_state;                       // full state (LSTM: (c, h))
  double chi = 0, xi = 0, xi_lo = 0, xi_hi = 0;  // fitted decay of the squared distance
  int fitted_trials = 0;
  std::vector<double> Q_h_t, Q_c_t, dist_t;  // trajectories (mean over trials; dist: geometric)
  nlohmann::json to_json() const;
};

SimResult simulate(const InitSpec& spec, const SimOptions& opt);

}  // namespace rnnmft::sim
