// The fused recurrent sweep: one launch walks a whole chunk of time steps, forward or backward,
// with each model's W_hh held on chip (docs/gpu.md §Fused sweeps). A model is a cluster of P
// blocks; block q owns the units [q·U, (q+1)·U), U = N / P, and holds the rows of W_hh and W_ih
// of its units' gates. Per step, forward: z = x W_ihᵀ + h W_hhᵀ for its units (16 × 16 tiles on
// the tensor cores), the gate math in the same warp, and the new h written into every block's copy
// of h; backward: the same pre-activations again, the gate gradients of its units, then its share
// of dh_{t−1} = dz W_hh sent to the block that owns each unit.
//
// The body is written once against an execution context X (ensemble/fused_block.h), so that the
// same code runs as a CUDA kernel (gpu/fused_kernels.cu: warps, thread-block clusters, distributed
// shared memory, WMMA TF32) and on the host (ensemble/fused_host.cpp: one thread per warp,
// barriers, fp32 tiles), where the tests hold it against the step-by-step engine.
#pragma once

#include "ensemble/fused_block.h"
#include "ensemble/fused_gru_before.h"

namespace rnnmft::ens {

// One block's forward sweep over the chunk for the cells whose step is one product (all but the
// reset-before GRU): z = x W_ihᵀ + h W_hhᵀ for its units, then the gates on the accumulators.
template <Kind K, class X>
RNNMFT_FUSED void fused_forward(X& x, const FusedArgs& a) {
  constexpr int TA = fused_cell(K).tiles;  // a constant, so that the tiles stay in registers
  FusedBlock<X> b = fused_begin<K>(x, a);
  const FusedLayout& l = b.l;
  const int N = b.N, B = b.B, P = b.P;
  const int64_t BN = b.BN;
  const float* bi = b.bi;
  const float* bh = b.bh;
  load_h(x, b.Hs, b.H, B, N, l.ldh);  // h_{t0} into copy 0
  load_x(x, b.Xs, b.x, B, b.I, l.ldi);
  x.sync_cluster();  // every block's h ready before any block writes into it

  for (int s = 0; s < a.steps; ++s) {
    const auto* hs = b.Hs + (s & 1) * l.Bp * l.ldh;
    auto* hd = b.Hs + ((s + 1) & 1) * l.Bp * l.ldh;
    const auto* xs = b.Xs + (s & 1) * l.Bp * l.ldi;
    for (int tile = x.warp(); tile < b.RT * b.UT; tile += x.warps()) {
      const int r0 = tile / b.UT * 16, ul = tile % b.UT * 16;
      typename X::Acc acc[TA];
      gate_tiles<K>(x, acc, b, xs, hs, r0, ul);
      for_tile_elements(b, r0, ul, [&](int i, int r, int u) {
        const int j = b.u0 + u;
        const int64_t o = int64_t(s) * BN + int64_t(r) * N + j;  // h_{t0+s}; h_{t0+s+1} at o + BN
        float h;
        // The cells' math on values (ensemble/cells/*.h; docs/theory.md §1–§4).
        if constexpr (K == Kind::Lstm) {
          const lstm::Gates ga =
              lstm::gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                             acc[2].x[i] + bi[2 * N + j] + bh[2 * N + j],
                             acc[3].x[i] + bi[3 * N + j] + bh[3 * N + j]);
          const float c = lstm::cell_of(ga, b.C[o]);
          b.C[o + BN] = c;
          h = lstm::hidden_of(ga, c);
        } else if constexpr (K == Kind::GruAfter) {
          const gru::AfterGates ga =
              gru::after_gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                                  acc[3].x[i] + bi[2 * N + j], acc[2].x[i] + bh[2 * N + j]);
          h = gru::after_hidden_of(ga, b.H[o]);
        } else if constexpr (K == Kind::Minimal) {
          h = minimal::hidden_of(
              minimal::gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j]), b.H[o]);
        } else {
          h = vanilla::hidden_of(acc[0].x[i] + bi[j] + bh[j]);
        }
        b.H[o + BN] = h;
        const auto v = x.tile(h);
        for (int p = 0; p < P; ++p) x.peer(hd, p)[r * l.ldh + j] = v;
      });
    }
    // x of the next step into the other copy (read by nobody during this step).
    if (s + 1 < a.steps)
      load_x(x, b.Xs + ((s + 1) & 1) * l.Bp * l.ldi, b.x + (s + 1) * b.BI, B, b.I, l.ldi);
    x.sync_cluster();  // h_{t0+s+1} complete in every block, x_{t0+s+1} in this one
  }
}

