#include "theory/gauss.h"

#include <Eigen/Eigenvalues>

#include "util/error.h"

namespace rnnmft::theory {

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

}  // namespace rnnmft::theory
