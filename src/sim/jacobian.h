// The state-to-state Jacobian of one step of a cell, built analytically from the step's weights,
// the previous state and the gate activations (docs/theory.md §5; tests compare it with finite
// differences of RnnModel::forward_step).
#pragma once

#include <Eigen/Dense>

#include "cells/rnn_model.h"

namespace rnnmft::sim {

struct StepRecord {
  Eigen::VectorXd h_prev, c_prev, h, c;  // one unit's network state before and after the step
  Eigen::VectorXd gates;                 // Gi·N activations of the step
  Eigen::VectorXd extra;                 // GRU: W_hn h + b_hn (reset-after) or r ⊙ h (before)
  Eigen::VectorXd o_prev;                // LSTM: the previous step's output gate (for J_c)
};

struct Jacobians {
  Eigen::MatrixXd J;  // ∂h_t/∂h_{t−1}; LSTM: J_c = ∂c_t/∂c_{t−1} with o_{t−1} held fixed
  Eigen::MatrixXd J_state;  // LSTM: the full (c, h) Jacobian, 2N × 2N; others: empty (= J)
};

Jacobians step_jacobians(const RnnModel<double>& model, const StepRecord& s);

// m1 = tr(J Jᵀ)/D and m2 = tr((J Jᵀ)²)/D.
std::pair<double, double> jacobian_moments(const Eigen::MatrixXd& J);

}  // namespace rnnmft::sim
