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
RNNMFT_HD void reset_before(const StepRow& r, int j) {
  r.rh[j] = sigmoid(pre_both(r, kReset, j)) * r.h_prev[j];
}

RNNMFT_HD void forward_before(const StepRow& r, int j) {
  const float z = sigmoid(pre_both(r, kUpdate, j)), n = tanhf(pre_both(r, kCandidate, j));
  r.h_next[j] = (1.f - z) * n + z * r.h_prev[j];
}

// Phase 1: the update and candidate gradients, and dh·z; the reset pre-activations stay intact.
RNNMFT_HD void backward_before_zn(const StepRow& r, int j) {
  const float z = sigmoid(pre_both(r, kUpdate, j)), n = tanhf(pre_both(r, kCandidate, j));
  const float dh = r.dh[j];
  const float dan = dh * (1.f - z) * (1.f - n * n);
  set_grad(r, kUpdate, j, dh * (r.h_prev[j] - n) * z * (1.f - z));
  set_grad(r, kCandidate, j, dan);
  r.dh_new[j] = dh * z;
}

// Phase 2, after drh = (candidate gradient) · W_hn: the reset gradient and drh ⊙ r.
RNNMFT_HD void backward_before_r(const StepRow& r, int j) {
  const float rg = sigmoid(pre_both(r, kReset, j)), drh = r.drh[j];
  set_grad(r, kReset, j, drh * r.h_prev[j] * rg * (1.f - rg));
  r.dh_new[j] += drh * rg;
}

}  // namespace rnnmft::ens::gru
