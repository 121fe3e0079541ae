// The trainability prediction (docs/theory.md §12.4): from the tied network at init on the task's
// inputs (sim/task_probe.h), "trainable" or not, with the reasons. The rule's constants were
// fitted once on the fitting grids named in docs/theory.md §12.4 and are frozen here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/task_probe.h"

namespace rnnmft::theory {

struct TrainabilityRule {
  double min_log_gain;  // memory: ln E|δs_T|²/|δs_t0|² over the span at least this
  double max_log_gain;  // beyond it the perturbation grows: the state drifts, gradients explode
  // The standard deviation of ln G over the task's sequences at most this: where the memory is
  // long for some inputs and short for others the network is at its edge of chaos on the task.
  double max_log_gain_sd;
  double min_slope;     // saturation: E[(1 − a²)²] at T at least this
  double max_dc;        // LSTM: |Δc_T|/δ for a bias move at most this
};

// The frozen rule.
const TrainabilityRule& trainability_rule();
nlohmann::json trainability_rule_json();

struct Trainability {
  bool trainable = false;
  std::vector<std::string> reasons;  // each failed criterion, with its numbers; empty if trainable
  // One word per failed criterion, in the same order: memory, growth, uneven, saturated,
  // sensitive (for tables: `phase --task` columns).
  std::vector<std::string> codes;
  std::string summary() const;
};

Trainability predict_trainable(const sim::TaskProbe& p, const TrainabilityRule& rule = trainability_rule());

// The probe's JSON with the prediction: "trainable", "reasons" and the "rule" it used (what
// `rnnmft trainability --json`, its --sweep lines and the Python module return).
nlohmann::json trainability_json(const sim::TaskProbe& p);

}  // namespace rnnmft::theory
