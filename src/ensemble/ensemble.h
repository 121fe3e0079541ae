// K models of one shape (cell, N, I, T, B) trained at once on one backend: each model has its own
// parameters, batch, learning rate, clipping and optimizer state. Every time step is one batched
// product over the K models plus one element-wise kernel; the weight gradients are products over
// chunks of time steps (docs/gpu.md §Design).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cells/rnn_model.h"
#include "ensemble/backend.h"

namespace rnnmft::ens {

struct EnsembleConfig {
  ModelConfig model;
  int models = 1, seq_len = 1, batch = 1;
  std::string optimizer = "adam";
  // Time steps whose products are kept at once in the backward sweep (0: from chunk_bytes).
  int chunk = 0;
  size_t chunk_bytes = size_t(2) << 30;
  // Record the forward and backward sweep once and replay it (where the backend can).
  bool record = true;
  // Walk each chunk in one fused launch where the backend has one for this cell and shape
  // (docs/gpu.md §Fused sweeps); fused_cluster > 0 asks for that many blocks per model. The
  // environment variable RNNMFT_FUSED=1 sets it for every ensemble.
  bool fused = false;
  int fused_cluster = 0;
};

class Ensemble {
 public:
  Ensemble(std::unique_ptr<Backend> backend, const EnsembleConfig& cfg);
  ~Ensemble();
  Ensemble(const Ensemble&) = delete;
  Ensemble& operator=(const Ensemble&) = delete;

  const EnsembleConfig& config() const { return cfg_; }
  const ParamLayout& layout() const { return layout_; }
  Backend& backend() { return *be_; }
  int chunk() const { return tc_; }
  // The fused launches in use (P = 0: the step-by-step sweep).
  const FusedPlan& fused_plan(bool backward) const { return fplan_[backward ? 1 : 0]; }

  // Model k's parameters and gradient in RnnModel's flat layout.
  void set_params(int k, const float* p);
  void get_params(int k, float* p) const;
  void get_grad(int k, float* g) const;
  // Model k's batch: x time-major (x[(t·B + b)·I + i]) as RnnModel takes it; labels in [0, C).
  void set_batch(int k, const float* x, const int* labels);
  // The same, for a batch whose steps outside [t0, t1) are all zero (the padding of a padded
  // task): only the steps in the window are copied. With `allow_ignored`, a label −1 marks a row
  // that counts nowhere (loss 0 in the mean over B, no hit, no gradient): an evaluation batch
  // padded to B.
  void set_batch(int k, const float* x, const int* labels, int t0, int t1, bool allow_ignored);

  // Loss, hits and (unless forward_only) the gradients of every model on its current batch.
  void run(bool forward_only = false);
  const std::vector<float>& losses() const { return loss_; }
  const std::vector<float>& correct() const { return correct_; }
  // ‖gradient‖₂ of each model after run().
  std::vector<double> grad_norms();
  // Clip each model's gradient to clip[k] (0: none) and apply its optimizer with lr[k]. A model
  // whose loss or gradient norm is not finite, or that is frozen, is left unchanged; returns which
  // models were updated.
  std::vector<bool> update(const std::vector<float>& lr, const std::vector<double>& clip,
                           const std::vector<double>& norms);
  void set_frozen(int k, bool frozen) { frozen_.at(size_t(k)) = frozen; }

  // Optimizer state of model k under the CPU optimizers' names (checkpoints).
  std::map<std::string, std::vector<float>> optimizer_state(int k) const;
  void set_optimizer_state(int k, const std::map<std::string, std::vector<float>>& s);

 private:
  void sweep(bool forward_only);  // forward, head, backward: the calls a recording holds
  void forward();
  void backward();
  void chunk_products(int t0, int n, bool recompute);
  // The recurrent products of `rows` rows starting at step s of the chunk (h_t at step t).
  void recurrent_products(int s, int t, int rows);
  StepArgs step_args(Phase phase, int s, int t, int rows) const;
  FusedArgs fused_args(bool backward, int t0, int n) const;
  Gemm per_model(bool ta, bool tb, int m, int n, int k, const float* a, int lda, int64_t sa,
                 const float* b, int ldb, int64_t sb, float* c, int ldc, int64_t sc,
                 float beta) const;

  std::unique_ptr<Backend> be_;
  EnsembleConfig cfg_;
  ParamLayout layout_;
  Kind kind_;
  // The GRU's candidate block: reset-after keeps W_hn h apart (hn_; b_hn is added in the step,
  // ensemble/cells/gru.h); reset-before computes r ⊙ h between its two recurrent products (rh_).
  bool hn_split_, reset_before_;
  // The GRU's reset and update blocks: the rows of W_hh (and columns of a step's products) before
  // its candidate block, the last one.
  int rz_ = 0;
  int K_, T_, B_, I_, N_, C_, Gi_, Gh_, tc_;
  int64_t P_;  // parameters per model
  OptKind opt_;
  // Device buffers (model stride in brackets).
  float *params_ = nullptr, *grad_ = nullptr, *s1_ = nullptr, *s2_ = nullptr;  // [P]
  float* x_ = nullptr;                                                         // [T·B·I]
  int* labels_ = nullptr;                                                      // [B]
  float *H_ = nullptr, *C_buf_ = nullptr;                                      // [(T+1)·B·N]
  // The products of a chunk of steps [tc·B·Gi·N]; GRU reset-after: W_hn h [tc·B·N]; GRU
  // reset-before: r ⊙ h [tc·B·N].
  float *z_ = nullptr, *hn_ = nullptr, *rh_ = nullptr;
  float *dh_ = nullptr, *dh2_ = nullptr, *dc_ = nullptr, *drh_ = nullptr;  // [B·N]
  float *logits_ = nullptr, *dlogits_ = nullptr;                          // [B·C]
  float *loss_d_ = nullptr, *correct_d_ = nullptr, *coef_ = nullptr;
  double* norms_d_ = nullptr;
  std::vector<float> loss_, correct_, steps_;
  std::vector<bool> frozen_;
  std::vector<std::pair<int, int>> written_;  // per model: the steps of x_ that may be non-zero
  int recorded_[2] = {-1, -1};  // replay ids of the full and the forward-only sweep
  FusedPlan fplan_[2];          // forward, backward
};

OptKind parse_opt_kind(const std::string& name);
// RNNMFT_FUSED=1: every ensemble (train, sweeps) asks for the fused sweep, and the CPU twin
// (--device cpu-ensemble) runs it on the host.
bool fused_from_env();
Kind kernel_kind(const ModelConfig& m);

}  // namespace rnnmft::ens
