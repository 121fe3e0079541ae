// The mean-field theory of a tied network on the task's own inputs (docs/theory.md §12.6).
//
// The untied theory redraws every weight at every step, so the inputs' mean and the units' own
// constant drives average away. Here each unit keeps what a tied network gives it for good: its
// bias, its input weights (read against the task's real sequences, so the inputs' mean gives
// per-unit offsets and their fluctuations the sequence-to-sequence spread) and its share of the
// recurrent field. Only the recurrent sum Σ_k U_ik v_k is replaced, as the width goes to
// infinity, by a Gaussian field with the population's own statistics: a quenched part (the
// same for every sequence, variance σ² mean_k m_k², m_k unit k's mean over sequences) and a
// dynamic part (variance σ² mean_k var_b v_kb), each carried from step to step with the
// population's one-step correlation. The state is then a distribution over units, sampled by a
// population of units; the perturbation gain (memory) and the bias sensitivity are propagated by
// twin populations whose recurrent field differs by the field of the population's difference.
//
// It answers in the same terms as the probe (sim::task_probe), which runs the tied network itself
// at a finite width; `rnnmft trainability --theory` sets them side by side.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cells/cell_type.h"
#include "sim/task_probe.h"
#include "spec/init_spec.h"

namespace rnnmft::sim {

struct TiedTheoryOptions {
  int units = 8192;  // the population that samples the distribution over units, in all
  int replicas = 4;  // independent populations of units / replicas (the theory's own error)
  uint64_t seed = 0;
  GruVariant gru = GruVariant::ResetAfter;
  double delta = 0.05;
};

// x: S sequences, time-major (x[(t·S + b)·I + i], T steps); t0: the step the memory is measured
// from (as the probe's memory_from). The result has the probe's fields, averaged over the
// replicas as the probe averages over networks (networks = replicas, per_network the replicas';
// log_gain_between_sd = NaN; log_gain_sd is the spread over sequences).
TaskProbe tied_theory(const InitSpec& spec, const std::vector<double>& x, int S, int T, int I,
                      int t0, const TiedTheoryOptions& opt);

}  // namespace rnnmft::sim

namespace rnnmft::sim {

// One part of the theory held against the tied networks (the probe): relative error
// |theory − networks| / |networks| (the memory: see compare_to_network). Where it exceeds the
// tolerance but the difference lies within twice the standard error of the networks' mean (their
// spread between draws / √networks), the verdict is inconclusive: more or wider networks decide.
struct TheoryPart {
  enum class Verdict { Within, Inconclusive, Off };
  std::string name;
  double theory = 0, network = 0, error = 0;
  double noise = NAN;  // 2 standard errors of the networks' mean (NaN with one network)
  bool within = false;  // error ≤ tolerance
  Verdict verdict = Verdict::Off;
  const char* verdict_name() const;
};
std::vector<TheoryPart> compare_to_network(const TaskProbe& theory, const TaskProbe& network,
                                           double tolerance = 0.10);

}  // namespace rnnmft::sim
