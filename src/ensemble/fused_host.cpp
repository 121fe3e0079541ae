// The fused sweep on the host: every warp of a cluster is a thread, the block and cluster barriers
// are barriers, shared memory is one array per block and the tiles are fp32 products (of inputs
// rounded to TF32 or bf16 where asked, or stored as bf16 in the bf16 layout, as the GPU's bf16
// tiles are). It is the same code the GPU runs (ensemble/fused_sweep.h),
// so the tests check its indexing and its barriers against the step-by-step engine on any
// machine; the GPU tests check the tensor cores.
#include "ensemble/fused_host.h"

#include <barrier>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "util/error.h"

namespace rnnmft::ens {
namespace {

struct Cluster {
  Cluster(int P, int warps, size_t bytes) : all(P * warps) {
    for (int q = 0; q < P; ++q) {
      // All bits set, NaN in fp32 and in bf16, as the GPU's shared memory starts with anything in
      // it: a product that reads an element nobody wrote (even one it multiplies by zero) gives
      // NaN, which the tests see.
      smem.push_back(std::make_unique<unsigned char[]>(bytes));
      std::memset(smem.back().get(), 0xff, bytes);
      block.emplace_back(std::make_unique<std::barrier<>>(warps));
    }
  }
  std::vector<std::unique_ptr<unsigned char[]>> smem;
  std::vector<std::unique_ptr<std::barrier<>>> block;
  std::barrier<> all;
};

// A tile input stored as bf16, as the GPU's bf16 tiles hold it: the upper 16 bits of the float.
struct Bf16 {
  uint16_t bits;
};
float value(float v) {
  return v;
}
float value(Bf16 v) {
  return std::bit_cast<float>(uint32_t(v.bits) << 16);
}

// T: what the tiles' inputs are stored as (float, rounded as `rounding` says, or Bf16); KK: the k
// extent of one product, as the layout has it (tile_k).
template <class Tile>
class HostCtx {
 public:
  using T = Tile;
  static constexpr int KK = tile_k(int(sizeof(T)));
  struct A {
    float v[16 * KK];
  };
  struct Bc {
    float v[KK * 16];  // (kk, n) at v[kk·16 + n]
  };
  using Br = Bc;
  struct Acc {  // one lane holds the whole tile, element i at x[i] = (i / 16, i % 16)
    static constexpr int num_elements = 256;
    float x[256];
  };

  HostCtx(Cluster& c, int model, int rank, int warp, int warps, TileRounding rounding)
      : c_(c), model_(model), rank_(rank), warp_(warp), warps_(warps), rounding_(rounding) {}
  int model() const { return model_; }
  int rank() const { return rank_; }
  // A warp is one thread here, which holds whole tiles: element loops over a block step by warps.
  int thread() const { return warp_; }
  int threads() const { return warps_; }
  int warp() const { return warp_; }
  int warps() const { return warps_; }
  unsigned char* smem() { return c_.smem[size_t(rank_)].get(); }
  void sync_block() { c_.block[size_t(rank_)]->arrive_and_wait(); }
  void sync_cluster() { c_.all.arrive_and_wait(); }
  template <class P>
  P* peer(P* p, int q) {
    const auto at = reinterpret_cast<unsigned char*>(p) - smem();
    return reinterpret_cast<P*>(c_.smem[size_t(q)].get() + at);
  }
  T tile(float v) const {  // what a tile takes
    if constexpr (std::is_same_v<T, Bf16>) {
      if (v != v) return Bf16{0x7fff};  // a NaN stays one whatever its payload, as on the GPU
      return Bf16{uint16_t(std::bit_cast<uint32_t>(round_bf16(v)) >> 16)};
    } else {
      return rounding_ == TileRounding::Tf32   ? round_tf32(v)
             : rounding_ == TileRounding::Bf16 ? round_bf16(v)
                                               : v;
    }
  }

