// Vanilla RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (docs/theory.md §1).
#pragma once

#include "ensemble/step_row.h"

namespace rnnmft::ens::vanilla {

// The one gate block.
enum Gate : int { kHidden };

RNNMFT_HD void forward(const StepRow& r, int j) { r.h_next[j] = tanhf(pre_both(r, kHidden, j)); }

RNNMFT_HD void backward(const StepRow& r, int j) {
  const float h = tanhf(pre_both(r, kHidden, j));
  set_grad(r, kHidden, j, r.dh[j] * (1.f - h * h));
  r.dh_new[j] = 0.f;
}

}  // namespace rnnmft::ens::vanilla