// One block's backward sweep over the chunk, s = steps − 1 … 0, for the same cells. Each step
// recomputes its pre-activations from h and x (the forward kept only the states), then writes the
// gate gradients where the step-by-step sweep leaves them for the weight-gradient products: the
// chunk's product buffer z, and for the reset-after GRU the gradient of W_hn h + b_hn in hn.
template <Kind K, class X>
RNNMFT_FUSED void fused_backward(X& x, const FusedArgs& a) {
  constexpr int TA = fused_cell(K).tiles;
  FusedBlock<X> b = fused_begin<K>(x, a);
  const FusedLayout& l = b.l;
  const int N = b.N, U = b.U, B = b.B, GiN = a.Gi * N;
  const int64_t BN = b.BN;
  const float* bi = b.bi;
  const float* bh = b.bh;
  for (int i = x.thread(); i < B * U; i += x.threads()) {
    const int r = i / U, j = b.u0 + i % U;
    b.Dh[i] = b.dh[r * N + j];
    if constexpr (K == Kind::Lstm) b.Dc[i] = b.dc[r * N + j];
  }
  x.sync_cluster();

  for (int s = a.steps - 1; s >= 0; --s) {
    // The step's input: h_{t0+s} (all units) and x_{t0+s}.
    load_h(x, b.Hs, b.H + s * BN, B, N, l.ldh);
    load_x(x, b.Xs, b.x + s * b.BI, B, b.I, l.ldi);
    x.sync_block();
    // The pre-activations of this block's units, and from them the gate gradients (rounded into
    // Ds for the shares); Dh keeps the element-wise part of dh_{t−1}.
    for (int tile = x.warp(); tile < b.RT * b.UT; tile += x.warps()) {
      const int r0 = tile / b.UT * 16, ul = tile % b.UT * 16;
      typename X::Acc acc[TA];
      gate_tiles<K>(x, acc, b, b.Xs, b.Hs, r0, ul);
      for_tile_elements(b, r0, ul, [&](int i, int r, int u) {
        const int j = b.u0 + u, c = r * U + u;
        float* zr = b.z + (int64_t(s) * B + r) * GiN;
        const int64_t o = int64_t(s) * BN + int64_t(r) * N + j;  // h_{t0+s}, the step's input
        auto* d = b.Ds + r * l.ldd + u;
        const float g_h = b.Dh[c];
        // The cells' derivatives on values (ensemble/cells/*.h; docs/theory.md §1–§4).
        if constexpr (K == Kind::Lstm) {
          const lstm::Gates ga =
              lstm::gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                             acc[2].x[i] + bi[2 * N + j] + bh[2 * N + j],
                             acc[3].x[i] + bi[3 * N + j] + bh[3 * N + j]);
          const lstm::Grad gr = lstm::grad_of(ga, b.C[o], g_h, b.Dc[c]);
          zr[j] = gr.i;
          zr[N + j] = gr.f;
          zr[2 * N + j] = gr.g;
          zr[3 * N + j] = gr.o;
          d[0] = x.tile(gr.i);
          d[U] = x.tile(gr.f);
          d[2 * U] = x.tile(gr.g);
          d[3 * U] = x.tile(gr.o);
          b.Dc[c] = gr.c_prev;
          b.Dh[c] = 0.f;
        } else if constexpr (K == Kind::GruAfter) {
          const gru::AfterGates ga =
              gru::after_gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                                  acc[3].x[i] + bi[2 * N + j], acc[2].x[i] + bh[2 * N + j]);
          const gru::AfterGrad gr = gru::after_grad_of(ga, b.H[o], g_h);
          zr[j] = gr.r;
          zr[N + j] = gr.z;
          zr[2 * N + j] = gr.n;
          b.hn[(int64_t(s) * B + r) * N + j] = gr.e;
          d[0] = x.tile(gr.r);
          d[U] = x.tile(gr.z);
          d[2 * U] = x.tile(gr.e);
          b.Dh[c] = gr.h_prev;
        } else if constexpr (K == Kind::Minimal) {
          const minimal::Grad gr = minimal::grad_of(
              minimal::gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j]), b.H[o], g_h);
          zr[j] = gr.u;
          zr[N + j] = gr.e;
          d[0] = x.tile(gr.u);  // the embedding has no recurrent rows
          b.Dh[c] = gr.h_prev;
        } else {
          const float dz = vanilla::grad_of(vanilla::hidden_of(acc[0].x[i] + bi[j] + bh[j]), g_h);
          zr[j] = dz;
          d[0] = x.tile(dz);
          b.Dh[c] = 0.f;
        }
      });
    }
    x.sync_block();
    // This block's share of dz W_hh for every unit, into the owner's set of shares.
    send_shares(x, b, s & 1, 0, fused_cell(K).rec * U);
    x.sync_cluster();  // every share delivered
    sum_shares(x, b, s & 1);
    // (The next step's loads touch only Hs and Xs, read before the barrier above; its
    // gradients read Dh after the barrier that follows them.)
  }
  for (int i = x.thread(); i < B * U; i += x.threads()) {
    const int r = i / U, j = b.u0 + i % U;
    b.dh[r * N + j] = b.Dh[i];
    if constexpr (K == Kind::Lstm) b.dc[r * N + j] = b.Dc[i];
  }
}

// The sweep of kind K, forward or backward: the one entry of the launches (a.backward ==
// Backward).
template <Kind K, bool Backward, class X>
RNNMFT_FUSED void fused_sweep(X& x, const FusedArgs& a) {
  if constexpr (K == Kind::GruBefore && Backward)
    fused_backward_before(x, a);
  else if constexpr (K == Kind::GruBefore)
    fused_forward_before(x, a);
  else if constexpr (Backward)
    fused_backward<K>(x, a);
  else
    fused_forward<K>(x, a);
}

}  // namespace rnnmft::ens
