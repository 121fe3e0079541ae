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
#include <string>
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

// Repeated calls on 1, 2 and 4 threads, each after a block that stays allocated moves the heap's
// next free address by 16 bytes modulo 64 more (an AVX-512 packet). The LSTM's χ at the chrono
// init followed the alignment of its power-iteration vector in its last bits (two sweeps of one
// spec wrote χ …52bc and …52bd); the inits above happen not to show it.
void expect_same_bits(CellType cell, const std::string& init) {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);  // the sampler's buffers from the heap, not fresh pages
  const InitSpec spec = preset_moments(init, cell, 64, 1, 784);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Numbers first = lstm_numbers(spec);
  std::vector<std::unique_ptr<char[]>> hold;
  for (int t : {1, 2, 4})
    for (int shift = 1; shift <= 4; ++shift) {
      hold.emplace_back(new char[size_t(4096 + 16 * shift)]);
      omp_set_num_threads(t);
      const Numbers now = lstm_numbers(spec);
      EXPECT_TRUE(now == first) << init << ": " << t << " threads, call " << hold.size()
                                << std::hex << ", chi bits " << now.chi << " vs " << first.chi
                                << ", xi bits " << now.xi << " vs " << first.xi;
    }
  omp_set_num_threads(threads);
  mallopt(M_MMAP_THRESHOLD, 128 << 10);  // glibc's default, for the tests after this one
}

// About a second a call on two cores.
TEST(TheoryRepeat, ChronoLstmBitForBitWithAnyThreadsAndHeap) {
  expect_same_bits(CellType::Lstm, "chrono:784");
}

TEST(TheoryRepeat, GruBitForBitWithAnyThreadsAndHeap) {
  expect_same_bits(CellType::Gru, "chrono:784");
  expect_same_bits(CellType::Gru, "pytorch");
}

}  // namespace
}  // namespace rnnmft::theory
