// Draws a model's weights from an init spec or a preset, through the one seeded generator.
#pragma once

#include <string>
#include <vector>

#include "cells/rnn_model.h"
#include "spec/init_spec.h"
#include "util/rng.h"

namespace rnnmft {

// W_hh block k ~ N(0, σ_k²/N) or σ_k·Haar-orthogonal, W_ih block ~ N(0, ν_k²/I), b_ih ~ N(μ, ρ²),
// b_hh = 0; the readout as PyTorch's nn.Linear (U(−1/√N, 1/√N)).
template <typename S>
void draw_from_spec(RnnModel<S>& model, const InitSpec& spec, Rng& rng, bool with_head = true);

// The keep gate's bias of each of N units, ln(τ − 1) with τ from spec.timescales (empty without
// them); draw_from_spec calls it first.
std::vector<double> draw_keep_biases(const InitSpec& spec, int N, Rng& rng);

// Unit `unit`'s bias in gate `gate`: ±keep_bias[unit] for the gates the timescales draw (keep +,
// LSTM input −), else N(μ, ρ²) from `rng`.
double unit_bias(const InitSpec& spec, int gate, int unit, const std::vector<double>& keep_bias,
                 Rng& rng);

// The presets with their own distributions (docs/cells.md §Presets).
template <typename S>
void draw_preset(RnnModel<S>& model, const std::string& preset, int seq_len, Rng& rng);

// rows × cols (rows ≥ cols) with orthonormal columns, Haar-distributed (QR of a Gaussian matrix
// with the signs of R's diagonal folded in).
Eigen::MatrixXd haar_orthogonal(int rows, int cols, Rng& rng);

}  // namespace rnnmft
