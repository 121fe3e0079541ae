// minimalRNN: u = σ(W_ih,u x + W_hh h + b), z = tanh(W_ih,e x + b_e), h' = u h + (1 − u) z
// (docs/theory.md §2). The embedding block has no recurrent weights.
#pragma once

#include "ensemble/step_row.h"

namespace rnnmft::ens::minimal {

// Gate blocks in W_ih order; kEmbed has no recurrent block (docs/cells.md).
enum Gate : int { kUpdate, kEmbed };

// The math on values, shared by the steps below and the fused sweep (ensemble/fused_sweep.h):
// pu the update pre-activation (both biases), pe the embedding's (W_ih,e x + b_e).
struct Gates {
  float u, e;
};
RNNMFT_HD Gates gates_of(float pu, float pe) {
  return {sigmoid(pu), tanhf(pe)};
}
RNNMFT_HD float hidden_of(const Gates& g, float hp) {
  return g.u * hp + (1.f - g.u) * g.e;
}
// The gradients of the update and embedding pre-activations, and dh_{t−1} (all element-wise).
struct Grad {
  float u, e, h_prev;
};
RNNMFT_HD Grad grad_of(const Gates& g, float hp, float dh) {
  return {dh * (hp - g.e) * g.u * (1.f - g.u), dh * (1.f - g.u) * (1.f - g.e * g.e), dh * g.u};
}

RNNMFT_HD Gates gates(const StepRow& r, int j) {
  return gates_of(pre_both(r, kUpdate, j), pre_input(r, kEmbed, j));
}

RNNMFT_HD void forward(const StepRow& r, int j) {
  r.h_next[j] = hidden_of(gates(r, j), r.h_prev[j]);
}

RNNMFT_HD void backward(const StepRow& r, int j) {
  const Grad d = grad_of(gates(r, j), r.h_prev[j], r.dh[j]);
  set_grad(r, kUpdate, j, d.u);
  set_grad(r, kEmbed, j, d.e);
  r.dh_new[j] = d.h_prev;
}

}  // namespace rnnmft::ens::minimal
