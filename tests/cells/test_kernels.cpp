// The vectorized kernel against the plain reference kernel (float), on random shapes including
// sizes that are not multiples of the vector width: loss and every gradient tensor agree to a
// relative error ≤ 1e-5.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <omp.h>

#include <cmath>
#include <vector>

#include "cells/rnn_model.h"
#include "spec/draw.h"
#include "util/fp_env.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

double rel(const float* a, const float* b, size_t n) {
  double d = 0, s = 0;
  for (size_t i = 0; i < n; ++i) {
    d += double(a[i] - b[i]) * (a[i] - b[i]);
    s += double(b[i]) * b[i];
  }
  return std::sqrt(d / std::max(s, 1e-30));
}

TEST(Kernels, FastMatchesReference) {
  Rng rng(17);
  const struct {
    CellType cell;
    GruVariant gru;
  } cases[] = {{CellType::Vanilla, GruVariant::ResetAfter},
               {CellType::Minimal, GruVariant::ResetAfter},
               {CellType::Gru, GruVariant::ResetAfter},
               {CellType::Gru, GruVariant::ResetBefore},
               {CellType::Lstm, GruVariant::ResetAfter}};
  for (const auto& cs : cases)
    for (int trial = 0; trial < 4; ++trial) {
      const int N = 1 + int(rng.below(70)), I = 1 + int(rng.below(9)), T = 5 + int(rng.below(40)),
                B = 1 + int(rng.below(13));
      SCOPED_TRACE(::testing::Message()
                   << cell_name(cs.cell) << " N=" << N << " I=" << I << " T=" << T << " B=" << B);
      ModelConfig cfg{cs.cell, cs.gru, I, N, 5};
      RnnModel<float> fast(cfg);
      cfg.reference_kernel = true;
      RnnModel<float> ref(cfg);
      // Weights scaled by fan-in, in the ordered regime: in a chaotic network any rounding
      // difference grows exponentially with T and no two float kernels could agree.
      for (auto& p : ref.params()) p = float(rng.normal(0.0, 0.3));
      float* P = ref.params().data();
      auto whh = ref.w_hh(P);
      for (int i = 0; i < whh.rows(); ++i)
        for (int j = 0; j < whh.cols(); ++j)
          whh(i, j) = float(rng.normal(0.0, 0.9 / std::sqrt(double(N))));
      auto wih = ref.w_ih(P);
      for (int i = 0; i < wih.rows(); ++i)
        for (int j = 0; j < wih.cols(); ++j)
          wih(i, j) = float(rng.normal(0.0, 1.0 / std::sqrt(double(I))));
      fast.set_params(ref.params());
      std::vector<float> x(size_t(T) * B * I);
      for (auto& v : x) v = float(rng.normal());
      std::vector<int> y(B);
      for (auto& l : y) l = int(rng.below(5));
      AlignedVector<float> gf, gr;
      int cf = 0, cr = 0;
      const float lf = fast.loss_and_grad(x.data(), y.data(), T, B, gf, &cf);
      const float lr = ref.loss_and_grad(x.data(), y.data(), T, B, gr, &cr);
      EXPECT_NEAR(lf, lr, 1e-5 * std::abs(lr));
      EXPECT_NEAR(fast.loss(x.data(), y.data(), T, B), lr, 1e-5 * std::abs(lr));
      const ParamLayout& L = ref.layout();
      const size_t bounds[] = {L.w_ih, L.w_hh, L.b_ih, L.b_hh, L.w_head, L.b_head, L.total};
      for (int k = 0; k < 6; ++k)
        EXPECT_LE(rel(gf.data() + bounds[k], gr.data() + bounds[k], bounds[k + 1] - bounds[k]),
                  1e-5)
            << "tensor " << k;
    }
}

