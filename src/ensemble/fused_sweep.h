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
//   warp() warps()              tile loops over its warps
//   sync_block() sync_cluster() barriers (the cluster's also orders shared memory across blocks)
//   smem()                      this block's shared memory
//   peer(p, q)                  p, a pointer into this block's shared memory, in block q's
//   tf32(v)                     v rounded as the tensor cores take it
//   A, Bc, Br, Acc              16 × 8 row-major, 8 × 16 column- and row-major, 16 × 16 fp32
//   load_a, load_bc, load_br, load_acc (p, ld), zero, mma(Acc&, A, B)
//   Acc::num_elements, acc.x[i] this lane's share of a tile (which elements: see `pos` below)
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

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
  int models = 1, B = 1, N = 1, I = 1, Gi = 1, steps = 1;
  int P = 1;      // blocks per model (a cluster)
  int warps = 8;  // per block
  const float* params = nullptr;
  int64_t params_k = 0, off_w_ih = 0, off_w_hh = 0, off_bi = 0, off_bh = 0;
  const float* x = nullptr;  // forward: the input of step t0 + s at x + s·B·I
  int64_t x_k = 0;
  float* z = nullptr;  // backward: the chunk's products, step s row r at z + (s·B + r)·Gi·N
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
// The reset-after GRU keeps its candidate's input side apart from W_hn h (r multiplies only the
// second): one more tile of accumulators, the input side's.
RNNMFT_HD constexpr bool split_candidate(Kind k) {
  return k == Kind::GruAfter;
}
RNNMFT_HD constexpr int fused_tiles(Kind k) {
  return fused_gates(k) + (split_candidate(k) ? 1 : 0);
}
// The accumulator tile that gate block g's input product goes to.
RNNMFT_HD constexpr int input_tile(Kind k, int g) {
  return split_candidate(k) && g == 2 ? 3 : g;
}

// f(std::integral_constant<Kind, K>{}) for the kind's fused sweep: the one place a runtime kind
// becomes the template argument of fused_forward and fused_backward (host and CUDA launches).
template <Kind... Ks, class F>
void with_kind_among(Kind k, F&& f) {
  ((k == Ks ? (f(std::integral_constant<Kind, Ks>{}), true) : false) || ...);
}
template <class F>
void with_fused_kind(Kind k, F&& f) {  // f is not called for a kind that is not fused
  with_kind_among<Kind::Lstm, Kind::GruAfter, Kind::Vanilla>(k, f);
}
RNNMFT_HD int pad16(int n) {
  return (n + 15) / 16 * 16;
}

// Where everything lies in a block's shared memory (offsets and leading dimensions in floats):
// W_hh's rows of this block [G·U][N]; h [Bp][N]; a 16 × 16 tile of indices (which element of a
// tile each accumulator register holds); W_ih's rows [G·U][Ip]; x [Bp][Ip] (Ip: I rounded up to
// 8, the padding zero). The forward keeps two copies of h and of x (this step's and the next's).
// The backward adds the gate gradients [Bp][G·U], the incoming shares of dh in two sets
// [2][P][Bp][U] (by sender), and dh and dc of its units [Bp][U]. Each leading dimension is its
// width plus 4, so that the rows of a tile fall in different banks; every tile then starts
// 32-byte aligned.
struct FusedLayout {
  int U = 0, Bp = 0, Ip = 0, ldw = 0, ldh = 0, ldi = 0, ldd = 0, ldr = 0;
  int h = 0, idx = 0, wi = 0, x = 0;
  int d = 0, r = 0, dh = 0, dc = 0;  // backward
  int floats = 0;
};
RNNMFT_HD FusedLayout fused_layout(int G, int B, int N, int I, int P, bool backward) {
  FusedLayout l;
  l.U = N / P;
  l.Bp = pad16(B);
  l.Ip = (I + 7) / 8 * 8;
  l.ldw = N + 4;
  l.ldh = N + 4;
  l.ldi = l.Ip + 4;
  const int copies = backward ? 1 : 2;
  l.h = G * l.U * l.ldw;
  l.idx = l.h + copies * l.Bp * l.ldh;
  l.wi = l.idx + 256;
  l.x = l.wi + G * l.U * l.ldi;
  l.floats = l.x + copies * l.Bp * l.ldi;
  if (backward) {
    l.ldd = G * l.U + 4;
    l.ldr = l.U + 4;
    l.d = l.floats;
    l.r = l.d + l.Bp * l.ldd;
    l.dh = l.r + 2 * P * l.Bp * l.ldr;
    l.dc = l.dh + l.Bp * l.U;
    l.floats = l.dc + l.Bp * l.U;
  }
  return l;
}

