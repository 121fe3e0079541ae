// Shuffled mini-batches that depend only on (seed, step): batch k of a run is the same whether
// the run was interrupted or not, which is what exact resumption needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rnnmft {

class BatchSampler {
 public:
  // n examples, batch size b (1 ≤ b ≤ n); each epoch is a fresh permutation drawn from
  // (seed, epoch); the last n mod b examples of an epoch's permutation are left out.
  BatchSampler(size_t n, size_t batch, uint64_t seed);

  size_t batches_per_epoch() const { return n_ / batch_; }
  // Indices (into the split, 0 … n−1) of the batch used at training step `step` (0-based).
  std::vector<size_t> batch_at(uint64_t step);

 private:
  size_t n_, batch_;
  uint64_t seed_;
  int64_t cached_epoch_ = -1;
  std::vector<size_t> order_;
};

}  // namespace rnnmft
