#include "sim/simulate.h"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "cells/rnn_model.h"
#include "sim/jacobian.h"
#include "spec/draw.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/rng.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace rnnmft::sim {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using nlohmann::json;

namespace {

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  s.n = int(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  if (v.size() > 1) {
    for (double x : v) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / double(v.size() - 1));
  }
  return s;
}

// Least-squares slope of ln d_t over the steps after t0 where d is well above its floor.
bool fit_decay(const std::vector<double>& d, int t0, double& slope) {
  const double d0 = d[t0];
  if (!(d0 > 0)) return false;
  std::vector<double> ts, ys;
  for (size_t t = size_t(t0) + 3; t < d.size(); ++t) {
    if (!(d[t] > 1e-14 * d0) || !(d[t] > 1e-250)) break;
    ts.push_back(double(t));
    ys.push_back(std::log(d[t]));
  }
  if (ts.size() < 5) return false;
  double mt = 0, my = 0;
  for (size_t k = 0; k < ts.size(); ++k) {
    mt += ts[k];
    my += ys[k];
  }
  mt /= double(ts.size());
  my /= double(ts.size());
  double sxy = 0, sxx = 0;
  for (size_t k = 0; k < ts.size(); ++k) {
    sxy += (ts[k] - mt) * (ys[k] - my);
    sxx += (ts[k] - mt) * (ts[k] - mt);
  }
  slope = sxy / sxx;
  return true;
}

double spectral_radius(const MatrixXd& J) {
  Eigen::EigenSolver<MatrixXd> es(J, false);
  return es.eigenvalues().cwiseAbs().maxCoeff();
}

void write_csv(const std::string& path, const std::string& header,
               const std::vector<std::vector<double>>& cols) {
  std::string out = header + "\n";
  for (size_t r = 0; r < cols[0].size(); ++r) {
    for (size_t c = 0; c < cols.size(); ++c)
      out += fmt::format(fmt::runtime(c ? ",{:.10g}" : "{:.10g}"), cols[c][r]);
    out += "\n";
  }
  write_file_atomic(path, out);
}

}  // namespace

json SimResult::to_json() const {
  // JSON has no infinity: non-finite numbers are null (docs/theory.md §10).
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  return {{"cell", cell_name(cell)},
          {"width", width},
          {"untied", untied},
          {"stationary",
           {{"Q_h", Q_h.mean}, {"Q_c", Q_c.mean}, {"Q_h_std", Q_h.std}, {"Q_c_std", Q_c.std}}},
          {"timescale",
           {{"xi", num(xi)},
            {"xi_infinite", std::isinf(xi)},
            {"xi_ci", {num(xi_lo), num(xi_hi)}},
            {"chi", num(chi)},
            {"fitted_trials", fitted_trials},
            {"corr_end", corr.mean},
            {"corr_end_std", corr.std}}},
          {"spectral_radius",
           radius_init.n ? json{{"init", radius_init.mean},
                                {"end", radius_end.mean},
                                {"init_std", radius_init.std},
                                {"end_std", radius_end.std}}
                         : json(nullptr)},
          {"jacobian",
           {{"m1", m1.mean}, {"m2", m2.mean}, {"m1_std", m1.std}, {"m2_std", m2.std}, {"n", m1.n}}},
          {"jacobian_state",
           {{"m1", m1_state.mean},
            {"m2", m2_state.mean},
            {"m1_std", m1_state.std},
            {"m2_std", m2_state.std}}}};
}