// The smallest cluster (1, 2, 4 or 8 blocks; `want` > 0 asks for one) whose blocks fit in
// `smem_limit` bytes, with U a multiple of 16.
inline FusedPlan plan_fused(Kind kind, int B, int N, int I, bool backward, size_t smem_limit,
                            int want = 0, int warps = 8) {
  FusedPlan p;
  const int G = fused_gates(kind);
  if (G == 0 || B < 1 || N < 16 || I < 1 || B > 4096 || N > 4096 || I > 4096) return p;
  for (int P = 1; P <= 8; P *= 2) {
    if (want > 0 && P != want) continue;
    if (N % (16 * P) != 0) continue;
    const size_t bytes = size_t(fused_layout(G, B, N, I, P, backward).floats) * sizeof(float);
    if (bytes > smem_limit) continue;
    p.P = P;
    p.warps = warps;
    p.smem = bytes;
    return p;
  }
  return p;
}

// This block's rows of W_hh (cols = width = N) or W_ih (width I, cols = Ip, the rest zero),
// rounded for the tensor cores: row g·N + u0 + u of the matrix is row g·U + u here.
template <class X>
RNNMFT_FUSED void load_w_rows(X& x, float* Ws, const float* w, int G, int N, int U, int u0,
                              int width, int cols, int ld) {
  for (int i = x.thread(); i < G * U * cols; i += x.threads()) {
    const int row = i / cols, col = i % cols;
    Ws[row * ld + col] =
        col < width ? x.tf32(w[int64_t(row / U * N + u0 + row % U) * width + col]) : 0.f;
  }
}

// x of one step into a copy in shared memory (rows < B; the padding stays zero).
template <class X>
RNNMFT_FUSED void load_x(X& x, float* Xs, const float* xt, int B, int I, int ldi) {
  for (int i = x.thread(); i < B * I; i += x.threads()) Xs[i / I * ldi + i % I] = x.tf32(xt[i]);
}

// The pre-activation tiles of rows [r0, r0 + 16) and this block's units [ul, ul + 16) of every
// gate: acc[g] = x W_ihᵀ + h W_hhᵀ, except the reset-after GRU's candidate, whose h W_hnᵀ is acc[2]
// and x W_inᵀ acc[3] (r multiplies only the first).
template <Kind K, class X>
RNNMFT_FUSED void gate_tiles(X& x, typename X::Acc* acc, const float* xs, const float* hs,
                             const float* Wi, const float* Ws, const FusedLayout& l, int N, int r0,
                             int ul) {
  constexpr int G = fused_gates(K), GA = fused_tiles(K);
  RNNMFT_UNROLL
  for (int g = 0; g < GA; ++g) x.zero(acc[g]);
  for (int kk = 0; kk < l.Ip; kk += 8) {
    typename X::A fa;
    x.load_a(fa, xs + r0 * l.ldi + kk, l.ldi);
    RNNMFT_UNROLL
    for (int g = 0; g < G; ++g) {
      typename X::Bc fb;
      x.load_bc(fb, Wi + (g * l.U + ul) * l.ldi + kk, l.ldi);
      x.mma(acc[input_tile(K, g)], fa, fb);
    }
  }
  for (int kk = 0; kk < N; kk += 8) {
    typename X::A fa;
    x.load_a(fa, hs + r0 * l.ldh + kk, l.ldh);
    RNNMFT_UNROLL
    for (int g = 0; g < G; ++g) {
      typename X::Bc fb;
      x.load_bc(fb, Ws + (g * l.U + ul) * l.ldw + kk, l.ldw);
      x.mma(acc[g], fa, fb);
    }
  }
}

