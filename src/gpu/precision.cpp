#include "gpu/cuda_backend.h"
#include "util/error.h"

namespace rnnmft::gpu {

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::Fp32;
  if (s == "tf32") return Precision::Tf32;
  if (s == "bf16") return Precision::Bf16;
  fail("unknown precision '{}' (expected fp32, tf32 or bf16)", s);
}

const char* precision_name(Precision p) {
  return p == Precision::Tf32 ? "tf32" : p == Precision::Bf16 ? "bf16" : "fp32";
}

}  // namespace rnnmft::gpu
