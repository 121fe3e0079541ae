// The LSTM's ξ and χ are the same bits however often they are computed: a sweep writes them into
// every results line, and two runs of one spec must give equal lines (docs/cluster.md). The
// sampler's sums must not depend on where the heap puts its buffers (Eigen sums a buffer it does
// not own from its first aligned element on) nor on the number of threads.
#include <gtest/gtest.h>
#include <malloc.h>
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "spec/init_spec.h"
#include "theory/mean_field.h"

namespace rnnmft::theory {
namespace {

uint64_t bits(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

struct Numbers {
  uint64_t xi, chi, m1, m2, qh, qc;
  bool operator==(const Numbers&) const = default;
};

Numbers lstm_numbers(const InitSpec& spec) {
  TheoryOptions o;
  o.input_var = 0.1;
  o.horizon = 784;
  const TheoryResult r = analyze(spec, o);
  return {bits(r.xi()), bits(r.chi), bits(r.jacobian.m1), bits(r.jacobian.m2), bits(r.Q_h),
          bits(r.Q_c)};
}

TEST(TheoryRepeat, LstmBitForBitWhereverTheHeapPutsItsBuffers) {
  // The sampler's buffers (16 000 doubles) from the heap rather than from fresh pages, so that a
  // block kept alive before them moves where they start: by 16 bytes modulo 32 for every other
  // size below.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  const InitSpec spec = preset_moments("pytorch", CellType::Lstm, 64, 1, 784);
  const Numbers first = lstm_numbers(spec);
  std::vector<std::unique_ptr<char[]>> hold;
  for (int k = 1; k <= 4; ++k) {
    hold.emplace_back(new char[size_t(4096 + 16 * k)]);
    EXPECT_TRUE(lstm_numbers(spec) == first) << "heap moved by " << 4096 + 16 * k << " bytes";
  }
}

TEST(TheoryRepeat, LstmBitForBitWithAnyNumberOfThreads) {
  const InitSpec spec = preset_moments("keras", CellType::Lstm, 64, 1, 1000);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Numbers one = lstm_numbers(spec);
  for (int t : {2, 3, 5}) {
    omp_set_num_threads(t);
    EXPECT_TRUE(lstm_numbers(spec) == one) << t << " threads";
  }
  omp_set_num_threads(threads);
}

}  // namespace
}  // namespace rnnmft::theory
