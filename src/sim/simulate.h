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
  int width = 128;   // the same defaults as every other command (N = 128, I = 1)
  int input_dim = 1;
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
  // Spectral radius of the state Jacobian (LSTM: (c, h)) at the first step (from the zero state)
  // and at the last step: what decides growth in a tied network (docs/theory.md §9).
  bool spectral_radius = false;
  int input_steps = -1;  // inputs are zero from this step on (a padded task's stretch); −1: never
};

struct Stat {
  double mean = 0, std = 0;  // over trials (std: sample standard deviation)
  int n = 0;
};

struct SimResult {
  CellType cell;
  int width = 0;
  bool untied = true;
  Stat Q_h, Q_c;                                 // stationary: mean over [steps/2, steps)
  Stat corr;                    // h^a·h^b / (|h^a| |h^b|) over the last tenth of the steps
  Stat radius_init, radius_end;  // with spectral_radius: max |eigenvalue| at t = 1 and t = steps
  Stat m1, m2;                                   // jacobian (LSTM: J_c)
  Stat m1_state, m2_state;                       // full state (LSTM: (c, h))
  double chi = 0, xi = 0, xi_lo = 0, xi_hi = 0;  // fitted decay of the squared distance
  double chi_lo = 0, chi_hi = 0;                 // χ's 95 % interval over the trials
  int fitted_trials = 0;
  std::vector<double> Q_h_t, Q_c_t, dist_t;  // trajectories (mean over trials; dist: geometric)
  nlohmann::json to_json() const;
};

// Refuses (an Error naming the sizes) before allocating when simulate_memory_bytes does not fit the
// memory available (util/memory.h: the machine's and this process's cgroup's).
SimResult simulate(const InitSpec& spec, const SimOptions& opt);

// What simulate() allocates at most, in bytes, with `threads` trials run at once.
uint64_t simulate_memory_bytes(const InitSpec& spec, const SimOptions& opt, int threads);

}  // namespace rnnmft::sim
