// The fused recurrent sweep on the GPU (ensemble/fused_sweep.h): a model is a thread-block
// cluster, each block holds its rows of W_hh in shared memory for the whole chunk, the blocks
// exchange h (forward) and their shares of dz W_hh (backward) through distributed shared memory,
// and the tiles are WMMA products, TF32 or bf16, with fp32 accumulation.
#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <mma.h>

#include <type_traits>

#include "ensemble/fused_sweep.h"
#include "gpu/cuda_kernels.h"

namespace rnnmft::gpu {
namespace {

namespace cg = cooperative_groups;
namespace wmma = nvcuda::wmma;

// T = float: TF32 tiles (m16n16k8); T = __nv_bfloat16: bf16 tiles (m16n16k16). Both accumulate
// in fp32.
template <class Tile>
struct DeviceCtx {
  using T = Tile;
  static constexpr int KK = ens::tile_k(int(sizeof(T)));
  using In = std::conditional_t<sizeof(T) == 4, wmma::precision::tf32, __nv_bfloat16>;
  using A = wmma::fragment<wmma::matrix_a, 16, 16, KK, In, wmma::row_major>;
  using Bc = wmma::fragment<wmma::matrix_b, 16, 16, KK, In, wmma::col_major>;
  using Br = wmma::fragment<wmma::matrix_b, 16, 16, KK, In, wmma::row_major>;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, KK, float>;

  cg::cluster_group cluster;
  unsigned char* base;
  int P;

  __device__ int model() const { return int(blockIdx.x) / P; }
  __device__ int rank() const { return int(cluster.block_rank()); }
  __device__ int thread() const { return int(threadIdx.x); }
  __device__ int threads() const { return int(blockDim.x); }
  __device__ int warp() const { return int(threadIdx.x) / 32; }
  __device__ int warps() const { return int(blockDim.x) / 32; }
  __device__ unsigned char* smem() const { return base; }
  __device__ void sync_block() const { __syncthreads(); }
  __device__ void sync_cluster() { cluster.sync(); }
  template <class P>
  __device__ P* peer(P* p, int q) {
    return cluster.map_shared_rank(p, q);
  }
  // Shared memory holds the tiles' inputs already rounded (tile() on the way in), so the
  // fragments need no conversion after loading.
  __device__ T tile(float v) const {
    if constexpr (sizeof(T) == 4)
      return wmma::__float_to_tf32(v);
    else
      return __float2bfloat16_rn(v);
  }
  __device__ void load_a(A& f, const T* p, int ld) const { wmma::load_matrix_sync(f, p, ld); }
  __device__ void load_bc(Bc& f, const T* p, int ld) const { wmma::load_matrix_sync(f, p, ld); }
  __device__ void load_br(Br& f, const T* p, int ld) const { wmma::load_matrix_sync(f, p, ld); }
  __device__ void zero(Acc& f) const { wmma::fill_fragment(f, 0.f); }
  __device__ void load_acc(Acc& f, const float* p, int ld) const {
    wmma::load_matrix_sync(f, p, unsigned(ld), wmma::mem_row_major);
  }
  template <class B>
  __device__ void mma(Acc& c, const A& a, const B& b) const {
    wmma::mma_sync(c, a, b, c);
  }
};

template <ens::Kind K, bool Backward, class T>
__global__ void fused_kernel(ens::FusedArgs a) {
  extern __shared__ __align__(128) unsigned char smem[];
  DeviceCtx<T> x{cg::this_cluster(), smem, a.P};
  ens::fused_sweep<K, Backward>(x, a);
}

using Kernel = void (*)(ens::FusedArgs);
Kernel kernel_for(ens::Kind kind, bool backward, int tile_bytes) {
  Kernel fn = nullptr;
  ens::with_fused_kind(kind, [&](auto k) {
    constexpr ens::Kind K = decltype(k)::value;
    if (tile_bytes == 4)
      fn = backward ? fused_kernel<K, true, float> : fused_kernel<K, false, float>;
    if (tile_bytes == 2)
      fn = backward ? fused_kernel<K, true, __nv_bfloat16> : fused_kernel<K, false, __nv_bfloat16>;
  });
  return fn;
}

// The launch of `models` clusters of P blocks of 32·warps threads.
struct ClusterLaunch {
  cudaLaunchConfig_t cfg{};
  cudaLaunchAttribute attr{};
  ClusterLaunch(int P, int warps, int models, size_t smem, cudaStream_t s) {
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = unsigned(P);
    attr.val.clusterDim.y = 1;
    attr.val.clusterDim.z = 1;
    cfg.gridDim = dim3(unsigned(models * P));
    cfg.blockDim = dim3(unsigned(32 * warps));
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
  }
  ClusterLaunch(const ClusterLaunch&) = delete;  // cfg points at attr
  ClusterLaunch& operator=(const ClusterLaunch&) = delete;
};

}  // namespace

cudaError_t fused_plan(ens::Kind kind, int B, int N, int I, bool backward, int want, int tile_bytes,
                       ens::FusedPlan* plan) {
  *plan = {};
  int dev = 0, limit = 0, major = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (e != cudaSuccess || major < 9) return e;  // clusters need sm_90
  const Kernel fn = kernel_for(kind, backward, tile_bytes);
  if (!fn) return cudaSuccess;  // not a fused kind
  // The most any plan asks for, so that plans of other shapes keep working.
  e = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, limit);
  if (e != cudaSuccess) return e;
  // The smallest cluster that fits and that the GPU can also schedule (a cluster's blocks must
  // find room on SMs of one GPC at once).
  for (int P = 1; P <= 8; P *= 2) {
    if (want > 0 && P != want) continue;
    const ens::FusedPlan p =
        ens::plan_fused(kind, B, N, I, backward, size_t(limit), P, 8, tile_bytes);
    if (p.P == 0) continue;
    const ClusterLaunch l(p.P, p.warps, 1, p.smem, nullptr);
    int clusters = 0;
    e = cudaOccupancyMaxActiveClusters(&clusters, (void*)fn, &l.cfg);
    if (e != cudaSuccess) return e;
    if (clusters > 0) {
      *plan = p;
      plan->resident = clusters;
      return cudaSuccess;
    }
  }
  return cudaSuccess;
}

cudaError_t launch_fused(const ens::FusedArgs& a, size_t smem, cudaStream_t s) {
  const Kernel fn = kernel_for(a.kind, a.backward, a.tile_bytes);
  if (!fn) return cudaErrorInvalidValue;
  const ClusterLaunch l(a.P, a.warps, a.models, smem, s);
  return cudaLaunchKernelEx(&l.cfg, fn, a);
}

}  // namespace rnnmft::gpu
