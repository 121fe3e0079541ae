// Stands in for the CUDA backend in builds without nvcc: every entry point says so.
#include "gpu/cuda_backend.h"
#include "util/error.h"

namespace rnnmft::gpu {

bool cuda_built() { return false; }

std::string cuda_device_name() {
  fail("this rnnmft was built without the CUDA engine (CMake found no nvcc); rebuild with the "
       "CUDA toolkit installed to use --device cuda");
}

std::string cublas_library() {
  cuda_device_name();
  return "";
}

std::unique_ptr<ens::Backend> make_cuda_backend(Precision, bool) {
  cuda_device_name();
  return nullptr;
}

}  // namespace rnnmft::gpu