uint64_t simulate_memory_bytes(const InitSpec& spec, const SimOptions& opt, int threads) {
  // In double: --width, --steps and --trials are users' numbers and must not wrap the count.
  const CellDesc& d = describe(spec.cell);
  bool orthogonal = false;
  for (const auto& [name, g] : spec.gates) orthogonal = orthogonal || g.orthogonal;
  const double N = opt.width, I = opt.input_dim, T = opt.steps, trials = opt.trials,
               Gi = d.input_gates, Gh = d.recurrent_gates, D = d.cell_state ? 2 * N : N;
  const double at_once = std::max(1.0, std::min(trials, double(std::max(threads, 1))));
  // Each network being run: its parameters (double), the orthogonal draw's Gaussian matrix, QR
  // and Q, the batch of two trajectories and its gates.
  double per_trial = Gi * N * I + Gh * N * N + Gi * N + Gh * N + 2 * N + 2 +
                     (orthogonal ? 3 * N * N : 0) + 2 * (Gi * N + 6 * N + I);
  // Jacobians: W_hh taken out, J (and the LSTM's (c, h) Jacobian), J·Jᵀ and the kernel's
  // products; the eigenvalue solver's Hessenberg/Schur matrices; the SVD and the product's
  // matrices with --out.
  if (opt.jacobians > 0 || opt.spectral_radius || !opt.out_dir.empty())
    per_trial += Gh * N * N + N * N + 3 * D * D;
  if (opt.spectral_radius) per_trial += 3 * D * D;
  if (!opt.out_dir.empty()) per_trial += 4 * N * N;
  // Every trial's trajectories (distance, Q_h, Q_c, correlation over the last tenth), kept until
  // they are merged, and the merged ones.
  const double kept = trials * (3.1 * T + 8.0 * opt.jacobians + 4) + 6 * T;
  const double bytes = 8.0 * (at_once * per_trial + kept);
  return bytes >= 1.8e19 ? UINT64_MAX : uint64_t(bytes);
}

