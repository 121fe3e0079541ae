// The finite-width, tied-weight check of an init (docs/theory.md §9.4): the mean-field theory
// assumes weights redrawn at every step; real networks keep theirs. A tied network of the user's
// width is simulated and held against the theory: the spectral radius of its state Jacobian, the
// growth of the distance between two trajectories, and its Q against the theory's transient.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cells/cell_type.h"
#include "spec/init_spec.h"
#include "theory/mean_field.h"

namespace rnnmft::sim {

struct TiedCheckOptions {
  int width = 128;
  int input_dim = 1;
  int steps = 1000;  // T; the trajectories get identical inputs from 0.3·T on
  int trials = 4;
  double input_var = 1.0;
  int input_steps = -1;  // zero inputs from this step on (a padded task); −1: never
  bool spectral_radius = true;  // O(N³): the CLI turns it off above N = 2000
  uint64_t seed = 0;
  GruVariant gru = GruVariant::ResetBefore;
  theory::TheoryOptions theory;  // for the theory's transient
};

struct TiedCheck {
  int width = 0, steps = 0;
  double radius_init = 0, radius_end = 0;  // spectral radius at step 1 and at step T
  double chi = 0;                          // fitted multiplier of the squared distance after t0
  double Q_h = 0, Q_h_theory = 0;          // mean over [T/2, T): tied network, theory's transient
  double Q_c = 0, Q_c_theory = 0;          // LSTM
  double Q_h_se = 0, Q_c_se = 0;           // standard errors over the trials
  bool lstm = false;
  double Q_ratio() const { return Q_h_theory > 0 ? Q_h / Q_h_theory : NAN; }
  // "Behaves as the theory says": the distance does not grow (χ ≤ 1.005, or χ^T ≤ 10 for short
  // T) and Q stays within 3× of the theory (up to two standard errors: with few inputs per step a
  // tied network's Q follows one shared random walk and varies much between networks).
  bool holds() const;
  std::string summary() const;
  nlohmann::json to_json() const;
};

TiedCheck tied_check(const InitSpec& spec, const TiedCheckOptions& opt);

// The check as `theory`, `critical` and `compare` (and the Python module) run it beside the
// theory: T steps (at least 20) of width `hidden` on inputs of the theory's R and GRU variant,
// the spectral radius only up to N = 2000 (O(N³)).
inline constexpr int kTiedCheckMaxSteps = 20000, kTiedCheckMaxRadiusWidth = 2000;
TiedCheckOptions beside_theory(int hidden, int input_dim, int T, const theory::TheoryOptions& opt,
                               int trials, uint64_t seed);

}  // namespace rnnmft::sim
