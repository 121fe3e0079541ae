#include "sim/jacobian.h"

namespace rnnmft::sim {

using Eigen::MatrixXd;
using Eigen::VectorXd;

Jacobians step_jacobians(const RnnModel<double>& m, const StepRecord& s) {
  const ModelConfig& c = m.config();
  const int N = c.hidden;
  double* P = const_cast<double*>(m.params().data());
  const MatrixXd W = m.w_hh(P);  // Gh·N × N
  auto blk = [&](int k) { return W.middleRows(k * N, N); };
  auto gate = [&](int k) { return s.gates.segment(k * N, N).array(); };
  Jacobians out;
  switch (c.cell) {
    case CellType::Vanilla:
      out.J = (1.0 - s.h.array().square()).matrix().asDiagonal() * blk(0);
      break;
    case CellType::Minimal: {
      const auto u = gate(0), z = gate(1);
      out.J = MatrixXd(u.matrix().asDiagonal()) +
              (u * (1 - u) * (s.h_prev.array() - z)).matrix().asDiagonal() * blk(0);
      break;
    }
    case CellType::Gru: {
      const auto r = gate(0), z = gate(1), n = gate(2);
      const VectorXd bn = ((1 - z) * (1 - n * n)).matrix();
      MatrixXd inner;
      if (c.gru == GruVariant::ResetBefore)  // W_n (r ⊙ h): ∂/∂h = W_n (D_r + D_{h r'} W_r)
        inner = blk(2) * (MatrixXd(r.matrix().asDiagonal()) +
                          (s.h_prev.array() * r * (1 - r)).matrix().asDiagonal() * blk(0));
      else  // r ⊙ (W_n h + b_hn): ∂/∂h = D_r W_n + D_{(W_n h + b) r'} W_r
        inner = r.matrix().asDiagonal() * blk(2) +
                (s.extra.array() * r * (1 - r)).matrix().asDiagonal() * blk(0);
      out.J = MatrixXd(z.matrix().asDiagonal()) +
              (z * (1 - z) * (s.h_prev.array() - n)).matrix().asDiagonal() * blk(1) +
              bn.asDiagonal() * inner;
      break;
    }
    case CellType::Lstm: {
      const auto i = gate(0), f = gate(1), g = gate(2), o = gate(3);
      const MatrixXd K = (s.c_prev.array() * f * (1 - f)).matrix().asDiagonal() * blk(1) +
                         (g * i * (1 - i)).matrix().asDiagonal() * blk(0) +
                         (i * (1 - g * g)).matrix().asDiagonal() * blk(2);
      const auto tc = s.c.array().tanh();
      const VectorXd T = (o * (1 - tc * tc)).matrix(), S = (tc * o * (1 - o)).matrix();
      out.J_state.resize(2 * N, 2 * N);
      out.J_state.topLeftCorner(N, N) = f.matrix().asDiagonal();
      out.J_state.topRightCorner(N, N) = K;
      out.J_state.bottomLeftCorner(N, N) = (T.array() * f).matrix().asDiagonal();
      out.J_state.bottomRightCorner(N, N) = S.asDiagonal() * blk(3) + T.asDiagonal() * K;
      // h_{t−1} = o_{t−1} tanh(c_{t−1}) with o_{t−1} fixed.
      const VectorXd T1 = (s.o_prev.array() * (1 - s.c_prev.array().tanh().square())).matrix();
      out.J = MatrixXd(f.matrix().asDiagonal()) + K * T1.asDiagonal();
      break;
    }
  }
  return out;
}

std::pair<double, double> jacobian_moments(const MatrixXd& J) {
  const double D = double(J.rows());
  const MatrixXd JJ = J * J.transpose();
  return {J.squaredNorm() / D, JJ.squaredNorm() / D};
}

}  // namespace rnnmft::sim
