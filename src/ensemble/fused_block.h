// The pieces a fused sweep (ensemble/fused_sweep.h) is made of, written against an execution
// context X: a block's place and shared memory, its rows of the weights and the inputs loaded,
// the products of one tile, and the exchange of the shares of dh between the blocks of a model.
// X provides:
//   model() rank()              the model and this block's rank in its cluster
//   thread() threads()          element loops over the block
//   warp() warps()              tile loops over its warps
//   sync_block() sync_cluster() barriers (the cluster's also orders shared memory across blocks)
//   smem()                      this block's shared memory (bytes)
//   peer(p, q)                  p, a pointer into this block's shared memory, in block q's
//   T, KK                       what the tiles' inputs are stored as (fp32 or bf16), and the k
//                               extent of one product (tile_k: 8 for TF32, 16 for bf16)
//   tile(v)                     v as the tiles take it (rounded to TF32, or converted to bf16)
//   A, Bc, Br, Acc              16 × KK row-major, KK × 16 column- and row-major, 16 × 16 fp32
//   load_a, load_bc, load_br (const T*, ld), load_acc (const float*, ld), zero, mma(Acc&, A, B)
//   Acc::num_elements, acc.x[i] this lane's share of a tile (which elements: FusedBlock::pos)
#pragma once

#include "ensemble/fused_plan.h"

#ifdef __CUDACC__
#define RNNMFT_FUSED __device__ __forceinline__
#define RNNMFT_UNROLL _Pragma("unroll")
#else
#define RNNMFT_FUSED inline
#define RNNMFT_UNROLL
#endif

