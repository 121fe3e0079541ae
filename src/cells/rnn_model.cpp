#include "cells/rnn_model.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/fp_env.h"

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
bool RnnModel<S>::recurrent_preacts(const S* h, int B, Work& w) {
  const int N = cfg_.hidden, Gh = recurrent_gates(cfg_.cell);
  S* P = params_.data();
  CMapM hm(h, B, N);
  Mat& hp_ = w.hp;
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
void RnnModel<S>::step_fast(S* a, const S* h, const S* c, S* h_next, S* c_next, S* e, int B,
                            Work& w) {
  using Arr = Eigen::Array<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Blk = Eigen::Map<Arr, 0, Eigen::OuterStride<>>;
  const int N = cfg_.hidden, Gi = input_gates(cfg_.cell);
  S* P = params_.data();
  MapM A(a, B, Gi * N);
  auto block = [&](int k) { return Blk(a + k * N, B, N, Eigen::OuterStride<>(Gi * N)); };
  Eigen::Map<Arr> hn(h_next, B, N);
  const Eigen::Map<const Arr> ha(h, B, N);
  const bool before = recurrent_preacts(h, B, w);
  Mat& hp_ = w.hp;
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
void RnnModel<S>::step(S* a, const S* h, const S* c, S* h_next, S* c_next, S* e, int B, Work& w) {
  if (!cfg_.reference_kernel) {
    step_fast(a, h, c, h_next, c_next, e, B, w);
    return;
  }
  const int N = cfg_.hidden, Gi = input_gates(cfg_.cell), Gh = recurrent_gates(cfg_.cell);
  S* P = const_cast<S*>(params_.data());
  const bool before = recurrent_preacts(h, B, w);
  Mat& hp_ = w.hp;
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
std::vector<std::pair<int, int>> RnnModel<S>::slices(int B) const {
  // At least 8 rows a slice: below that the per-step products lose more to the small shape than
  // the second thread gains.
  const int P = std::clamp(std::min(Eigen::nbThreads(), B / 8), 1, 256);
  std::vector<std::pair<int, int>> s(P);
  for (int p = 0; p < P; ++p) s[p] = {int(int64_t(B) * p / P), int(int64_t(B) * (p + 1) / P)};
  return s;
}

template <typename S>
void RnnModel<S>::forward_step(const S* x, const S* h, const S* c, S* h_next, S* c_next, int B,
                               S* gates, S* extra) {
  const int N = cfg_.hidden, I = cfg_.input_dim, Gi = input_gates(cfg_.cell);
  S* P = params_.data();
  Mat a(B, Gi * N), e(B, N);
  a.noalias() = CMapM(x, B, I) * w_ih(P).transpose();
  a.rowwise() += b_ih(P).transpose();
  if (work_.empty()) work_.resize(1);
  step(a.data(), h, c, h_next, c_next, e.data(), B, work_[0]);
  if (gates) std::copy(a.data(), a.data() + a.size(), gates);
  if (extra) std::copy(e.data(), e.data() + e.size(), extra);
}

template <typename S>
S RnnModel<S>::loss(const S* x, const int* labels, int T, int B, int* correct) {
  flush_denormals();
  const int N = cfg_.hidden, I = cfg_.input_dim, Gi = input_gates(cfg_.cell);
  S* P = params_.data();
  Mat h = Mat::Zero(B, N), c = Mat::Zero(B, N);
  const auto sl = slices(B);
  work_.resize(std::max(work_.size(), sl.size()));
#pragma omp parallel for num_threads(int(sl.size())) schedule(static, 1)
  for (int p = 0; p < int(sl.size()); ++p) {
    flush_denormals();  // in every thread that computes (util/fp_env.h)
    const auto [b0, b1] = sl[p];
    const int nb = b1 - b0;
    Mat a(nb, Gi * N), h2(nb, N), c2(nb, N), e(nb, N);
    Mat hs = h.middleRows(b0, nb), cs = c.middleRows(b0, nb);
    for (int t = 0; t < T; ++t) {
      a.noalias() = CMapM(x + (size_t(t) * B + b0) * I, nb, I) * w_ih(P).transpose();
      a.rowwise() += b_ih(P).transpose();
      step(a.data(), hs.data(), cs.data(), h2.data(), c2.data(), e.data(), nb, work_[p]);
      hs.swap(h2);
      cs.swap(c2);
    }
    h.middleRows(b0, nb) = hs;
  }
  return head_loss(h.data(), labels, B, nullptr, correct);
}

template <typename S>
void RnnModel<S>::backward_step(S* a, const S* h, const S* cp_all, const S* cn_all, S* e, int B,
                                Work& w) {
  const int N = cfg_.hidden, Gi = input_gates(cfg_.cell), Gh = recurrent_gates(cfg_.cell);
  const bool gru = cfg_.cell == CellType::Gru, lstm = cfg_.cell == CellType::Lstm;
  const bool before = gru && cfg_.gru == GruVariant::ResetBefore;
  S* P = params_.data();
  Mat &dh = w.dh, &dc = w.dc, &dh_new = w.dh_new, &drh = w.drh;
  dh_new.resize(B, N);
  if (lstm) {  // tanh(c_t) of the whole slice at once (vectorized unless the reference kernel)
    CMapM cn(cn_all, B, N);
    if (cfg_.reference_kernel)
      w.tanh_c = cn.unaryExpr([](S v) { return std::tanh(v); });
    else
      w.tanh_c = cn.array().tanh().matrix();
  }
  // The candidate's recurrent input r ⊙ h needs its gradient before r's.
  if (before) {
    drh.resize(B, N);
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
#pragma omp simd
        for (int j = 0; j < N; ++j) {
          ar[j] = dhb[j] * (S(1) - ar[j] * ar[j]);
          dhn[j] = 0;
        }
        break;
      case CellType::Minimal:
#pragma omp simd
        for (int j = 0; j < N; ++j) {
          const S u = ar[j], z = ar[N + j];
          ar[j] = dhb[j] * (hb[j] - z) * u * (S(1) - u);
          ar[N + j] = dhb[j] * (S(1) - u) * (S(1) - z * z);
          dhn[j] = dhb[j] * u;
        }
        break;
      case CellType::Lstm: {
        const S* cp = cp_all + size_t(b) * N;  // c_{t-1}
        const S* tcb = w.tanh_c.data() + size_t(b) * N;
        S* dcb = dc.data() + size_t(b) * N;
#pragma omp simd
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
        S* eb = e + size_t(b) * N;
#pragma omp simd
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
    if (!before) dh_new.noalias() += CMapM(e, B, N) * w_hh(P).bottomRows(N);
  }
  dh.swap(dh_new);
}

template class RnnModel<float>;
template class RnnModel<double>;

}  // namespace rnnmft
