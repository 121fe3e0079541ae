// What a cell kernel reads and writes in one step (docs/cells.md §Forward, §Backward) and in the
// exact one-step Jacobian (docs/theory.md §5). RnnModel and sim::step_jacobians fill these; the
// kernels in this folder hold only the element-wise mathematics of each cell, the products stay
// with their callers.
#pragma once

#include <Eigen/Core>
#include <cmath>

namespace rnnmft::kernels {

template <typename S>
using RowMat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// One forward step for B rows of hidden width N. The caller has computed hp; for the
// reset-before GRU the kernel calls back for the candidate's product once e holds r ⊙ h.
template <typename S>
struct StepArgs {
  S* a;           // B × Gi·N: x W_ihᵀ + b_ih on entry, the gate activations on exit
  const S* h;     // B × N: h_{t−1}
  const S* c;     // B × N: c_{t−1} (cell-state cells only)
  S* h_next;      // B × N: h_t
  S* c_next;      // B × N: c_t (cell-state cells only)
  S* e;           // B × N, reset-gate cells: W_hn h + b_hn (reset-after) or r ⊙ h (reset-before)
  RowMat<S>& hp;  // B × Gh·N: h W_hhᵀ + b_hh (reset-before: the candidate block by callback)
  int B, N;
  bool reset_before;  // the GRU's candidate reads W_hn (r ⊙ h) + b_hn
};

// Backward through one step for B rows (docs/cells.md §Backward). For the reset-before GRU the
// kernel stages δa_n in drh and calls back for dh_new = δa_n W_hn before its row loop.
template <typename S>
struct BackwardArgs {
  S* a;             // B × Gi·N: the gate activations on entry, δa on exit
  const S* h;       // B × N: h_{t−1}
  const S* c_prev;  // B × N: c_{t−1} (cell-state cells only)
  const S* c_cur;   // B × N: c_t (cell-state cells only)
  S* e;           // reset-gate cells: the forward's extra on entry; reset-after: δ(W_hn h + b_hn)
  RowMat<S>& dh;  // B × N: δh_t
  RowMat<S>& dc;  // B × N: δc_t on entry, δc_{t−1} on exit (cell-state cells only)
  RowMat<S>& dh_new;  // B × N: the element-wise part of δh_{t−1}
  RowMat<S>& drh;     // B × N: reset-before GRU, δa_n staged for the product
  RowMat<S>& tanh_c;  // B × N: tanh(c_t), scratch
  int B, N;
  bool reset_before;
  bool reference;  // std::tanh per element where the kernel takes a transcendental of a block
};

// One step of one network in double precision: the exact state-to-state Jacobian
// (docs/theory.md §5.1) from the recurrent weights, the states and the gate activations.
struct JacobianArgs {
  const Eigen::MatrixXd& W;  // W_hh, Gh·N × N
  const Eigen::VectorXd& h_prev;
  const Eigen::VectorXd& c_prev;
  const Eigen::VectorXd& h;
  const Eigen::VectorXd& c;
  const Eigen::VectorXd& gates;   // Gi·N activations of the step
  const Eigen::VectorXd& extra;   // GRU: W_hn h + b_hn (reset-after) or r ⊙ h (reset-before)
  const Eigen::VectorXd& o_prev;  // LSTM: the previous step's output gate
  int N;
  bool reset_before;
};

template <typename S>
inline S sigm(S x) {
  return S(1) / (S(1) + std::exp(-x));
}

}  // namespace rnnmft::kernels
