#include "cells/rnn_model.h"

#include <algorithm>
#include <cmath>

#include "cells/kernels/dispatch.h"
#include "util/error.h"
#include "util/fp_env.h"

namespace rnnmft {

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

// Cell equations: docs/cells.md §Forward; each cell's element-wise part is its kernel
// (cells/kernels/<cell>.h), the products are here.
template <typename S>
bool RnnModel<S>::recurrent_preacts(const S* h, int B, Work& w) {
  const int N = cfg_.hidden, Gh = recurrent_gates(cfg_.cell);
  S* P = params_.data();
  CMapM hm(h, B, N);
  Mat& hp_ = w.hp;
  hp_.resize(B, Gh * N);
  const bool before = reset_before();
  if (!before) {
    hp_.noalias() = hm * w_hh(P).transpose();
    hp_.rowwise() += b_hh(P).transpose();
  } else {
    // The gates before the candidate (r and z) read h; the candidate (the last block) reads
    // r ⊙ h, known only after r.
    const int rz = (Gh - 1) * N;
    hp_.leftCols(rz).noalias() = hm * w_hh(P).topRows(rz).transpose();
    hp_.leftCols(rz).rowwise() += b_hh(P).head(rz).transpose();
  }
  return before;
}

template <typename S>
void RnnModel<S>::step(S* a, const S* h, const S* c, S* h_next, S* c_next, S* e, int B, Work& w) {
  const int N = cfg_.hidden;
  S* P = params_.data();
  const bool before = recurrent_preacts(h, B, w);
  // Reset-before: the candidate's product (r ⊙ h) W_hnᵀ + b_hn, once the kernel has r ⊙ h in e.
  auto candidate = [&] {
    w.hp.rightCols(N).noalias() = CMapM(e, B, N) * w_hh(P).bottomRows(N).transpose();
    w.hp.rightCols(N).rowwise() += b_hh(P).tail(N).transpose();
  };
  const kernels::StepArgs<S> s{a, h, c, h_next, c_next, e, w.hp, B, N, before};
  kernels::with_kernel(cfg_.cell, [&](auto k) {
    if (cfg_.reference_kernel)
      k.forward_ref(s, candidate);
    else
      k.forward_fast(s, candidate);
  });
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
  const CellDesc& d = describe(cfg_.cell);
  const int N = cfg_.hidden, Gi = d.input_gates, Gh = d.recurrent_gates;
  const bool before = reset_before();
  S* P = params_.data();
  w.dh_new.resize(B, N);
  // Reset-before: δ(r ⊙ h) = δa_n W_hn, with δa_n staged in drh by the kernel.
  auto rh_product = [&] { w.dh_new.noalias() = w.drh * w_hh(P).bottomRows(N); };
  const kernels::BackwardArgs<S> s{a, h, cp_all, cn_all, e, w.dh, w.dc, w.dh_new, w.drh,
                                   w.tanh_c, B, N, before, cfg_.reference_kernel};
  kernels::with_kernel(cfg_.cell, [&](auto k) { k.backward(s, rh_product); });
  CMapM da(a, B, Gi * N);
  if (!d.reset_gate) {
    w.dh_new.noalias() += da.leftCols(Gh * N) * w_hh(P);
  } else {  // the blocks before the candidate read h itself
    const int rz = (Gh - 1) * N;
    w.dh_new.noalias() += da.leftCols(rz) * w_hh(P).topRows(rz);
    if (!before) w.dh_new.noalias() += CMapM(e, B, N) * w_hh(P).bottomRows(N);
  }
  w.dh.swap(w.dh_new);
}

template class RnnModel<float>;
template class RnnModel<double>;

}  // namespace rnnmft
