// RnnModel's loss and gradient (the forward sweep, the readout and the sweep back through time);
// the forward pass, the readout and the loss alone are in rnn_model.cpp.
#include <algorithm>
#include <cmath>

#include "cells/rnn_model.h"
#include "util/error.h"
#include "util/fp_env.h"

namespace rnnmft {

// Backward through time: docs/cells.md §Backward. Each thread owns rows [b0, b1) of every step's
// block for the whole sweep, forward and backward; the per-step products are single-threaded
// inside it, and the weight gradients of the whole sequence are multi-threaded GEMMs after it.
template <typename S>
S RnnModel<S>::loss_and_grad(const S* x, const int* labels, int T, int B, AlignedVector<S>& grad,
                             int* correct) {
  flush_denormals();
  const int N = cfg_.hidden, I = cfg_.input_dim, Gi = input_gates(cfg_.cell),
            Gh = recurrent_gates(cfg_.cell);
  // A cell state c beside h (the LSTM); the candidate's recurrent input through a reset gate,
  // which keeps an extra buffer per step (the GRU).
  const CellDesc& d = describe(cfg_.cell);
  const bool has_c = d.cell_state, reset = d.reset_gate;
  const bool before = reset_before();
  S* P = params_.data();
  const size_t TB = size_t(T) * B;
  CMapM X(x, TB, I);

  A_.resize(TB, Gi * N);
  H_.resize(TB + B, N);
  H_.topRows(B).setZero();
  if (has_c) {
    C_.resize(TB + B, N);
    C_.topRows(B).setZero();
  }
  if (reset) E_.resize(TB, N);
  const auto sl = slices(B);
  const int nthreads = int(sl.size());
  work_.resize(std::max(work_.size(), sl.size()));
#pragma omp parallel for num_threads(nthreads) schedule(static, 1)
  for (int p = 0; p < nthreads; ++p) {
    flush_denormals();
    const auto [b0, b1] = sl[p];
    for (int t = 0; t < T; ++t) {
      const size_t r0 = size_t(t) * B + b0;
      // The input projection of the slice's step, while its rows are in cache.
      MapM a(A_.data() + r0 * Gi * N, b1 - b0, Gi * N);
      a.noalias() = X.middleRows(r0, b1 - b0) * w_ih(P).transpose();
      a.rowwise() += b_ih(P).transpose();
      step(A_.data() + r0 * Gi * N, H_.data() + r0 * N, has_c ? C_.data() + r0 * N : nullptr,
           H_.data() + (r0 + B) * N, has_c ? C_.data() + (r0 + B) * N : nullptr,
           reset ? E_.data() + r0 * N : nullptr, b1 - b0, work_[p]);
    }
  }
  Mat dlogits;
  const S L = head_loss(H_.data() + TB * N, labels, B, &dlogits, correct);

  grad.assign(layout_.total, S(0));
  S* G = grad.data();
  CMapM h_last(H_.data() + TB * N, B, N);
  w_head(G).noalias() = dlogits.transpose() * h_last;
  b_head(G) = dlogits.colwise().sum().transpose();
#pragma omp parallel for num_threads(nthreads) schedule(static, 1)
  for (int p = 0; p < nthreads; ++p) {
    flush_denormals();
    const auto [b0, b1] = sl[p];
    const int nb = b1 - b0;
    Work& w = work_[p];
    w.dh.noalias() = dlogits.middleRows(b0, nb) * w_head(P);
    w.dc.setZero(nb, has_c ? N : 0);
    // Bias gradients: column sums of the pre-activation gradients, summed while in cache.
    w.db_ih.setZero(1, Gi * N);
    w.dw_ih.setZero(Gi * N, I);
    w.db_hn.setZero(1, reset ? N : 0);
    for (int t = T - 1; t >= 0; --t) {
      const size_t r0 = size_t(t) * B + b0;
      S* a = A_.data() + r0 * Gi * N;
      S* e = reset ? E_.data() + r0 * N : nullptr;
      backward_step(a, H_.data() + r0 * N, has_c ? C_.data() + r0 * N : nullptr,
                    has_c ? C_.data() + (r0 + B) * N : nullptr, e, nb, w);
      w.db_ih += CMapM(a, nb, Gi * N).colwise().sum();
      if (I == 1)  // a scalar input: a matrix–vector product per step, while da is in cache
        w.dw_ih.col(0).noalias() += CMapM(a, nb, Gi * N).transpose() * X.middleRows(r0, nb).col(0);
      if (reset) w.db_hn += CMapM(e, nb, N).colwise().sum();
    }
  }
  Mat db_ih = Mat::Zero(1, Gi * N), db_hn = Mat::Zero(1, reset ? N : 0);
  if (I == 1) {
    w_ih(G).setZero();
    for (int p = 0; p < nthreads; ++p) w_ih(G) += work_[p].dw_ih;
  } else {
    w_ih(G).noalias() = A_.transpose() * X;
  }
  for (int p = 0; p < nthreads; ++p) {
    db_ih += work_[p].db_ih;
    db_hn += work_[p].db_hn;
  }

  // Weight gradients of the whole sequence as single GEMMs.
  CMapM Hprev(H_.data(), TB, N);
  b_ih(G) = db_ih.transpose();
  if (!reset) {
    w_hh(G).noalias() = A_.leftCols(Gh * N).transpose() * Hprev;
    b_hh(G) = db_ih.leftCols(Gh * N).transpose();
  } else {
    const int rz = (Gh - 1) * N;  // the blocks before the candidate read h itself
    w_hh(G).topRows(rz).noalias() = A_.leftCols(rz).transpose() * Hprev;
    b_hh(G).head(rz) = db_ih.leftCols(rz).transpose();
    if (before) {
      w_hh(G).bottomRows(N).noalias() = A_.rightCols(N).transpose() * E_;
      b_hh(G).tail(N) = db_ih.rightCols(N).transpose();
    } else {
      w_hh(G).bottomRows(N).noalias() = E_.transpose() * Hprev;
      b_hh(G).tail(N) = db_hn.transpose();
    }
  }
  return L;
}

template float RnnModel<float>::loss_and_grad(const float*, const int*, int, int,
                                             AlignedVector<float>&, int*);
template double RnnModel<double>::loss_and_grad(const double*, const int*, int, int,
                                               AlignedVector<double>&, int*);

}  // namespace rnnmft
