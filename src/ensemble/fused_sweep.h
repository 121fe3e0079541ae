// The fused recurrent sweep: one launch walks a whole chunk of time steps, forward or backward,
// with each model's W_hh held on chip (docs/gpu.md §Fused sweeps). A model is a cluster of P
// blocks; block q owns the units [q·U, (q+1)·U), U = N / P, and holds the rows of W_hh of its
// units' gates. Per step, forward: z = x W_ihᵀ + h W_hhᵀ for its units (16 × 16 tiles on the tensor
// cores), the gate math in the same warp, and the new h written into every block's copy of h;
// backward: the gate gradients of its units, then its share of dh_{t−1} = dz W_hh sent to the
// block that owns each unit.
//
// The body is written once against an execution context X, so that the same code runs as a CUDA
// kernel (gpu/fused_kernels.cu: warps, thread-block clusters, distributed shared memory, WMMA
// TF32) and on the host (ensemble/fused_host.cpp: one thread per warp, barriers, plain fp32
// tiles), where the tests hold it against the step-by-step engine. X provides:
//   model() rank()              the model and this block's rank in its cluster
//   thread() threads()          element loops over the block
//   warp() warps() lane() lanes()  tile loops over warps, element loops within a warp
//   sync_block() sync_warp() sync_cluster()
//   peer(p, q)                  p, a pointer into this block's shared memory, in block q's
//   tf32(v)                     v rounded as the tensor cores take it
//   A, Bc, Br, Acc; load_a(A&, p, ld) (16 × 8 row-major), load_bc(Bc&, p, ld) (8 × 16,
//   column-major), load_br(Br&, p, ld) (8 × 16 row-major), zero(Acc&), mma(Acc&, A, B),
//   store(p, Acc, ld) (16 × 16 row-major)
#pragma once

#include <cstddef>
#include <cstdint>

#include "ensemble/step_math.h"

#ifdef __CUDACC__
#define RNNMFT_FUSED __device__ __forceinline__
#define RNNMFT_UNROLL _Pragma("unroll")
#else
#define RNNMFT_FUSED inline
#define RNNMFT_UNROLL
#endif

