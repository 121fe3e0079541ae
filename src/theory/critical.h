// Critical initialization (docs/theory.md §6): hyperparameters with m1 = 1 for the Jacobian on
// which isometry is judged (LSTM: J_c), so that χ = 1 and ξ diverges (or exceeds T), with the
// variance of the spectrum as small as the fixed values allow.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "theory/mean_field.h"

namespace rnnmft::theory {

// What "critical" means (docs/theory.md §6.1, §9.3):
// - Untied: m1 = 1, the mean-field criterion (exact for networks that redraw their weights).
// - Tied (default for the gated cells): ξ = T in the mean field (T·ln m1 = −1) and a T-step
//   gradient gain of 1 in tied networks (ln G_T = 0, §9.2), so the networks people train neither
//   grow out of the theory's state nor lose their gradients over T steps.
enum class Criterion { Untied, Tied };
Criterion parse_criterion(const std::string& name);
const char* criterion_name(Criterion c);

struct CriticalOptions {
  int seq_len = 1000;
  // "gate.param=value" overrides of the base point (param: recurrent_std, input_std, bias_mean,
  // bias_std, recurrent_dist).
  std::vector<std::string> fixes;
  TheoryOptions theory;
  // Default: tied for the gated cells; the vanilla cell's orthogonal W makes both the same.
  std::optional<Criterion> criterion;
  double tol = 0.01;  // accepted |T·ln m1 − target| and |ln G_T|
};

struct CriticalResult {
  InitSpec spec;
  TheoryResult diagnostics;
  Criterion criterion = Criterion::Tied;
  std::vector<std::pair<std::string, double>> knobs;  // the "gate.param"s solved for, and values
  bool reached = false;  // every condition within tol
  double log_m1_T = 0;   // T·ln m1
  double log_gain_T = 0;  // ln G_T of tied networks (§9.2)
  std::vector<std::string> notes;
  std::string knobs_text() const;  // "forget.bias_mean = 8.2, cell.recurrent_std = 0.04"
  // The theory's JSON at the solution plus criterion, knobs, log_m1_T, log_gain_T, reached, notes.
  nlohmann::json to_json() const;
};

// The base point of the search for each cell, before fixes (documented in docs/theory.md §6).
InitSpec critical_base(CellType cell, int seq_len, double input_var);
// Applies "gate.param=value" to a spec (throws with the reason for a malformed one, naming the
// flag it came from: --fix, or a grid's axis).
void apply_fix(InitSpec& spec, const std::string& fix, const std::string& flag = "--fix");

CriticalResult critical_init(CellType cell, const CriticalOptions& opt);

}  // namespace rnnmft::theory
