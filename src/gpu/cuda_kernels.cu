// The element-wise kernels run the same cell functions as the CPU reference backend
// (src/ensemble/cells/), one thread per (model, row, unit).
#include "ensemble/update_math.h"
#include "gpu/cuda_kernels.h"

namespace rnnmft::gpu {
namespace {

constexpr int kThreads = 256;
int blocks(int64_t n) { return int((n + kThreads - 1) / kThreads); }

// grid.y: the model; grid.x · block: (row, unit) pairs of that model, in 32-bit arithmetic.
__global__ void step_kernel(ens::StepArgs a) {
  const int i = int(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.rows * a.N) return;
  ens::apply(a.kind, a.phase, ens::make_row(a, int(blockIdx.y), i / a.N), i % a.N);
}

__global__ void colsum_kernel(int models, int rows, int cols, const float* src, int ld, int64_t ss,
                              float* dst, int64_t sd) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(models) * cols) return;
  const int c = int(idx % cols), k = int(idx / cols);
  const float* s = src + k * ss + c;
  float acc = 0.f;
  for (int r = 0; r < rows; ++r) acc += s[int64_t(r) * ld];
  dst[k * sd + c] += acc;
}

__global__ void head_kernel(ens::HeadArgs a) {
  const int k = int(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < a.models) ens::head_model(a, k);
}

// One block per model; each thread sums a strided share in double, then a tree in shared memory.
__global__ void sumsq_kernel(int64_t n, const float* x, int64_t stride, double* out) {
  __shared__ double part[kThreads];
  const float* v = x + int64_t(blockIdx.x) * stride;
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += double(v[i]) * double(v[i]);
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

__global__ void update_kernel(ens::UpdateArgs a) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(a.models) * a.n) return;
  ens::update_element(a, int(idx / a.n), idx);
}

// The plain product: one thread per output element, row-major operands (ens::Gemm).
__global__ void ref_gemm_kernel(ens::Gemm g) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= int64_t(g.count) * g.m * g.n) return;
  const int j = int(idx % g.n);
  const int i = int((idx / g.n) % g.m);
  const int q = int(idx / (int64_t(g.m) * g.n));
  const float* a = g.a + q * g.sa;
  const float* b = g.b + q * g.sb;
  float s = 0.f;
  for (int kk = 0; kk < g.k; ++kk)
    s += (g.ta ? a[int64_t(kk) * g.lda + i] : a[int64_t(i) * g.lda + kk]) *
         (g.tb ? b[int64_t(j) * g.ldb + kk] : b[int64_t(kk) * g.ldb + j]);
  float* c = g.c + q * g.sc + int64_t(i) * g.ldc + j;
  *c = g.beta == 0.f ? g.alpha * s : g.alpha * s + g.beta * *c;
}

}  // namespace

cudaError_t launch_step(const ens::StepArgs& a, cudaStream_t s) {
  step_kernel<<<dim3(unsigned(blocks(int64_t(a.rows) * a.N)), unsigned(a.models)), kThreads, 0, s>>>(a);
  return cudaGetLastError();
}
cudaError_t launch_colsum(int models, int rows, int cols, const float* src, int ld, int64_t ss,
                          float* dst, int64_t sd, cudaStream_t s) {
  colsum_kernel<<<blocks(int64_t(models) * cols), kThreads, 0, s>>>(models, rows, cols, src, ld,
                                                                   ss, dst, sd);
  return cudaGetLastError();
}
cudaError_t launch_head(const ens::HeadArgs& a, cudaStream_t s) {
  head_kernel<<<blocks(a.models), kThreads, 0, s>>>(a);
  return cudaGetLastError();
}
cudaError_t launch_sumsq(int models, int64_t n, const float* x, int64_t stride, double* out,
                         cudaStream_t s) {
  sumsq_kernel<<<models, kThreads, 0, s>>>(n, x, stride, out);
  return cudaGetLastError();
}
cudaError_t launch_update(const ens::UpdateArgs& a, cudaStream_t s) {
  update_kernel<<<blocks(int64_t(a.models) * a.n), kThreads, 0, s>>>(a);
  return cudaGetLastError();
}
cudaError_t launch_ref_gemm(const ens::Gemm& g, cudaStream_t s) {
  ref_gemm_kernel<<<blocks(int64_t(g.count) * g.m * g.n), kThreads, 0, s>>>(g);
  return cudaGetLastError();
}

}  // namespace rnnmft::gpu
