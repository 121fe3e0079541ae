// CIFAR-10 binary batches (data/cifar.h).
#include "data/cifar.h"
#include "fuzz_file.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input(data, size, "data_batch_1.bin");
  try {
    rnnmft::ImageSet set;
    rnnmft::append_cifar_batch(path, set);
    if (set.pixels.size() != set.count * set.image_size() || set.labels.size() != set.count)
      std::abort();
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
