// The reference backend: host memory, Eigen for the products, plain loops for the rest. The
// ensemble engine runs on it in every test, with or without a GPU.
#include <Eigen/Core>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>

#include "ensemble/backend.h"
#include "ensemble/fused_host.h"
#include "ensemble/update_math.h"
#include "util/error.h"

namespace rnnmft::ens {
namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
using MMap = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;

// The largest shared memory a block of an H100 or H200 may ask for (227 KiB).
constexpr size_t kGpuBlockSmem = 232448;

class CpuBackend final : public Backend {
 public:
  CpuBackend(bool fused, TileRounding rounding) : fused_(fused), rounding_(rounding) {}
  ~CpuBackend() override {
    for (auto& [p, n] : mem_.all()) std::free(p);
  }
  std::string name() const override { return "cpu"; }
  float* alloc(size_t n) override { return static_cast<float*>(raw(n * sizeof(float))); }
  int* alloc_int(size_t n) override { return static_cast<int*>(raw(n * sizeof(int))); }
  double* alloc_double(size_t n) override { return static_cast<double*>(raw(n * sizeof(double))); }
  void release(void* p) override {
    if (mem_.remove(p)) std::free(p);
  }
  void upload(float* d, const float* s, size_t n) override { std::memcpy(d, s, n * sizeof(float)); }
  void upload(int* d, const int* s, size_t n) override { std::memcpy(d, s, n * sizeof(int)); }
  void download(float* d, const float* s, size_t n) override {
    std::memcpy(d, s, n * sizeof(float));
  }
  void download(double* d, const double* s, size_t n) override {
    std::memcpy(d, s, n * sizeof(double));
  }
  void zero(float* p, size_t n) override { std::memset(p, 0, n * sizeof(float)); }
  void copy(float* d, const float* s, size_t n) override { std::memmove(d, s, n * sizeof(float)); }

  void gemm(const Gemm& g) override {
    for (int q = 0; q < g.count; ++q) {
      const float* a = g.a + q * g.sa;
      const float* b = g.b + q * g.sb;
      MMap C(g.c + q * g.sc, g.m, g.n, Eigen::OuterStride<>(g.ldc));
      // op(A) is m × k: stored m × k, or k × m when transposed.
      CMap A(a, g.ta ? g.k : g.m, g.ta ? g.m : g.k, Eigen::OuterStride<>(g.lda));
      CMap B(b, g.tb ? g.n : g.k, g.tb ? g.k : g.n, Eigen::OuterStride<>(g.ldb));
      Mat prod;
      if (!g.ta && !g.tb) prod.noalias() = A * B;
      else if (!g.ta) prod.noalias() = A * B.transpose();
      else if (!g.tb) prod.noalias() = A.transpose() * B;
      else prod.noalias() = A.transpose() * B.transpose();
      if (g.beta == 0.f) C = g.alpha * prod;
      else C = g.alpha * prod + g.beta * C;
    }
  }

  void step(const StepArgs& a) override {
    for (int k = 0; k < a.models; ++k)
      for (int r = 0; r < a.rows; ++r) {
        const StepRow row = make_row(a, k, r);
        for (int j = 0; j < a.N; ++j) apply(a.kind, a.phase, row, j);
      }
  }

  void add_colsum(int models, int rows, int cols, const float* src, int ld, int64_t ss,
                  float* dst, int64_t sd) override {
    for (int k = 0; k < models; ++k)
      for (int c = 0; c < cols; ++c) {
        float s = 0.f;
        for (int r = 0; r < rows; ++r) s += src[k * ss + int64_t(r) * ld + c];
        dst[k * sd + c] += s;
      }
  }

  void head(const HeadArgs& a) override {
    for (int k = 0; k < a.models; ++k) head_model(a, k);
  }

  void sumsq(int models, int64_t n, const float* x, int64_t stride, double* out) override {
    for (int k = 0; k < models; ++k) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += double(x[k * stride + i]) * x[k * stride + i];
      out[k] = s;
    }
  }

  void update(const UpdateArgs& a) override {
    for (int k = 0; k < a.models; ++k)
      for (int64_t i = 0; i < a.n; ++i) update_element(a, k, k * a.n + i);
  }

  FusedPlan fused_plan(Kind kind, int B, int N, int I, bool backward, int want) const override {
    // bf16 tiles are stored as bf16, in the GPU's bf16 layout.
    const int tile_bytes = rounding_ == TileRounding::Bf16 ? 2 : 4;
    return fused_ ? plan_fused(kind, B, N, I, backward, kGpuBlockSmem, want, 8, tile_bytes)
                  : FusedPlan{};
  }
  void fused(const FusedArgs& a) override {
    if (!fused_) Backend::fused(a);
    run_fused_host(a, rounding_);
  }
  // bf16 tiles exist only in the fused sweep, as on the GPU.
  bool fused_required() const override { return fused_ && rounding_ == TileRounding::Bf16; }

  void sync() override {}
  size_t bytes_in_use() const override { return mem_.in_use(); }
  size_t peak_bytes() const override { return mem_.peak(); }

 private:
  void* raw(size_t bytes) {
    void* p = std::calloc(bytes ? bytes : 1, 1);
    if (!p) throw std::bad_alloc();
    mem_.add(p, bytes);
    return p;
  }
  AllocationRecord mem_;
  bool fused_;
  TileRounding rounding_;
};

}  // namespace

void Backend::fused(const FusedArgs&) {
  fail("internal: the {} backend has no fused sweep", name());
}

std::unique_ptr<Backend> make_cpu_backend(bool fused, TileRounding rounding) {
  return std::make_unique<CpuBackend>(fused, rounding);
}

}  // namespace rnnmft::ens
