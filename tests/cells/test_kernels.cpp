// The vectorized kernel against the plain reference kernel (float), on random shapes including
// sizes that are not multiples of the vector width: loss and every gradient tensor agree to a
// relative error ≤ 1e-5.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "cells/kernels/dispatch.h"
#include "../cell_cases.h"
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
  for (const auto& cs : test::cell_cases())
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
  for (const auto& cs : test::cell_cases())
    for (const int I : {1, 3}) {
      const CellType cell = cs.cell;
      const GruVariant gru = cs.gru;
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

// The dispatch hands each cell its own kernel, whose named gate views follow the descriptor's gate
// order: in one row (pointers), over B rows (strided array maps) and over a vector's or a
// matrix's rows (the Jacobian's blocks).
TEST(Kernels, GateViewsFollowTheDescriptor) {
  for (const CellDesc& d : all_cells()) {
    const auto names = kernels::with_kernel(d.type, [](auto k) {
      using G = typename decltype(k)::template Gates<kernels::RowBlocks<float>>;
      EXPECT_EQ(int(G::names.size()), G::count);
      return std::vector<std::string>(G::names.begin(), G::names.end());
    });
    EXPECT_EQ(names, d.gates) << d.name;
    EXPECT_EQ(int(names.size()), d.input_gates) << d.name;
  }
  const int N = 7, B = 3, b = 2;
  std::vector<float> m(size_t(B) * 4 * N);
  float* p = m.data();
  // Where gate `name` of cell c starts in row b of a B × G·N matrix.
  auto at = [&](CellType c, const char* name) {
    return p + size_t(b) * input_gates(c) * N + size_t(gate_index(c, name)) * N;
  };
  const auto v = kernels::gate_row<kernels::VanillaGates>(p, b, N, N);
  EXPECT_EQ(v.hidden(), at(CellType::Vanilla, "hidden"));
  const auto mi = kernels::gate_row<kernels::MinimalGates>(p, b, N, 2 * N);
  EXPECT_EQ(mi.update(), at(CellType::Minimal, "update"));
  EXPECT_EQ(mi.embed(), at(CellType::Minimal, "embed"));
  const auto g = kernels::gate_row<kernels::GruGates>(p, b, N, 3 * N);
  EXPECT_EQ(g.reset(), at(CellType::Gru, "reset"));
  EXPECT_EQ(g.update(), at(CellType::Gru, "update"));
  EXPECT_EQ(g.candidate(), at(CellType::Gru, "candidate"));
  const auto l = kernels::gate_row<kernels::LstmGates>(p, b, N, 4 * N);
  EXPECT_EQ(l.input(), at(CellType::Lstm, "input"));
  EXPECT_EQ(l.forget(), at(CellType::Lstm, "forget"));
  EXPECT_EQ(l.cell(), at(CellType::Lstm, "cell"));
  EXPECT_EQ(l.output(), at(CellType::Lstm, "output"));
  // All rows: element (b, j) of a block is row b's block, j values in.
  const auto la = kernels::gate_blocks<kernels::LstmGates>(p, B, N, 4 * N);
  auto f = la.forget();
  EXPECT_EQ(f.rows(), B);
  EXPECT_EQ(f.cols(), N);
  EXPECT_EQ(&f(b, 3), at(CellType::Lstm, "forget") + 3);
  f.setConstant(2.f);
  EXPECT_EQ(*at(CellType::Lstm, "forget"), 2.f);
  EXPECT_EQ(*at(CellType::Lstm, "cell"), 0.f);
  // A vector's and a matrix's rows.
  Eigen::VectorXd gates = Eigen::VectorXd::LinSpaced(3 * N, 0, 3 * N - 1);
  const auto gv = kernels::gate_rows<kernels::GruGates>(gates, N);
  EXPECT_EQ(gv.candidate().size(), N);
  EXPECT_EQ(gv.candidate()(0), double(gate_index(CellType::Gru, "candidate") * N));
  const Eigen::MatrixXd W = Eigen::MatrixXd::Random(3 * N, N);
  EXPECT_EQ(kernels::gate_rows<kernels::GruGates>(W, N).update(), W.middleRows(N, N));
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
