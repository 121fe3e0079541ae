// One recurrent layer (any of the four cells), a linear readout of the last hidden state and
// softmax cross-entropy: forward and backward through time over a batch (docs/cells.md).
// Templated on the scalar so that the float engine has a float64 twin for gradient checks.
#pragma once

#include <Eigen/Core>
#include <Eigen/StdVector>
#include <cstddef>
#include <utility>
#include <vector>

#include "cells/cell_type.h"

namespace rnnmft {

// Buffers handed to the GEMMs are aligned to Eigen's largest vector width: the kernels' reduction
// order depends on alignment, and exact resumption needs it to be the same in every process.
template <typename S>
using AlignedVector = std::vector<S, Eigen::aligned_allocator<S>>;

struct ModelConfig {
  CellType cell = kDefaultCell;
  GruVariant gru = GruVariant::ResetAfter;
  int input_dim = 1, hidden = 128, classes = 10;
  // The plain scalar kernel (std::exp, std::tanh per element) instead of the vectorized one;
  // tests hold the two against each other.
  bool reference_kernel = false;
};

// Offsets of each tensor in the flat parameter vector (PyTorch shapes, row-major):
// W_ih (Gi·N × I), W_hh (Gh·N × N), b_ih (Gi·N), b_hh (Gh·N), W_head (C × N), b_head (C).
struct ParamLayout {
  explicit ParamLayout(const ModelConfig& c);
  size_t w_ih, w_hh, b_ih, b_hh, w_head, b_head, total;
};

template <typename S>
class RnnModel {
 public:
  using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MapM = Eigen::Map<Mat>;
  using CMapM = Eigen::Map<const Mat>;
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

  explicit RnnModel(const ModelConfig& cfg);

  const ModelConfig& config() const { return cfg_; }
  const ParamLayout& layout() const { return layout_; }
  AlignedVector<S>& params() { return params_; }
  const AlignedVector<S>& params() const { return params_; }
  template <typename V>
  void set_params(const V& v) {
    params_.assign(v.begin(), v.end());
  }

  // Views of one tensor inside a flat vector laid out like params().
  MapM w_ih(S* base) const;
  MapM w_hh(S* base) const;
  MapM w_head(S* base) const;
  Eigen::Map<Vec> b_ih(S* base) const;
  Eigen::Map<Vec> b_hh(S* base) const;
  Eigen::Map<Vec> b_head(S* base) const;

  // Mean cross-entropy of a time-major batch x[(t·B + b)·I + i] with labels, and its gradient
  // (same layout as params(), overwritten). `correct` gets the number of argmax hits.
  S loss_and_grad(const S* x, const int* labels, int T, int B, AlignedVector<S>& grad,
                  int* correct = nullptr);
  // One step of the cell for a batch of B states (x: B × I, h, c: B × N; c unused but for the
  // LSTM). If `gates` is given it receives the B × Gi·N gate activations (docs/cells.md order);
  // for the GRU `extra` (B × N) receives W_hn h + b_hn (reset-after) or r ⊙ h (reset-before).
  void forward_step(const S* x, const S* h, const S* c, S* h_next, S* c_next, int B,
                    S* gates = nullptr, S* extra = nullptr);

  // Forward only, keeping one step of state (for evaluation of long sequences).
  S loss(const S* x, const int* labels, int T, int B, int* correct = nullptr);

 private:
  // Per-thread buffers: each thread owns a slice of the batch for the whole sequence, so the
  // time loop needs no barrier (docs/performance.md).
  struct Work {
    Mat hp;      // B × Gh·N recurrent pre-activations of one step
    Mat tanh_c;  // B × N, tanh(c_t) of the step being differentiated
    Mat dh, dc, dh_new, drh;
    Mat db_ih, db_hn;  // 1 × Gi·N and 1 × N bias-gradient sums of the slice
    Mat dw_ih;         // Gi·N × I input-weight gradient of the slice
  };
  // Batch slices [begin, end) of the current thread count.
  std::vector<std::pair<int, int>> slices(int B) const;
  // One step of the cell: a holds X_t W_ihᵀ + b_ih on entry (B × Gi·N) and the gate activations
  // on exit; e is the GRU's extra per-step buffer (W_hn h + b_hn, or r ⊙ h). The gate maths is
  // the cell's kernel (cells/kernels/), vectorized or, with reference_kernel, scalar.
  void step(S* a, const S* h, const S* c, S* h_next, S* c_next, S* e, int B, Work& w);
  // w.hp = h W_hhᵀ + b_hh (for the reset-before GRU only the r and z blocks); returns whether the
  // GRU's candidate product is still to be done (reset-before).
  bool recurrent_preacts(const S* h, int B, Work& w);
  // Backward through one step for a slice of rows (docs/cells.md §Backward): a holds the gate
  // activations on entry and the pre-activation gradients on exit; w.dh (and w.dc) are the
  // incoming gradients, w.dh_new receives the gradient of h_{t−1}.
  void backward_step(S* a, const S* h, const S* c_prev, const S* c_cur, S* e, int B, Work& w);
  // The candidate reads W_hn (r ⊙ h) + b_hn: a reset-gate cell in its reset-before variant.
  bool reset_before() const {
    return describe(cfg_.cell).reset_gate && cfg_.gru == GruVariant::ResetBefore;
  }
  S head_loss(const S* h_last, const int* labels, int B, Mat* dlogits, int* correct) const;

  ModelConfig cfg_;
  ParamLayout layout_;
  AlignedVector<S> params_;
  std::vector<Work> work_;
  // Forward history kept for the backward sweep.
  Mat A_, H_, C_, E_;
};

extern template class RnnModel<float>;
extern template class RnnModel<double>;

}  // namespace rnnmft
