#include "sim/jacobian.h"

#include "cells/kernels/dispatch.h"

namespace rnnmft::sim {

using Eigen::MatrixXd;

// Each cell's Jacobian is its kernel's (cells/kernels/<cell>.h); W_hh is taken in double,
// column-major.
Jacobians step_jacobians(const RnnModel<double>& m, const StepRecord& s) {
  const ModelConfig& c = m.config();
  double* P = const_cast<double*>(m.params().data());
  const MatrixXd W = m.w_hh(P);  // Gh·N × N
  const kernels::JacobianArgs a{W,       s.h_prev, s.c_prev, s.h, s.c, s.gates,
                                s.extra, s.o_prev, c.hidden, c.gru == GruVariant::ResetBefore};
  Jacobians out;
  kernels::with_kernel(c.cell, [&](auto k) { k.jacobian(a, out.J, out.J_state); });
  return out;
}

std::pair<double, double> jacobian_moments(const MatrixXd& J) {
  const double D = double(J.rows());
  const MatrixXd JJ = J * J.transpose();
  return {J.squaredNorm() / D, JJ.squaredNorm() / D};
}

}  // namespace rnnmft::sim
