// LSTM, PyTorch's gate order i f g o: i, f, o = σ(·), g = tanh(·), c_t = f ⊙ c_{t−1} + i ⊙ g,
// h_t = o ⊙ tanh(c_t) (docs/cells.md §Forward, §Backward; Jacobian docs/theory.md §5.1, §5.4).
#pragma once

#include <Eigen/Dense>
#include <cmath>

#include "cells/kernels/context.h"
#include "cells/kernels/gates.h"

namespace rnnmft::kernels {

struct Lstm {
  template <class V>
  using Gates = LstmGates<V>;

  template <typename S, class Candidate>
  static void forward_fast(const StepArgs<S>& s, Candidate&&) {
    using Arr = typename ArrayBlocks<S>::Arr;
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    Eigen::Map<RowMat<S>> A(s.a, s.B, ld);
    A += s.hp;
    const auto a = gate_blocks<Gates>(s.a, s.B, N, ld);
    auto i = a.input(), f = a.forget(), g = a.cell(), o = a.output();
    i = i.logistic();
    f = f.logistic();
    g = g.tanh();
    o = o.logistic();
    Eigen::Map<Arr> cn(s.c_next, s.B, N);
    cn = f * Eigen::Map<const Arr>(s.c, s.B, N) + i * g;
    Eigen::Map<Arr>(s.h_next, s.B, N) = o * cn.tanh();
  }

  template <typename S, class Candidate>
  static void forward_ref(const StepArgs<S>& s, Candidate&&) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N, lh = int(s.hp.cols());
    for (int b = 0; b < s.B; ++b) {
      const auto ga = gate_row<Gates>(s.a, b, N, ld);
      const auto gh = gate_row<Gates>(s.hp.data(), b, N, lh);
      S *ia = ga.input(), *fa = ga.forget(), *ca = ga.cell(), *oa = ga.output();
      const S *ih = gh.input(), *fh = gh.forget(), *ch = gh.cell(), *oh = gh.output();
      const S* cb = s.c + size_t(b) * N;
      S* cn = s.c_next + size_t(b) * N;
      S* hn = s.h_next + size_t(b) * N;
      for (int j = 0; j < N; ++j) {
        const S i = sigm(ia[j] + ih[j]), f = sigm(fa[j] + fh[j]), g = std::tanh(ca[j] + ch[j]),
                o = sigm(oa[j] + oh[j]);
        ia[j] = i;
        fa[j] = f;
        ca[j] = g;
        oa[j] = o;
        cn[j] = f * cb[j] + i * g;
        hn[j] = o * std::tanh(cn[j]);
      }
    }
  }

  // δc = δc_t + δh_t o (1 − tanh² c_t); δa_i = δc g i(1 − i), δa_f = δc c_{t−1} f(1 − f),
  // δa_g = δc i (1 − g²), δa_o = δh_t tanh(c_t) o(1 − o); δc_{t−1} = δc f; δh_{t−1} = W_hhᵀ δa
  // (the caller's product).
  template <typename S, class RhProduct>
  static void backward(const BackwardArgs<S>& s, RhProduct&&) {
    const int N = s.N, ld = Gates<RowBlocks<S>>::count * N;
    // tanh(c_t) of the whole slice at once (vectorized unless the reference kernel).
    const Eigen::Map<const RowMat<S>> c_cur(s.c_cur, s.B, N);
    if (s.reference)
      s.tanh_c = c_cur.unaryExpr([](S v) { return std::tanh(v); });
    else
      s.tanh_c = c_cur.array().tanh().matrix();
    for (int b = 0; b < s.B; ++b) {
      const auto ga = gate_row<Gates>(s.a, b, N, ld);
      S *ia = ga.input(), *fa = ga.forget(), *ca = ga.cell(), *oa = ga.output();
      const S* dhb = s.dh.data() + size_t(b) * N;
      S* dhn = s.dh_new.data() + size_t(b) * N;
      const S* cp = s.c_prev + size_t(b) * N;  // c_{t−1}
      const S* tcb = s.tanh_c.data() + size_t(b) * N;
      S* dcb = s.dc.data() + size_t(b) * N;
#pragma omp simd
      for (int j = 0; j < N; ++j) {
        const S i = ia[j], f = fa[j], g = ca[j], o = oa[j];
        const S tc = tcb[j];
        const S dct = dcb[j] + dhb[j] * o * (S(1) - tc * tc);
        ia[j] = dct * g * i * (S(1) - i);
        fa[j] = dct * cp[j] * f * (S(1) - f);
        ca[j] = dct * i * (S(1) - g * g);
        oa[j] = dhb[j] * tc * o * (S(1) - o);
        dcb[j] = dct * f;
        dhn[j] = 0;
      }
    }
  }

  // J_c = D_f + K D_{T_{t−1}} with K = D_{c_{t−1} f'} W_f + D_{g i'} W_i + D_{i g'} W_g; the
  // (c, h) Jacobian [[D_f, K], [D_{T f}, D_S W_o + D_T K]], T = o φ'(c_t), S = φ(c_t) σ'(u^o).
  static void jacobian(const JacobianArgs& s, Eigen::MatrixXd& J, Eigen::MatrixXd& J_state) {
    using Eigen::MatrixXd;
    using Eigen::VectorXd;
    const int N = s.N;
    const auto ga = gate_rows<Gates>(s.gates, N);
    const auto W = gate_rows<Gates>(s.W, N);
    const auto i = ga.input().array(), f = ga.forget().array(), g = ga.cell().array(),
               o = ga.output().array();
    const MatrixXd K = (s.c_prev.array() * f * (1 - f)).matrix().asDiagonal() * W.forget() +
                       (g * i * (1 - i)).matrix().asDiagonal() * W.input() +
                       (i * (1 - g * g)).matrix().asDiagonal() * W.cell();
    const auto tc = s.c.array().tanh();
    const VectorXd T = (o * (1 - tc * tc)).matrix(), S = (tc * o * (1 - o)).matrix();
    J_state.resize(s.c.size() + s.h.size(), s.c.size() + s.h.size());  // (c, h)
    J_state.topLeftCorner(N, N) = f.matrix().asDiagonal();
    J_state.topRightCorner(N, N) = K;
    J_state.bottomLeftCorner(N, N) = (T.array() * f).matrix().asDiagonal();
    J_state.bottomRightCorner(N, N) = S.asDiagonal() * W.output() + T.asDiagonal() * K;
    // h_{t−1} = o_{t−1} tanh(c_{t−1}) with o_{t−1} fixed.
    const VectorXd T1 = (s.o_prev.array() * (1 - s.c_prev.array().tanh().square())).matrix();
    J = MatrixXd(f.matrix().asDiagonal()) + K * T1.asDiagonal();
  }
};

}  // namespace rnnmft::kernels
