// A diagnosis in words: what the theory's numbers mean for a network trained on T steps
// (docs/theory.md §5, §9.2). Shared by the CLI and the Python module.
#pragma once

#include <string>

#include "theory/mean_field.h"

namespace rnnmft::theory {

// "10^5" or "0.37": a gain factor as a person reads it.
std::string factor(double log_gain);
// ξ with one decimal, "∞" when infinite.
std::string xi_text(double xi);
// Phase, signal lifetime against T, gradient growth, spectrum spread and the tied networks' gain.
std::string verdict(const TheoryResult& r, int T);

}  // namespace rnnmft::theory
