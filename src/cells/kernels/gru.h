// GRU, PyTorch's gate order r z n: r = σ(a_r), z = σ(a_z), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1};
// reset-after n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), reset-before
// n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn) (docs/cells.md §Forward, §Backward; Jacobian
// docs/theory.md §5.3). The candidate's recurrent product is the caller's: for reset-before the
// kernel calls `candidate()` once e holds r ⊙ h, which fills hp's candidate block.
#pragma once

#include <Eigen/Dense>
#include <cmath>

#include "cells/kernels/context.h"
#include "cells/kernels/gates.h"

namespace rnnmft::kernels {

struct Gru {
  template <class V>
  using Gates = GruGates<V>;

  template <typename S, class Candidate>
  static void forward_fast(const StepArgs<S>& s, Candidate&& candidate) {
    using Arr = typename ArrayBlocks<S>::Arr;
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N, lh = int(s.hp.cols());
    const int rz = Gates<RowBlocks<S>>::candidate_block * N;  // the r and z blocks
    Eigen::Map<RowMat<S>> A(s.a, s.B, ld);
    A.leftCols(rz) += s.hp.leftCols(rz);
    const auto g = gate_blocks<Gates>(s.a, s.B, N, ld);
    auto r = g.reset(), z = g.update(), n = g.candidate();
    r = r.logistic();
    z = z.logistic();
    const Eigen::Map<const Arr> ha(s.h, s.B, N);
    Eigen::Map<Arr> ea(s.e, s.B, N);
    const auto hn = gate_blocks<Gates>(s.hp.data(), s.B, N, lh).candidate();
    if (s.reset_before) {
      ea = r * ha;
      candidate();
      n = (n + hn).tanh();
    } else {
      ea = hn;  // W_hn h + b_hn, kept for the backward sweep
      n = (n + r * ea).tanh();
    }
    Eigen::Map<Arr>(s.h_next, s.B, N) = (S(1) - z) * n + z * ha;
  }

  template <typename S, class Candidate>
  static void forward_ref(const StepArgs<S>& s, Candidate&& candidate) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N, lh = int(s.hp.cols());
    const bool before = s.reset_before;
    for (int b = 0; b < s.B; ++b) {
      const auto g = gate_row<Gates>(s.a, b, N, ld);
      const auto hg = gate_row<Gates>(s.hp.data(), b, N, lh);
      S *ra = g.reset(), *za = g.update();
      const S *hr = hg.reset(), *hz = hg.update(), *hn = hg.candidate();
      const S* hb = s.h + size_t(b) * N;
      S* eb = s.e + size_t(b) * N;
      for (int j = 0; j < N; ++j) {
        const S r = sigm(ra[j] + hr[j]), z = sigm(za[j] + hz[j]);
        ra[j] = r;
        za[j] = z;
        if (before)
          eb[j] = r * hb[j];
        else
          eb[j] = hn[j];  // W_hn h + b_hn, kept for the backward sweep
      }
    }
    if (before) candidate();
    for (int b = 0; b < s.B; ++b) {
      const auto g = gate_row<Gates>(s.a, b, N, ld);
      const S *ra = g.reset(), *za = g.update();
      S* na = g.candidate();
      const S* hn = gate_row<Gates>(s.hp.data(), b, N, lh).candidate();
      const S* hb = s.h + size_t(b) * N;
      const S* eb = s.e + size_t(b) * N;
      S* hnext = s.h_next + size_t(b) * N;
      for (int j = 0; j < N; ++j) {
        const S r = ra[j], z = za[j];
        const S n = std::tanh(na[j] + (before ? hn[j] : r * eb[j]));
        na[j] = n;
        hnext[j] = (S(1) - z) * n + z * hb[j];
      }
    }
  }

  // δa_n = δh_t (1 − z)(1 − n²), δa_z = δh_t (h_{t−1} − n) z(1 − z); reset-after:
  // δa_r = δa_n (W_hn h + b_hn) r(1 − r) and e receives δa_n ⊙ r; reset-before: δ(r ⊙ h) =
  // W_hnᵀ δa_n (the caller's `rh_product`, into dh_new), δa_r = δ(r ⊙ h) h r(1 − r).
  template <typename S, class RhProduct>
  static void backward(const BackwardArgs<S>& s, RhProduct&& rh_product) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    const bool before = s.reset_before;
    // The candidate's recurrent input r ⊙ h needs its gradient before r's.
    if (before) {
      s.drh.resize(s.B, N);
      for (int b = 0; b < s.B; ++b)
        for (int j = 0; j < N; ++j) {
          const auto g = gate_row<Gates>(s.a, b, N, ld);
          const S z = g.update()[j], n = g.candidate()[j];
          s.drh(b, j) = s.dh(b, j) * (S(1) - z) * (S(1) - n * n);  // da_n, staged
        }
      rh_product();
    }
    for (int b = 0; b < s.B; ++b) {
      const auto g = gate_row<Gates>(s.a, b, N, ld);
      S *ra = g.reset(), *za = g.update(), *na = g.candidate();
      const S* hb = s.h + size_t(b) * N;
      const S* dhb = s.dh.data() + size_t(b) * N;
      S* dhn = s.dh_new.data() + size_t(b) * N;
      S* eb = s.e + size_t(b) * N;
#pragma omp simd
      for (int j = 0; j < N; ++j) {
        const S r = ra[j], z = za[j], n = na[j];
        const S dan = dhb[j] * (S(1) - z) * (S(1) - n * n);
        S dr;
        if (before) {
          const S drh_j = dhn[j];
          dr = drh_j * hb[j];
          dhn[j] = dhb[j] * z + drh_j * r;
        } else {
          dr = dan * eb[j];
          eb[j] = dan * r;  // gradient of W_hn h + b_hn
          dhn[j] = dhb[j] * z;
        }
        ra[j] = dr * r * (S(1) - r);
        za[j] = dhb[j] * (hb[j] - n) * z * (S(1) - z);
        na[j] = dan;
      }
    }
  }

  // J = D_z + D_{z'(h−n)} W_z + D_{(1−z) n'} ∂(candidate's recurrent input)/∂h.
  static void jacobian(const JacobianArgs& s, Eigen::MatrixXd& J, Eigen::MatrixXd&) {
    using Eigen::MatrixXd;
    const auto g = gate_rows<Gates>(s.gates, s.N);
    const auto W = gate_rows<Gates>(s.W, s.N);
    const auto r = g.reset().array(), z = g.update().array(), n = g.candidate().array();
    const Eigen::VectorXd bn = ((1 - z) * (1 - n * n)).matrix();
    MatrixXd inner;
    if (s.reset_before)  // W_n (r ⊙ h): ∂/∂h = W_n (D_r + D_{h r'} W_r)
      inner = W.candidate() * (MatrixXd(r.matrix().asDiagonal()) +
                               (s.h_prev.array() * r * (1 - r)).matrix().asDiagonal() * W.reset());
    else  // r ⊙ (W_n h + b_hn): ∂/∂h = D_r W_n + D_{(W_n h + b) r'} W_r
      inner = r.matrix().asDiagonal() * W.candidate() +
              (s.extra.array() * r * (1 - r)).matrix().asDiagonal() * W.reset();
    J = MatrixXd(z.matrix().asDiagonal()) +
        (z * (1 - z) * (s.h_prev.array() - n)).matrix().asDiagonal() * W.update() +
        bn.asDiagonal() * inner;
  }
};

}  // namespace rnnmft::kernels
