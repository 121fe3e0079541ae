// minimalRNN: u = σ(W_ih,u x + W_hh h + b), z = tanh(W_ih,e x + b_e), h' = u h + (1 − u) z
// (docs/theory.md §2). The embedding block has no recurrent weights.
#pragma once

#include "ensemble/step_row.h"

namespace rnnmft::ens::minimal {

// Gate blocks in W_ih order; kEmbed has no recurrent block (docs/cells.md).
enum Gate : int { kUpdate, kEmbed };

RNNMFT_HD void forward(const StepRow& r, int j) {
  const float u = sigmoid(pre_both(r, kUpdate, j)), z = tanhf(pre_input(r, kEmbed, j));
  r.h_next[j] = u * r.h_prev[j] + (1.f - u) * z;
}

RNNMFT_HD void backward(const StepRow& r, int j) {
  const float u = sigmoid(pre_both(r, kUpdate, j)), z = tanhf(pre_input(r, kEmbed, j));
  const float dh = r.dh[j];
  set_grad(r, kUpdate, j, dh * (r.h_prev[j] - z) * u * (1.f - u));
  set_grad(r, kEmbed, j, dh * (1.f - u) * (1.f - z * z));
  r.dh_new[j] = dh * u;
}

}  // namespace rnnmft::ens::minimal
