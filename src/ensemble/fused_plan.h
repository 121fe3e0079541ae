// What the fused recurrent sweep (ensemble/fused_sweep.h, docs/gpu.md §Fused sweeps) holds of a
// cell, how a block's shared memory is laid out, and which launch a shape gets. Plain host and
// device code without the sweep's body, for the backends and the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ensemble/step_math.h"

namespace rnnmft::ens {

struct FusedArgs {
  Kind kind{};
  bool backward = false;
  int models = 1, B = 1, N = 1, I = 1, Gi = 1, steps = 1;
  int P = 1;      // blocks per model (a cluster)
  int warps = 8;  // per block
  int tile_bytes = 4;  // what a tile's inputs are stored in: 4, fp32 (TF32 on the GPU); 2, bf16
  const float* params = nullptr;
  int64_t params_k = 0, off_w_ih = 0, off_w_hh = 0, off_bi = 0, off_bh = 0;
  const float* x = nullptr;  // the input of step t0 + s at x + s·B·I
  int64_t x_k = 0;
  float* z = nullptr;  // backward: the chunk's products, step s row r at z + (s·B + r)·Gi·N
  int64_t z_k = 0;
  float* hn = nullptr;  // GRU reset-after, backward: the gradient of W_hn h + b_hn ([steps][B][N])
  int64_t hn_k = 0;
  float* rh = nullptr;  // GRU reset-before, backward: r ⊙ h for the weight gradient, likewise
  int64_t rh_k = 0;
  float* H = nullptr;  // h_{t0+s} at H + s·B·N; the forward writes s = 1 … steps
  float* C = nullptr;  // the LSTM's c, likewise
  int64_t h_k = 0;
  float* dh = nullptr;  // backward: dh of the chunk's last step in, of its first step's h out
  float* dc = nullptr;  // backward, LSTM: dc likewise
  int64_t d_k = 0;
};

// How the host sweep (ensemble/fused_host.h) rounds what its tiles take: not at all, to TF32 as
// the GPU's tensor cores do, or to bf16 (what bf16 products would do to the numbers).
enum class TileRounding { Fp32, Tf32, Bf16 };

// Which launch a shape gets: P = 0 where the fused sweep does not apply.
struct FusedPlan {
  int P = 0, warps = 8, tile_bytes = 4;
  size_t smem = 0;  // bytes of shared memory per block
  // Clusters of this plan the GPU holds at once (cudaOccupancyMaxActiveClusters; 0: not known, as
  // on the host): K models run in ceil(K / resident) waves.
  int resident = 0;
};

// The waves a launch of `models` clusters takes (0 when the residency is not known).
inline int fused_waves(const FusedPlan& p, int models) {
  return p.resident > 0 ? (models + p.resident - 1) / p.resident : 0;
}

// What a block holds of a cell: its units' rows of `in` gate blocks of W_ih and `rec` of W_hh,
// `tiles` accumulators per 16 × 16 tile of (rows, units), and `keep` [Bp][U] buffers that carry
// values between the two phases of a step where r ⊙ h of all units is exchanged between them
// (`rh`, the reset-before GRU; its backward keeps one more). tiles = 0: not fused.
struct FusedCell {
  int in = 0, rec = 0, tiles = 0, keep = 0;
  bool rh = false, cell_state = false;
};
RNNMFT_HD constexpr FusedCell fused_cell(Kind k) {
  switch (k) {
    case Kind::Vanilla:
      return {1, 1, 1, 0, false, false};
    case Kind::Minimal:  // the embedding block has no recurrent rows
      return {2, 1, 2, 0, false, false};
    case Kind::Lstm:
      return {4, 4, 4, 0, false, true};
    case Kind::GruAfter:  // the candidate's input side apart from W_hn h: one more tile
      return {3, 3, 4, 0, false, false};
    case Kind::GruBefore:  // z and the candidate's input side kept across the exchange of r ⊙ h
      return {3, 3, 3, 2, true, false};
  }
  return {};
}
RNNMFT_HD constexpr bool fused_kind(Kind k) {
  return fused_cell(k).tiles > 0;
}
// The accumulator tile that gate block g's input product goes to: the reset-after GRU keeps its
// candidate's input side (tile 3) apart from W_hn h (tile 2), since r multiplies only the second.
RNNMFT_HD constexpr int input_tile(Kind k, int g) {
  return k == Kind::GruAfter && g == 2 ? 3 : g;
}
// The gate blocks of W_hh that multiply h itself (the reset-before GRU's candidate takes r ⊙ h).
RNNMFT_HD constexpr int rec_on_h(Kind k) {
  return fused_cell(k).rh ? fused_cell(k).rec - 1 : fused_cell(k).rec;
}

// f(std::integral_constant<Kind, K>{}) for the kind's fused sweep: the one place a runtime kind
// becomes the template argument of fused_sweep (host and CUDA launches).
template <Kind... Ks, class F>
void with_kind_among(Kind k, F&& f) {
  (void)((k == Ks ? (f(std::integral_constant<Kind, Ks>{}), true) : false) || ...);
}
template <class F>
void with_fused_kind(Kind k, F&& f) {  // f is not called for a kind that is not fused
  with_kind_among<Kind::Lstm, Kind::GruAfter, Kind::GruBefore, Kind::Vanilla, Kind::Minimal>(k, f);
}
RNNMFT_HD int pad16(int n) {
  return (n + 15) / 16 * 16;
}

// The k extent of one product on the tensor cores: 8 for TF32 (m16n16k8), 16 for bf16
// (m16n16k16). The inner dimensions of the tiles (I padded, N) are walked in steps of it.
RNNMFT_HD constexpr int tile_k(int tile_bytes) {
  return tile_bytes == 2 ? 16 : 8;
}

// Where everything lies in a block's shared memory: byte offsets, and leading dimensions in
// elements of their buffer. The tiles' inputs are stored as the products take them (fp32 or
// bf16: tile_bytes): W_hh's rows of this block [rec·U][N]; h [Bp][N]; r ⊙ h [Bp][N]
// (reset-before); W_ih's rows [in·U][Ip]; x [Bp][Ip] (Ip: I rounded up to tile_k, the padding
// zero); backward, the gate gradients [Bp][rec·U]. Everything else is fp32: a 16 × 16 tile of
// indices (which element of a tile each accumulator register holds); the kept buffers
// [keep][Bp][U]; backward, the incoming shares of dh in two sets [2][P][Bp][U] (by sender), and dh
// and dc of its units [Bp][U]. The forward keeps two copies of h (this step's and the next's; the
// reset-before GRU, whose step has a barrier between reading h and writing it, one) and of x;
// the backward one of each. Each leading dimension is its width plus 16 bytes, so that the rows
// of a tile fall in different banks; every tile then starts 32-byte aligned, as WMMA needs.
struct FusedLayout {
  int U = 0, Bp = 0, Ip = 0, ldw = 0, ldh = 0, ldi = 0, ldk = 0, ldd = 0, ldr = 0;
  int h = 0, rh = 0, idx = 0, wi = 0, x = 0, keep = 0;
  int d = 0, r = 0, dh = 0, dc = 0;  // backward
  int bytes = 0;
};
RNNMFT_HD FusedLayout fused_layout(Kind k, int B, int N, int I, int P, bool backward,
                                   int tile_bytes = 4) {
  const FusedCell c = fused_cell(k);
  const int tb = tile_bytes, pad = 16 / tb, kk = tile_k(tb);
  FusedLayout l;
  l.U = N / P;
  l.Bp = pad16(B);
  l.Ip = (I + kk - 1) / kk * kk;
  l.ldw = N + pad;
  l.ldh = N + pad;
  l.ldi = l.Ip + pad;
  l.ldk = l.U + 4;
  const int h_copies = backward || c.rh ? 1 : 2, x_copies = backward ? 1 : 2;
  l.h = c.rec * l.U * l.ldw * tb;
  l.rh = l.h + h_copies * l.Bp * l.ldh * tb;
  l.idx = l.rh + (c.rh ? l.Bp * l.ldh * tb : 0);
  l.wi = l.idx + 256 * 4;
  l.x = l.wi + c.in * l.U * l.ldi * tb;
  l.keep = l.x + x_copies * l.Bp * l.ldi * tb;
  l.bytes = l.keep + (c.keep > 0 ? c.keep + (backward ? 1 : 0) : 0) * l.Bp * l.ldk * 4;
  if (backward) {
    l.ldd = c.rec * l.U + pad;
    l.ldr = l.U + 4;
    l.d = l.bytes;
    l.r = l.d + l.Bp * l.ldd * tb;
    l.dh = l.r + 2 * P * l.Bp * l.ldr * 4;
    l.dc = l.dh + l.Bp * l.U * 4;
    l.bytes = l.dc + (c.cell_state ? l.Bp * l.U * 4 : 0);
  }
  return l;
}

// The smallest cluster (1, 2, 4 or 8 blocks; `want` > 0 asks for one) whose blocks fit in
// `smem_limit` bytes, with U a multiple of 16, for tiles stored in `tile_bytes` (4 or 2).
inline FusedPlan plan_fused(Kind kind, int B, int N, int I, bool backward, size_t smem_limit,
                            int want = 0, int warps = 8, int tile_bytes = 4) {
  FusedPlan p;
  if (!fused_kind(kind) || B < 1 || N < 16 || I < 1 || B > 4096 || N > 4096 || I > 4096) return p;
  if (tile_bytes != 4 && tile_bytes != 2) return p;
  for (int P = 1; P <= 8; P *= 2) {
    if (want > 0 && P != want) continue;
    if (N % (16 * P) != 0) continue;
    const size_t bytes = size_t(fused_layout(kind, B, N, I, P, backward, tile_bytes).bytes);
    if (bytes > smem_limit) continue;
    p.P = P;
    p.warps = warps;
    p.tile_bytes = tile_bytes;
    p.smem = bytes;
    return p;
  }
  return p;
}

}  // namespace rnnmft::ens
