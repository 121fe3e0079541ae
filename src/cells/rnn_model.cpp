#include "cells/rnn_model.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace rnnmft {
namespace {

template <typename S>
inline S sigm(S x) {
  return S(1) / (S(1) + std::exp(-x));
}

}  // namespace

ParamLayout::ParamLayout(const ModelConfig& c) {
  const size_t N = c.hidden, I = c.input_dim, Gi = input_gates(c.cell),
               Gh = recurrent_gates(c.cell), C = c.classes;
  w_ih = 0;
  w_hh = w_ih + Gi * N * I;
  b_ih = w_hh + Gh * N * N;
  b_hh = b_ih + Gi * N;
  w_head = b_hh + Gh * N;
  b_head = w_head + C * N;
  total = b_head + C;
}

template <typename S>
RnnModel<S>::RnnModel(const ModelConfig& cfg) : cfg_(cfg), layout_(cfg) {
  if (cfg.hidden < 1 || cfg.input_dim < 1 || cfg.classes < 2)
    fail("model needs hidden ≥ 1, input_dim ≥ 1 and classes ≥ 2 (got {}, {}, {})", cfg.hidden,
         cfg.input_dim, cfg.classes);
  params_.assign(layout_.total, S(0));
}

template <typename S>
typename RnnModel<S>::MapM RnnModel<S>::w_ih(S* p) const {
  return MapM(p + layout_.w_ih, input_gates(cfg_.cell) * cfg_.hidden, cfg_.input_dim);
}
template <typename S>
typename RnnModel<S>::MapM RnnModel<S>::w_hh(S* p) const {
  return MapM(p + layout_.w_hh, recurrent_gates(cfg_.cell) * cfg_.hidden, cfg_.hidden);
}
template <typename S>
typename RnnModel<S>::MapM RnnModel<S>::w_head(S* p) const {
  return MapM(p + layout_.w_head, cfg_.classes, cfg_.hidden);
}
template <typename S>
Eigen::Map<typename RnnModel<S>::Vec> RnnModel<S>::b_ih(S* p) const {
  return Eigen::Map<Vec>(p + layout_.b_ih, input_gates(cfg_.cell) * cfg_.hidden);
}
template <typename S>
Eigen::Map<typename RnnModel<S>::Vec> RnnModel<S>::b_hh(S* p) const {
  return Eigen::Map<Vec>(p + layout_.b_hh, recurrent_gates(cfg_.cell) * cfg_.hidden);
}
template <typename S>
Eigen::Map<typename RnnModel<S>::Vec> RnnModel<S>::b_head(S* p) const {
  return Eigen::Map<Vec>(p + layout_.b_head, cfg_.classes);
}

// Cell equations: docs/cells.md §Forward.
template <typename S>
bool RnnModel<S>::recurrent_preacts(const S* h, int B) {
  const int N = cfg_.hidden, Gh = recurrent_gates(cfg_.cell);
  S* P = params_.data();
  CMapM hm(h, B, N);
  hp_.resize(B, Gh * N);
  const bool before = cfg_.cell == CellType::Gru && cfg_.gru == GruVariant::ResetBefore;
  if (!before) {
    hp_.noalias() = hm * w_hh(P).transpose();
    hp_.rowwise() += b_hh(P).transpose();
  } else {
    // r and z read h; the candidate reads r ⊙ h, known only after r.
    hp_.leftCols(2 * N).noalias() = hm * w_hh(P).topRows(2 * N).transpose();
    hp_.leftCols(2 * N).rowwise() += b_hh(P).head(2 * N).transpose();
  }
  return before;
}

template <typename S>
void RnnModel<S>::step_fast(S* a, const S* h, const S* c, S* h_next, S* c_next, S* e, int B) {
  using Arr = Eigen::Array<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Blk = Eigen::Map<Arr, 0, Eigen::OuterStride<>>;
  const int N = cfg_.hidden, Gi = input_gates(cfg_.cell);
  S* P = params_.data();
  MapM A(a, B, Gi * N);
  auto block = [&](int k) { return Blk(a + k * N, B, N, Eigen::OuterStride<>(Gi * N)); };
  Eigen::Map<Arr> hn(h_next, B, N);
  const Eigen::Map<const Arr> ha(h, B, N);
  const bool before = recurrent_preacts(h, B);
  switch (cfg_.cell) {
    case CellType::Vanilla:
      A += hp_;
      block(0) = block(0).tanh();
      hn = block(0);
      return;
    case CellType::Minimal:
      A.leftCols(N) += hp_;
      block(0) = block(0).logistic();
      block(1) = block(1).tanh();
      hn = block(0) * ha + (S(1) - block(0)) * block(1);
      return;
    case CellType::Lstm: {
      A += hp_;
      block(0) = block(0).logistic();
      block(1) = block(1).logistic();
      block(2) = block(2).tanh();
      block(3) = block(3).logistic();
      Eigen::Map<Arr> cn(c_next, B, N);
      cn = block(1) * Eigen::Map<const Arr>(c, B, N) + block(0) * block(2);
      hn = block(3) * cn.tanh();
      return;
    }
    case CellType::Gru: {
      A.leftCols(2 * N) += hp_.leftCols(2 * N);
      block(0) = block(0).logistic();
      block(1) = block(1).logistic();
      Eigen::Map<Arr> ea(e, B, N);
      if (before) {
        ea = block(0) * ha;
        hp_.rightCols(N).noalias() = CMapM(e, B, N) * w_hh(P).bottomRows(N).transpose();
        hp_.rightCols(N).rowwise() += b_hh(P).tail(N).transpose();
        block(2) = (block(2) + hp_.rightCols(N).array()).tanh();
      } else {
        ea = hp_.rightCols(N).array();  // W_hn h + b_hn, kept for the backward sweep
        block(2) = (block(2) + block(0) * ea).tanh();
      }
      hn = (S(1) - block(1)) * block(2) + block(1) * ha;
      return;
    }
  }
}

