#include "ensemble/ensemble.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "util/error.h"
#include "util/fp_env.h"

namespace rnnmft::ens {

OptKind parse_opt_kind(const std::string& name) {
  if (name == "adam") return OptKind::Adam;
  if (name == "sgd") return OptKind::Sgd;
  if (name == "rmsprop") return OptKind::RmsProp;
  fail("unknown optimizer '{}' (expected adam, sgd or rmsprop)", name);
}

bool fused_from_env() {
  const char* env = std::getenv("RNNMFT_FUSED");
  return env && std::string(env) == "1";
}

Kind kernel_kind(const ModelConfig& m) {
  switch (m.cell) {
    case CellType::Vanilla:
      return Kind::Vanilla;
    case CellType::Minimal:
      return Kind::Minimal;
    case CellType::Lstm:
      return Kind::Lstm;
    case CellType::Gru:
      return m.gru == GruVariant::ResetBefore ? Kind::GruBefore : Kind::GruAfter;
  }
  fail("internal: no ensemble kernel for cell {}", int(m.cell));
}

Ensemble::Ensemble(std::unique_ptr<Backend> backend, const EnsembleConfig& cfg)
    : be_(std::move(backend)),
      cfg_(cfg),
      layout_(cfg.model),
      kind_(kernel_kind(cfg.model)),
      hn_split_(describe(cfg.model.cell).reset_gate &&
                cfg.model.gru == GruVariant::ResetAfter),
      reset_before_(describe(cfg.model.cell).reset_gate &&
                    cfg.model.gru == GruVariant::ResetBefore),
      K_(cfg.models),
      T_(cfg.seq_len),
      B_(cfg.batch),
      I_(cfg.model.input_dim),
      N_(cfg.model.hidden),
      C_(cfg.model.classes),
      Gi_(input_gates(cfg.model.cell)),
      Gh_(recurrent_gates(cfg.model.cell)),
      P_(int64_t(layout_.total)),
      opt_(parse_opt_kind(cfg.optimizer)) {
  if (K_ < 1 || T_ < 1 || B_ < 1)
    fail("an ensemble needs models, sequence length and batch ≥ 1 (got {}, {}, {})", K_, T_, B_);
  if (N_ < 1 || I_ < 1 || C_ < 2)
    fail("model needs hidden ≥ 1, input_dim ≥ 1 and classes ≥ 2 (got {}, {}, {})", N_, I_, C_);
  // The fused sweep's plan first: a backend that must fuse fails here, before allocating.
  if (cfg.fused || fused_from_env() || be_->fused_required())
    for (int d = 0; d < 2; ++d)
      fplan_[d] = be_->fused_plan(kind_, B_, N_, I_, d == 1, cfg.fused_cluster);
  if (be_->fused_required() && (fplan_[0].P == 0 || fplan_[1].P == 0))
    fail(
        "the {} engine multiplies only in the fused sweep, and it has none for this shape {}(the "
        "fused sweep needs an sm_90 GPU, hidden a multiple of 16 per block and a cluster of at "
        "most 8 blocks that fits in shared memory; hidden {}, batch {}, input {}); use "
        "--precision tf32",
        be_->name(), cfg.fused_cluster > 0 ? fmt::format("with {} blocks ", cfg.fused_cluster) : "",
        N_, B_, I_);
  const bool cell_state = describe(cfg.model.cell).cell_state;  // the LSTM's c
  rz_ = (Gh_ - 1) * N_;
  const bool rb = reset_before_;
  const size_t K = size_t(K_), B = size_t(B_), N = size_t(N_);
  const size_t per_step = K * B * N * size_t(Gi_ + (hn_split_ || rb ? 1 : 0)) * sizeof(float);
  tc_ = cfg.chunk > 0 ? std::min(cfg.chunk, T_)
                      : int(std::clamp<size_t>(cfg.chunk_bytes / per_step, 1, size_t(T_)));
  // A chunk's element-wise pass covers tc·B·N (row, unit) pairs per model in 32-bit indices.
  tc_ = int(std::min<int64_t>(tc_, std::max<int64_t>(1, ((int64_t(1) << 31) - 1) / (int64_t(B_) * N_))));
  const size_t P = size_t(P_), T = size_t(T_), tc = size_t(tc_);
  params_ = be_->alloc(K * P);
  grad_ = be_->alloc(K * P);
  s1_ = be_->alloc(K * P);
  if (opt_ == OptKind::Adam) s2_ = be_->alloc(K * P);
  x_ = be_->alloc(K * T * B * size_t(I_));
  labels_ = be_->alloc_int(K * B);
  H_ = be_->alloc(K * (T + 1) * B * N);  // H[k][0] = h_0 = 0 stays zero
  if (cell_state) C_buf_ = be_->alloc(K * (T + 1) * B * N);
  z_ = be_->alloc(K * tc * B * size_t(Gi_) * N);
  if (hn_split_) hn_ = be_->alloc(K * tc * B * N);
  if (rb) {
    rh_ = be_->alloc(K * tc * B * N);
    drh_ = be_->alloc(K * B * N);
  }
  dh_ = be_->alloc(K * B * N);
  dh2_ = be_->alloc(K * B * N);
  if (cell_state) dc_ = be_->alloc(K * B * N);
  logits_ = be_->alloc(K * B * size_t(C_));
  dlogits_ = be_->alloc(K * B * size_t(C_));
  loss_d_ = be_->alloc(K);
  correct_d_ = be_->alloc(K);
  coef_ = be_->alloc(4 * K);
  norms_d_ = be_->alloc_double(K);
  loss_.assign(K, 0.f);
  correct_.assign(K, 0.f);
  steps_.assign(K, 0.f);
  frozen_.assign(K, false);
  written_.assign(K, {0, 0});  // x_ starts zero-filled
}

Ensemble::~Ensemble() {
  for (void* p : {(void*)params_, (void*)grad_, (void*)s1_, (void*)s2_, (void*)x_,
                  (void*)labels_, (void*)H_, (void*)C_buf_, (void*)z_, (void*)hn_, (void*)rh_,
                  (void*)dh_, (void*)dh2_, (void*)dc_, (void*)drh_, (void*)logits_,
                  (void*)dlogits_, (void*)loss_d_, (void*)correct_d_, (void*)coef_,
                  (void*)norms_d_})
    if (p) be_->release(p);
}

void Ensemble::set_params(int k, const float* p) {
  be_->upload(params_ + size_t(k) * P_, p, size_t(P_));
}
void Ensemble::get_params(int k, float* p) const {
  be_->download(p, params_ + size_t(k) * P_, size_t(P_));
}
void Ensemble::get_grad(int k, float* g) const {
  be_->download(g, grad_ + size_t(k) * P_, size_t(P_));
}

void Ensemble::set_batch(int k, const float* x, const int* labels) {
  set_batch(k, x, labels, 0, T_, false);
}

void Ensemble::set_batch(int k, const float* x, const int* labels, int t0, int t1,
                         bool allow_ignored) {
  if (k < 0 || k >= K_) fail("model {} outside 0–{}", k, K_ - 1);
  if (t0 < 0 || t1 > T_ || t0 > t1) fail("input window [{}, {}) outside the {} steps", t0, t1, T_);
  for (int b = 0; b < B_; ++b)
    if ((labels[b] < 0 || labels[b] >= C_) && !(allow_ignored && labels[b] == -1))
      fail("label {} of model {} outside 0–{}", labels[b], k, C_ - 1);
  const size_t step = size_t(B_) * I_;
  float* xk = x_ + size_t(k) * T_ * step;
  // Steps written by an earlier batch but outside this window go back to zero.
  auto& w = written_[size_t(k)];
  if (w.first < w.second && w.first < t0)
    be_->zero(xk + size_t(w.first) * step, size_t(std::min(w.second, t0) - w.first) * step);
  if (w.first < w.second && w.second > t1) {
    const int from = std::max(w.first, t1);
    be_->zero(xk + size_t(from) * step, size_t(w.second - from) * step);
  }
  be_->upload(xk + size_t(t0) * step, x + size_t(t0) * step, size_t(t1 - t0) * step);
  w = {t0, t1};
  be_->upload(labels_ + size_t(k) * B_, labels, size_t(B_));
}

Gemm Ensemble::per_model(bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                         int64_t sa, const float* b, int ldb, int64_t sb, float* c, int ldc,
                         int64_t sc, float beta) const {
  return Gemm{ta, tb, m, n, k, 1.f, beta, a, lda, sa, b, ldb, sb, c, ldc, sc, K_};
}

StepArgs Ensemble::step_args(Phase phase, int s, int t, int rows) const {
  const int64_t BN = int64_t(B_) * N_;
  StepArgs a;
  a.kind = kind_;
  a.phase = phase;
  a.models = K_;
  a.rows = rows;
  a.N = N_;
  a.Gi = Gi_;
  a.Gh = Gh_;
  a.params = params_;
  a.params_k = P_;
  a.off_bi = int64_t(layout_.b_ih);
  a.off_bh = int64_t(layout_.b_hh);
  a.z = z_ + s * BN * Gi_;
  a.z_k = int64_t(tc_) * BN * Gi_;
  if (hn_) {
    a.hn = hn_ + s * BN;
    a.hn_k = int64_t(tc_) * BN;
  }
  a.h_k = int64_t(T_ + 1) * BN;
  a.h_prev = H_ + t * BN;
  a.h_next = H_ + (t + 1) * BN;
  if (C_buf_) {
    a.c_prev = C_buf_ + t * BN;
    a.c_next = C_buf_ + (t + 1) * BN;
  }
  if (rh_) {
    a.rh = rh_ + s * BN;
    a.rh_k = int64_t(tc_) * BN;
  }
  a.dh = dh_;
  a.dc = dc_;
  a.dh_new = dh2_;
  a.drh = drh_;
  a.d_k = BN;
  return a;
}

FusedArgs Ensemble::fused_args(bool backward, int t0, int n) const {
  const int64_t BN = int64_t(B_) * N_;
  FusedArgs a;
  a.kind = kind_;
  a.backward = backward;
  a.models = K_;
  a.B = B_;
  a.N = N_;
  a.I = I_;
  a.Gi = Gi_;
  a.steps = n;
  a.P = fplan_[backward ? 1 : 0].P;
  a.warps = fplan_[backward ? 1 : 0].warps;
  a.tile_bytes = fplan_[backward ? 1 : 0].tile_bytes;
  a.params = params_;
  a.params_k = P_;
  a.off_w_ih = int64_t(layout_.w_ih);
  a.off_w_hh = int64_t(layout_.w_hh);
  a.x = x_ + int64_t(t0) * B_ * I_;
  a.x_k = int64_t(T_) * B_ * I_;
  a.off_bi = int64_t(layout_.b_ih);
  a.off_bh = int64_t(layout_.b_hh);
  a.z = z_;
  a.z_k = int64_t(tc_) * BN * Gi_;
  a.hn = hn_;
  a.hn_k = int64_t(tc_) * BN;
  a.rh = rh_;
  a.rh_k = int64_t(tc_) * BN;
  a.H = H_ + t0 * BN;
  a.C = C_buf_ ? C_buf_ + t0 * BN : nullptr;
  a.h_k = int64_t(T_ + 1) * BN;
  a.dh = dh_;
  a.dc = dc_;
  a.d_k = BN;
  return a;
}

// The recurrent products of rows [0, rows) from step s of the chunk, added onto the input
// products (docs/gpu.md §Design): z += h W_hhᵀ, except the reset-after GRU's candidate block,
// which goes to hn; the reset-before GRU computes r ⊙ h between its two products.
void Ensemble::recurrent_products(int s, int t, int rows) {
  const int64_t BN = int64_t(B_) * N_, HK = int64_t(T_ + 1) * BN, TCBN = int64_t(tc_) * BN;
  const int GiN = Gi_ * N_, GhN = Gh_ * N_;
  const int64_t zk = TCBN * Gi_;
  const float* w_hh = params_ + layout_.w_hh;
  const float* w_hn = w_hh + int64_t(rz_) * N_;
  const float* h = H_ + t * BN;
  float* z = z_ + s * BN * Gi_;
  if (hn_split_) {
    be_->gemm(per_model(false, true, rows, rz_, N_, h, N_, HK, w_hh, N_, P_, z, GiN, zk, 1.f));
    be_->gemm(per_model(false, true, rows, N_, N_, h, N_, HK, w_hn, N_, P_, hn_ + s * BN, N_, TCBN,
                        0.f));
  } else if (reset_before_) {
    be_->gemm(per_model(false, true, rows, rz_, N_, h, N_, HK, w_hh, N_, P_, z, GiN, zk, 1.f));
    be_->step(step_args(Phase::Reset, s, t, rows));
    be_->gemm(per_model(false, true, rows, N_, N_, rh_ + s * BN, N_, TCBN, w_hn, N_, P_,
                        z + rz_, GiN, zk, 1.f));
  } else {
    be_->gemm(per_model(false, true, rows, GhN, N_, h, N_, HK, w_hh, N_, P_, z, GiN, zk, 1.f));
  }
}

// The input products of steps [t0, t0 + n) as one product per model; in the backward sweep the
// recurrent products too, recomputed from the stored states (docs/gpu.md §Memory).
void Ensemble::chunk_products(int t0, int n, bool recompute) {
  const int GiN = Gi_ * N_;
  be_->gemm(per_model(false, true, n * B_, GiN, I_, x_ + int64_t(t0) * B_ * I_, I_,
                      int64_t(T_) * B_ * I_, params_ + layout_.w_ih, I_, P_, z_, GiN,
                      int64_t(tc_) * B_ * GiN, 0.f));
  if (recompute) recurrent_products(0, t0, n * B_);
}

void Ensemble::forward() {
  const int64_t BN = int64_t(B_) * N_, HK = int64_t(T_ + 1) * BN;
  for (int t0 = 0; t0 < T_; t0 += tc_) {
    const int n = std::min(tc_, T_ - t0);
    if (fplan_[0].P > 0) {  // the input products too happen in the fused launch
      be_->fused(fused_args(false, t0, n));
      continue;
    }
    chunk_products(t0, n, false);
    for (int s = 0; s < n; ++s) {
      recurrent_products(s, t0 + s, B_);
      be_->step(step_args(Phase::Forward, s, t0 + s, B_));
    }
  }
  be_->gemm(per_model(false, true, B_, C_, N_, H_ + T_ * BN, N_, HK, params_ + layout_.w_head, N_,
                      P_, logits_, C_, int64_t(B_) * C_, 0.f));
}

void Ensemble::backward() {
  const int64_t BN = int64_t(B_) * N_, HK = int64_t(T_ + 1) * BN, XK = int64_t(T_) * B_ * I_;
  const int64_t TCBN = int64_t(tc_) * BN;
  const int GiN = Gi_ * N_, GhN = Gh_ * N_;
  const int64_t zk = TCBN * Gi_, BC = int64_t(B_) * C_;
  const float* w_hh = params_ + layout_.w_hh;
  const float* w_hn = w_hh + int64_t(rz_) * N_;
  float* gw_hh = grad_ + layout_.w_hh;
  be_->zero(grad_, size_t(K_) * P_);
  // The readout: dW_head = dlogitsᵀ h_T, db_head = Σ dlogits, dh_T = dlogits W_head.
  be_->gemm(per_model(true, false, C_, N_, B_, dlogits_, C_, BC, H_ + T_ * BN, N_, HK,
                      grad_ + layout_.w_head, N_, P_, 0.f));
  be_->add_colsum(K_, B_, C_, dlogits_, C_, BC, grad_ + layout_.b_head, P_);
  be_->gemm(per_model(false, false, B_, N_, C_, dlogits_, C_, BC, params_ + layout_.w_head, N_, P_,
                      dh_, N_, BN, 0.f));
  if (dc_) be_->zero(dc_, size_t(K_) * BN);
  bool swapped = false;
  for (int t0 = ((T_ - 1) / tc_) * tc_; t0 >= 0; t0 -= tc_) {
    const int n = std::min(tc_, T_ - t0);
    // The fused launch recomputes its pre-activations itself; dh_ and dc_ are carried in place.
    if (fplan_[1].P > 0) be_->fused(fused_args(true, t0, n));
    else chunk_products(t0, n, true);
    for (int s = fplan_[1].P > 0 ? -1 : n - 1; s >= 0; --s) {
      const int t = t0 + s;
      const float* dz = z_ + s * BN * Gi_;
      be_->step(step_args(Phase::BackwardA, s, t, B_));
      // dh_{t−1} = (element-wise part) + dz W_hh
      if (hn_split_) {
        be_->gemm(per_model(false, false, B_, N_, rz_, dz, GiN, zk, w_hh, N_, P_, dh2_, N_, BN,
                            1.f));
        be_->gemm(per_model(false, false, B_, N_, N_, hn_ + s * BN, N_, TCBN, w_hn, N_, P_, dh2_,
                            N_, BN, 1.f));
      } else if (reset_before_) {
        be_->gemm(per_model(false, false, B_, N_, N_, dz + rz_, GiN, zk, w_hn, N_, P_, drh_, N_,
                            BN, 0.f));
        be_->step(step_args(Phase::BackwardB, s, t, B_));
        be_->gemm(per_model(false, false, B_, N_, rz_, dz, GiN, zk, w_hh, N_, P_, dh2_, N_, BN,
                            1.f));
      } else {
        be_->gemm(per_model(false, false, B_, N_, GhN, dz, GiN, zk, w_hh, N_, P_, dh2_, N_, BN,
                            1.f));
      }
      std::swap(dh_, dh2_);
      swapped = !swapped;
    }
    // Weight and bias gradients of the chunk: products over its n·B rows.
    const int rows = n * B_;
    const float* h = H_ + t0 * BN;
    be_->gemm(per_model(true, false, GiN, I_, rows, z_, GiN, zk, x_ + int64_t(t0) * B_ * I_, I_, XK,
                        grad_ + layout_.w_ih, I_, P_, 1.f));
    if (hn_split_) {
      be_->gemm(per_model(true, false, rz_, N_, rows, z_, GiN, zk, h, N_, HK, gw_hh, N_, P_,
                          1.f));
      be_->gemm(per_model(true, false, N_, N_, rows, hn_, N_, TCBN, h, N_, HK,
                          gw_hh + int64_t(rz_) * N_, N_, P_, 1.f));
      be_->add_colsum(K_, rows, N_, hn_, N_, TCBN, grad_ + layout_.b_hh + rz_, P_);
    } else if (reset_before_) {
      be_->gemm(per_model(true, false, rz_, N_, rows, z_, GiN, zk, h, N_, HK, gw_hh, N_, P_,
                          1.f));
      be_->gemm(per_model(true, false, N_, N_, rows, z_ + rz_, GiN, zk, rh_, N_, TCBN,
                          gw_hh + int64_t(rz_) * N_, N_, P_, 1.f));
    } else {
      be_->gemm(per_model(true, false, GhN, N_, rows, z_, GiN, zk, h, N_, HK, gw_hh, N_, P_, 1.f));
    }
    be_->add_colsum(K_, rows, GiN, z_, GiN, zk, grad_ + layout_.b_ih, P_);
  }
  // b_hh shares b_ih's gradient wherever both biases enter one pre-activation (all blocks but
  // the reset-after GRU's candidate, summed from hn above).
  const int shared = hn_split_ ? rz_ : GhN;
  be_->add_colsum(K_, 1, shared, grad_ + layout_.b_ih, shared, P_, grad_ + layout_.b_hh, P_);
  // An even number of swaps, so that a captured sweep finds its buffers where it left them.
  if (swapped) std::swap(dh_, dh2_);
}

void Ensemble::run(bool forward_only) {
  flush_denormals();  // the CPU backend computes in this thread (util/fp_env.h)
  int& id = recorded_[forward_only ? 1 : 0];
  if (cfg_.record && be_->can_record()) {
    if (id < 0) {
      be_->begin_record();
      try {
        sweep(forward_only);
      } catch (...) {
        be_->abort_record();
        throw;
      }
      id = be_->end_record();
    }
    be_->replay(id);
  } else {
    sweep(forward_only);
  }
  be_->download(loss_.data(), loss_d_, size_t(K_));
  be_->download(correct_.data(), correct_d_, size_t(K_));
}

void Ensemble::sweep(bool forward_only) {
  forward();
  const HeadArgs h{K_,      B_,      C_,         logits_, params_, P_, int64_t(layout_.b_head),
                   labels_, forward_only ? nullptr : dlogits_, loss_d_, correct_d_};
  be_->head(h);
  if (!forward_only) backward();
}

}  // namespace rnnmft::ens
