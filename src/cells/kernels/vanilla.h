// Vanilla RNN: h_t = tanh(a) (docs/cells.md §Forward, §Backward; Jacobian docs/theory.md §5.3).
#pragma once

#include <Eigen/Dense>
#include <cmath>

#include "cells/kernels/context.h"
#include "cells/kernels/gates.h"

namespace rnnmft::kernels {

struct Vanilla {
  template <class V>
  using Gates = VanillaGates<V>;

  // The step as vectorized Eigen array operations.
  template <typename S, class Candidate>
  static void forward_fast(const StepArgs<S>& s, Candidate&&) {
    using Arr = typename ArrayBlocks<S>::Arr;
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    Eigen::Map<RowMat<S>> A(s.a, s.B, ld);
    A += s.hp;
    auto a = gate_blocks<Gates>(s.a, s.B, N, ld).hidden();
    a = a.tanh();
    Eigen::Map<Arr>(s.h_next, s.B, N) = a;
  }

  // The reference: std::tanh per element.
  template <typename S, class Candidate>
  static void forward_ref(const StepArgs<S>& s, Candidate&&) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    for (int b = 0; b < s.B; ++b) {
      S* ar = gate_row<Gates>(s.a, b, N, ld).hidden();
      const S* hr = gate_row<Gates>(s.hp.data(), b, N, int(s.hp.cols())).hidden();
      S* hn = s.h_next + size_t(b) * N;
      for (int j = 0; j < N; ++j) hn[j] = ar[j] = std::tanh(ar[j] + hr[j]);
    }
  }

  // δa = δh_t (1 − h_t²); δh_{t−1} is all W_hhᵀ δa (the caller's product).
  template <typename S, class RhProduct>
  static void backward(const BackwardArgs<S>& s, RhProduct&&) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    for (int b = 0; b < s.B; ++b) {
      S* ar = gate_row<Gates>(s.a, b, N, ld).hidden();
      const S* dhb = s.dh.data() + size_t(b) * N;
      S* dhn = s.dh_new.data() + size_t(b) * N;
#pragma omp simd
      for (int j = 0; j < N; ++j) {
        ar[j] = dhb[j] * (S(1) - ar[j] * ar[j]);
        dhn[j] = 0;
      }
    }
  }

  // J = D_{1−h²} W.
  static void jacobian(const JacobianArgs& s, Eigen::MatrixXd& J, Eigen::MatrixXd&) {
    const auto W = gate_rows<Gates>(s.W, s.N);
    J = (1.0 - s.h.array().square()).matrix().asDiagonal() * W.hidden();
  }
};

}  // namespace rnnmft::kernels
