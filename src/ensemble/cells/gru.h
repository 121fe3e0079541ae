// GRU, PyTorch's gate order r z n; h' = (1 − z) n + z h (docs/theory.md §3).
//   reset-after  (PyTorch):  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//   reset-before (Cho 2014): n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
// The reset-before candidate's product needs r first, so its step has two element-wise phases
// around a product: `reset` (r ⊙ h) then `forward`; backward `backward_zn`, the product of the
// candidate's gradient with W_hn, then `backward_r`.
#pragma once

#include "ensemble/step_row.h"

namespace rnnmft::ens::gru {

// Gate blocks in W_ih / W_hh order (docs/cells.md).
enum Gate : int { kReset, kUpdate, kCandidate };

// --- reset-after ---
// The math on values, shared by the steps below and the fused sweep (ensemble/fused_sweep.h):
// pr, pz the reset and update pre-activations (both biases), pn the candidate's input side
// (W_in x + b_in), e its recurrent side W_hn h + b_hn.
struct AfterGates {
  float r, z, n, e;
};
RNNMFT_HD AfterGates after_gates_of(float pr, float pz, float pn, float e) {
  const float rg = sigmoid(pr), z = sigmoid(pz);
  return {rg, z, tanhf(pn + rg * e), e};
}
RNNMFT_HD float after_hidden_of(const AfterGates& a, float hp) {
  return (1.f - a.z) * a.n + a.z * hp;
}
// The gradients of the reset, update and candidate pre-activations, of W_hn h + b_hn, and the
// element-wise part of dh_{t−1}.
struct AfterGrad {
  float r, z, n, e, h_prev;
};
RNNMFT_HD AfterGrad after_grad_of(const AfterGates& a, float hp, float dh) {
  const float dan = dh * (1.f - a.z) * (1.f - a.n * a.n);
  return {dan * a.e * a.r * (1.f - a.r), dh * (hp - a.n) * a.z * (1.f - a.z), dan, dan * a.r,
          dh * a.z};
}

RNNMFT_HD AfterGates after_gates(const StepRow& r, int j) {
  return after_gates_of(pre_both(r, kReset, j), pre_both(r, kUpdate, j),
                        pre_input(r, kCandidate, j), r.hn[j] + r.bh[kCandidate * r.N + j]);
}

RNNMFT_HD void forward_after(const StepRow& r, int j) {
  r.h_next[j] = after_hidden_of(after_gates(r, j), r.h_prev[j]);
}

RNNMFT_HD void backward_after(const StepRow& r, int j) {
  const AfterGrad d = after_grad_of(after_gates(r, j), r.h_prev[j], r.dh[j]);
  set_grad(r, kReset, j, d.r);
  set_grad(r, kUpdate, j, d.z);
  set_grad(r, kCandidate, j, d.n);
  r.hn[j] = d.e;  // gradient of W_hn h + b_hn
  r.dh_new[j] = d.h_prev;
}

// --- reset-before ---
// The math on values, shared by the steps below and the fused sweep (ensemble/fused_gru_before.h):
// z the update gate, n the candidate, r the reset gate.
RNNMFT_HD float before_hidden_of(float z, float n, float hp) {
  return (1.f - z) * n + z * hp;
}
// Phase 1: the update and candidate gradients, and dh·z, the first part of dh_{t−1}.
struct BeforeGradZn {
  float z, n, h_prev;
};
RNNMFT_HD BeforeGradZn before_grad_zn_of(float z, float n, float hp, float dh) {
  return {dh * (hp - n) * z * (1.f - z), dh * (1.f - z) * (1.f - n * n), dh * z};
}
// Phase 2, from drh = (candidate gradient) · W_hn: the reset gradient and drh ⊙ r, the second part.
struct BeforeGradR {
  float r, h_prev;
};
RNNMFT_HD BeforeGradR before_grad_r_of(float r, float hp, float drh) {
  return {drh * hp * r * (1.f - r), drh * r};
}

RNNMFT_HD void reset_before(const StepRow& r, int j) {
  r.rh[j] = sigmoid(pre_both(r, kReset, j)) * r.h_prev[j];
}

RNNMFT_HD void forward_before(const StepRow& r, int j) {
  r.h_next[j] = before_hidden_of(sigmoid(pre_both(r, kUpdate, j)),
                                 tanhf(pre_both(r, kCandidate, j)), r.h_prev[j]);
}

// Phase 1; the reset pre-activations stay intact.
RNNMFT_HD void backward_before_zn(const StepRow& r, int j) {
  const BeforeGradZn d = before_grad_zn_of(sigmoid(pre_both(r, kUpdate, j)),
                                           tanhf(pre_both(r, kCandidate, j)), r.h_prev[j], r.dh[j]);
  set_grad(r, kUpdate, j, d.z);
  set_grad(r, kCandidate, j, d.n);
  r.dh_new[j] = d.h_prev;
}

// Phase 2, after drh = (candidate gradient) · W_hn.
RNNMFT_HD void backward_before_r(const StepRow& r, int j) {
  const BeforeGradR d = before_grad_r_of(sigmoid(pre_both(r, kReset, j)), r.h_prev[j], r.drh[j]);
  set_grad(r, kReset, j, d.r);
  r.dh_new[j] += d.h_prev;
}

}  // namespace rnnmft::ens::gru
