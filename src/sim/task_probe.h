// The network a user trains, at init, on the task's own inputs (docs/theory.md §12.2): tied
// weights of the user's width drawn from the init spec, run from the zero state over real
// sequences of the task. It measures what the untied mean-field theory cannot see: the per-unit
// offsets that non-negative inputs give through a tied input matrix, the slope the nonlinearity is left with at
// step T, the tied network's memory across the task's span (the exact finite-width gain of a
// perturbation, renormalised every step so that neither a vanishing nor an exploding gain loses
// precision), and how far the final state moves when one gate's bias moves by δ, as a few Adam
// steps move it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cells/cell_type.h"
#include "data/tasks.h"
#include "cells/rnn_model.h"
#include "spec/init_spec.h"
#include "util/rng.h"

namespace rnnmft::sim {

struct ProbeOptions {
  int width = 64;
  int networks = 2;    // independent tied networks
  int sequences = 8;   // training sequences per network (the same for every network)
  int directions = 4;  // perturbation directions per network, the same for all its sequences
  uint64_t seed = 0;
  GruVariant gru = GruVariant::ResetBefore;
  double delta = 0.05;  // bias move for the sensitivity: 25 Adam steps at lr 2e-3
  int memory_from = -1;  // −1: the end of the data window (padded tasks), else its first step
  // A preset (pytorch, keras, orthogonal[:gain], chrono[:T_max]): the networks are drawn as
  // `train` draws it (chrono's coupled input and forget biases, PyTorch's uniform weights), not
  // from the spec's Gaussian moments; the spec still names the cell. Empty: from the spec.
  std::string preset;
};

struct ProbeGroup {
  std::string gate;
  double dh = 0, dc = 0;  // RMS over units and sequences of Δh_T/δ (Δc_T/δ for the LSTM)
};

// One network's numbers (what TaskProbe averages), for the spread between networks.
struct NetworkParts {
  double Q_h = 0, Q_c = 0, offset_h = 0, offset_c = 0, slope = 0, keep = 0, log_gain = 0;
  std::vector<double> dh, dc;  // per gate, as ProbeGroup's
};

struct TaskProbe {
  CellType cell = CellType::Lstm;
  int width = 0, networks = 0, sequences = 0, directions = 0, input_dim = 0, steps = 0;
  GruVariant gru = GruVariant::ResetAfter;
  int memory_from = 0;  // the gain is measured from the state after this many steps to step T
  // The state at step T over units and sequences: second moments, and the share of them that is
  // a per-unit offset (the same for every sequence).
  double Q_h = 0, Q_c = 0, offset_h = 0, offset_c = 0;
  // Saturation at T: E[(1 − a²)²] of the cell's tanh (LSTM: tanh c_T; GRU: the
  // candidate; minimalRNN: the embedding; vanilla: h) and the share of units with |pre| > 2.
  double slope = 1, saturated = 0;
  double keep = 0;  // mean keep gate at T (LSTM f, GRU and minimalRNN u/z; vanilla 0)
  // Memory (§12.2): ln E|δs_T|²/|δs_t0|² for random perturbations δs of the state at
  // memory_from (LSTM: (c, h)): per network the log of the mean over its sequences, averaged
  // over networks; the spread of the per-sequence logarithms within a network (pooled), and the
  // spread of the networks' values.
  double log_gain = 0, log_gain_sd = 0, log_gain_between_sd = 0;
  int span() const { return steps - memory_from; }
  std::vector<ProbeGroup> sensitivity;  // one per gate
  std::vector<NetworkParts> per_network;  // empty for the theory
  double delta = 0;
  double max_dh() const;
  double max_dc() const;
  nlohmann::json to_json() const;
};

TaskProbe task_probe(const InitSpec& spec, const Task& task, const ProbeOptions& opt);

// The S training sequences the probe runs (spread over the split, shifted by the seed), time-major
// (x[(t·S + b)·I + i]), and the step its memory is measured from (memory_from, or −1: the end of
// the data window of a padded task, else its first step).
struct ProbeInputs {
  std::vector<double> x;
  int S = 0, T = 0, I = 0, t0 = 0;
};
ProbeInputs probe_inputs(const Task& task, int sequences, uint64_t seed, int memory_from);

// One drawn network on S sequences x (time-major: x[(t·S + b)·I + i], T steps), `directions`
// perturbations (the same for every sequence) entering after t0 steps: what task_probe averages
// over its networks (exposed for the tests).
struct NetworkProbe {
  std::vector<double> log_gain;  // per sequence: ln of the mean over directions of |δs_T|²/|δs_t0|²
  double Q_h = 0, Q_c = 0, offset_h = 0, offset_c = 0, slope = 0, saturated = 0, keep = 0;
  std::vector<double> dh2, dc2;  // per gate: mean over units and sequences of Δh_T², Δc_T²
};
NetworkProbe probe_network(RnnModel<double>& net, const std::vector<double>& x, int S, int T,
                           int t0, double delta, int directions, Rng& rng);

}  // namespace rnnmft::sim
