#include "sim/task_probe.h"

#include <algorithm>
#include <exception>
#include <cmath>

#include "cells/rnn_model.h"

#include "spec/draw.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft::sim {

using nlohmann::json;

namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The final state of B rows run over the task's T steps (x time-major, S sequences; row r reads
// sequence r mod S). With `gain`, rows S…B−1 carry perturbations started after t0 steps: row
// S + d·S + b is sequence b perturbed along direction d (the same K = B/S − 1 directions for every
// sequence, so that what differs between sequences is the sequence, §12.2), renormalised to ε
// after every step; gain[d·S + b] accumulates 2·Σ ln(|δ_t|/ε) (+∞ overflow, −∞ vanished, NaN).
struct Final {
  RowMat h, c, gates;
};

Final run(RnnModel<double>& net, const std::vector<double>& x, int S, int B, int T, int I,
          int t0, Rng* rng, std::vector<double>* gain) {
  const ModelConfig& mc = net.config();
  const int N = mc.hidden, Gi = input_gates(mc.cell);
  const bool lstm = describe(mc.cell).cell_state;
  const int D = lstm ? 2 * N : N;
  RowMat h = RowMat::Zero(B, N), c = h, h2 = h, c2 = h, xt(B, I);
  RowMat gates(B, size_t(Gi) * N), extra(B, N);
  // ε: small enough to stay linear in double, large against rounding (δ is renormalised to it).
  const double eps = 1e-7;
  std::vector<std::vector<double>> dirs;  // K directions ~ N(0, I), |v| = ε over the whole state
  if (gain)
    for (int d = 0; d < B / S - 1; ++d) {
      std::vector<double> v(D);
      double n2 = 0;
      for (double& e : v) {
        e = rng->normal();
        n2 += e * e;
      }
      for (double& e : v) e *= eps / std::sqrt(n2);
      dirs.push_back(std::move(v));
    }
  for (int t = 0; t < T; ++t) {
    if (gain && t == t0)
      for (int r = S; r < B; ++r) {
        const std::vector<double>& v = dirs[size_t(r / S - 1)];
        for (int j = 0; j < N; ++j) {
          h(r, j) = h(r % S, j) + v[j];
          if (lstm) c(r, j) = c(r % S, j) + v[N + j];
        }
      }
    for (int r = 0; r < B; ++r)
      for (int i = 0; i < I; ++i) xt(r, i) = x[(size_t(t) * S + r % S) * I + i];
    net.forward_step(xt.data(), h.data(), c.data(), h2.data(), c2.data(), B, gates.data(),
                     extra.data());
    h.swap(h2);
    c.swap(c2);
    if (gain && t >= t0) {
      for (int r = S; r < B; ++r) {  // renormalise: accumulate the growth, keep |δ| = ε
        double& g = (*gain)[size_t(r - S)];
        if (!std::isfinite(g)) continue;  // overflowed, vanished or NaN: stays so
        const int b = r % S;
        double n2 = (h.row(r) - h.row(b)).squaredNorm();
        if (lstm) n2 += (c.row(r) - c.row(b)).squaredNorm();
        const double n = std::sqrt(n2);
        if (std::isnan(n) || std::isinf(n) || n == 0) {
          g = std::isnan(n) ? NAN : n > 0 ? INFINITY : -INFINITY;
          continue;
        }
        g += 2.0 * std::log(n / eps);
        const double s = eps / n;
        h.row(r) = h.row(b) + s * (h.row(r) - h.row(b));
        if (lstm) c.row(r) = c.row(b) + s * (c.row(r) - c.row(b));
      }
    }
  }
  return {h, c, gates};
}

// ln of the mean of e^l over ls (log-sum-exp; −∞ terms add nothing, +∞ or NaN win).
double log_mean_exp(const std::vector<double>& ls) {
  double mx = -INFINITY;
  for (double l : ls) {
    if (std::isnan(l)) return NAN;
    mx = std::max(mx, l);
  }
  if (!std::isfinite(mx)) return mx;
  double s = 0;
  for (double l : ls) s += std::exp(l - mx);
  return mx + std::log(s / double(ls.size()));
}

