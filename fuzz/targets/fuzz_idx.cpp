// IDX images/labels, plain or gzip (data/idx.h).
#include "data/idx.h"
#include "fuzz_file.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input(data, size, "input-idx3-ubyte");
  try {
    rnnmft::IdxArray a = rnnmft::read_idx(path, size_t(1) << 24);
    size_t n = 1;
    for (uint32_t d : a.dims) n *= d;
    if (a.data.size() != n) std::abort();  // the reader promises exactly the announced elements
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
