// minimalRNN: u = σ(a_u), z = tanh(W_ih,z x + b_ih,z), h_t = u ⊙ h_{t−1} + (1 − u) ⊙ z; only the
// update gate reads h (docs/cells.md §Forward, §Backward; Jacobian docs/theory.md §5.3).
#pragma once

#include <Eigen/Dense>
#include <cmath>

#include "cells/kernels/context.h"
#include "cells/kernels/gates.h"

namespace rnnmft::kernels {

struct Minimal {
  template <class V>
  using Gates = MinimalGates<V>;

  template <typename S, class Candidate>
  static void forward_fast(const StepArgs<S>& s, Candidate&&) {
    using Arr = typename ArrayBlocks<S>::Arr;
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    Eigen::Map<RowMat<S>> A(s.a, s.B, ld);
    A.leftCols(N) += s.hp;  // the update block: the embed block has no recurrent part
    const auto g = gate_blocks<Gates>(s.a, s.B, N, ld);
    auto u = g.update(), z = g.embed();
    u = u.logistic();
    z = z.tanh();
    Eigen::Map<Arr>(s.h_next, s.B, N) = u * Eigen::Map<const Arr>(s.h, s.B, N) + (S(1) - u) * z;
  }

  template <typename S, class Candidate>
  static void forward_ref(const StepArgs<S>& s, Candidate&&) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    for (int b = 0; b < s.B; ++b) {
      const auto g = gate_row<Gates>(s.a, b, N, ld);
      S *ua = g.update(), *za = g.embed();
      const S* hu = gate_row<Gates>(s.hp.data(), b, N, int(s.hp.cols())).update();
      const S* hb = s.h + size_t(b) * N;
      S* hn = s.h_next + size_t(b) * N;
      for (int j = 0; j < N; ++j) {
        const S u = sigm(ua[j] + hu[j]), z = std::tanh(za[j]);
        ua[j] = u;
        za[j] = z;
        hn[j] = u * hb[j] + (S(1) - u) * z;
      }
    }
  }

  // δa_u = δh_t (h_{t−1} − z) u(1 − u), δa_z = δh_t (1 − u)(1 − z²);
  // δh_{t−1} = δh_t u + W_hhᵀ δa_u (the product is the caller's).
  template <typename S, class RhProduct>
  static void backward(const BackwardArgs<S>& s, RhProduct&&) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    for (int b = 0; b < s.B; ++b) {
      const auto g = gate_row<Gates>(s.a, b, N, ld);
      S *ua = g.update(), *za = g.embed();
      const S* hb = s.h + size_t(b) * N;
      const S* dhb = s.dh.data() + size_t(b) * N;
      S* dhn = s.dh_new.data() + size_t(b) * N;
#pragma omp simd
      for (int j = 0; j < N; ++j) {
        const S u = ua[j], z = za[j];
        ua[j] = dhb[j] * (hb[j] - z) * u * (S(1) - u);
        za[j] = dhb[j] * (S(1) - u) * (S(1) - z * z);
        dhn[j] = dhb[j] * u;
      }
    }
  }

  // J = D_u + D_{u'(h−z)} W_u.
  static void jacobian(const JacobianArgs& s, Eigen::MatrixXd& J, Eigen::MatrixXd&) {
    const auto g = gate_rows<Gates>(s.gates, s.N);
    const auto W = gate_rows<Gates>(s.W, s.N);
    const auto u = g.update().array(), z = g.embed().array();
    J = Eigen::MatrixXd(u.matrix().asDiagonal()) +
        (u * (1 - u) * (s.h_prev.array() - z)).matrix().asDiagonal() * W.update();
  }
};

}  // namespace rnnmft::kernels