  void load_a(A& f, const T* p, int ld) const {
    for (int r = 0; r < 16; ++r)
      for (int kk = 0; kk < KK; ++kk) f.v[r * KK + kk] = value(p[r * ld + kk]);
  }
  void load_bc(Bc& f, const T* p, int ld) const {  // column n at p + n·ld
    for (int kk = 0; kk < KK; ++kk)
      for (int n = 0; n < 16; ++n) f.v[kk * 16 + n] = value(p[n * ld + kk]);
  }
  void load_br(Br& f, const T* p, int ld) const {
    for (int kk = 0; kk < KK; ++kk)
      for (int n = 0; n < 16; ++n) f.v[kk * 16 + n] = value(p[kk * ld + n]);
  }
  void zero(Acc& f) const {
    for (float& v : f.x) v = 0.f;
  }
  void load_acc(Acc& f, const float* p, int ld) const {
    for (int r = 0; r < 16; ++r)
      for (int n = 0; n < 16; ++n) f.x[r * 16 + n] = p[r * ld + n];
  }
  // The products in k order, each exact in fp32 for TF32 or bf16 inputs, so that a sweep of
  // bf16 tiles gives the bits of fp32 tiles rounded to bf16.
  void mma(Acc& c, const A& a, const Bc& b) const {
    for (int r = 0; r < 16; ++r)
      for (int n = 0; n < 16; ++n) {
        float s = c.x[r * 16 + n];
        for (int kk = 0; kk < KK; ++kk) s += a.v[r * KK + kk] * b.v[kk * 16 + n];
        c.x[r * 16 + n] = s;
      }
  }

 private:
  Cluster& c_;
  int model_, rank_, warp_, warps_;
  TileRounding rounding_;
};

template <class T>
void run_clusters(const FusedArgs& a, TileRounding rounding) {
  const size_t bytes =
      size_t(fused_layout(a.kind, a.B, a.N, a.I, a.P, a.backward, a.tile_bytes).bytes);
  for (int k = 0; k < a.models; ++k) {
    Cluster cluster(a.P, a.warps, bytes);
    std::vector<std::thread> threads;  // the body throws nothing (a thread that left would
                                       // leave the others waiting at a barrier)
    for (int q = 0; q < a.P; ++q)
      for (int w = 0; w < a.warps; ++w)
        threads.emplace_back([&, q, w] {
          HostCtx<T> x(cluster, k, q, w, a.warps, rounding);
          with_fused_kind(a.kind, [&](auto kind) {
            constexpr Kind K = decltype(kind)::value;
            a.backward ? fused_sweep<K, true>(x, a) : fused_sweep<K, false>(x, a);
          });
        });
    for (auto& t : threads) t.join();
  }
}

}  // namespace

float round_tf32(float v) {
  uint32_t u = std::bit_cast<uint32_t>(v);
  if ((u & 0x7f800000u) == 0x7f800000u) return v;  // inf, NaN
  u = (u + 0x1000u) & 0xffffe000u;  // on the magnitude: half of the dropped 13 bits' unit, then cut
  return std::bit_cast<float>(u);
}

float round_bf16(float v) {
  uint32_t u = std::bit_cast<uint32_t>(v);
  if ((u & 0x7f800000u) == 0x7f800000u) return v;
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;  // ties to the even one of the two
  return std::bit_cast<float>(u);
}

void run_fused_host(const FusedArgs& a, TileRounding rounding) {
  bool dispatched = false;  // a kind with a fused_cell row but left out of with_fused_kind
  with_fused_kind(a.kind, [&](auto) { dispatched = true; });
  if (!dispatched || a.P < 1 || a.N % (16 * a.P) != 0 || a.warps < 1)
    fail("internal: no fused sweep for this shape (cell kind {}, N = {}, P = {})", int(a.kind), a.N,
         a.P);
  if (a.tile_bytes == 4)
    run_clusters<float>(a, rounding);
  else if (a.tile_bytes == 2 && rounding == TileRounding::Bf16)
    run_clusters<Bf16>(a, rounding);
  else
    fail("internal: no fused sweep with tiles of {} bytes rounded as {}", a.tile_bytes,
         int(rounding));
}

}  // namespace rnnmft::ens