namespace rnnmft::ens {

struct FusedArgs {
  Kind kind{};
  bool backward = false;
  int models = 1, B = 1, N = 1, Gi = 1, steps = 1;
  int P = 1;      // blocks per model (a cluster)
  int warps = 8;  // per block
  const float* params = nullptr;
  int64_t params_k = 0, off_w_hh = 0, off_bi = 0, off_bh = 0;
  float* z = nullptr;  // the chunk's products, step s row r at z + (s·B + r)·Gi·N
  int64_t z_k = 0;
  float* hn = nullptr;  // GRU reset-after, backward: W_hn h in, its gradient out ([steps][B][N])
  int64_t hn_k = 0;
  float* H = nullptr;  // h_{t0+s} at H + s·B·N; the forward writes s = 1 … steps
  float* C = nullptr;  // the LSTM's c, likewise
  int64_t h_k = 0;
  float* dh = nullptr;  // backward: dh of the chunk's last step in, of its first step's h out
  float* dc = nullptr;  // backward, LSTM: dc likewise
  int64_t d_k = 0;
};

// Which launch a shape gets: P = 0 where the fused sweep does not apply.
struct FusedPlan {
  int P = 0, warps = 8;
  size_t smem = 0;  // bytes of shared memory per block
};

// The recurrent gate blocks whose rows the fused sweep holds (0: not fused). The reset-before
// GRU needs r ⊙ h between two products and the minimalRNN has no gates on the recurrent side,
// so they keep the step-by-step sweep.
RNNMFT_HD constexpr int fused_gates(Kind k) {
  return k == Kind::Lstm ? 4 : k == Kind::GruAfter ? 3 : k == Kind::Vanilla ? 1 : 0;
}
RNNMFT_HD int pad16(int n) { return (n + 15) / 16 * 16; }

// Shared memory of one block, in floats: W_hh rows [G][U][N], then forward: h (two copies,
// [2][Bp][N]) and each warp's tile of gate sums [G][16][16]; backward: the gate gradients
// [Bp][G·U], the incoming shares of dh (two sets, [2][P][Bp][U]), dh and dc of its units.
inline size_t fused_smem_floats(int G, int B, int N, int P, int warps, bool backward) {
  const size_t U = size_t(N / P), Bp = size_t(pad16(B)), W = size_t(G) * U * size_t(N);
  if (!backward) return W + 2 * Bp * size_t(N) + size_t(warps) * G * 256;
  return W + Bp * G * U + 2 * Bp * size_t(N) + 2 * Bp * U;
}

// The smallest cluster (1, 2, 4 or 8 blocks; `want` > 0 asks for one) whose blocks fit in
// `smem_limit` bytes, with U a multiple of 16.
inline FusedPlan plan_fused(Kind kind, int B, int N, bool backward, size_t smem_limit,
                            int want = 0, int warps = 8) {
  FusedPlan p;
  const int G = fused_gates(kind);
  if (G == 0 || B < 1 || N < 16) return p;
  for (int P = 1; P <= 8; P *= 2) {
    if (want > 0 && P != want) continue;
    if (N % (16 * P) != 0) continue;
    const size_t bytes = fused_smem_floats(G, B, N, P, warps, backward) * sizeof(float);
    if (bytes > smem_limit) continue;
    p.P = P;
    p.warps = warps;
    p.smem = bytes;
    return p;
  }
  return p;
}

// One block's forward sweep over the chunk (a.kind == K; the gate count is a constant so that the
// tiles of all gates stay in registers).
template <Kind K, class X>
RNNMFT_FUSED void fused_forward(X& x, const FusedArgs& a) {
  constexpr int G = fused_gates(K);
  const int N = a.N, P = a.P, U = N / P, B = a.B, Bp = pad16(B);
  const int k = x.model(), u0 = x.rank() * U, GiN = a.Gi * N;
  const int64_t BN = int64_t(B) * N;
  float* Ws = x.smem();            // [G][U][N]
  float* Hs = Ws + G * U * N;      // [2][Bp][N]
  float* S = Hs + 2 * Bp * N + x.warp() * G * 256;  // this warp's gate sums [G][16][16]
  const float* prm = a.params + k * a.params_k;
  const float* w = prm + a.off_w_hh;
  const float* bi = prm + a.off_bi;
  const float* bh = prm + a.off_bh;
  const float* z = a.z + k * a.z_k;
  float* H = a.H + k * a.h_k;
  float* C = a.C ? a.C + k * a.h_k : nullptr;

  // Row g·N + u0 + u of W_hh is row (g, u) here.
  for (int i = x.thread(); i < G * U * N; i += x.threads())
    Ws[i] = x.tf32(w[int64_t(i / (U * N) * N + u0) * N + i % (U * N)]);
  for (int i = x.thread(); i < 2 * Bp * N; i += x.threads()) {
    const int r = i / N;
    Hs[i] = r < B ? x.tf32(H[i]) : 0.f;  // h_{t0}; rows past B (tile padding) and copy 1 zero
  }
  x.sync_cluster();  // every block's h ready before any block writes into it

  const int RT = Bp / 16, UT = U / 16;
  for (int s = 0; s < a.steps; ++s) {
    const float* hs = Hs + (s & 1) * Bp * N;
    float* hd = Hs + ((s + 1) & 1) * Bp * N;
    for (int tile = x.warp(); tile < RT * UT; tile += x.warps()) {
      const int r0 = tile / UT * 16, ul = tile % UT * 16;
      typename X::Acc acc[G];
RNNMFT_UNROLL
      for (int g = 0; g < G; ++g) x.zero(acc[g]);
      for (int kk = 0; kk < N; kk += 8) {
        typename X::A fa;
        x.load_a(fa, hs + r0 * N + kk, N);
RNNMFT_UNROLL
        for (int g = 0; g < G; ++g) {
          typename X::Bc fb;
          x.load_bc(fb, Ws + (g * U + ul) * N + kk, N);
          x.mma(acc[g], fa, fb);
        }
      }
RNNMFT_UNROLL
      for (int g = 0; g < G; ++g) x.store(S + g * 256, acc[g], 16);
      x.sync_warp();
      for (int e = x.lane(); e < 256; e += x.lanes()) {
        const int r = r0 + e / 16;
        if (r >= B) continue;
        const int j = u0 + ul + e % 16;
        const float* zr = z + (int64_t(s) * B + r) * GiN;
        const int64_t o = int64_t(s) * BN + int64_t(r) * N + j;  // h_{t0+s}; h_{t0+s+1} at o + BN
        float h;
        // The gate math of ensemble/cells/*.h (docs/theory.md §1, §3, §4).
        if constexpr (K == Kind::Lstm) {
          const float pi = zr[j] + S[e] + bi[j] + bh[j];
          const float pf = zr[N + j] + S[256 + e] + bi[N + j] + bh[N + j];
          const float pg = zr[2 * N + j] + S[512 + e] + bi[2 * N + j] + bh[2 * N + j];
          const float po = zr[3 * N + j] + S[768 + e] + bi[3 * N + j] + bh[3 * N + j];
          const float ig = sigmoid(pi), fg = sigmoid(pf), gg = tanhf(pg), og = sigmoid(po);
          const float c = fg * C[o] + ig * gg;
          C[o + BN] = c;
          h = og * tanhf(c);
        } else if constexpr (K == Kind::GruAfter) {
          const float rg = sigmoid(zr[j] + S[e] + bi[j] + bh[j]);
          const float ug = sigmoid(zr[N + j] + S[256 + e] + bi[N + j] + bh[N + j]);
          const float n = tanhf(zr[2 * N + j] + bi[2 * N + j] + rg * (S[512 + e] + bh[2 * N + j]));
          h = (1.f - ug) * n + ug * H[o];
        } else {
          h = tanhf(zr[j] + S[e] + bi[j] + bh[j]);
        }
        H[o + BN] = h;
        const float v = x.tf32(h);
        for (int p = 0; p < P; ++p) x.peer(hd, p)[r * N + j] = v;
      }
      x.sync_warp();  // S is read before the warp's next tile overwrites it
    }
    x.sync_cluster();  // h_{t0+s+1} complete in every block
  }
}

// One block's backward sweep over the chunk, s = steps − 1 … 0: the gate gradients overwrite the
// chunk's products (and the reset-after GRU's W_hn h), as the step-by-step sweep leaves them.
template <Kind K, class X>
RNNMFT_FUSED void fused_backward(X& x, const FusedArgs& a) {
  constexpr int G = fused_gates(K);
  const int N = a.N, P = a.P, U = N / P, B = a.B, Bp = pad16(B);
  const int k = x.model(), q = x.rank(), u0 = q * U, GiN = a.Gi * N, GU = G * U;
  const int64_t BN = int64_t(B) * N;
  float* Ws = x.smem();         // [G][U][N]
  float* Ds = Ws + GU * N;      // [Bp][G·U]: this block's gate gradients, tf32
  float* R = Ds + Bp * GU;      // [2][P][Bp][U]: the shares of dh for its units, by sender
  float* Dh = R + 2 * Bp * N;   // [Bp][U]
  float* Dc = Dh + Bp * U;      // [Bp][U]
  const float* prm = a.params + k * a.params_k;
  const float* w = prm + a.off_w_hh;
  const float* bi = prm + a.off_bi;
  const float* bh = prm + a.off_bh;
  float* z = a.z + k * a.z_k;
  float* hn = a.hn ? a.hn + k * a.hn_k : nullptr;
  const float* H = a.H + k * a.h_k;
  const float* C = a.C ? a.C + k * a.h_k : nullptr;
  float* dh = a.dh + k * a.d_k;
  float* dc = a.dc ? a.dc + k * a.d_k : nullptr;

  for (int i = x.thread(); i < GU * N; i += x.threads())
    Ws[i] = x.tf32(w[int64_t(i / (U * N) * N + u0) * N + i % (U * N)]);
  for (int i = x.thread(); i < Bp * GU; i += x.threads()) Ds[i] = 0.f;  // padding rows stay 0
  for (int i = x.thread(); i < B * U; i += x.threads()) {
    const int r = i / U, j = u0 + i % U;
    Dh[i] = dh[r * N + j];
    Dc[i] = dc ? dc[r * N + j] : 0.f;
  }
  x.sync_cluster();

  const int RT = Bp / 16, NT = N / 16;
  for (int s = a.steps - 1; s >= 0; --s) {
    // The gate gradients of this block's units; Dh keeps the element-wise part of dh_{t−1}.
    for (int i = x.thread(); i < B * U; i += x.threads()) {
      const int r = i / U, u = i % U, j = u0 + u;
      float* zr = z + (int64_t(s) * B + r) * GiN;
      const int64_t o = int64_t(s) * BN + int64_t(r) * N + j;  // h_{t0+s}, the step's input
      float* d = Ds + r * GU + u;
      const float g_h = Dh[i];
      if constexpr (K == Kind::Lstm) {
        const float ig = sigmoid(zr[j] + bi[j] + bh[j]);
        const float fg = sigmoid(zr[N + j] + bi[N + j] + bh[N + j]);
        const float gg = tanhf(zr[2 * N + j] + bi[2 * N + j] + bh[2 * N + j]);
        const float og = sigmoid(zr[3 * N + j] + bi[3 * N + j] + bh[3 * N + j]);
        const float cp = C[o], c = fg * cp + ig * gg, tc = tanhf(c);
        const float dct = Dc[i] + g_h * og * (1.f - tc * tc);
        const float di = dct * gg * ig * (1.f - ig), df = dct * cp * fg * (1.f - fg);
        const float dg = dct * ig * (1.f - gg * gg), d_o = g_h * tc * og * (1.f - og);
        zr[j] = di;
        zr[N + j] = df;
        zr[2 * N + j] = dg;
        zr[3 * N + j] = d_o;
        d[0] = x.tf32(di);
        d[U] = x.tf32(df);
        d[2 * U] = x.tf32(dg);
        d[3 * U] = x.tf32(d_o);
        Dc[i] = dct * fg;
        Dh[i] = 0.f;
      } else if constexpr (K == Kind::GruAfter) {
        float* hnr = hn + (int64_t(s) * B + r) * N;
        const float rg = sigmoid(zr[j] + bi[j] + bh[j]);
        const float ug = sigmoid(zr[N + j] + bi[N + j] + bh[N + j]);
        const float e = hnr[j] + bh[2 * N + j];  // W_hn h + b_hn
        const float n = tanhf(zr[2 * N + j] + bi[2 * N + j] + rg * e), hp = H[o];
        const float dan = g_h * (1.f - ug) * (1.f - n * n);
        const float dr = dan * e * rg * (1.f - rg), du = g_h * (hp - n) * ug * (1.f - ug);
        zr[j] = dr;
        zr[N + j] = du;
        zr[2 * N + j] = dan;
        hnr[j] = dan * rg;
        d[0] = x.tf32(dr);
        d[U] = x.tf32(du);
        d[2 * U] = x.tf32(dan * rg);
        Dh[i] = g_h * ug;
      } else {
        const float h = tanhf(zr[j] + bi[j] + bh[j]), dz = g_h * (1.f - h * h);
        zr[j] = dz;
        d[0] = x.tf32(dz);
        Dh[i] = 0.f;
      }
    }
    x.sync_block();
    // This block's share of dz W_hh for every unit, into the owner's R.
    float* Rs = R + (s & 1) * Bp * N;
    for (int tile = x.warp(); tile < RT * NT; tile += x.warps()) {
      const int r0 = tile / NT * 16, n0 = tile % NT * 16, owner = n0 / U;
      typename X::Acc acc;
      x.zero(acc);
      for (int kk = 0; kk < GU; kk += 8) {
        typename X::A fa;
        typename X::Br fb;
        x.load_a(fa, Ds + r0 * GU + kk, GU);
        x.load_br(fb, Ws + kk * N + n0, N);
        x.mma(acc, fa, fb);
      }
      x.store(x.peer(Rs, owner) + (q * Bp + r0) * U + (n0 - owner * U), acc, U);
    }
    x.sync_cluster();  // every share delivered; R's other set is free again (see the header)
    for (int i = x.thread(); i < B * U; i += x.threads()) {
      const int r = i / U, u = i % U;
      float acc = Dh[i];
      for (int p = 0; p < P; ++p) acc += Rs[(p * Bp + r) * U + u];
      Dh[i] = acc;
    }
  }
  for (int i = x.thread(); i < B * U; i += x.threads()) {
    const int r = i / U, j = u0 + i % U;
    dh[r * N + j] = Dh[i];
    if (dc) dc[r * N + j] = Dc[i];
  }
}

}  // namespace rnnmft::ens
