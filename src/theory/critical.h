// Critical initialization (docs/theory.md §6): hyperparameters with m1 = 1 for the Jacobian on
// which isometry is judged (LSTM: J_c), so that χ = 1 and ξ diverges (or exceeds T), with the
// variance of the spectrum as small as the fixed values allow.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "theory/mean_field.h"

namespace rnnmft::theory {

struct CriticalOptions {
  int seq_len = 1000;
  // "gate.param=value" overrides of the base point (param: recurrent_std, input_std, bias_mean,
  // bias_std, recurrent_dist).
  std::vector<std::string> fixes;
  TheoryOptions theory;
  double tol = 1e-4;  // |m1 − 1| accepted
};

struct CriticalResult {
  InitSpec spec;
  TheoryResult diagnostics;
  std::string knob;  // the "gate.param" solved for
  double knob_value = 0;
  bool reached = false;  // m1 = 1 within tol
  std::vector<std::string> notes;
};

// The base point of the search for each cell, before fixes (documented in docs/theory.md §6).
InitSpec critical_base(CellType cell, int seq_len, double input_var);
// Applies "gate.param=value" to a spec (throws with the reason for a malformed one).
void apply_fix(InitSpec& spec, const std::string& fix);

CriticalResult critical_init(CellType cell, const CriticalOptions& opt);

}  // namespace rnnmft::theory
