// Finite-difference checks of every cell's backward pass in float64, over sequences of 50+ steps.
#include <gtest/gtest.h>

#include <cmath>

#include "../cell_cases.h"
#include "cells/rnn_model.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

using Case = test::CellCase;

class Gradients : public ::testing::TestWithParam<Case> {};

// Central differences on a sample of parameters from every tensor; relative error
// |g − fd| / max(|g| + |fd|, floor) must be ≤ 1e-6.
TEST_P(Gradients, MatchCentralDifferences) {
  const Case cs = GetParam();
  for (bool reference : {false, true}) {
    SCOPED_TRACE(reference ? "reference kernel" : "vectorized kernel");
    ModelConfig cfg{cs.cell, cs.gru, 3, 7, 4};
    cfg.reference_kernel = reference;
    RnnModel<double> m(cfg);
    Rng rng(11);
    // Weights large enough that every gate works in its non-linear range.
    for (auto& p : m.params()) p = rng.normal(0.0, 0.5);
    const int T = 60, B = 3;
    std::vector<double> x(size_t(T) * B * cfg.input_dim);
    for (auto& v : x) v = rng.normal();
    const std::vector<int> labels = {0, 3, 2};
    AlignedVector<double> grad;
    const double L = m.loss_and_grad(x.data(), labels.data(), T, B, grad);
    EXPECT_NEAR(L, m.loss(x.data(), labels.data(), T, B), 1e-12);

    const ParamLayout& lay = m.layout();
    const size_t bounds[] = {lay.w_ih,   lay.w_hh,   lay.b_ih, lay.b_hh,
                             lay.w_head, lay.b_head, lay.total};
    double worst = 0;
    int checked = 0;
    for (int tensor = 0; tensor < 6; ++tensor) {
      const size_t lo = bounds[tensor], hi = bounds[tensor + 1];
      const size_t stride = std::max<size_t>(1, (hi - lo) / 12);
      for (size_t k = lo; k < hi; k += stride) {
        const double keep = m.params()[k], eps = 1e-5;
        m.params()[k] = keep + eps;
        const double lp = m.loss(x.data(), labels.data(), T, B);
        m.params()[k] = keep - eps;
        const double lm = m.loss(x.data(), labels.data(), T, B);
        m.params()[k] = keep;
        const double fd = (lp - lm) / (2 * eps);
        const double rel =
            std::abs(grad[k] - fd) / std::max(std::abs(grad[k]) + std::abs(fd), 1e-4);
        worst = std::max(worst, rel);
        EXPECT_LE(rel, 1e-6) << "tensor " << tensor << " index " << k - lo << " grad " << grad[k]
                             << " fd " << fd;
        ++checked;
      }
    }
    EXPECT_GT(checked, 50);
    RecordProperty(reference ? "worst_relative_error_reference" : "worst_relative_error",
                   std::to_string(worst));
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllCells, Gradients,
    ::testing::ValuesIn(test::cell_cases()),
    [](const auto& info) { return info.param.name; });

TEST(Gradients, GradientIsNotTriviallyZero) {
  // The long-sequence check above is only meaningful if gradients reach the early steps: the
  // input weights' gradient must change when only the first input changes.
  ModelConfig cfg{CellType::Lstm, GruVariant::ResetAfter, 2, 5, 3};
  RnnModel<double> m(cfg);
  Rng rng(3);
  for (auto& p : m.params()) p = rng.normal(0.0, 0.5);
  const int T = 10, B = 1;
  std::vector<double> x(T * 2, 0.0);
  AlignedVector<double> g1, g2;
  std::vector<int> y = {1};
  m.loss_and_grad(x.data(), y.data(), T, B, g1);
  x[0] = 1.0;
  m.loss_and_grad(x.data(), y.data(), T, B, g2);
  EXPECT_NE(g1[m.layout().w_ih], g2[m.layout().w_ih]);
}

}  // namespace
}  // namespace rnnmft