namespace rnnmft::ens {

// Block x.rank() of model x.model(): its units [u0, u0 + U), where its buffers lie in its shared
// memory, and its model's slices of the arguments.
template <class X>
struct FusedBlock {
  using T = typename X::T;
  FusedLayout l;
  int N, U, B, I, P, q, u0;
  int RT, UT, NT;  // 16-wide tiles: rows, this block's units, all units
  int64_t BN, BI;
  T *Ws, *Hs, *RHs, *Wi, *Xs, *Ds;  // the tiles' inputs
  float *idx, *keep, *R, *Dh, *Dc;
  const float *bi, *bh, *x;
  float *H, *C, *z, *hn, *rh, *dh, *dc;
  // pos.x[i]: the element of a 16 × 16 tile that accumulator register i of this lane holds. WMMA
  // leaves the layout unspecified, but it is one layout for every accumulator of this type in a
  // kernel, and mma works register by register, so what a load shows holds for every tile.
  typename X::Acc pos;
};

// This block's rows of W_hh (cols = width = N) or W_ih (width I, cols = Ip, the rest zero) for
// G gate blocks, rounded for the tensor cores: row g·N + u0 + u of the matrix is row g·U + u here.
template <class X>
RNNMFT_FUSED void load_w_rows(X& x, typename X::T* Ws, const float* w, int G, int N, int U, int u0,
                              int width, int cols, int ld) {
  for (int i = x.thread(); i < G * U * cols; i += x.threads()) {
    const int row = i / cols, col = i % cols;
    Ws[row * ld + col] =
        x.tile(col < width ? w[int64_t(row / U * N + u0 + row % U) * width + col] : 0.f);
  }
}

// x of one step into a copy in shared memory (rows < B; the padding stays zero).
template <class X>
RNNMFT_FUSED void load_x(X& x, typename X::T* Xs, const float* xt, int B, int I, int ldi) {
  for (int i = x.thread(); i < B * I; i += x.threads()) Xs[i / I * ldi + i % I] = x.tile(xt[i]);
}

// h of all units and rows < B into a copy in shared memory, rounded for the tensor cores.
template <class X>
RNNMFT_FUSED void load_h(X& x, typename X::T* Hs, const float* h, int B, int N, int ldh) {
  for (int i = x.thread(); i < B * N; i += x.threads()) Hs[i / N * ldh + i % N] = x.tile(h[i]);
}

// The start of every sweep: the block's place, its rows of the weights, the padding of h, r ⊙ h,
// x and the gate gradients zero, and the index tile `pos` is read from; ends on a block barrier.
template <Kind K, class X>
RNNMFT_FUSED FusedBlock<X> fused_begin(X& x, const FusedArgs& a) {
  constexpr FusedCell c = fused_cell(K);
  using T = typename X::T;
  static_assert(X::KK == tile_k(int(sizeof(T))), "a product's k extent is the layout's");
  FusedBlock<X> b;
  b.l = fused_layout(K, a.B, a.N, a.I, a.P, a.backward, int(sizeof(T)));
  const FusedLayout& l = b.l;
  b.N = a.N;
  b.P = a.P;
  b.U = a.N / a.P;
  b.B = a.B;
  b.I = a.I;
  b.q = x.rank();
  b.u0 = b.q * b.U;
  b.RT = l.Bp / 16;
  b.UT = b.U / 16;
  b.NT = a.N / 16;
  b.BN = int64_t(a.B) * a.N;
  b.BI = int64_t(a.B) * a.I;
  unsigned char* s = x.smem();
  b.Ws = reinterpret_cast<T*>(s);
  b.Hs = reinterpret_cast<T*>(s + l.h);
  b.RHs = reinterpret_cast<T*>(s + l.rh);
  b.idx = reinterpret_cast<float*>(s + l.idx);
  b.Wi = reinterpret_cast<T*>(s + l.wi);
  b.Xs = reinterpret_cast<T*>(s + l.x);
  b.keep = reinterpret_cast<float*>(s + l.keep);
  b.Ds = reinterpret_cast<T*>(s + l.d);
  b.R = reinterpret_cast<float*>(s + l.r);
  b.Dh = reinterpret_cast<float*>(s + l.dh);
  b.Dc = reinterpret_cast<float*>(s + l.dc);
  const int k = x.model();
  const float* prm = a.params + k * a.params_k;
  b.bi = prm + a.off_bi;
  b.bh = prm + a.off_bh;
  b.x = a.x + k * a.x_k;
  b.H = a.H + k * a.h_k;
  b.C = a.C ? a.C + k * a.h_k : nullptr;
  b.z = a.z ? a.z + k * a.z_k : nullptr;
  b.hn = a.hn ? a.hn + k * a.hn_k : nullptr;
  b.rh = a.rh ? a.rh + k * a.rh_k : nullptr;
  b.dh = a.dh ? a.dh + k * a.d_k : nullptr;
  b.dc = a.dc ? a.dc + k * a.d_k : nullptr;

  load_w_rows(x, b.Ws, prm + a.off_w_hh, c.rec, b.N, b.U, b.u0, b.N, b.N, l.ldw);
  load_w_rows(x, b.Wi, prm + a.off_w_ih, c.in, b.N, b.U, b.u0, b.I, l.Ip, l.ldi);
  const int tb = int(sizeof(T));
  for (int i = x.thread(); i < (l.idx - l.h) / tb; i += x.threads()) b.Hs[i] = x.tile(0.f);
  for (int i = x.thread(); i < (l.keep - l.x) / tb; i += x.threads()) b.Xs[i] = x.tile(0.f);
  if (a.backward)
    for (int i = x.thread(); i < (l.r - l.d) / tb; i += x.threads()) b.Ds[i] = x.tile(0.f);
  for (int i = x.thread(); i < 256; i += x.threads()) b.idx[i] = float(i);
  x.sync_block();
  x.load_acc(b.pos, b.idx, 16);
  return b;
}

// f(i, r, u) for each accumulator register i of this lane in the tile of rows [r0, r0 + 16) and
// this block's units [ul, ul + 16): its row r (< B; padding rows are skipped) and unit u of the
// block (b.u0 + u of the model).
template <class X, class F>
RNNMFT_FUSED void for_tile_elements(const FusedBlock<X>& b, int r0, int ul, F&& f) {
  for (int i = 0; i < X::Acc::num_elements; ++i) {
    const int e = int(b.pos.x[i]), r = r0 + e / 16;
    if (r < b.B) f(i, r, ul + e % 16);
  }
}

// The pre-activation tiles of rows [r0, r0 + 16) and this block's units [ul, ul + 16) of every
// gate: acc[input_tile(g)] = x W_ihᵀ, acc[g] += h W_hhᵀ for the gate blocks that multiply h.
template <Kind K, class X>
RNNMFT_FUSED void gate_tiles(X& x, typename X::Acc* acc, const FusedBlock<X>& b,
                             const typename X::T* xs, const typename X::T* hs, int r0, int ul) {
  constexpr FusedCell c = fused_cell(K);
  constexpr int GH = rec_on_h(K);
  const FusedLayout& l = b.l;
  RNNMFT_UNROLL
  for (int g = 0; g < c.tiles; ++g) x.zero(acc[g]);
  for (int kk = 0; kk < l.Ip; kk += X::KK) {
    typename X::A fa;
    x.load_a(fa, xs + r0 * l.ldi + kk, l.ldi);
    RNNMFT_UNROLL
    for (int g = 0; g < c.in; ++g) {
      typename X::Bc fb;
      x.load_bc(fb, b.Wi + (g * b.U + ul) * l.ldi + kk, l.ldi);
      x.mma(acc[input_tile(K, g)], fa, fb);
    }
  }
  for (int kk = 0; kk < b.N; kk += X::KK) {
    typename X::A fa;
    x.load_a(fa, hs + r0 * l.ldh + kk, l.ldh);
    RNNMFT_UNROLL
    for (int g = 0; g < GH; ++g) {
      typename X::Bc fb;
      x.load_bc(fb, b.Ws + (g * b.U + ul) * l.ldw + kk, l.ldw);
      x.mma(acc[g], fa, fb);
    }
  }
}

// This block's share of D W for every unit, D the gate gradients' columns [c0, c0 + w) (gate
// block c0 / U on) and W its rows of W_hh of the same gates, stored into the owner's set `set` of
// shares. Plain stores: WMMA's own store is specified for this block's shared memory only.
template <class X>
RNNMFT_FUSED void send_shares(X& x, const FusedBlock<X>& b, int set, int c0, int w) {
  const FusedLayout& l = b.l;
  for (int tile = x.warp(); tile < b.RT * b.NT; tile += x.warps()) {
    const int r0 = tile / b.NT * 16, n0 = tile % b.NT * 16, owner = n0 / b.U;
    typename X::Acc acc;
    x.zero(acc);
    for (int kk = c0; kk < c0 + w; kk += X::KK) {
      typename X::A fa;
      typename X::Br fb;
      x.load_a(fa, b.Ds + r0 * l.ldd + kk, l.ldd);
      x.load_br(fb, b.Ws + kk * l.ldw + n0, l.ldw);
      x.mma(acc, fa, fb);
    }
    float* dst =
        x.peer(b.R, owner) + (set * b.P + b.q) * l.Bp * l.ldr + r0 * l.ldr + (n0 - owner * b.U);
    for (int i = 0; i < X::Acc::num_elements; ++i) {
      const int e = int(b.pos.x[i]);
      dst[e / 16 * l.ldr + e % 16] = acc.x[i];
    }
  }
}

// The shares of set `set`, from every block, added onto Dh. A sender writes this set again two
// exchanges on, after the cluster barrier of the exchange between, which this block reaches only
// once it has summed this set.
template <class X>
RNNMFT_FUSED void sum_shares(X& x, const FusedBlock<X>& b, int set) {
  const FusedLayout& l = b.l;
  for (int i = x.thread(); i < b.B * b.U; i += x.threads()) {
    const int r = i / b.U, u = i % b.U;
    float acc = b.Dh[i];
    for (int p = 0; p < b.P; ++p) acc += b.R[((set * b.P + p) * l.Bp + r) * l.ldr + u];
    b.Dh[i] = acc;
  }
}

}  // namespace rnnmft::ens
