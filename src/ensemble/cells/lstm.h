// LSTM, PyTorch's gate order i f g o: c' = f c + i g, h' = o tanh(c') (docs/theory.md §4).
#pragma once

#include "ensemble/step_row.h"

namespace rnnmft::ens::lstm {

// Gate blocks in W_ih / W_hh order (docs/cells.md).
enum Gate : int { kInput, kForget, kCell, kOutput };

struct Gates {
  float i, f, g, o;
};
RNNMFT_HD Gates gates(const StepRow& r, int j) {
  return {sigmoid(pre_both(r, kInput, j)), sigmoid(pre_both(r, kForget, j)),
          tanhf(pre_both(r, kCell, j)), sigmoid(pre_both(r, kOutput, j))};
}

RNNMFT_HD void forward(const StepRow& r, int j) {
  const Gates a = gates(r, j);
  const float c = a.f * r.c_prev[j] + a.i * a.g;
  r.c_next[j] = c;
  r.h_next[j] = a.o * tanhf(c);
}

// The gates are recomputed from the step's products; c_t from c_{t−1} exactly as the forward did.
RNNMFT_HD void backward(const StepRow& r, int j) {
  const Gates a = gates(r, j);
  const float cp = r.c_prev[j], c = a.f * cp + a.i * a.g, tc = tanhf(c), dh = r.dh[j];
  const float dct = r.dc[j] + dh * a.o * (1.f - tc * tc);
  set_grad(r, kInput, j, dct * a.g * a.i * (1.f - a.i));
  set_grad(r, kForget, j, dct * cp * a.f * (1.f - a.f));
  set_grad(r, kCell, j, dct * a.i * (1.f - a.g * a.g));
  set_grad(r, kOutput, j, dh * tc * a.o * (1.f - a.o));
  r.dc[j] = dct * a.f;
  r.dh_new[j] = 0.f;
}

}  // namespace rnnmft::ens::lstm