template <typename S>
void RnnModel<S>::step(S* a, const S* h, const S* c, S* h_next, S* c_next, S* e, int B) {
  if (!cfg_.reference_kernel) {
    step_fast(a, h, c, h_next, c_next, e, B);
    return;
  }
  const int N = cfg_.hidden, Gi = input_gates(cfg_.cell), Gh = recurrent_gates(cfg_.cell);
  S* P = const_cast<S*>(params_.data());
  const bool before = recurrent_preacts(h, B);
  for (int b = 0; b < B; ++b) {
    S* ar = a + size_t(b) * Gi * N;
    const S* hr = hp_.data() + size_t(b) * Gh * N;
    const S* hb = h + size_t(b) * N;
    S* hn = h_next + size_t(b) * N;
    switch (cfg_.cell) {
      case CellType::Vanilla:
        for (int j = 0; j < N; ++j) hn[j] = ar[j] = std::tanh(ar[j] + hr[j]);
        break;
      case CellType::Minimal:
        for (int j = 0; j < N; ++j) {
          const S u = sigm(ar[j] + hr[j]), z = std::tanh(ar[N + j]);
          ar[j] = u;
          ar[N + j] = z;
          hn[j] = u * hb[j] + (S(1) - u) * z;
        }
        break;
      case CellType::Lstm: {
        const S* cb = c + size_t(b) * N;
        S* cn = c_next + size_t(b) * N;
        for (int j = 0; j < N; ++j) {
          const S i = sigm(ar[j] + hr[j]), f = sigm(ar[N + j] + hr[N + j]),
                  g = std::tanh(ar[2 * N + j] + hr[2 * N + j]),
                  o = sigm(ar[3 * N + j] + hr[3 * N + j]);
          ar[j] = i;
          ar[N + j] = f;
          ar[2 * N + j] = g;
          ar[3 * N + j] = o;
          cn[j] = f * cb[j] + i * g;
          hn[j] = o * std::tanh(cn[j]);
        }
        break;
      }
      case CellType::Gru: {
        S* eb = e + size_t(b) * N;
        for (int j = 0; j < N; ++j) {
          const S r = sigm(ar[j] + hr[j]), z = sigm(ar[N + j] + hr[N + j]);
          ar[j] = r;
          ar[N + j] = z;
          if (before)
            eb[j] = r * hb[j];
          else
            eb[j] = hr[2 * N + j];  // W_hn h + b_hn, kept for the backward sweep
        }
        break;
      }
    }
  }
  if (cfg_.cell != CellType::Gru) return;
  if (before) {
    CMapM rh(e, B, N);
    hp_.rightCols(N).noalias() = rh * w_hh(P).bottomRows(N).transpose();
    hp_.rightCols(N).rowwise() += b_hh(P).tail(N).transpose();
  }
  for (int b = 0; b < B; ++b) {
    S* ar = a + size_t(b) * 3 * N;
    const S* hb = h + size_t(b) * N;
    const S* eb = e + size_t(b) * N;
    const S* hr = hp_.data() + size_t(b) * 3 * N;
    S* hn = h_next + size_t(b) * N;
    for (int j = 0; j < N; ++j) {
      const S r = ar[j], z = ar[N + j];
      const S n = std::tanh(ar[2 * N + j] + (before ? hr[2 * N + j] : r * eb[j]));
      ar[2 * N + j] = n;
      hn[j] = (S(1) - z) * n + z * hb[j];
    }
  }
}