// Σ over units of (mean over rows)² / Σ of squares: the share of the second moment that is a
// per-unit offset, the same for every sequence.
double offset_share(const RowMat& m, int rows) {
  const auto top = m.topRows(rows);
  const double all = top.squaredNorm();
  return all > 0 ? top.colwise().mean().squaredNorm() * rows / all : 0.0;
}

}  // namespace

double TaskProbe::max_dh() const {
  double m = 0;
  for (const auto& g : sensitivity) m = std::max(m, g.dh);
  return m;
}
double TaskProbe::max_dc() const {
  double m = 0;
  for (const auto& g : sensitivity) m = std::max(m, g.dc);
  return m;
}

json TaskProbe::to_json() const {
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  json sens = json::array();
  for (const auto& g : sensitivity) {
    json e = {{"gate", g.gate}, {"dh", num(g.dh)}};
    if (describe(cell).cell_state) e["dc"] = num(g.dc);
    sens.push_back(e);
  }
  json j = {{"cell", cell_name(cell)},
            {"width", width},
            {"networks", networks},
            {"directions", directions},
            {"sequences", sequences},
            {"steps", steps},
            {"memory_from", memory_from},
            {"span", span()},
            {"Q_h", num(Q_h)},
            {"offset_h", num(offset_h)},
            {"slope", num(slope)},
            {"saturated", num(saturated)},
            {"keep", num(keep)},
            {"log_gain", num(log_gain)},
            {"log_gain_infinite", std::isinf(log_gain) ? json(log_gain > 0 ? 1 : -1) : json(0)},
            {"log_gain_sd", num(log_gain_sd)},
            {"log_gain_between_sd", num(log_gain_between_sd)},
            {"delta", delta},
            {"sensitivity", sens},
            {"max_dh", num(max_dh())}};
  if (describe(cell).reset_gate) j["gru_variant"] = gru_variant_name(gru);
  if (describe(cell).cell_state) {
    j["Q_c"] = num(Q_c);
    j["offset_c"] = num(offset_c);
    j["max_dc"] = num(max_dc());
  }
  return j;
}

NetworkProbe probe_network(RnnModel<double>& net, const std::vector<double>& x, int S, int T,
                           int t0, double delta, int directions, Rng& rng) {
  const ModelConfig& mc = net.config();
  const CellType cell = mc.cell;
  const CellDesc& desc = describe(cell);
  const int N = mc.hidden, I = mc.input_dim, Gi = desc.input_gates;
  if (x.size() != size_t(T) * S * I) fail("probe: {} inputs for {} × {} × {}", x.size(), T, S, I);
  // The cell's tanh whose slope is left at T: LSTM tanh c_T (from the state), else a gate block.
  const int act_gate = cell == CellType::Gru       ? gate_index(cell, "candidate")
                       : cell == CellType::Minimal ? gate_index(cell, "embed")
                       : cell == CellType::Vanilla ? gate_index(cell, "hidden")
                                                   : -1;
  const double sat_edge = std::tanh(2.0);
  if (directions < 1) fail("probe: directions must be at least 1 (got {})", directions);
  NetworkProbe o;
  std::vector<double> per_row(size_t(S) * directions, 0.0);
  const Final f = run(net, x, S, S * (1 + directions), T, I, t0, &rng, &per_row);
  // Per sequence, ln of the mean gain over the directions: ln tr(PᵀP)/D as directions → ∞.
  o.log_gain.resize(S);
  for (int b = 0; b < S; ++b) {
    std::vector<double> ls(directions);
    for (int d = 0; d < directions; ++d) ls[d] = per_row[size_t(d) * S + b];
    o.log_gain[b] = log_mean_exp(ls);
  }
  const auto hT = f.h.topRows(S), cT = f.c.topRows(S);
  o.Q_h = hT.squaredNorm() / (double(S) * N);
  o.Q_c = cT.squaredNorm() / (double(S) * N);
  o.offset_h = offset_share(f.h, S);
  o.offset_c = offset_share(f.c, S);
  double sl = 0, sa = 0, kp = 0;
  for (int b = 0; b < S; ++b)
    for (int j = 0; j < N; ++j) {
      const double a = act_gate < 0 ? std::tanh(cT(b, j)) : f.gates(b, size_t(act_gate) * N + j);
      sl += (1 - a * a) * (1 - a * a);
      sa += std::abs(a) > sat_edge;
      if (desc.keep_gate >= 0) kp += f.gates(b, size_t(desc.keep_gate) * N + j);
    }
  o.slope = sl / (double(S) * N);
  o.saturated = sa / (double(S) * N);
  o.keep = kp / (double(S) * N);
  // Sensitivity (§12.2): every unit's bias of one gate moved by +δ.
  const auto base = net.params();
  const size_t b_ih = net.layout().b_ih;
  o.dh2.assign(Gi, 0.0);
  o.dc2.assign(Gi, 0.0);
  for (int g = 0; g < Gi; ++g) {
    auto moved = base;
    for (int j = 0; j < N; ++j) moved[b_ih + size_t(g) * N + j] += delta;
    net.set_params(moved);
    const Final m = run(net, x, S, S, T, I, t0, nullptr, nullptr);
    o.dh2[g] = (m.h - hT).squaredNorm() / (double(S) * N);
    o.dc2[g] = (m.c - cT).squaredNorm() / (double(S) * N);
    net.set_params(base);
  }
  return o;
}

