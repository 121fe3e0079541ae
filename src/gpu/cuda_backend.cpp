// The CUDA backend: cuBLAS strided-batched products over the models and the kernels of
// cuda_kernels.cu, all queued on one stream; the host waits only to read results.
#include "gpu/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <type_traits>
#include <vector>

#include "gpu/cuda_kernels.h"
#include "util/error.h"

namespace rnnmft::gpu {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA error in {}: {}", what, cudaGetErrorString(e));
}
// cuBLAS is opened on first use instead of linked: its libraries' static constructors would cost
// every process about 0.1 s at start-up, whether it uses the GPU or not (docs/gpu.md §Build and
// run).
struct Cublas {
  decltype(&cublasCreate) create;
  decltype(&cublasDestroy) destroy;
  decltype(&cublasSetStream) set_stream;
  decltype(&cublasSetWorkspace) set_workspace;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasGetProperty) get_property;
  std::string file;
};
// The exported names: cublas_v2.h maps some names to their _v2 symbols by macros.
#define RNNMFT_SYMBOL_NAME(x) RNNMFT_SYMBOL_TEXT(x)
#define RNNMFT_SYMBOL_TEXT(x) #x

const Cublas& cublas() {
  static const Cublas lib = [] {
    // By name on the library path (LD_LIBRARY_PATH, the loader's cache), else in the toolkit
    // this program was built with.
    Cublas c{};
    c.file = RNNMFT_CUBLAS_SONAME;
    void* h = dlopen(c.file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const std::string first = dlerror();
      c.file = RNNMFT_CUBLAS_DIR "/" RNNMFT_CUBLAS_SONAME;
      h = dlopen(c.file.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h)
        fail(
            "cannot load {} ({}), nor {} ({}): the CUDA engine needs the cuBLAS of the CUDA "
            "toolkit it was built with on the library path (LD_LIBRARY_PATH)",
            RNNMFT_CUBLAS_SONAME, first, c.file, dlerror());
    }
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
      if (fn) return;
      dlclose(h);
      fail("{} has no {}: not the cuBLAS this program was built with", c.file, name);
    };
    load(c.create, RNNMFT_SYMBOL_NAME(cublasCreate));
    load(c.destroy, RNNMFT_SYMBOL_NAME(cublasDestroy));
    load(c.set_stream, RNNMFT_SYMBOL_NAME(cublasSetStream));
    load(c.set_workspace, RNNMFT_SYMBOL_NAME(cublasSetWorkspace));
    load(c.set_math_mode, RNNMFT_SYMBOL_NAME(cublasSetMathMode));
    load(c.sgemm_strided_batched, RNNMFT_SYMBOL_NAME(cublasSgemmStridedBatched));
    load(c.status_name, RNNMFT_SYMBOL_NAME(cublasGetStatusName));
    load(c.status_string, RNNMFT_SYMBOL_NAME(cublasGetStatusString));
    load(c.get_property, RNNMFT_SYMBOL_NAME(cublasGetProperty));
    return c;
  }();
  return lib;
}

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail("cuBLAS error in {}: {} ({})", what, cublas().status_name(s), cublas().status_string(s));
}

