// Phase diagrams: the theory on a grid of two hyperparameters (docs/theory.md §8).
#pragma once

#include <string>
#include <vector>

#include "theory/mean_field.h"

namespace rnnmft::theory {

struct Axis {
  std::string param;  // gate.param
  double lo = 0, hi = 1;
  int n = 2;
  static Axis parse(const std::string& text);  // "gate.param=lo:hi:n"
  double at(int k) const { return n == 1 ? lo : lo + (hi - lo) * k / (n - 1); }
};

struct PhasePoint {
  double x = 0, y = 0;
  TheoryResult r;
  bool failed = false;  // the theory is not finite here: r holds NaN (written as nan)
};

// Row-major over y then x; points evaluated in parallel, each with the same seed (common random
// numbers, so LSTM diagrams are smooth). Throws for an axis that leaves the valid range anywhere
// or for bad options; a point where the theory is not finite comes back `failed`, with NaN.
std::vector<PhasePoint> phase_grid(const InitSpec& base, const Axis& x, const Axis& y,
                                   const TheoryOptions& opt);

}  // namespace rnnmft::theory
