// The CUDA backend of the ensemble engine (cuBLAS products, one kernel per element-wise step).
// Built when CMake finds nvcc; otherwise these functions say so (cuda_stub.cpp).
#pragma once

#include <memory>
#include <string>

#include "ensemble/backend.h"

namespace rnnmft::gpu {

// fp32: products in full fp32. tf32: products on the tensor cores with 10-bit mantissa inputs and
// fp32 accumulation. bf16: the recurrent sweeps fused (ensemble/fused_sweep.h) with bf16 tiles
// (7-bit mantissa inputs, fp32 accumulation), the other products as tf32. Everything element-wise,
// the weights and the optimizer state stay fp32 (docs/gpu.md §Precision).
enum class Precision { Fp32, Tf32, Bf16 };
Precision parse_precision(const std::string& s);
const char* precision_name(Precision p);

// Whether this binary carries the CUDA engine.
bool cuda_built();
// The GPU's name, or an Error that says why there is none (no engine built in, no device, driver).
std::string cuda_device_name();
// The cuBLAS the engine opens at run time, as "FILE (version X.Y.Z)"; opening it needs no GPU. An
// Error says why it cannot be opened (no engine built in, not on the library path).
std::string cublas_library();
// reference: a plain one-thread-per-output product kernel instead of cuBLAS (tests).
std::unique_ptr<ens::Backend> make_cuda_backend(Precision p, bool reference = false);

}  // namespace rnnmft::gpu