// One block's forward sweep over the chunk (a.kind == K; the gate count is a constant so that the
// tiles of all gates stay in registers): z = x W_ihᵀ + h W_hhᵀ for its units, then the gates.
template <Kind K, class X>
RNNMFT_FUSED void fused_forward(X& x, const FusedArgs& a) {
  constexpr int G = fused_gates(K), GA = fused_tiles(K);
  const int N = a.N, U = N / a.P, B = a.B, P = a.P, I = a.I;
  const FusedLayout l = fused_layout(G, B, N, I, P, false);
  const int k = x.model(), u0 = x.rank() * U, ldh = l.ldh, ldw = l.ldw, ldi = l.ldi;
  const int64_t BN = int64_t(B) * N, BI = int64_t(B) * I;
  float* Ws = x.smem();
  float* Hs = Ws + l.h;
  float* idx = Ws + l.idx;
  float* Wi = Ws + l.wi;
  float* Xs = Ws + l.x;
  const float* prm = a.params + k * a.params_k;
  const float* bi = prm + a.off_bi;
  const float* bh = prm + a.off_bh;
  const float* xin = a.x + k * a.x_k;
  float* H = a.H + k * a.h_k;
  float* C = a.C ? a.C + k * a.h_k : nullptr;

  load_w_rows(x, Ws, prm + a.off_w_hh, G, N, U, u0, N, N, ldw);
  load_w_rows(x, Wi, prm + a.off_w_ih, G, N, U, u0, I, l.Ip, ldi);
  for (int i = x.thread(); i < 2 * l.Bp * N; i += x.threads()) {
    const int r = i / N, c = i % N;  // h_{t0} in copy 0; padding rows and copy 1 zero
    Hs[r * ldh + c] = r < B ? x.tf32(H[int64_t(r) * N + c]) : 0.f;
  }
  for (int i = x.thread(); i < 2 * l.Bp * ldi; i += x.threads()) Xs[i] = 0.f;
  for (int i = x.thread(); i < 256; i += x.threads()) idx[i] = float(i);
  x.sync_block();  // Xs zero before x_{t0} goes in
  load_x(x, Xs, xin, B, I, ldi);
  x.sync_cluster();  // every block's h ready before any block writes into it
  // pos.x[i]: the element of a 16 × 16 tile that accumulator register i of this lane holds. WMMA
  // leaves the layout unspecified, but it is one layout for every accumulator of this type in a
  // kernel, and mma works register by register, so what a load shows holds for every tile.
  typename X::Acc pos;
  x.load_acc(pos, idx, 16);

  const int RT = l.Bp / 16, UT = U / 16;
  for (int s = 0; s < a.steps; ++s) {
    const float* hs = Hs + (s & 1) * l.Bp * ldh;
    float* hd = Hs + ((s + 1) & 1) * l.Bp * ldh;
    const float* xs = Xs + (s & 1) * l.Bp * ldi;
    for (int tile = x.warp(); tile < RT * UT; tile += x.warps()) {
      const int r0 = tile / UT * 16, ul = tile % UT * 16;
      typename X::Acc acc[GA];
      gate_tiles<K>(x, acc, xs, hs, Wi, Ws, l, N, r0, ul);
      for (int i = 0; i < X::Acc::num_elements; ++i) {
        const int e = int(pos.x[i]), r = r0 + e / 16;
        if (r >= B) continue;
        const int j = u0 + ul + e % 16;
        const int64_t o = int64_t(s) * BN + int64_t(r) * N + j;  // h_{t0+s}; h_{t0+s+1} at o + BN
        float h;
        // The cells' math on values (ensemble/cells/*.h; docs/theory.md §1, §3, §4).
        if constexpr (K == Kind::Lstm) {
          const lstm::Gates ga =
              lstm::gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                             acc[2].x[i] + bi[2 * N + j] + bh[2 * N + j],
                             acc[3].x[i] + bi[3 * N + j] + bh[3 * N + j]);
          const float c = lstm::cell_of(ga, C[o]);
          C[o + BN] = c;
          h = lstm::hidden_of(ga, c);
        } else if constexpr (K == Kind::GruAfter) {
          const gru::AfterGates ga =
              gru::after_gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                                  acc[3].x[i] + bi[2 * N + j], acc[2].x[i] + bh[2 * N + j]);
          h = gru::after_hidden_of(ga, H[o]);
        } else {
          h = vanilla::hidden_of(acc[0].x[i] + bi[j] + bh[j]);
        }
        H[o + BN] = h;
        const float v = x.tf32(h);
        for (int p = 0; p < P; ++p) x.peer(hd, p)[r * ldh + j] = v;
      }
    }
    // x of the next step into the other copy (read by nobody during this step).
    if (s + 1 < a.steps) load_x(x, Xs + ((s + 1) & 1) * l.Bp * ldi, xin + (s + 1) * BI, B, I, ldi);
    x.sync_cluster();  // h_{t0+s+1} complete in every block, x_{t0+s+1} in this one
  }
}