ProbeInputs probe_inputs(const Task& task, int sequences, uint64_t seed, int memory_from) {
  ProbeInputs in;
  in.S = sequences;
  in.T = task.seq_len();
  in.I = task.input_dim();
  const size_t n_train = task.size(Split::Train);
  if (n_train < size_t(in.S))
    fail("probe: the training split has {} sequences, fewer than {}", n_train, in.S);
  const Task::Window w = task.data_window();
  in.t0 = memory_from >= 0 ? memory_from : (w.t1 < in.T ? w.t1 : w.t0);
  if (in.t0 < 0 || in.t0 >= in.T) fail("probe: memory_from {} is outside [0, {})", in.t0, in.T);
  // The same S training sequences for every network, spread over the split.
  std::vector<size_t> ks(in.S);
  for (int j = 0; j < in.S; ++j) ks[j] = (size_t(j) * (n_train / size_t(in.S)) + seed) % n_train;
  std::vector<float> xf(size_t(in.T) * in.S * in.I);
  std::vector<int> labels(in.S);
  task.batch(Split::Train, ks, xf.data(), labels.data());
  in.x.assign(xf.begin(), xf.end());
  return in;
}

TaskProbe task_probe(const InitSpec& spec, const Task& task, const ProbeOptions& opt) {
  if (opt.width < 2 || opt.width > 4096) fail("probe: width must be in [2, 4096] (got {})", opt.width);
  if (opt.networks < 1 || opt.networks > 64)
    fail("probe: networks must be in [1, 64] (got {})", opt.networks);
  if (opt.sequences < 2 || opt.sequences > 256)
    fail("probe: sequences must be in [2, 256] (got {})", opt.sequences);
  if (!(opt.delta > 0) || !(opt.delta <= 1)) fail("probe: δ (--delta) must be in (0, 1] (got {})", opt.delta);
  if (opt.directions < 1 || opt.directions > 64)
    fail("probe: directions must be in [1, 64] (got {})", opt.directions);
  const CellType cell = spec.cell;
  const CellDesc& desc = describe(cell);
  const ProbeInputs in = probe_inputs(task, opt.sequences, opt.seed, opt.memory_from);
  const int N = opt.width, T = in.T, I = in.I, S = in.S, t0 = in.t0, Gi = desc.input_gates;
  const std::vector<double>& x = in.x;

  TaskProbe p;
  p.cell = cell;
  p.width = N;
  p.networks = opt.networks;
  p.sequences = S;
  p.input_dim = I;
  p.steps = T;
  p.memory_from = t0;
  p.delta = opt.delta;
  p.directions = opt.directions;
  p.gru = opt.gru;
  p.sensitivity.resize(Gi);
  for (int k = 0; k < Gi; ++k) p.sensitivity[k].gate = desc.gates[k];

  const ModelConfig mc{cell, opt.gru, I, N, 2};
  std::vector<NetworkProbe> nets(opt.networks);
  // Networks in parallel: inside the region Eigen's small products run on one thread each (they
  // have a few dozen rows; threads inside them would only wait for each other at every step).
  std::vector<std::exception_ptr> errors(opt.networks);
#pragma omp parallel for schedule(static) if (opt.networks > 1)
  for (int k = 0; k < opt.networks; ++k) {
    try {
      Rng rng(opt.seed, 0x70726f6265ULL + uint64_t(k) /* "probe" */);
      RnnModel<double> net(mc);
      if (opt.preset.empty())
        draw_from_spec(net, spec, rng, false);
      else
        draw_preset(net, opt.preset, T, rng);
      nets[k] = probe_network(net, x, S, T, t0, opt.delta, opt.directions, rng);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  double qh = 0, qc = 0, oh = 0, oc = 0, slope = 0, sat = 0, keep = 0;
  std::vector<double> dh2(Gi, 0.0), dc2(Gi, 0.0);
  for (const NetworkProbe& n : nets) {
    qh += n.Q_h;
    qc += n.Q_c;
    oh += n.offset_h;
    oc += n.offset_c;
    slope += n.slope;
    sat += n.saturated;
    keep += n.keep;
    for (int g = 0; g < Gi; ++g) {
      dh2[g] += n.dh2[g];
      dc2[g] += n.dc2[g];
    }
  }
  const double K = opt.networks;
  p.Q_h = qh / K;
  p.Q_c = qc / K;
  p.offset_h = oh / K;
  p.offset_c = oc / K;
  p.slope = slope / K;
  p.saturated = sat / K;
  p.keep = desc.keep_gate >= 0 ? keep / K : 0.0;
  for (int g = 0; g < Gi; ++g) {
    p.sensitivity[g].dh = std::sqrt(dh2[g] / K) / opt.delta;
    p.sensitivity[g].dc = std::sqrt(dc2[g] / K) / opt.delta;
  }
  // Memory (§12.2): per network, ln of the mean gain over its sequences and the spread of the
  // per-sequence logarithms (over the finite ones); log_gain is the mean over networks of the
  // former, log_gain_sd the within-network spread pooled over networks (what differs between
  // sequences, not between draws), log_gain_between_sd the spread of the networks' log gains.
  std::vector<double> net_log(opt.networks);
  double within = 0;
  int within_n = 0;
  for (int k = 0; k < opt.networks; ++k) {
    const auto& ls = nets[k].log_gain;
    net_log[k] = log_mean_exp(ls);
    const NetworkProbe& one = nets[k];
    NetworkParts e{one.Q_h, one.Q_c, one.offset_h, one.offset_c, one.slope,
                   desc.keep_gate >= 0 ? one.keep : 0.0,
                   net_log[k], {}, {}};
    for (int g = 0; g < Gi; ++g) {
      e.dh.push_back(std::sqrt(one.dh2[g]) / opt.delta);
      e.dc.push_back(std::sqrt(one.dc2[g]) / opt.delta);
    }
    p.per_network.push_back(std::move(e));
    double m = 0, v = 0;
    int n = 0;
    for (double l : ls)
      if (std::isfinite(l)) {
        m += l;
        ++n;
      }
    if (n < 2) continue;
    m /= n;
    for (double l : ls)
      if (std::isfinite(l)) v += (l - m) * (l - m);
    within += v / (n - 1);
    ++within_n;
  }
  double sum = 0;
  for (double l : net_log) sum += l;  // ±∞ and NaN carry through
  p.log_gain = sum / K;
  p.log_gain_sd = within_n > 0 ? std::sqrt(within / within_n) : NAN;
  if (std::isfinite(p.log_gain) && opt.networks > 1) {
    double v = 0;
    for (double l : net_log) v += (l - p.log_gain) * (l - p.log_gain);
    p.log_gain_between_sd = std::sqrt(v / (opt.networks - 1));
  } else {
    p.log_gain_between_sd = NAN;
  }
  return p;
}

}  // namespace rnnmft::sim