template <typename S>
S RnnModel<S>::head_loss(const S* h_last, const int* labels, int B, Mat* dlogits,
                         int* correct) const {
  const int C = cfg_.classes, N = cfg_.hidden;
  S* P = const_cast<S*>(params_.data());
  Mat logits = CMapM(h_last, B, N) * w_head(P).transpose();
  logits.rowwise() += b_head(P).transpose();
  S total = 0;
  int hits = 0;
  if (dlogits) dlogits->resize(B, C);
  for (int b = 0; b < B; ++b) {
    if (labels[b] < 0 || labels[b] >= C) fail("label {} outside 0–{}", labels[b], C - 1);
    const S mx = logits.row(b).maxCoeff();
    S z = 0;
    int arg = 0;
    for (int k = 0; k < C; ++k) {
      z += std::exp(logits(b, k) - mx);
      if (logits(b, k) > logits(b, arg)) arg = k;
    }
    hits += arg == labels[b];
    const S lse = mx + std::log(z);
    total += lse - logits(b, labels[b]);
    if (dlogits)
      for (int k = 0; k < C; ++k)
        (*dlogits)(b, k) = (std::exp(logits(b, k) - lse) - S(k == labels[b])) / S(B);
  }
  if (correct) *correct = hits;
  return total / S(B);
}

template <typename S>
void RnnModel<S>::forward_step(const S* x, const S* h, const S* c, S* h_next, S* c_next, int B,
                               S* gates, S* extra) {
  const int N = cfg_.hidden, I = cfg_.input_dim, Gi = input_gates(cfg_.cell);
  S* P = params_.data();
  Mat a(B, Gi * N), e(B, N);
  a.noalias() = CMapM(x, B, I) * w_ih(P).transpose();
  a.rowwise() += b_ih(P).transpose();
  step(a.data(), h, c, h_next, c_next, e.data(), B);
  if (gates) std::copy(a.data(), a.data() + a.size(), gates);
  if (extra) std::copy(e.data(), e.data() + e.size(), extra);
}

template <typename S>
S RnnModel<S>::loss(const S* x, const int* labels, int T, int B, int* correct) {
  const int N = cfg_.hidden, I = cfg_.input_dim, Gi = input_gates(cfg_.cell);
  S* P = params_.data();
  Mat a(B, Gi * N), h = Mat::Zero(B, N), c = Mat::Zero(B, N), h2(B, N), c2(B, N), e(B, N);
  for (int t = 0; t < T; ++t) {
    a.noalias() = CMapM(x + size_t(t) * B * I, B, I) * w_ih(P).transpose();
    a.rowwise() += b_ih(P).transpose();
    step(a.data(), h.data(), c.data(), h2.data(), c2.data(), e.data(), B);
    h.swap(h2);
    c.swap(c2);
  }
  return head_loss(h.data(), labels, B, nullptr, correct);
}