SimResult simulate(const InitSpec& spec, const SimOptions& opt) {
  if (opt.width < 2 || opt.width > 20000)
    fail("--hidden (--width) must be between 2 and 20000 (got {})", opt.width);
  if (opt.input_dim < 1) fail("--input-dim must be at least 1");
  if (opt.trials < 1) fail("--trials must be at least 1");
  if (opt.steps < 8)
    fail(
        "--steps must be at least 8 (got {}): the inputs become the same at --t0 ≥ 2 and five "
        "steps must follow",
        opt.steps);
  if (opt.t0 < 2 || opt.t0 >= opt.steps - 5)
    fail("--t0 {} must lie in [2, steps − 5] (steps = {})", opt.t0, opt.steps);
  if (!(opt.input_var >= 0)) fail("--input-var must be ≥ 0");
  if (opt.jacobians < 0 || opt.jacobians > opt.t0 / 2)
    fail("--jacobians must be between 0 and t0/2");
  const CellType cell = spec.cell;
  {
#if defined(_OPENMP)
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;
#endif
    check_fits_available(
        simulate_memory_bytes(spec, opt, threads),
        fmt::format("simulating {} trials of {} steps of a {} of width {} ({} at a time)",
                    opt.trials, opt.steps, cell_name(cell), opt.width,
                    std::min(opt.trials, std::max(threads, 1))));
  }
  const bool lstm = describe(cell).cell_state, gru = describe(cell).reset_gate;
  // A cell state c beside h is read out through an output gate (h = o ⊙ tanh c, the LSTM's).
  const int output_gate = gate_index(cell, "output");
  if (lstm && output_gate < 0)
    fail("simulate: {} has a cell state but no output gate", cell_name(cell));
  const int N = opt.width, I = opt.input_dim, T = opt.steps;
  const int D = lstm ? 2 * N : N;
  ModelConfig mc{cell, opt.gru, I, N, 2};
  SimResult res;
  res.cell = cell;
  res.width = N;
  res.untied = opt.untied;
  std::vector<double> qh, qc, m1, m2, m1s, m2s, slopes, corr, rad0, rad1;
  res.Q_h_t.assign(T, 0.0);
  res.Q_c_t.assign(T, 0.0);
  res.dist_t.assign(T, 0.0);
  std::vector<double> logd_sum(T, 0.0);
  std::vector<int> logd_n(T, 0);
  const double sx = std::sqrt(opt.input_var);
  std::vector<double> singular, product_singular;
  // Trials are independent networks with their own generators: run them in parallel, merge in
  // trial order.
  struct TrialOut {
    std::vector<double> m1, m2, m1s, m2s, d, qh_t, qc_t, singular, product_singular, corr_t;
    double radius_init = NAN, radius_end = NAN;
  };
  std::vector<TrialOut> outs(opt.trials);
#pragma omp parallel for schedule(dynamic)
  for (int trial = 0; trial < opt.trials; ++trial) {
    TrialOut& o = outs[trial];
    auto& m1 = o.m1;
    auto& m2 = o.m2;
    auto& m1s = o.m1s;
    auto& m2s = o.m2s;
    auto& singular = o.singular;
    auto& product_singular = o.product_singular;
    Rng rng(opt.seed, 0x73696d00ULL + trial /* "sim" */);
    RnnModel<double> net(mc);
    draw_from_spec(net, spec, rng, false);
    // Two trajectories as a batch of 2: rows 0 (a) and 1 (b).
    Eigen::Matrix<double, 2, Eigen::Dynamic, Eigen::RowMajor> h = decltype(h)::Zero(2, N), c = h,
                                                              h2 = h, c2 = h;
    Eigen::Matrix<double, 2, Eigen::Dynamic, Eigen::RowMajor> x(2, I);
    const int Gi = input_gates(cell);
    std::vector<double> gates(size_t(2) * Gi * N), extra(size_t(2) * N);
    VectorXd o_prev = VectorXd::Zero(N);
    auto& d = o.d;
    auto& qh_t = o.qh_t;
    auto& qc_t = o.qc_t;
    d.assign(T, 0.0);
    qh_t.assign(T, 0.0);
    qc_t.assign(T, 0.0);
    MatrixXd product;
    int product_n = 0;
    for (int t = 0; t < T; ++t) {
      if (opt.untied && t > 0) draw_from_spec(net, spec, rng, false);
      const double sxt = opt.input_steps >= 0 && t >= opt.input_steps ? 0.0 : sx;
      for (int i = 0; i < I; ++i) x(0, i) = sxt * rng.normal();
      for (int i = 0; i < I; ++i) x(1, i) = t < opt.t0 ? sxt * rng.normal() : x(0, i);
      net.forward_step(x.data(), h.data(), c.data(), h2.data(), c2.data(), 2, gates.data(),
                       extra.data());
      const bool measure =
          t < opt.t0 && t >= opt.t0 - 10 * opt.jacobians && (opt.t0 - 1 - t) % 10 == 0;
      const bool in_product =
          !opt.out_dir.empty() && trial == 0 && t >= opt.t0 - opt.product_steps && t < opt.t0;
      const bool radius = opt.spectral_radius && (t == 0 || t == T - 1);
      if (measure || in_product || radius) {
        StepRecord s;
        s.h_prev = h.row(0).transpose();
        s.c_prev = c.row(0).transpose();
        s.h = h2.row(0).transpose();
        s.c = c2.row(0).transpose();
        s.gates = Eigen::Map<VectorXd>(gates.data(), Gi * N);
        if (gru) s.extra = Eigen::Map<VectorXd>(extra.data(), N);
        s.o_prev = o_prev;
        const Jacobians J = step_jacobians(net, s);
        if (radius) (t == 0 ? o.radius_init : o.radius_end) = spectral_radius(lstm ? J.J_state : J.J);
        if (measure) {
          auto [a, b] = jacobian_moments(J.J);
          m1.push_back(a);
          m2.push_back(b);
          if (lstm) {
            auto [as, bs] = jacobian_moments(J.J_state);
            m1s.push_back(as);
            m2s.push_back(bs);
          }
          if (!opt.out_dir.empty() && trial == 0 && singular.empty()) {
            Eigen::BDCSVD<MatrixXd> svd(J.J);
            for (int k = 0; k < svd.singularValues().size(); ++k)
              singular.push_back(svd.singularValues()(k));
          }
        }
        if (in_product) {
          product = product_n == 0 ? J.J : MatrixXd(J.J * product);
          ++product_n;
        }
      }
      if (lstm)  // the output gate o_{t−1}: h_{t−1} = o_{t−1} tanh(c_{t−1})
        o_prev = Eigen::Map<VectorXd>(gates.data() + size_t(output_gate) * N, N);
      h.swap(h2);
      c.swap(c2);
      qh_t[t] = 0.5 * h.squaredNorm() / N;
      qc_t[t] = 0.5 * c.squaredNorm() / N;
      if (t >= T - std::max(T / 10, 1)) {
        const double na = h.row(0).norm(), nb = h.row(1).norm();
        o.corr_t.push_back(na > 0 && nb > 0 ? h.row(0).dot(h.row(1)) / (na * nb) : 1.0);
      }
      d[t] = ((h.row(0) - h.row(1)).squaredNorm() +
              (lstm ? (c.row(0) - c.row(1)).squaredNorm() : 0.0)) /
             D;
    }
    if (product_n > 0) {
      Eigen::BDCSVD<MatrixXd> svd(product);
      for (int k = 0; k < svd.singularValues().size(); ++k)
        product_singular.push_back(svd.singularValues()(k));
    }
  }
  for (int trial = 0; trial < opt.trials; ++trial) {
    const TrialOut& o = outs[trial];
    const auto& d = o.d;
    const auto& qh_t = o.qh_t;
    const auto& qc_t = o.qc_t;
    m1.insert(m1.end(), o.m1.begin(), o.m1.end());
    m2.insert(m2.end(), o.m2.begin(), o.m2.end());
    m1s.insert(m1s.end(), o.m1s.begin(), o.m1s.end());
    m2s.insert(m2s.end(), o.m2s.begin(), o.m2s.end());
    if (singular.empty()) singular = o.singular;
    if (product_singular.empty()) product_singular = o.product_singular;
    // The late half of the run: with ξ ≳ T the state is still relaxing early on (§9.4).
    double a = 0, b = 0;
    for (int t = T / 2; t < T; ++t) {
      a += qh_t[t];
      b += qc_t[t];
    }
    qh.push_back(a / (T - T / 2));
    qc.push_back(b / (T - T / 2));
    double cs = 0;
    for (double x : o.corr_t) cs += x;
    if (!o.corr_t.empty()) corr.push_back(cs / double(o.corr_t.size()));
    if (std::isfinite(o.radius_init)) rad0.push_back(o.radius_init);
    if (std::isfinite(o.radius_end)) rad1.push_back(o.radius_end);
    double slope;
    if (fit_decay(d, opt.t0, slope)) slopes.push_back(slope);
    for (int t = 0; t < T; ++t) {
      res.Q_h_t[t] += qh_t[t] / opt.trials;
      res.Q_c_t[t] += qc_t[t] / opt.trials;
      if (d[t] > 0) {
        logd_sum[t] += std::log(d[t]);
        logd_n[t]++;
      }
    }
  }
  for (int t = 0; t < T; ++t) res.dist_t[t] = logd_n[t] ? std::exp(logd_sum[t] / logd_n[t]) : 0.0;
  res.corr = stat_of(corr);
  res.radius_init = stat_of(rad0);
  res.radius_end = stat_of(rad1);
  res.Q_h = stat_of(qh);
  res.Q_c = stat_of(qc);
  res.m1 = stat_of(m1);
  res.m2 = stat_of(m2);
  res.m1_state = lstm ? stat_of(m1s) : res.m1;
  res.m2_state = lstm ? stat_of(m2s) : res.m2;
  res.fitted_trials = int(slopes.size());
  if (!slopes.empty()) {
    const Stat s = stat_of(slopes);
    const double half = slopes.size() > 1 ? 1.96 * s.std / std::sqrt(double(slopes.size())) : 0.0;
    auto xi_of = [](double sl) { return sl < 0 ? -1.0 / sl : INFINITY; };
    res.chi = std::exp(s.mean);
    res.chi_lo = std::exp(s.mean - half);
    res.chi_hi = std::exp(s.mean + half);
    res.xi = xi_of(s.mean);
    res.xi_lo = xi_of(s.mean - half);
    res.xi_hi = xi_of(s.mean + half);
  } else {
    res.chi = res.chi_lo = res.chi_hi = NAN;
    res.xi = res.xi_lo = res.xi_hi = NAN;
  }
  if (!opt.out_dir.empty()) {
    std::filesystem::create_directories(opt.out_dir);
    std::vector<double> ts(T);
    for (int t = 0; t < T; ++t) ts[t] = t + 1;
    write_csv((std::filesystem::path(opt.out_dir) / "trajectories.csv").string(),
              "t,Q_h,Q_c,distance", {ts, res.Q_h_t, res.Q_c_t, res.dist_t});
    if (!singular.empty())
      write_csv((std::filesystem::path(opt.out_dir) / "singular_values.csv").string(),
                "singular_value", {singular});
    if (!product_singular.empty())
      write_csv((std::filesystem::path(opt.out_dir) / "product_singular_values.csv").string(),
                fmt::format("singular_value_product_{}", opt.product_steps), {product_singular});
  }
  return res;
}

}  // namespace rnnmft::sim
