// Vanilla RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (docs/theory.md §1).
#pragma once

#include "ensemble/step_row.h"

namespace rnnmft::ens::vanilla {

// The one gate block.
enum Gate : int { kHidden };

// The math on values, shared by the step below and the fused sweep (ensemble/fused_sweep.h).
RNNMFT_HD float hidden_of(float pre) {
  return tanhf(pre);
}
RNNMFT_HD float grad_of(float h, float dh) {
  return dh * (1.f - h * h);
}

RNNMFT_HD void forward(const StepRow& r, int j) {
  r.h_next[j] = hidden_of(pre_both(r, kHidden, j));
}

RNNMFT_HD void backward(const StepRow& r, int j) {
  set_grad(r, kHidden, j, grad_of(hidden_of(pre_both(r, kHidden, j)), r.dh[j]));
  r.dh_new[j] = 0.f;
}

}  // namespace rnnmft::ens::vanilla
