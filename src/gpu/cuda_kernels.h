// The CUDA kernels of the ensemble engine and their launches (compiled by nvcc; the backend class
// that queues them is plain C++ in cuda_backend.cpp). Each returns the launch's error.
#pragma once

#include <cuda_runtime.h>

#include "ensemble/backend.h"

namespace rnnmft::gpu {

cudaError_t launch_step(const ens::StepArgs& a, cudaStream_t s);
cudaError_t launch_colsum(int models, int rows, int cols, const float* src, int ld, int64_t ss,
                          float* dst, int64_t sd, cudaStream_t s);
cudaError_t launch_head(const ens::HeadArgs& a, cudaStream_t s);
cudaError_t launch_sumsq(int models, int64_t n, const float* x, int64_t stride, double* out,
                         cudaStream_t s);
cudaError_t launch_update(const ens::UpdateArgs& a, cudaStream_t s);
// The fused sweep (fused_kernels.cu): its plan for a shape on this GPU (P = 0 where it does not
// apply or cannot run; also sets the kernel's shared memory), and one chunk's launch.
// tile_bytes: 4 for TF32 tiles, 2 for bf16.
cudaError_t fused_plan(ens::Kind kind, int B, int N, int I, bool backward, int want, int tile_bytes,
                       ens::FusedPlan* plan);
cudaError_t launch_fused(const ens::FusedArgs& a, size_t smem, cudaStream_t s);
// The plain product, one thread per output element (the reference for cuBLAS).
cudaError_t launch_ref_gemm(const ens::Gemm& g, cudaStream_t s);

}  // namespace rnnmft::gpu
