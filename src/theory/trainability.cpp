#include "theory/trainability.h"

#include <fmt/format.h>

#include <cmath>

namespace rnnmft::theory {

const TrainabilityRule& trainability_rule() {
  // Fitted by experiments/fit_trainability.py on E1 at T = 100 (LSTM) and E2 (GRU), both grids
  // weighted equally (experiments/trainability_rule.json; docs/theory.md §12.4). Frozen.
  static const TrainabilityRule r{.min_log_gain = -25.0,
                                  .max_log_gain = 2.0,
                                  .max_log_gain_sd = 1.2,
                                  .min_slope = 0.035,
                                  .max_dc = 1000.0};
  return r;
}

nlohmann::json trainability_rule_json() {
  const TrainabilityRule& r = trainability_rule();
  return {{"min_log_gain", r.min_log_gain},
          {"max_log_gain", r.max_log_gain},
          {"max_log_gain_sd", r.max_log_gain_sd},
          {"min_slope", r.min_slope},
          {"max_dc", r.max_dc}};
}

std::string Trainability::summary() const {
  if (trainable) return "trainable: memory, its spread over sequences, slope and sensitivity within the rule";
  std::string s = "NOT trainable:";
  for (size_t i = 0; i < reasons.size(); ++i) s += (i ? "; " : " ") + reasons[i];
  return s;
}

Trainability predict_trainable(const sim::TaskProbe& p, const TrainabilityRule& r) {
  Trainability t;
  auto fail_with = [&t](const char* code, std::string why) {
    t.codes.push_back(code);
    t.reasons.push_back(std::move(why));
  };
  if (!(p.log_gain >= r.min_log_gain))
    fail_with("memory", fmt::format("memory too short (ln gain {:.3g} over {} steps < {})",
                                    p.log_gain, p.span(), r.min_log_gain));
  if (!(p.log_gain <= r.max_log_gain))
    fail_with("growth", fmt::format("perturbations grow (ln gain {:.3g} over {} steps > {})",
                                    p.log_gain, p.span(), r.max_log_gain));
  // A spread that could not be measured (fewer than two finite per-sequence gains) does not
  // decide: the memory criteria above already speak for a gain that vanished or overflowed.
  if (p.log_gain_sd > r.max_log_gain_sd)
    fail_with("uneven", fmt::format(
        "memory uneven across the task's sequences, the edge of chaos (sd of ln gain {:.3g} > {})",
        p.log_gain_sd, r.max_log_gain_sd));
  if (!(p.slope >= r.min_slope))
    fail_with("saturated", fmt::format("saturated (slope {:.3g} < {})", p.slope, r.min_slope));
  if (describe(p.cell).cell_state && !(p.max_dc() <= r.max_dc))
    fail_with("sensitive", fmt::format("too sensitive (|Δc_T|/δ {:.3g} > {})", p.max_dc(), r.max_dc));
  t.trainable = t.reasons.empty();
  return t;
}

nlohmann::json trainability_json(const sim::TaskProbe& p) {
  const Trainability t = predict_trainable(p);
  nlohmann::json j = p.to_json();
  j["trainable"] = t.trainable;
  j["reasons"] = t.reasons;
  j["reason_codes"] = t.codes;
  j["rule"] = trainability_rule_json();
  return j;
}

}  // namespace rnnmft::theory
