// Gaussian expectations by Gauss–Hermite quadrature (probabilists' weight e^{−x²/2}), nodes and
// weights by the Golub–Welsch eigenvalue method. docs/theory.md §1.
#pragma once

#include <cmath>
#include <vector>

namespace rnnmft::theory {

class GaussHermite {
 public:
  explicit GaussHermite(int order = 64);
  // One shared rule per order (the eigenvalue problem costs more than a whole GRU point);
  // thread-safe, and the reference stays valid for the life of the program.
  static const GaussHermite& cached(int order);
  int order() const { return int(x_.size()); }
  const std::vector<double>& nodes() const { return x_; }
  const std::vector<double>& weights() const { return w_; }  // sum to 1

  // E[f(u)], u ~ N(mean, var).
  template <typename F>
  double expect(F&& f, double mean, double var) const {
    const double s = std::sqrt(std::max(var, 0.0));
    double acc = 0;
    for (size_t i = 0; i < x_.size(); ++i) acc += w_[i] * f(mean + s * x_[i]);
    return acc;
  }

  // E[f(u, v)] for (u, v) jointly Gaussian with means (m1, m2), variances (v1, v2), covariance c;
  // tensor-product rule on the Cholesky factor.
  template <typename F>
  double expect2(F&& f, double m1, double v1, double m2, double v2, double c) const {
    const double s1 = std::sqrt(std::max(v1, 0.0));
    const double a = s1 > 0 ? c / s1 : 0.0;
    const double b = std::sqrt(std::max(v2 - a * a, 0.0));
    double acc = 0;
    for (size_t i = 0; i < x_.size(); ++i) {
      const double u = m1 + s1 * x_[i], base = m2 + a * x_[i];
      double inner = 0;
      for (size_t j = 0; j < x_.size(); ++j) inner += w_[j] * f(u, base + b * x_[j]);
      acc += w_[i] * inner;
    }
    return acc;
  }

  // E[φ(u) φ(v)] for the same φ = σ or tanh on both, (u, v) as in expect2: the same rule, with
  // the inner sums as vectorized array expressions (φ through exp, which Eigen vectorizes).
  enum class Act { Sigmoid, Tanh };
  double expect_product(Act act, double m1, double v1, double m2, double v2, double c) const;

 private:
  std::vector<double> x_, w_;
};

inline double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// σ and tanh of an Eigen array expression through exp, which Eigen vectorizes in double (its
// tanh is scalar there); the absolute error stays at the level of double rounding. Out is the
// array type to evaluate into (a fixed-capacity one avoids heap allocation).
template <typename Out, typename X>
Out array_sigmoid(const X& x) {
  return 1.0 / (1.0 + (-x).exp());
}
template <typename Out, typename X>
Out array_tanh(const X& x) {
  return 1.0 - 2.0 / ((2.0 * x).exp() + 1.0);
}

}  // namespace rnnmft::theory
