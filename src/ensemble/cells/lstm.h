// LSTM, PyTorch's gate order i f g o: c' = f c + i g, h' = o tanh(c') (docs/theory.md §4).
#pragma once

#include "ensemble/step_row.h"

namespace rnnmft::ens::lstm {

// Gate blocks in W_ih / W_hh order (docs/cells.md).
enum Gate : int { kInput, kForget, kCell, kOutput };

struct Gates {
  float i, f, g, o;
};
// The math on values, shared by the step below and the fused sweep (ensemble/fused_sweep.h).
// pre-activations (both biases included) → gates
RNNMFT_HD Gates gates_of(float pi, float pf, float pg, float po) {
  return {sigmoid(pi), sigmoid(pf), tanhf(pg), sigmoid(po)};
}
RNNMFT_HD float cell_of(const Gates& a, float c_prev) {
  return a.f * c_prev + a.i * a.g;
}
RNNMFT_HD float hidden_of(const Gates& a, float c) {
  return a.o * tanhf(c);
}
// The gradients of the four pre-activations and of c_{t−1}, from dh_t and dc_t; c_t is
// recomputed from c_{t−1} exactly as the forward did.
struct Grad {
  float i, f, g, o, c_prev;
};
RNNMFT_HD Grad grad_of(const Gates& a, float cp, float dh, float dc) {
  const float c = cell_of(a, cp), tc = tanhf(c);
  const float dct = dc + dh * a.o * (1.f - tc * tc);
  return {dct * a.g * a.i * (1.f - a.i), dct * cp * a.f * (1.f - a.f),
          dct * a.i * (1.f - a.g * a.g), dh * tc * a.o * (1.f - a.o), dct * a.f};
}

RNNMFT_HD Gates gates(const StepRow& r, int j) {
  return gates_of(pre_both(r, kInput, j), pre_both(r, kForget, j), pre_both(r, kCell, j),
                  pre_both(r, kOutput, j));
}

RNNMFT_HD void forward(const StepRow& r, int j) {
  const Gates a = gates(r, j);
  const float c = cell_of(a, r.c_prev[j]);
  r.c_next[j] = c;
  r.h_next[j] = hidden_of(a, c);
}

RNNMFT_HD void backward(const StepRow& r, int j) {
  const Grad d = grad_of(gates(r, j), r.c_prev[j], r.dh[j], r.dc[j]);
  set_grad(r, kInput, j, d.i);
  set_grad(r, kForget, j, d.f);
  set_grad(r, kCell, j, d.g);
  set_grad(r, kOutput, j, d.o);
  r.dc[j] = d.c_prev;
  r.dh_new[j] = 0.f;
}

}  // namespace rnnmft::ens::lstm