// One block's backward sweep over the chunk, s = steps − 1 … 0. Each step recomputes its
// pre-activations from h and x (the forward kept only the states), then writes the gate gradients
// where the step-by-step sweep leaves them for the weight-gradient products: the chunk's product
// buffer z, and for the reset-after GRU the gradient of W_hn h + b_hn in hn.
template <Kind K, class X>
RNNMFT_FUSED void fused_backward(X& x, const FusedArgs& a) {
  constexpr int G = fused_gates(K), GA = fused_tiles(K);
  const int N = a.N, P = a.P, U = N / P, B = a.B, I = a.I;
  const FusedLayout l = fused_layout(G, B, N, I, P, true);
  const int k = x.model(), q = x.rank(), u0 = q * U, GiN = a.Gi * N, GU = G * U;
  const int ldh = l.ldh, ldi = l.ldi, ldw = l.ldw, ldd = l.ldd, ldr = l.ldr;
  const int64_t BN = int64_t(B) * N, BI = int64_t(B) * I;
  float* Ws = x.smem();
  float* Hs = Ws + l.h;
  float* idx = Ws + l.idx;
  float* Wi = Ws + l.wi;
  float* Xs = Ws + l.x;
  float* Ds = Ws + l.d;  // this block's gate gradients, rounded for the tensor cores
  float* R = Ws + l.r;   // the shares of dh for its units, by sender
  float* Dh = Ws + l.dh;
  float* Dc = Ws + l.dc;
  const float* prm = a.params + k * a.params_k;
  const float* bi = prm + a.off_bi;
  const float* bh = prm + a.off_bh;
  const float* xin = a.x + k * a.x_k;
  float* z = a.z + k * a.z_k;
  float* hn = a.hn ? a.hn + k * a.hn_k : nullptr;
  const float* H = a.H + k * a.h_k;
  const float* C = a.C ? a.C + k * a.h_k : nullptr;
  float* dh = a.dh + k * a.d_k;
  float* dc = a.dc ? a.dc + k * a.d_k : nullptr;

  load_w_rows(x, Ws, prm + a.off_w_hh, G, N, U, u0, N, N, ldw);
  load_w_rows(x, Wi, prm + a.off_w_ih, G, N, U, u0, I, l.Ip, ldi);
  // Padding rows (and x's padding columns) stay zero.
  for (int i = x.thread(); i < l.Bp * ldh; i += x.threads()) Hs[i] = 0.f;
  for (int i = x.thread(); i < l.Bp * ldi; i += x.threads()) Xs[i] = 0.f;
  for (int i = x.thread(); i < l.Bp * ldd; i += x.threads()) Ds[i] = 0.f;
  for (int i = x.thread(); i < 256; i += x.threads()) idx[i] = float(i);
  for (int i = x.thread(); i < B * U; i += x.threads()) {
    const int r = i / U, j = u0 + i % U;
    Dh[i] = dh[r * N + j];
    Dc[i] = dc ? dc[r * N + j] : 0.f;
  }
  x.sync_cluster();
  typename X::Acc pos;  // as in the forward sweep
  x.load_acc(pos, idx, 16);

  const int RT = l.Bp / 16, UT = U / 16, NT = N / 16;
  for (int s = a.steps - 1; s >= 0; --s) {
    // The step's input: h_{t0+s} (all units) and x_{t0+s}.
    for (int i = x.thread(); i < B * N; i += x.threads())
      Hs[i / N * ldh + i % N] = x.tf32(H[s * BN + i]);
    load_x(x, Xs, xin + s * BI, B, I, ldi);
    x.sync_block();
    // The pre-activations of this block's units, and from them the gate gradients; Dh keeps the
    // element-wise part of dh_{t−1}.
    for (int tile = x.warp(); tile < RT * UT; tile += x.warps()) {
      const int r0 = tile / UT * 16, ul = tile % UT * 16;
      typename X::Acc acc[GA];
      gate_tiles<K>(x, acc, Xs, Hs, Wi, Ws, l, N, r0, ul);
      for (int i = 0; i < X::Acc::num_elements; ++i) {
        const int e = int(pos.x[i]), r = r0 + e / 16;
        if (r >= B) continue;
        const int u = ul + e % 16, j = u0 + u, c = r * U + u;
        float* zr = z + (int64_t(s) * B + r) * GiN;
        const int64_t o = int64_t(s) * BN + int64_t(r) * N + j;  // h_{t0+s}, the step's input
        float* d = Ds + r * ldd + u;
        const float g_h = Dh[c];
        // The cells' derivatives on values (ensemble/cells/*.h; docs/theory.md §1, §3, §4).
        if constexpr (K == Kind::Lstm) {
          const lstm::Gates ga =
              lstm::gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                             acc[2].x[i] + bi[2 * N + j] + bh[2 * N + j],
                             acc[3].x[i] + bi[3 * N + j] + bh[3 * N + j]);
          const lstm::Grad gr = lstm::grad_of(ga, C[o], g_h, Dc[c]);
          zr[j] = gr.i;
          zr[N + j] = gr.f;
          zr[2 * N + j] = gr.g;
          zr[3 * N + j] = gr.o;
          d[0] = x.tf32(gr.i);
          d[U] = x.tf32(gr.f);
          d[2 * U] = x.tf32(gr.g);
          d[3 * U] = x.tf32(gr.o);
          Dc[c] = gr.c_prev;
          Dh[c] = 0.f;
        } else if constexpr (K == Kind::GruAfter) {
          const gru::AfterGates ga =
              gru::after_gates_of(acc[0].x[i] + bi[j] + bh[j], acc[1].x[i] + bi[N + j] + bh[N + j],
                                  acc[3].x[i] + bi[2 * N + j], acc[2].x[i] + bh[2 * N + j]);
          const gru::AfterGrad gr = gru::after_grad_of(ga, H[o], g_h);
          zr[j] = gr.r;
          zr[N + j] = gr.z;
          zr[2 * N + j] = gr.n;
          hn[(int64_t(s) * B + r) * N + j] = gr.e;
          d[0] = x.tf32(gr.r);
          d[U] = x.tf32(gr.z);
          d[2 * U] = x.tf32(gr.e);
          Dh[c] = gr.h_prev;
        } else {
          const float dz = vanilla::grad_of(vanilla::hidden_of(acc[0].x[i] + bi[j] + bh[j]), g_h);
          zr[j] = dz;
          d[0] = x.tf32(dz);
          Dh[c] = 0.f;
        }
      }
    }
    x.sync_block();
    // This block's share of dz W_hh for every unit, into the owner's R.
    const int set = (s & 1) * P * l.Bp * ldr;
    for (int tile = x.warp(); tile < RT * NT; tile += x.warps()) {
      const int r0 = tile / NT * 16, n0 = tile % NT * 16, owner = n0 / U;
      typename X::Acc acc;
      x.zero(acc);
      for (int kk = 0; kk < GU; kk += 8) {
        typename X::A fa;
        typename X::Br fb;
        x.load_a(fa, Ds + r0 * ldd + kk, ldd);
        x.load_br(fb, Ws + kk * ldw + n0, ldw);
        x.mma(acc, fa, fb);
      }
      // Plain stores: WMMA's own store is specified for this block's shared memory only.
      float* dst = x.peer(R, owner) + set + (q * l.Bp + r0) * ldr + (n0 - owner * U);
      for (int i = 0; i < X::Acc::num_elements; ++i) {
        const int e = int(pos.x[i]);
        dst[e / 16 * ldr + e % 16] = acc.x[i];
      }
    }
    // Every share delivered. A sender writes this set again two steps on, after the barrier of
    // the step between, which this block reaches only once it has summed this set.
    x.sync_cluster();
    for (int i = x.thread(); i < B * U; i += x.threads()) {
      const int r = i / U, u = i % U;
      float acc = Dh[i];
      for (int p = 0; p < P; ++p) acc += R[set + (p * l.Bp + r) * ldr + u];
      Dh[i] = acc;
    }
    // (The next step's loads touch only Hs and Xs, read before the barrier above; its
    // gradients read Dh after the barrier that follows them.)
  }
  for (int i = x.thread(); i < B * U; i += x.threads()) {
    const int r = i / U, j = u0 + i % U;
    dh[r * N + j] = Dh[i];
    if (dc) dc[r * N + j] = Dc[i];
  }
}

}  // namespace rnnmft::ens
