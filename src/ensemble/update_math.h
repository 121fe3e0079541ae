// Per-element and per-model pieces shared by both backends: the row view of a step, the softmax
// head of one model and the optimizer update of one parameter (the same arithmetic as
// train/optimizers, so that an ensemble of one follows the CPU trainer).
#pragma once

#include "ensemble/backend.h"

namespace rnnmft::ens {

RNNMFT_HD StepRow make_row(const StepArgs& a, int k, int r) {
  const int N = a.N;
  StepRow row{};
  row.N = N;
  row.bi = a.params + k * a.params_k + a.off_bi;
  row.bh = a.params + k * a.params_k + a.off_bh;
  row.z = a.z + k * a.z_k + int64_t(r) * a.Gi * N;
  row.hn = a.hn ? a.hn + k * a.hn_k + int64_t(r) * N : nullptr;
  const int64_t ho = k * a.h_k + int64_t(r) * N, dof = k * a.d_k + int64_t(r) * N;
  row.h_prev = a.h_prev + ho;
  row.h_next = a.h_next ? a.h_next + ho : nullptr;
  row.c_prev = a.c_prev ? a.c_prev + ho : nullptr;
  row.c_next = a.c_next ? a.c_next + ho : nullptr;
  row.rh = a.rh ? a.rh + k * a.rh_k + int64_t(r) * N : nullptr;
  row.dh = a.dh ? a.dh + dof : nullptr;
  row.dc = a.dc ? a.dc + dof : nullptr;
  row.dh_new = a.dh_new ? a.dh_new + dof : nullptr;
  row.drh = a.drh ? a.drh + dof : nullptr;
  return row;
}

RNNMFT_HD void head_model(const HeadArgs& a, int k) {
  const int B = a.B, C = a.C;
  const float* bias = a.params + k * a.params_k + a.off_bias;
  float total = 0.f;
  int hits = 0;
  for (int b = 0; b < B; ++b) {
    const float* l = a.logits + (int64_t(k) * B + b) * C;
    const int y = a.labels[int64_t(k) * B + b];
    if (y < 0) {  // a padding row of an evaluation batch (Ensemble::set_batch)
      if (a.dlogits)
        for (int c = 0; c < C; ++c) a.dlogits[(int64_t(k) * B + b) * C + c] = 0.f;
      continue;
    }
    float mx = l[0] + bias[0];
    int arg = 0;
    for (int c = 1; c < C; ++c)
      if (l[c] + bias[c] > mx) {
        mx = l[c] + bias[c];
        arg = c;
      }
    float z = 0.f;
    for (int c = 0; c < C; ++c) z += expf(l[c] + bias[c] - mx);
    const float lse = mx + logf(z);
    total += lse - (l[y] + bias[y]);
    hits += arg == y;
    if (a.dlogits) {
      float* d = a.dlogits + (int64_t(k) * B + b) * C;
      for (int c = 0; c < C; ++c) d[c] = (expf(l[c] + bias[c] - lse) - float(c == y)) / float(B);
    }
  }
  a.loss[k] = total / float(B);
  a.correct[k] = float(hits);
}

// Adam, SGD (momentum 0.9) and RMSprop (α = 0.99) with train/optimizers' constants.
RNNMFT_HD void update_element(const UpdateArgs& a, int k, int64_t i) {
  const float* c = a.coef + 4 * k;
  if (c[0] == 0.f) return;
  float g = a.grad[i];
  if (c[1] != 1.f) g *= c[1];
  switch (a.kind) {
    case OptKind::Adam: {
      const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
      a.s1[i] = b1 * a.s1[i] + (1.f - b1) * g;
      a.s2[i] = b2 * a.s2[i] + (1.f - b2) * g * g;
      a.params[i] -= c[2] * a.s1[i] / (sqrtf(a.s2[i]) * c[3] + eps);
      return;
    }
    case OptKind::Sgd:
      a.s1[i] = 0.9f * a.s1[i] + g;
      a.params[i] -= c[2] * a.s1[i];
      return;
    case OptKind::RmsProp:
      a.s1[i] = 0.99f * a.s1[i] + (1.f - 0.99f) * g * g;
      a.params[i] -= c[2] * g / (sqrtf(a.s1[i]) + 1e-8f);
      return;
  }
}

}  // namespace rnnmft::ens
