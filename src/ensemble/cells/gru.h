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
RNNMFT_HD void forward_after(const StepRow& r, int j) {
  const int N = r.N;
  const float rg = sigmoid(pre_both(r, kReset, j)), z = sigmoid(pre_both(r, kUpdate, j));
  const float n = tanhf(pre_input(r, kCandidate, j) + rg * (r.hn[j] + r.bh[kCandidate * N + j]));
  r.h_next[j] = (1.f - z) * n + z * r.h_prev[j];
}

RNNMFT_HD void backward_after(const StepRow& r, int j) {
  const int N = r.N;
  const float rg = sigmoid(pre_both(r, kReset, j)), z = sigmoid(pre_both(r, kUpdate, j));
  const float e = r.hn[j] + r.bh[kCandidate * N + j];  // W_hn h + b_hn
  const float n = tanhf(pre_input(r, kCandidate, j) + rg * e), dh = r.dh[j], hp = r.h_prev[j];
  const float dan = dh * (1.f - z) * (1.f - n * n);
  set_grad(r, kReset, j, dan * e * rg * (1.f - rg));
  set_grad(r, kUpdate, j, dh * (hp - n) * z * (1.f - z));
  set_grad(r, kCandidate, j, dan);
  r.hn[j] = dan * rg;  // gradient of W_hn h + b_hn
  r.dh_new[j] = dh * z;
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
