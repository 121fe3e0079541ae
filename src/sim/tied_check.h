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

// What a comparison of a measurement (with its noise) against the theory concluded.
enum class Agreement { Agrees, Disagrees, Inconclusive };
const char* agreement_name(Agreement a);  // "agrees", "disagrees", "inconclusive"

struct TiedCheck {
  int width = 0, steps = 0;
  double radius_init = 0, radius_end = 0;  // spectral radius at step 1 and at step T
  double chi = 0, chi_lo = 0, chi_hi = 0;  // fitted multiplier of the squared distance after t0
  double corr = 1, corr_se = 0;            // the trajectories' correlation over the last tenth
  double Q_h = 0, Q_h_theory = 0;          // mean over [T/2, T): tied network, theory's transient
  double Q_c = 0, Q_c_theory = 0;          // LSTM
  double Q_h_se = 0, Q_c_se = 0;           // standard errors over the trials
  bool lstm = false;
  // The theory's phase (with inputs at every step; not judged for a padded task's zero stretch).
  bool judge_phase = false, theory_chaotic = false;
  double theory_c_star = 1, theory_chi_coincident = 0, theory_chi = 0;
  double Q_ratio() const { return Q_h_theory > 0 ? Q_h / Q_h_theory : NAN; }
  // docs/theory.md §9.4. Three comparisons, each agrees / disagrees / inconclusive:
  // - phase: ordered theory — the distance must not grow by more than 10× over the 0.7·T steps
  //   after t0 (decided on χ's 95 % interval), and where the theory's distance shrinks 1000×
  //   over those steps the trajectories must not stay apart (1 − corr > 0.05 beyond two
  //   standard errors: the tied network is chaotic where the theory is not); chaotic theory —
  //   the trajectories must stay apart at the theory's c* (1 − corr within 2× of 1 − c*,
  //   allowing two standard errors);
  // - Q_h (and Q_c): within 3× of the theory's transient, allowing two standard errors.
  // Disagrees if any disagrees; inconclusive if any is within its noise of the boundary.
  Agreement phase_agreement() const;
  Agreement q_agreement(double q, double se, double theory) const;
  Agreement agreement() const;
  bool holds() const { return agreement() == Agreement::Agrees; }
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
