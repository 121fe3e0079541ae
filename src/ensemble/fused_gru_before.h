// The fused sweep of the reset-before GRU (docs/gpu.md §Fused sweeps): its candidate takes
// W_hn (r ⊙ h), so every step has two phases with an exchange between them. Phase 1 computes
// r, z and the candidate's input side of a block's units and sends r ⊙ h to every block; phase 2
// multiplies r ⊙ h of all units by the block's rows of W_hn and finishes the step
// (ensemble/cells/gru.h, docs/theory.md §3). The backward adds an exchange: the shares of
// drh = dn W_hn, from which the reset gradients follow, then the shares of [dr dz] W_hr,z.
#pragma once

#include "ensemble/fused_block.h"

namespace rnnmft::ens {

// The buffers a step keeps between its phases ([Bp][U] each): the update gate, the candidate's
// pre-activation without W_hn (r ⊙ h), and (backward) the reset gate.
template <class X>
RNNMFT_FUSED float* before_kept(const FusedBlock<X>& b, int which) {
  return b.keep + which * b.l.Bp * b.l.ldk;
}

// Phase 1 of step s for this block's units, from x_s (in xs) and h_s (in Hs): the kept gates,
// and r ⊙ h into every block's copy (rounded) and, backward, into the chunk's buffer for the
// weight gradient (fp32).
template <class X>
RNNMFT_FUSED void before_phase1(X& x, const FusedBlock<X>& b, int s, const typename X::T* xs,
                                bool backward) {
  const FusedLayout& l = b.l;
  const int N = b.N, B = b.B;
  float* Zk = before_kept(b, 0);
  float* Nk = before_kept(b, 1);
  float* Rk = before_kept(b, 2);  // backward only
  const float* bi = b.bi;
  const float* bh = b.bh;
  for (int tile = x.warp(); tile < b.RT * b.UT; tile += x.warps()) {
    const int r0 = tile / b.UT * 16, ul = tile % b.UT * 16;
    typename X::Acc acc[3];
    gate_tiles<Kind::GruBefore>(x, acc, b, xs, b.Hs, r0, ul);
    for_tile_elements(b, r0, ul, [&](int i, int r, int u) {
      const int j = b.u0 + u, k = r * l.ldk + u;
      const float rg = sigmoid(acc[0].x[i] + bi[j] + bh[j]);
      Zk[k] = sigmoid(acc[1].x[i] + bi[N + j] + bh[N + j]);
      Nk[k] = acc[2].x[i] + bi[2 * N + j] + bh[2 * N + j];
      const float v = rg * b.H[int64_t(s) * b.BN + int64_t(r) * N + j];
      if (backward) {
        Rk[k] = rg;
        b.rh[(int64_t(s) * B + r) * N + j] = v;
      }
      const auto vt = x.tile(v);
      for (int p = 0; p < b.P; ++p) x.peer(b.RHs, p)[r * l.ldh + j] = vt;
    });
  }
}

// The candidate's recurrent tile of rows [r0, r0 + 16) and units [ul, ul + 16): (r ⊙ h) W_hnᵀ.
template <class X>
RNNMFT_FUSED void before_candidate(X& x, typename X::Acc& acc, const FusedBlock<X>& b, int r0,
                                   int ul) {
  const FusedLayout& l = b.l;
  x.zero(acc);
  for (int kk = 0; kk < b.N; kk += X::KK) {
    typename X::A fa;
    typename X::Bc fb;
    x.load_a(fa, b.RHs + r0 * l.ldh + kk, l.ldh);
    x.load_bc(fb, b.Ws + (2 * b.U + ul) * l.ldw + kk, l.ldw);
    x.mma(acc, fa, fb);
  }
}

template <class X>
RNNMFT_FUSED void fused_forward_before(X& x, const FusedArgs& a) {
  FusedBlock<X> b = fused_begin<Kind::GruBefore>(x, a);
  const FusedLayout& l = b.l;
  const int N = b.N, B = b.B, P = b.P;
  const int64_t BN = b.BN;
  const float* Zk = before_kept(b, 0);
  const float* Nk = before_kept(b, 1);
  load_h(x, b.Hs, b.H, B, N, l.ldh);
  load_x(x, b.Xs, b.x, B, b.I, l.ldi);
  x.sync_cluster();  // every block's h ready before any block writes r ⊙ h or h into it

  for (int s = 0; s < a.steps; ++s) {
    before_phase1(x, b, s, b.Xs + (s & 1) * l.Bp * l.ldi, false);
    // r ⊙ h complete in every block. Every block has also read h_s, so phase 2 may overwrite it
    // (one copy; the lane of an element reads h_s itself from H, where it wrote it).
    x.sync_cluster();
    for (int tile = x.warp(); tile < b.RT * b.UT; tile += x.warps()) {
      const int r0 = tile / b.UT * 16, ul = tile % b.UT * 16;
      typename X::Acc acc;
      before_candidate(x, acc, b, r0, ul);
      for_tile_elements(b, r0, ul, [&](int i, int r, int u) {
        const int j = b.u0 + u, k = r * l.ldk + u;
        const int64_t o = int64_t(s) * BN + int64_t(r) * N + j;
        const float h = gru::before_hidden_of(Zk[k], tanhf(Nk[k] + acc.x[i]), b.H[o]);
        b.H[o + BN] = h;
        const auto v = x.tile(h);
        for (int p = 0; p < P; ++p) x.peer(b.Hs, p)[r * l.ldh + j] = v;
      });
    }
    if (s + 1 < a.steps)
      load_x(x, b.Xs + ((s + 1) & 1) * l.Bp * l.ldi, b.x + (s + 1) * b.BI, B, b.I, l.ldi);
    x.sync_cluster();  // h_{s+1} complete in every block; every block has read r ⊙ h
  }
}

// The backward, s = steps − 1 … 0: phase 1 again (keeping r, and writing r ⊙ h for dW_hn), then
// dz and dn; the shares of drh = dn W_hn; dr and drh ⊙ r; the shares of [dr dz] W_hr,z.
template <class X>
RNNMFT_FUSED void fused_backward_before(X& x, const FusedArgs& a) {
  FusedBlock<X> b = fused_begin<Kind::GruBefore>(x, a);
  const FusedLayout& l = b.l;
  const int N = b.N, U = b.U, B = b.B, P = b.P, GiN = a.Gi * N;
  const int64_t BN = b.BN;
  const float* Zk = before_kept(b, 0);
  const float* Nk = before_kept(b, 1);
  const float* Rk = before_kept(b, 2);
  for (int i = x.thread(); i < B * U; i += x.threads()) b.Dh[i] = b.dh[i / U * N + b.u0 + i % U];
  x.sync_cluster();

  // The first exchange of a step uses set 0 of the shares, the second set 1: a sender writes a
  // set again a step later, a cluster barrier after its owner has read it.
  for (int s = a.steps - 1; s >= 0; --s) {
    load_h(x, b.Hs, b.H + s * BN, B, N, l.ldh);
    load_x(x, b.Xs, b.x + s * b.BI, B, b.I, l.ldi);
    x.sync_block();
    before_phase1(x, b, s, b.Xs, true);
    x.sync_cluster();  // r ⊙ h complete in every block
    // The candidate, then the update and candidate gradients; Dh becomes dh·z.
    for (int tile = x.warp(); tile < b.RT * b.UT; tile += x.warps()) {
      const int r0 = tile / b.UT * 16, ul = tile % b.UT * 16;
      typename X::Acc acc;
      before_candidate(x, acc, b, r0, ul);
      for_tile_elements(b, r0, ul, [&](int i, int r, int u) {
        const int j = b.u0 + u, k = r * l.ldk + u, c = r * U + u;
        const gru::BeforeGradZn gr = gru::before_grad_zn_of(
            Zk[k], tanhf(Nk[k] + acc.x[i]), b.H[int64_t(s) * BN + int64_t(r) * N + j], b.Dh[c]);
        float* zr = b.z + (int64_t(s) * B + r) * GiN;
        zr[N + j] = gr.z;
        zr[2 * N + j] = gr.n;
        b.Ds[r * l.ldd + U + u] = x.tile(gr.z);
        b.Ds[r * l.ldd + 2 * U + u] = x.tile(gr.n);
        b.Dh[c] = gr.h_prev;
      });
    }
    x.sync_block();
    send_shares(x, b, 0, 2 * U, U);  // drh = dn W_hn
    x.sync_cluster();
    // The reset gradient from drh of this block's units, and drh ⊙ r onto Dh.
    for (int i = x.thread(); i < B * U; i += x.threads()) {
      const int r = i / U, u = i % U, j = b.u0 + u;
      float drh = 0.f;
      for (int p = 0; p < P; ++p) drh += b.R[(p * l.Bp + r) * l.ldr + u];
      const gru::BeforeGradR gr =
          gru::before_grad_r_of(Rk[r * l.ldk + u], b.H[int64_t(s) * BN + int64_t(r) * N + j], drh);
      b.z[(int64_t(s) * B + r) * GiN + j] = gr.r;
      b.Ds[r * l.ldd + u] = x.tile(gr.r);
      b.Dh[i] += gr.h_prev;
    }
    x.sync_block();
    send_shares(x, b, 1, 0, 2 * U);  // [dr dz] W_hr,z
    x.sync_cluster();
    sum_shares(x, b, 1);
  }
  for (int i = x.thread(); i < B * U; i += x.threads()) b.dh[i / U * N + b.u0 + i % U] = b.Dh[i];
}

}  // namespace rnnmft::ens