// Threads own slices of the batch for the whole sequence: any split must give the single-thread
// loss and gradients (odd batch sizes give unequal slices; I = 1 takes its own input-gradient
// path).
TEST(Kernels, BatchSlicesMatchOneThread) {
  Rng rng(23);
  const CellType cells[] = {CellType::Vanilla, CellType::Minimal, CellType::Gru, CellType::Lstm};
  for (const CellType cell : cells)
    for (const GruVariant gru : {GruVariant::ResetAfter, GruVariant::ResetBefore})
      for (const int I : {1, 3}) {
        if (cell != CellType::Gru && gru == GruVariant::ResetBefore) continue;
        const int N = 19 + int(rng.below(30)), T = 7 + int(rng.below(20)),
                  B = 25 + int(rng.below(30));
        SCOPED_TRACE(::testing::Message()
                     << cell_name(cell) << " N=" << N << " I=" << I << " T=" << T << " B=" << B);
        RnnModel<float> m(ModelConfig{cell, gru, I, N, 4});
        for (auto& p : m.params()) p = float(rng.normal(0.0, 0.3));
        std::vector<float> x(size_t(T) * B * I);
        for (auto& v : x) v = float(rng.normal());
        std::vector<int> y(B);
        for (auto& l : y) l = int(rng.below(4));
        AlignedVector<float> g1, g3;
        Eigen::setNbThreads(1);
        const float l1 = m.loss_and_grad(x.data(), y.data(), T, B, g1);
        const float e1 = m.loss(x.data(), y.data(), T, B);
        Eigen::setNbThreads(3);
        const float l3 = m.loss_and_grad(x.data(), y.data(), T, B, g3);
        const float e3 = m.loss(x.data(), y.data(), T, B);
        Eigen::setNbThreads(0);
        EXPECT_NEAR(l3, l1, 1e-6 * std::abs(l1));
        EXPECT_NEAR(e3, e1, 1e-6 * std::abs(e1));
        EXPECT_LE(rel(g3.data(), g1.data(), g1.size()), 1e-5);
        // Not vacuous: the gradient of the recurrent weights is there.
        double s = 0;
        for (size_t i = m.layout().w_hh; i < m.layout().b_ih; ++i) s += std::abs(g1[i]);
        EXPECT_GT(s, 0.0);
      }
}

}  // namespace
}  // namespace rnnmft

// Flush-to-zero and denormals-are-zero are set by the engine itself in every thread that runs a
// training step, whatever the threads' state before (util/fp_env.h): after a multi-threaded
// loss_and_grad every thread of the pool flushes, and a subnormal product comes out as 0.
TEST(FloatingPointEnvironment, EveryTrainingThreadFlushesSubnormals) {
#if defined(__SSE__) || defined(__x86_64__)
  const int P = 4;
  Eigen::setNbThreads(P);
  std::vector<int> before(P, -1), after(P, -1);
  std::vector<float> product(P, -1.f);
#pragma omp parallel num_threads(P)
  {
    rnnmft::keep_denormals();
    before[omp_get_thread_num()] = rnnmft::denormals_flushed();
  }
  for (int v : before) ASSERT_EQ(v, 0);
  rnnmft::ModelConfig mc{rnnmft::CellType::Lstm, rnnmft::GruVariant::ResetAfter, 1, 16, 10};
  rnnmft::RnnModel<float> m(mc);
  rnnmft::Rng rng(1);
  rnnmft::draw_preset(m, "pytorch", 8, rng);
  const int T = 8, B = 64;  // 64 rows: one slice per thread
  rnnmft::AlignedVector<float> x(size_t(T) * B), grad;
  std::vector<int> y(B, 3);
  m.loss_and_grad(x.data(), y.data(), T, B, grad);
  EXPECT_TRUE(rnnmft::denormals_flushed());
  volatile float tiny = 1e-39f;  // subnormal
#pragma omp parallel num_threads(P)
  {
    after[omp_get_thread_num()] = rnnmft::denormals_flushed();
    product[omp_get_thread_num()] = tiny * 1.0f;
  }
  for (int p = 0; p < P; ++p) {
    EXPECT_EQ(after[p], 1) << "thread " << p;
    EXPECT_EQ(product[p], 0.f) << "thread " << p;
  }
  Eigen::setNbThreads(1);
#else
  GTEST_SKIP() << "flush-to-zero is set through x86's MXCSR only";
#endif
}