class CudaBackend final : public ens::Backend {
 public:
  CudaBackend(Precision p, bool reference)
      : precision_(p), reference_(reference), profile_(std::getenv("RNNMFT_CUDA_PROFILE")) {
    cuda_device_name();  // a clear error when there is no GPU
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublas().create(&blas_), "cublasCreate");
    check(cublas().set_stream(blas_, stream_), "cublasSetStream");
    // A workspace of our own, so that cuBLAS allocates nothing while a sweep is being recorded.
    check(cudaMalloc(&workspace_, kWorkspace), "cudaMalloc (cuBLAS workspace)");
    check(cublas().set_workspace(blas_, workspace_, kWorkspace), "cublasSetWorkspace");
    check(cublas().set_math_mode(
              blas_, p == Precision::Fp32 ? CUBLAS_DEFAULT_MATH : CUBLAS_TF32_TENSOR_OP_MATH),
          "cublasSetMathMode");
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    if (profile_) print_profile();
    for (cudaGraphExec_t g : graphs_) cudaGraphExecDestroy(g);
    for (auto& [p, n] : mem_.all()) cudaFree(p);
    cublas().destroy(blas_);
    cudaFree(workspace_);
    cudaStreamDestroy(stream_);
  }
  std::string name() const override {
    return std::string("cuda-") + precision_name(precision_) + (reference_ ? "-reference" : "");
  }
  float* alloc(size_t n) override { return static_cast<float*>(raw(n * sizeof(float))); }
  int* alloc_int(size_t n) override { return static_cast<int*>(raw(n * sizeof(int))); }
  double* alloc_double(size_t n) override { return static_cast<double*>(raw(n * sizeof(double))); }
  // Never throws: it runs while an error unwinds through the engine's destructor.
  void release(void* p) override {
    if (!mem_.remove(p)) return;
    cudaStreamSynchronize(stream_);
    cudaFree(p);
  }
  void upload(float* d, const float* s, size_t n) override { put(d, s, n * sizeof(float)); }
  void upload(int* d, const int* s, size_t n) override { put(d, s, n * sizeof(int)); }
  void download(float* d, const float* s, size_t n) override { get(d, s, n * sizeof(float)); }
  void download(double* d, const double* s, size_t n) override { get(d, s, n * sizeof(double)); }
  void zero(float* p, size_t n) override {
    check(cudaMemsetAsync(p, 0, n * sizeof(float), stream_), "cudaMemsetAsync");
  }
  void copy(float* d, const float* s, size_t n) override {
    check(cudaMemcpyAsync(d, s, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
          "cudaMemcpyAsync");
  }

  void gemm(const ens::Gemm& g) override {
    Timer t(this, [&] { return product_name(g); });
    if (reference_) {
      check(launch_ref_gemm(g, stream_), "reference product");
      return;
    }
    // Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands.
    const cublasOperation_t oa = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t ob = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    check(cublas().sgemm_strided_batched(blas_, ob, oa, g.n, g.m, g.k, &g.alpha, g.b, g.ldb, g.sb,
                                         g.a, g.lda, g.sa, &g.beta, g.c, g.ldc, g.sc, g.count),
          "cublasSgemmStridedBatched");
  }

  void step(const ens::StepArgs& a) override {
    // The kernel's grid: models on y, (row, unit) pairs in 32-bit arithmetic on x.
    if (a.models > 65535 || int64_t(a.rows) * a.N >= (int64_t(1) << 31))
      fail("the CUDA step kernel takes at most 65535 models and 2³¹ (row, unit) pairs per model "
           "(got {} models, {} pairs)", a.models, int64_t(a.rows) * a.N);
    Timer t(this, [&] {
      return std::string(a.phase == ens::Phase::Forward ? "step forward"
                         : a.phase == ens::Phase::Reset ? "step reset"
                                                        : "step backward");
    });
    check(launch_step(a, stream_), "step kernel");
  }
  void add_colsum(int models, int rows, int cols, const float* src, int ld, int64_t ss,
                  float* dst, int64_t sd) override {
    Timer t(this, [] { return std::string("column sums"); });
    check(launch_colsum(models, rows, cols, src, ld, ss, dst, sd, stream_), "column-sum kernel");
  }
  void head(const ens::HeadArgs& a) override {
    check(launch_head(a, stream_), "head kernel");
  }
  void sumsq(int models, int64_t n, const float* x, int64_t stride, double* out) override {
    Timer t(this, [] { return std::string("norms"); });
    check(launch_sumsq(models, n, x, stride, out, stream_), "norm kernel");
  }
  void update(const ens::UpdateArgs& a) override {
    Timer t(this, [] { return std::string("optimizer"); });
    check(launch_update(a, stream_), "optimizer kernel");
  }
  // The fused sweep multiplies on the tensor cores (WMMA TF32 or bf16), so it is there for
  // --precision tf32 and bf16; fp32 keeps the step-by-step sweep. With the reference products
  // the other products run in the plain fp32 kernel, as the host's do (tests).
  ens::FusedPlan fused_plan(ens::Kind kind, int B, int N, int I, bool backward,
                            int want) const override {
    ens::FusedPlan p;
    if (precision_ == Precision::Fp32) return p;
    // A GPU that cannot plan it keeps the step-by-step sweep (tf32), and says why.
    const cudaError_t e =
        gpu::fused_plan(kind, B, N, I, backward, want, precision_ == Precision::Bf16 ? 2 : 4, &p);
    if (e != cudaSuccess) {
      cudaGetLastError();
      std::fprintf(stderr, "note: no fused sweep on this GPU (%s)%s\n", cudaGetErrorString(e),
                   precision_ == Precision::Bf16 ? "" : "; stepping instead");
      return {};
    }
    return p;
  }
  // bf16 tiles exist only in the fused sweep.
  bool fused_required() const override { return precision_ == Precision::Bf16; }
  void fused(const ens::FusedArgs& a) override {
    if (int64_t(a.models) * a.P > int64_t(INT32_MAX))
      fail("the fused sweep takes at most {} models at once (got {})", INT32_MAX / a.P, a.models);
    // No CUDA calls but the launch: this may run while a sweep is being recorded.
    const size_t smem =
        size_t(ens::fused_layout(a.kind, a.B, a.N, a.I, a.P, a.backward, a.tile_bytes).bytes);
    Timer t(this, [&] { return std::string(a.backward ? "fused backward" : "fused forward"); });
    check(launch_fused(a, smem, stream_), "fused sweep");
  }
  void sync() override { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }
  bool can_record() const override { return true; }
  void begin_record() override {
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
          "cudaStreamBeginCapture");
  }
  int end_record() override {
    cudaGraph_t g = nullptr;
    check(cudaStreamEndCapture(stream_, &g), "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
    cudaGraphDestroy(g);
    check(e, "cudaGraphInstantiate");
    graphs_.push_back(exec);
    return int(graphs_.size()) - 1;
  }
  void abort_record() override {
    cudaGraph_t g = nullptr;
    if (cudaStreamEndCapture(stream_, &g) == cudaSuccess && g) cudaGraphDestroy(g);
    cudaGetLastError();
  }
  void replay(int id) override {
    check(cudaGraphLaunch(graphs_.at(size_t(id)), stream_), "cudaGraphLaunch");
  }
  size_t bytes_in_use() const override { return mem_.in_use(); }
  size_t peak_bytes() const override { return mem_.peak(); }

 private:
  // RNNMFT_CUDA_PROFILE=1: every call waits for the GPU and its time is summed by kind (with
  // --direct; a recorded sweep is one call). Printed to stderr when the backend goes.
  // (Not while a sweep is being recorded: waiting would end the recording.)
  struct Timer {
    template <typename Name>
    Timer(CudaBackend* b, Name name) : b_(b->profile_ && !b->capturing() ? b : nullptr) {
      if (!b_) return;
      what_ = name();
      cudaStreamSynchronize(b_->stream_);
      t0_ = std::chrono::steady_clock::now();
    }
    ~Timer() {
      if (!b_) return;
      cudaStreamSynchronize(b_->stream_);
      auto& [ms, n] = b_->prof_[what_];
      ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
      ++n;
    }
    CudaBackend* b_;
    std::string what_;
    std::chrono::steady_clock::time_point t0_;
  };
  bool capturing() const {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    return cudaStreamIsCapturing(stream_, &st) == cudaSuccess && st != cudaStreamCaptureStatusNone;
  }
  static std::string product_name(const ens::Gemm& g) {
    return "product " + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k) +
           (g.ta ? " A^T" : "") + (g.tb ? " B^T" : "") + (g.beta != 0.f ? " +=" : "");
  }
  void print_profile() const {
    double total = 0;
    for (const auto& [what, v] : prof_) total += v.first;
    std::fprintf(stderr, "CUDA profile (%s): %.1f ms in all\n", name().c_str(), total);
    for (const auto& [what, v] : prof_)
      std::fprintf(stderr, "  %-40s %9.2f ms %7ld calls %8.2f us/call\n", what.c_str(), v.first,
                   long(v.second), 1e3 * v.first / double(v.second));
  }

  void* raw(size_t bytes) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 1));
    if (e != cudaSuccess) {
      cudaGetLastError();  // a failed allocation is not a sticky error: later launches go on
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      fail("GPU out of memory: {:.0f} MiB requested with {:.0f} MiB in use by this engine and {:.0f} "
           "of {:.0f} MiB free ({}); use fewer models at once",
           bytes / 1048576.0, mem_.in_use() / 1048576.0, free_b / 1048576.0, total_b / 1048576.0,
           cudaGetErrorString(e));
    }
    check(cudaMemsetAsync(p, 0, std::max<size_t>(bytes, 1), stream_), "cudaMemsetAsync");
    mem_.add(p, bytes);
    return p;
  }
  void put(void* d, const void* s, size_t bytes) {
    check(cudaMemcpyAsync(d, s, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }
  void get(void* d, const void* s, size_t bytes) {
    check(cudaMemcpyAsync(d, s, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

  static constexpr size_t kWorkspace = size_t(32) << 20;
  Precision precision_;
  bool reference_;
  void* workspace_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  ens::AllocationRecord mem_;
  std::vector<cudaGraphExec_t> graphs_;
  bool profile_;
  std::map<std::string, std::pair<double, long>> prof_;
};

}  // namespace

bool cuda_built() { return true; }

std::string cublas_library() {
  const Cublas& c = cublas();
  int v[3] = {0, 0, 0};
  const libraryPropertyType what[3] = {MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL};
  for (int i = 0; i < 3; ++i) check(c.get_property(what[i], &v[i]), "cublasGetProperty");
  return fmt::format("{} (version {}.{}.{})", c.file, v[0], v[1], v[2]);
}

std::string cuda_device_name() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess)
    fail("--device cuda: no usable CUDA GPU ({}: {})", cudaGetErrorName(e), cudaGetErrorString(e));
  if (n == 0) fail("--device cuda: no CUDA GPU found");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, 0), "cudaGetDeviceProperties");
  return p.name;
}

std::unique_ptr<ens::Backend> make_cuda_backend(Precision p, bool reference) {
  return std::make_unique<CudaBackend>(p, reference);
}

}  // namespace rnnmft::gpu
