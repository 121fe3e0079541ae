// What an ensemble engine needs from a device: memory, strided-batched products, the cell's
// element-wise step, a few reductions and the optimizer update. The CPU backend is the plain
// reference (loops and Eigen); the CUDA backend (src/gpu/) implements the same calls with cuBLAS and
// kernels, and the tests hold the two against each other. Pointers are the backend's own (device
// memory for CUDA); the engine only offsets them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "ensemble/fused_plan.h"
#include "ensemble/step_math.h"

namespace rnnmft::ens {

// count independent row-major products C = α·op(A)·op(B) + β·C, op(A): m × k, op(B): k × n,
// each operand s* elements after the previous one.
struct Gemm {
  bool ta = false, tb = false;
  int m = 0, n = 0, k = 0;
  float alpha = 1.f, beta = 0.f;
  const float* a = nullptr;
  int lda = 0;
  int64_t sa = 0;
  const float* b = nullptr;
  int ldb = 0;
  int64_t sb = 0;
  float* c = nullptr;
  int ldc = 0;
  int64_t sc = 0;
  int count = 1;
};

// The element-wise step over models × rows × N units; each pointer is model 0's, the next model's
// is `*_k` elements further, and rows follow each other densely (Gi·N or N apart).
struct StepArgs {
  Kind kind{};  // set by the engine for every call
  Phase phase = Phase::Forward;
  int models = 1, rows = 1, N = 1, Gi = 1, Gh = 1;
  const float* params = nullptr;
  int64_t params_k = 0, off_bi = 0, off_bh = 0;
  float* z = nullptr;
  int64_t z_k = 0;
  float* hn = nullptr;  // GRU reset-after only
  int64_t hn_k = 0;
  const float* h_prev = nullptr;
  float* h_next = nullptr;
  const float* c_prev = nullptr;
  float* c_next = nullptr;
  int64_t h_k = 0;  // h_prev, h_next, c_prev, c_next
  float* rh = nullptr;
  int64_t rh_k = 0;
  const float* dh = nullptr;
  float* dc = nullptr;
  float* dh_new = nullptr;
  const float* drh = nullptr;
  int64_t d_k = 0;  // dh, dc, dh_new, drh
};

// Softmax cross-entropy of each model's B × C logits (bias added here), its gradient / B, the mean
// loss and the argmax hits per model.
struct HeadArgs {
  int models = 1, B = 1, C = 2;
  const float* logits = nullptr;  // models × B × C, without b_head
  const float* params = nullptr;
  int64_t params_k = 0, off_bias = 0;
  const int* labels = nullptr;  // models × B
  float* dlogits = nullptr;     // models × B × C, or null (forward only)
  float* loss = nullptr;        // models
  float* correct = nullptr;     // models
};

enum class OptKind : int { Adam, Sgd, RmsProp };

// One optimizer step for every model: coef[4k..4k+3] = {active, gradient scale (clipping),
// a, b}: Adam a = lr / (1 − β1ᵗ), b = 1 / √(1 − β2ᵗ); SGD and RMSprop a = lr.
struct UpdateArgs {
  OptKind kind = OptKind::Adam;
  int models = 1;
  int64_t n = 0;  // parameters per model (each model's vectors are n apart)
  float* params = nullptr;
  const float* grad = nullptr;
  float* s1 = nullptr;  // Adam m, SGD v, RMSprop s
  float* s2 = nullptr;  // Adam v
  const float* coef = nullptr;
};

// What a backend has allocated: sizes by pointer, bytes in use and the most ever in use.
class AllocationRecord {
 public:
  void add(void* p, size_t bytes) {
    sizes_[p] = bytes;
    in_use_ += bytes;
    if (in_use_ > peak_) peak_ = in_use_;
  }
  // Forgets p; false if it was not recorded.
  bool remove(void* p) {
    auto it = sizes_.find(p);
    if (it == sizes_.end()) return false;
    in_use_ -= it->second;
    sizes_.erase(it);
    return true;
  }
  const std::map<void*, size_t>& all() const { return sizes_; }
  size_t in_use() const { return in_use_; }
  size_t peak() const { return peak_; }

 private:
  std::map<void*, size_t> sizes_;
  size_t in_use_ = 0, peak_ = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual float* alloc(size_t n) = 0;  // zero-filled
  virtual int* alloc_int(size_t n) = 0;
  virtual double* alloc_double(size_t n) = 0;
  virtual void release(void* p) = 0;
  virtual void upload(float* dst, const float* src, size_t n) = 0;
  virtual void upload(int* dst, const int* src, size_t n) = 0;
  virtual void download(float* dst, const float* src, size_t n) = 0;
  virtual void download(double* dst, const double* src, size_t n) = 0;
  virtual void zero(float* p, size_t n) = 0;
  // dst ← src elsewhere in the backend's memory.
  virtual void copy(float* dst, const float* src, size_t n) = 0;
  virtual void gemm(const Gemm& g) = 0;
  virtual void step(const StepArgs& a) = 0;
  // dst[k·sd + c] += Σ_r src[k·ss + r·ld + c] for c < cols, r < rows.
  virtual void add_colsum(int models, int rows, int cols, const float* src, int ld, int64_t ss,
                          float* dst, int64_t sd) = 0;
  virtual void head(const HeadArgs& a) = 0;
  // out[k] = Σ_i x[k·stride + i]², i < n, accumulated in double.
  virtual void sumsq(int models, int64_t n, const float* x, int64_t stride, double* out) = 0;
  virtual void update(const UpdateArgs& a) = 0;
  // Waits for queued work (timing, and before reading results on the host).
  virtual void sync() = 0;
  // Recording: the calls between begin_record and end_record become one replayable launch (a
  // CUDA graph), which later runs the same calls on the same buffers without per-call launch
  // costs. Backends that cannot record return false from can_record.
  virtual bool can_record() const { return false; }
  virtual void begin_record() {}
  virtual int end_record() { return -1; }
  virtual void abort_record() {}
  virtual void replay(int /*id*/) {}
  // The fused recurrent sweep (ensemble/fused_sweep.h): how this backend would launch it for a
  // shape (P = 0: it has none; `want` > 0 asks for a cluster of that many blocks), and one chunk
  // run that way.
  virtual FusedPlan fused_plan(Kind /*kind*/, int /*B*/, int /*N*/, int /*I*/, bool /*backward*/,
                               int /*want*/) const {
    return {};
  }
  virtual void fused(const FusedArgs& a);
  // Whether this backend has no step-by-step sweep of its own and must fuse (bf16 tiles).
  virtual bool fused_required() const { return false; }
  // Bytes allocated now and at most so far.
  virtual size_t bytes_in_use() const = 0;
  virtual size_t peak_bytes() const = 0;
};

// fused: run the fused sweep on the host (ensemble/fused_host.h), planned for the shared memory
// of an H100 block, instead of having none; its tiles' inputs rounded as `rounding` says (Tf32:
// as the GPU's tensor cores take them, the GPU's rounding without a GPU).
std::unique_ptr<Backend> make_cpu_backend(bool fused = false,
                                          TileRounding rounding = TileRounding::Fp32);

}  // namespace rnnmft::ens
