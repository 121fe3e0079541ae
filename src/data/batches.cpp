#include "data/batches.h"

#include <numeric>

#include "util/error.h"
#include "util/rng.h"

namespace rnnmft {

BatchSampler::BatchSampler(size_t n, size_t batch, uint64_t seed)
    : n_(n), batch_(batch), seed_(seed) {
  if (batch == 0) fail("batch size must be at least 1");
  if (batch > n) fail("batch size {} is larger than the {} examples available", batch, n);
}

std::vector<size_t> BatchSampler::batch_at(uint64_t step) {
  const uint64_t epoch = step / batches_per_epoch();
  const size_t pos = (step % batches_per_epoch()) * batch_;
  if (int64_t(epoch) != cached_epoch_) {
    order_.resize(n_);
    std::iota(order_.begin(), order_.end(), size_t(0));
    Rng rng(seed_, 2 * epoch + 1);
    rng.shuffle(order_);
    cached_epoch_ = int64_t(epoch);
  }
  return std::vector<size_t>(order_.begin() + pos, order_.begin() + pos + batch_);
}

}  // namespace rnnmft
