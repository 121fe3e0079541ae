#include "theory/gauss.h"

#include <Eigen/Eigenvalues>
#include <map>
#include <memory>
#include <mutex>

#include "util/error.h"

namespace rnnmft::theory {

const GaussHermite& GaussHermite::cached(int order) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<GaussHermite>> rules;
  std::lock_guard<std::mutex> lock(mu);
  auto& r = rules[order];
  if (!r) r = std::make_unique<GaussHermite>(order);  // throws (and stores nothing) if invalid
  return *r;
}

GaussHermite::GaussHermite(int n) {
  if (n < 2 || n > 400) fail("quadrature order must be between 2 and 400 (got {})", n);
  // Jacobi matrix of the probabilists' Hermite polynomials: off-diagonal √k.
  Eigen::MatrixXd J = Eigen::MatrixXd::Zero(n, n);
  for (int k = 1; k < n; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt(double(k));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J);
  x_.resize(n);
  w_.resize(n);
  for (int i = 0; i < n; ++i) {
    x_[i] = es.eigenvalues()(i);
    const double v = es.eigenvectors()(0, i);
    w_[i] = v * v;
  }
}

double GaussHermite::expect_product(Act act, double m1, double v1, double m2, double v2,
                                    double c) const {
  using A = Eigen::ArrayXd;
  const Eigen::Map<const A> X(x_.data(), Eigen::Index(x_.size())), W(w_.data(), X.size());
  auto phi = [act](const A& u) -> A {
    return act == Act::Sigmoid ? array_sigmoid<A>(u) : array_tanh<A>(u);
  };
  const double s1 = std::sqrt(std::max(v1, 0.0));
  const double a = s1 > 0 ? c / s1 : 0.0;
  const double b = std::sqrt(std::max(v2 - a * a, 0.0));
  const A outer = W * phi(m1 + s1 * X);
  double acc = 0;
  for (Eigen::Index i = 0; i < X.size(); ++i)
    acc += outer[i] * (W * phi((m2 + a * X[i]) + b * X)).sum();
  return acc;
}

}  // namespace rnnmft::theory
