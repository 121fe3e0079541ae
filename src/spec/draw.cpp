#include "spec/draw.h"

#include <Eigen/QR>
#include <cmath>

#include "util/error.h"

namespace rnnmft {

Eigen::MatrixXd haar_orthogonal(int rows, int cols, Rng& rng) {
  if (rows < cols) return haar_orthogonal(cols, rows, rng).transpose();
  Eigen::MatrixXd g(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) g(i, j) = rng.normal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(rows, cols);
  const Eigen::MatrixXd& r = qr.matrixQR();
  for (int j = 0; j < cols; ++j)
    if (r(j, j) < 0) q.col(j) *= -1.0;
  return q;
}

namespace {

template <typename S>
void uniform_fill(S* p, size_t n, double lim, Rng& rng) {
  for (size_t i = 0; i < n; ++i) p[i] = S(rng.uniform(-lim, lim));
}

template <typename S>
void draw_head(RnnModel<S>& m, Rng& rng) {
  S* P = m.params().data();
  const double lim = 1.0 / std::sqrt(double(m.config().hidden));
  auto w = m.w_head(P);
  uniform_fill(w.data(), size_t(w.size()), lim, rng);
  auto b = m.b_head(P);
  uniform_fill(b.data(), size_t(b.size()), lim, rng);
}

}  // namespace

std::vector<double> draw_keep_biases(const InitSpec& spec, int N, Rng& rng) {
  if (!spec.timescales) return {};
  const Timescales& t = *spec.timescales;
  std::vector<double> b(static_cast<size_t>(N));
  for (auto& v : b) {
    const double tau = t.dist == Timescales::Dist::Uniform
                           ? rng.uniform(t.min, t.max)
                           : std::exp(rng.uniform(std::log(t.min), std::log(t.max)));
    v = std::log(tau - 1.0);  // keep σ(b) = 1 − 1/τ
  }
  return b;
}

double unit_bias(const InitSpec& spec, int gate, int unit, const std::vector<double>& keep_bias,
                 Rng& rng) {
  const CellDesc& d = describe(spec.cell);
  if (!keep_bias.empty() && gate == d.keep_gate) return keep_bias[size_t(unit)];
  if (!keep_bias.empty() && gate == d.input_gate) return -keep_bias[size_t(unit)];
  const GateInit& g = spec.gate(d.gates[size_t(gate)]);
  return rng.normal(g.bias_mean, g.bias_std);
}

template <typename S>
void draw_from_spec(RnnModel<S>& m, const InitSpec& spec, Rng& rng, bool with_head) {
  const ModelConfig& c = m.config();
  if (spec.cell != c.cell)
    fail("init spec {} is for the {} cell, but the model is {}", spec.source, cell_name(spec.cell),
         cell_name(c.cell));
  const int N = c.hidden, I = c.input_dim;
  S* P = m.params().data();
  auto wih = m.w_ih(P);
  auto whh = m.w_hh(P);
  auto bih = m.b_ih(P);
  m.b_hh(P).setZero();
  const auto& names = gate_names(c.cell);
  // Timescales (docs/theory.md §13) are drawn first, one per unit, so that the LSTM's input gate
  // (drawn before the forget gate) gets minus its unit's keep bias; specs without them draw
  // exactly as before.
  const std::vector<double> keep_bias = draw_keep_biases(spec, N, rng);
  for (size_t k = 0; k < names.size(); ++k) {
    const GateInit& g = spec.gate(names[k]);
    const int r0 = int(k) * N;
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < I; ++j)
        wih(r0 + i, j) = S(rng.normal(0.0, g.input_std / std::sqrt(double(I))));
    for (int i = 0; i < N; ++i) bih(r0 + i) = S(unit_bias(spec, int(k), i, keep_bias, rng));
    if (int(k) >= recurrent_gates(c.cell)) continue;  // minimal's embed block reads no state
    if (g.orthogonal) {
      Eigen::MatrixXd q = haar_orthogonal(N, N, rng);
      whh.block(r0, 0, N, N) = (g.recurrent_std * q).cast<S>();
    } else {
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j)
          whh(r0 + i, j) = S(rng.normal(0.0, g.recurrent_std / std::sqrt(double(N))));
    }
  }
  if (with_head) draw_head(m, rng);
}

template <typename S>
void draw_preset(RnnModel<S>& m, const std::string& preset, int seq_len, Rng& rng) {
  const ModelConfig& c = m.config();
  if (!is_preset(preset))  // also refuses arguments where none are taken (keras:5)
    fail("unknown init preset '{}' (expected pytorch, keras, orthogonal[:gain], chrono[:T_max])",
         preset);
  const std::string base = preset.substr(0, preset.find(':'));
  const int N = c.hidden, I = c.input_dim, Gi = input_gates(c.cell), Gh = recurrent_gates(c.cell);
  S* P = m.params().data();
  if (base == "pytorch") {
    const double lim = 1.0 / std::sqrt(double(N));
    uniform_fill(P, m.layout().w_head, lim, rng);  // W_ih, W_hh, b_ih, b_hh
    draw_head(m, rng);
    return;
  }
  if (base == "orthogonal") {
    // Orthogonal recurrent blocks with a gain, Gaussian inputs: exactly its moment spec.
    draw_from_spec(m, preset_moments(preset, c.cell, N, I, seq_len), rng);
    return;
  }
  if (base != "keras" && base != "chrono")
    fail("unknown init preset '{}' (expected pytorch, keras, orthogonal[:gain], chrono[:T_max])",
         preset);
  // Keras: glorot-uniform input kernel over (I, Gi·N), one orthogonal recurrent kernel over
  // (N, Gh·N), zero biases, LSTM forget bias 1.
  preset_moments(preset, c.cell, N, I, seq_len);  // validates the preset and chrono's T_max
  uniform_fill(m.w_ih(P).data(), size_t(Gi) * N * I, std::sqrt(6.0 / (I + double(Gi) * N)), rng);
  m.w_hh(P) = haar_orthogonal(Gh * N, N, rng).cast<S>();
  m.b_ih(P).setZero();
  m.b_hh(P).setZero();
  auto bih = m.b_ih(P);
  const CellDesc& d = describe(c.cell);
  for (int g = 0; g < Gi; ++g) bih.segment(g * N, N).setConstant(S(d.preset_bias[size_t(g)]));
  if (base == "chrono") {
    // Tallec & Ollivier 2018: b_keep ~ log U(1, T_max − 1); LSTM input bias = −forget bias.
    const int keep_block = d.keep_gate;  // lstm f, gru z, minimal u (preset_moments checked it)
    double t_max = seq_len;
    if (auto colon = preset.find(':'); colon != std::string::npos)
      t_max = std::stod(preset.substr(colon + 1));
    for (int i = 0; i < N; ++i) {
      const double b = std::log(rng.uniform(1.0, t_max - 1.0));
      bih(keep_block * N + i) = S(b);
      if (d.input_gate >= 0) bih(d.input_gate * N + i) = S(-b);
    }
  }
  draw_head(m, rng);
}

template void draw_from_spec(RnnModel<float>&, const InitSpec&, Rng&, bool);
template void draw_from_spec(RnnModel<double>&, const InitSpec&, Rng&, bool);
template void draw_preset(RnnModel<float>&, const std::string&, int, Rng&);
template void draw_preset(RnnModel<double>&, const std::string&, int, Rng&);

}  // namespace rnnmft
