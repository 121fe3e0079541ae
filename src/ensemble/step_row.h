// One batch row of one model at one time step, as the element-wise cell kernels see it: the
// step's products (x W_ihᵀ + h W_hhᵀ summed by the products themselves, without biases), the
// state before and after, and in the backward sweep the gradients. The same functions run in
// the CPU reference backend and in the CUDA kernels (docs/gpu.md).
#pragma once

#include <math.h>

#ifdef __CUDACC__
#define RNNMFT_HD __host__ __device__ __forceinline__
#else
#define RNNMFT_HD inline
#endif

namespace rnnmft::ens {

struct StepRow {
  int N;
  const float* bi;  // b_ih (Gi·N)
  const float* bh;  // b_hh (Gh·N)
  float* z;         // x W_ihᵀ + h W_hhᵀ of this row (Gi·N); its gradient on exit of the backward
                    // step (the same for the input and the recurrent side)
  float* hn;        // GRU reset-after: W_hn h (N), kept apart because r multiplies it; on exit
                    // of the backward step the gradient of W_hn h + b_hn
  const float* h_prev;
  const float* c_prev;  // LSTM only
  float* h_next;        // forward only
  float* c_next;        // forward, LSTM only
  float* rh;            // GRU reset-before: r ⊙ h_prev, the candidate's recurrent input
  const float* dh;      // backward: gradient of h_t
  float* dc;            // backward, LSTM: gradient of c_t on entry, of c_{t−1} on exit
  float* dh_new;        // backward: the element-wise part of the gradient of h_{t−1}
  const float* drh;     // backward, GRU reset-before: gradient of r ⊙ h_prev
};

RNNMFT_HD float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// Pre-activation of gate block g at unit j with both biases.
RNNMFT_HD float pre_both(const StepRow& r, int g, int j) {
  const int o = g * r.N + j;
  return r.z[o] + r.bi[o] + r.bh[o];
}
// With the input bias only (blocks without recurrent weights: the minimalRNN's embedding; the
// reset-after GRU's candidate, whose recurrent part is hn).
RNNMFT_HD float pre_input(const StepRow& r, int g, int j) {
  const int o = g * r.N + j;
  return r.z[o] + r.bi[o];
}
RNNMFT_HD void set_grad(const StepRow& r, int g, int j, float d) { r.z[g * r.N + j] = d; }

}  // namespace rnnmft::ens
