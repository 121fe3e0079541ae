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
  double x, y;
  TheoryResult r;
};

// Row-major over y then x; points evaluated in parallel, each with the same seed (common random
// numbers, so LSTM diagrams are smooth).
std::vector<PhasePoint> phase_grid(const InitSpec& base, const Axis& x, const Axis& y,
                                   const TheoryOptions& opt);

}  // namespace rnnmft::theory