// Backward through time: docs/cells.md §Backward.
template <typename S>
S RnnModel<S>::loss_and_grad(const S* x, const int* labels, int T, int B, AlignedVector<S>& grad,
                             int* correct) {
  const int N = cfg_.hidden, I = cfg_.input_dim, Gi = input_gates(cfg_.cell),
            Gh = recurrent_gates(cfg_.cell);
  const bool gru = cfg_.cell == CellType::Gru, lstm = cfg_.cell == CellType::Lstm;
  const bool before = gru && cfg_.gru == GruVariant::ResetBefore;
  S* P = params_.data();
  const size_t TB = size_t(T) * B;
  CMapM X(x, TB, I);

  // Input projection of every step as one GEMM.
  A_.resize(TB, Gi * N);
  A_.noalias() = X * w_ih(P).transpose();
  A_.rowwise() += b_ih(P).transpose();
  H_.setZero(TB + B, N);
  if (lstm) C_.setZero(TB + B, N);
  if (gru) E_.resize(TB, N);
  for (int t = 0; t < T; ++t) {
    const size_t r0 = size_t(t) * B;
    step(A_.data() + r0 * Gi * N, H_.data() + r0 * N, lstm ? C_.data() + r0 * N : nullptr,
         H_.data() + (r0 + B) * N, lstm ? C_.data() + (r0 + B) * N : nullptr,
         gru ? E_.data() + r0 * N : nullptr, B);
  }
  Mat dlogits;
  const S L = head_loss(H_.data() + TB * N, labels, B, &dlogits, correct);

  grad.assign(layout_.total, S(0));
  S* G = grad.data();
  CMapM h_last(H_.data() + TB * N, B, N);
  w_head(G).noalias() = dlogits.transpose() * h_last;
  b_head(G) = dlogits.colwise().sum().transpose();
  Mat dh = dlogits * w_head(P), dc = Mat::Zero(B, lstm ? N : 0), dh_new(B, N), drh(B, N);

  for (int t = T - 1; t >= 0; --t) {
    const size_t r0 = size_t(t) * B;
    S* a = A_.data() + r0 * Gi * N;  // activations in, pre-activation gradients out
    const S* h = H_.data() + r0 * N;
    if (lstm) {  // tanh(c_t) of the whole step at once (vectorized unless the reference kernel)
      CMapM cn(C_.data() + (r0 + B) * N, B, N);
      if (cfg_.reference_kernel)
        tanh_c_ = cn.unaryExpr([](S v) { return std::tanh(v); });
      else
        tanh_c_ = cn.array().tanh().matrix();
    }
    // The candidate's recurrent input r ⊙ h needs its gradient before r's.
    if (before) {
      for (int b = 0; b < B; ++b)
        for (int j = 0; j < N; ++j) {
          const S* ar = a + size_t(b) * 3 * N;
          const S z = ar[N + j], n = ar[2 * N + j];
          drh(b, j) = dh(b, j) * (S(1) - z) * (S(1) - n * n);  // da_n, staged
        }
      dh_new.noalias() = drh * w_hh(P).bottomRows(N);  // d(r ⊙ h)
    }
    for (int b = 0; b < B; ++b) {
      S* ar = a + size_t(b) * Gi * N;
      const S* hb = h + size_t(b) * N;
      const S* dhb = dh.data() + size_t(b) * N;
      S* dhn = dh_new.data() + size_t(b) * N;
      switch (cfg_.cell) {
        case CellType::Vanilla:
          for (int j = 0; j < N; ++j) {
            ar[j] = dhb[j] * (S(1) - ar[j] * ar[j]);
            dhn[j] = 0;
          }
          break;
        case CellType::Minimal:
          for (int j = 0; j < N; ++j) {
            const S u = ar[j], z = ar[N + j];
            ar[j] = dhb[j] * (hb[j] - z) * u * (S(1) - u);
            ar[N + j] = dhb[j] * (S(1) - u) * (S(1) - z * z);
            dhn[j] = dhb[j] * u;
          }
          break;
        case CellType::Lstm: {
          const S* cp = C_.data() + (r0 + b) * N;  // c_{t-1}
          const S* tcb = tanh_c_.data() + size_t(b) * N;
          S* dcb = dc.data() + size_t(b) * N;
          for (int j = 0; j < N; ++j) {
            const S i = ar[j], f = ar[N + j], g = ar[2 * N + j], o = ar[3 * N + j];
            const S tc = tcb[j];
            const S dct = dcb[j] + dhb[j] * o * (S(1) - tc * tc);
            ar[j] = dct * g * i * (S(1) - i);
            ar[N + j] = dct * cp[j] * f * (S(1) - f);
            ar[2 * N + j] = dct * i * (S(1) - g * g);
            ar[3 * N + j] = dhb[j] * tc * o * (S(1) - o);
            dcb[j] = dct * f;
            dhn[j] = 0;
          }
          break;
        }
        case CellType::Gru: {
          S* eb = E_.data() + (r0 + b) * N;
          for (int j = 0; j < N; ++j) {
            const S r = ar[j], z = ar[N + j], n = ar[2 * N + j];
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
            ar[j] = dr * r * (S(1) - r);
            ar[N + j] = dhb[j] * (hb[j] - n) * z * (S(1) - z);
            ar[2 * N + j] = dan;
          }
          break;
        }
      }
    }
    CMapM da(a, B, Gi * N);
    if (!gru) {
      dh_new.noalias() += da.leftCols(Gh * N) * w_hh(P);
    } else {
      dh_new.noalias() += da.leftCols(2 * N) * w_hh(P).topRows(2 * N);
      if (!before) dh_new.noalias() += CMapM(E_.data() + r0 * N, B, N) * w_hh(P).bottomRows(N);
    }
    dh.swap(dh_new);
  }

  // Weight gradients of the whole sequence as single GEMMs.
  CMapM Hprev(H_.data(), TB, N);
  w_ih(G).noalias() = A_.transpose() * X;
  b_ih(G) = A_.colwise().sum().transpose();
  if (!gru) {
    w_hh(G).noalias() = A_.leftCols(Gh * N).transpose() * Hprev;
    b_hh(G) = A_.leftCols(Gh * N).colwise().sum().transpose();
  } else {
    w_hh(G).topRows(2 * N).noalias() = A_.leftCols(2 * N).transpose() * Hprev;
    b_hh(G).head(2 * N) = A_.leftCols(2 * N).colwise().sum().transpose();
    if (before) {
      w_hh(G).bottomRows(N).noalias() = A_.rightCols(N).transpose() * E_;
      b_hh(G).tail(N) = A_.rightCols(N).colwise().sum().transpose();
    } else {
      w_hh(G).bottomRows(N).noalias() = E_.transpose() * Hprev;
      b_hh(G).tail(N) = E_.colwise().sum().transpose();
    }
  }
  return L;
}

template class RnnModel<float>;
template class RnnModel<double>;

}  // namespace rnnmft
