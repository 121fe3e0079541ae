#include "sim/tied_theory.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "spec/draw.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft::sim {

namespace {

double sigm(double a) { return 1 / (1 + std::exp(-a)); }

// A population of P units × S sequences (index k·S + b).
struct Pop {
  std::vector<double> h, c;
};

// What the recurrent field of one stream v (h_{t−1}, or r ⊙ h_{t−1} for the reset-before GRU's
// candidate) looks like over the population (§12.6, eq. 12.6a): unit k's mean over sequences
// m_k and deviations d_kb; Q = mean m², V = mean d², and their one-step correlations.
struct StreamStats {
  std::vector<double> m, d, m_prev, d_prev;
  double Q = 0, V = 0, rho_q = 0, rho_d = 0;
  bool have_prev = false;

  void update(const std::vector<double>& v, int P, int S) {
    m_prev.swap(m);
    d_prev.swap(d);
    m.assign(size_t(P), 0.0);
    d.assign(size_t(P) * S, 0.0);
    for (int k = 0; k < P; ++k) {
      double s = 0;
      for (int b = 0; b < S; ++b) s += v[size_t(k) * S + b];
      m[k] = s / S;
      for (int b = 0; b < S; ++b) d[size_t(k) * S + b] = v[size_t(k) * S + b] - m[k];
    }
    auto dot = [](const std::vector<double>& a, const std::vector<double>& b) {
      double s = 0;
      for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
      return s;
    };
    const double mm = dot(m, m), dd = dot(d, d);
    Q = mm / P;
    V = dd / (double(P) * S);
    auto corr = [&](const std::vector<double>& a, const std::vector<double>& b, double aa) {
      const double bb = dot(b, b);
      if (!(aa > 0) || !(bb > 0)) return 0.0;
      return std::clamp(dot(a, b) / std::sqrt(aa * bb), -1.0, 1.0);
    };
    rho_q = have_prev ? corr(m, m_prev, mm) : 0.0;
    rho_d = have_prev ? corr(d, d_prev, dd) : 0.0;
    have_prev = true;
  }
};

// A twin's field differs from the base's by the field of the difference Δv = v' − v, which is
// split (per part, quenched and dynamic) into a multiple α of the base part and a residual
// orthogonal to it, whose field is independent of the base's (eq. 12.6b).
struct TwinStats {
  double a_q = 0, a_d = 0, R_q = 0, R_d = 0, rho_q = 0, rho_d = 0;
  std::vector<double> e_q, e_d, e_q_prev, e_d_prev;  // the residuals, now and a step before
  void update(const std::vector<double>& v2, const std::vector<double>& v, const StreamStats& s,
              int P, int S) {
    double dm_m = 0, dd_d = 0;
    std::vector<double> dm(static_cast<size_t>(P)), dd(static_cast<size_t>(P) * S);
    for (int k = 0; k < P; ++k) {
      double sum = 0;
      for (int b = 0; b < S; ++b) sum += v2[size_t(k) * S + b] - v[size_t(k) * S + b];
      dm[k] = sum / S;
      dm_m += dm[k] * s.m[k];
      for (int b = 0; b < S; ++b) {
        const size_t kb = size_t(k) * S + b;
        dd[kb] = v2[kb] - v[kb] - dm[k];
        dd_d += dd[kb] * s.d[kb];
      }
    }
    a_q = s.Q > 0 ? dm_m / (s.Q * P) : 0.0;
    a_d = s.V > 0 ? dd_d / (s.V * P * S) : 0.0;
    e_q_prev.swap(e_q);
    e_d_prev.swap(e_d);
    e_q.resize(size_t(P));
    e_d.resize(size_t(P) * S);
    for (int k = 0; k < P; ++k) {
      e_q[k] = dm[k] - a_q * s.m[k];
      for (int b = 0; b < S; ++b) {
        const size_t kb = size_t(k) * S + b;
        e_d[kb] = dd[kb] - a_d * s.d[kb];
      }
    }
    // The residual's field keeps the residual's own one-step correlation: a perturbation that
    // turns from step to step drives each unit with a field that turns with it.
    auto dot = [](const std::vector<double>& a, const std::vector<double>& b) {
      double r = 0;
      for (size_t i = 0; i < a.size() && i < b.size(); ++i) r += a[i] * b[i];
      return r;
    };
    const double qq = dot(e_q, e_q), dd2 = dot(e_d, e_d);
    R_q = qq / P;
    R_d = dd2 / (double(P) * S);
    auto corr = [&](const std::vector<double>& a, const std::vector<double>& b, double aa) {
      if (b.size() != a.size()) return 0.0;
      const double bb = dot(b, b);
      if (!(aa > 0) || !(bb > 0)) return 0.0;
      return std::clamp(dot(a, b) / std::sqrt(aa * bb), -1.0, 1.0);
    };
    rho_q = corr(e_q, e_q_prev, qq);
    rho_d = corr(e_d, e_d_prev, dd2);
  }
};

// Gaussian noise carried from step to step with correlation ρ (an AR(1) process of unit
// variance): the field's part keeps the one-step correlation of the population it comes from.
void carry(std::vector<double>& z, double rho, Rng& rng) {
  const double s = std::sqrt(std::max(0.0, 1 - rho * rho));
  for (double& e : z) e = rho * e + s * rng.normal();
}

// One population of P units (one replica).
TaskProbe one_population(const InitSpec& spec, const std::vector<double>& x, int S, int T, int I,
                         int t0, const TiedTheoryOptions& opt, int P, uint64_t stream) {
  const CellType cell = spec.cell;
  const CellDesc& desc = describe(cell);
  const int Gi = desc.input_gates, Gh = desc.recurrent_gates;
  const bool lstm = cell == CellType::Lstm, gru = cell == CellType::Gru;
  const bool before = gru && opt.gru == GruVariant::ResetBefore;
  const size_t PS = size_t(P) * S;

  // Quenched per unit: biases and input weights, drawn as draw_from_spec draws them.
  Rng rng(opt.seed, 0x7468656f7279ULL /* "theory" */ + stream);
  std::vector<double> sigma(Gi, 0.0), beta(size_t(Gi) * P), W(size_t(Gi) * P * I);
  const std::vector<double> keep_bias = draw_keep_biases(spec, P, rng);  // §13: coupled
  for (int g = 0; g < Gi; ++g) {
    const GateInit& gi = spec.gate(desc.gates[g]);
    if (g < Gh) sigma[g] = gi.recurrent_std;
    for (int k = 0; k < P; ++k) {
      for (int i = 0; i < I; ++i)
        W[(size_t(g) * P + k) * I + i] = rng.normal(0.0, gi.input_std / std::sqrt(double(I)));
      beta[size_t(g) * P + k] = unit_bias(spec, g, k, keep_bias, rng);
    }
  }
  // Populations: 0 the network, 1 its perturbed twin (memory), 2 + g with gate g's bias + δ.
  const int n_pop = 2 + Gi;
  std::vector<Pop> pop(n_pop, Pop{std::vector<double>(PS, 0.0), std::vector<double>(PS, 0.0)});
  // Field noise of the base: ζ quenched per unit, ε per unit and sequence.
  std::vector<std::vector<double>> zq(Gh, std::vector<double>(size_t(P))), ed(Gh, std::vector<double>(PS));
  // Each twin's residual field: its own noise, carried with its own residual's correlation.
  std::vector<std::vector<std::vector<double>>> zq2(n_pop, zq), ed2(n_pop, ed);
  std::vector<TwinStats> tw_h(n_pop), tw_rh(n_pop);
  StreamStats sh, srh;  // streams h_{t−1} and (reset-before) r ⊙ h_{t−1}
  std::vector<double> in(size_t(Gi) * PS), pre(size_t(Gi) * PS);
  std::vector<std::vector<double>> rh(n_pop, std::vector<double>(PS, 0.0));
  std::vector<double> gain(S, 0.0), act(PS), keep(PS), next_h(PS), next_c(PS);
  const double eps = 1e-7;
  auto field_gate = [&](int g) { return before && g == 2 ? &srh : &sh; };

  for (int t = 0; t < T; ++t) {
    if (t == t0) {  // the perturbation: one direction over all units, the same for every sequence
      std::vector<double> v(size_t(P) * (lstm ? 2 : 1));
      double n2 = 0;
      for (double& e : v) {
        e = rng.normal();
        n2 += e * e;
      }
      for (double& e : v) e *= eps / std::sqrt(n2);
      for (int k = 0; k < P; ++k)
        for (int b = 0; b < S; ++b) {
          const size_t kb = size_t(k) * S + b;
          pop[1].h[kb] = pop[0].h[kb] + v[k];
          if (lstm) pop[1].c[kb] = pop[0].c[kb] + v[P + k];
        }
    }
    // Each unit's own drive: bias + w · x_t^b (exact, on the task's sequences).
    for (int g = 0; g < Gi; ++g)
      for (int k = 0; k < P; ++k) {
        const double* w = &W[(size_t(g) * P + k) * I];
        for (int b = 0; b < S; ++b) {
          const double* xt = &x[(size_t(t) * S + b) * I];
          double a = beta[size_t(g) * P + k];
          for (int i = 0; i < I; ++i) a += w[i] * xt[i];
          in[size_t(g) * PS + size_t(k) * S + b] = a;
        }
      }
    sh.update(pop[0].h, P, S);
    // The base's state before this step: every twin's field is its difference from this.
    const std::vector<double> base_h = pop[0].h;
    for (int g = 0; g < Gh; ++g) {
      const StreamStats& s = *field_gate(g);
      if (&s == &srh) continue;  // carried once r is known
      carry(zq[g], s.rho_q, rng);
      carry(ed[g], s.rho_d, rng);
    }
    for (int p = 0; p < n_pop; ++p) {
      Pop& q = pop[size_t(p)];
      TwinStats& tw = tw_h[p];
      if (p > 0) {
        tw.update(q.h, base_h, sh, P, S);
        for (int g = 0; g < (before ? 2 : Gh); ++g) {
          carry(zq2[p][g], tw.rho_q, rng);
          carry(ed2[p][g], tw.rho_d, rng);
        }
      }
      // Pre-activation of gate g for population p: drive + field (+ δ on the moved gate).
      auto fill = [&](int g, const StreamStats& s, const TwinStats& d) {
        const double sg = g < Gh ? sigma[g] : 0.0, move = p >= 2 && g == p - 2 ? opt.delta : 0.0;
        const double cq = std::sqrt(s.Q) * (1 + d.a_q), cd = std::sqrt(s.V) * (1 + d.a_d);
        const double rq = std::sqrt(d.R_q), rd = std::sqrt(d.R_d);
        for (int k = 0; k < P; ++k)
          for (int b = 0; b < S; ++b) {
            const size_t kb = size_t(k) * S + b, gkb = size_t(g) * PS + kb;
            double y = 0;
            if (sg > 0) {
              y = cq * zq[g][k] + cd * ed[g][kb];
              if (p > 0) y += rq * zq2[p][g][k] + rd * ed2[p][g][kb];
              y *= sg;
            }
            pre[gkb] = in[gkb] + move + y;
          }
      };
      const int n_direct = before ? 2 : Gi;  // gates whose field comes from h_{t−1}
      for (int g = 0; g < n_direct; ++g) fill(g, sh, tw);
      if (before) {
        // r ⊙ h_{t−1}, its statistics, then the candidate's field from it.
        for (size_t kb = 0; kb < PS; ++kb) rh[p][kb] = sigm(pre[kb]) * q.h[kb];
        if (p == 0) {
          srh.update(rh[0], P, S);
          carry(zq[2], srh.rho_q, rng);
          carry(ed[2], srh.rho_d, rng);
        } else {
          tw_rh[p].update(rh[p], rh[0], srh, P, S);
          carry(zq2[p][2], tw_rh[p].rho_q, rng);
          carry(ed2[p][2], tw_rh[p].rho_d, rng);
        }
        fill(2, srh, tw_rh[p]);
      }
      for (size_t kb = 0; kb < PS; ++kb) {
        auto a = [&](int g) { return pre[size_t(g) * PS + kb]; };
        const double hp = q.h[kb];
        double h = 0, c = 0, ac = 0, kp = 0;
        switch (cell) {
          case CellType::Lstm: {
            const double i = sigm(a(0)), f = sigm(a(1)), gg = std::tanh(a(2)), o = sigm(a(3));
            c = f * q.c[kb] + i * gg;
            ac = std::tanh(c);
            h = o * ac;
            kp = f;
            break;
          }
          case CellType::Gru: {
            const double r = sigm(a(0)), z = sigm(a(1));
            // reset-after: the candidate's field (W_hn h, b_hn = 0 in a drawn spec) is scaled by
            // r; a(2) − own is that field, own the candidate's input side (with its δ).
            const double own = in[2 * PS + kb] + (p == 4 ? opt.delta : 0.0);
            const double n = std::tanh(before ? a(2) : own + r * (a(2) - own));
            h = (1 - z) * n + z * hp;
            ac = n;
            kp = z;
            break;
          }
          case CellType::Minimal: {
            const double u = sigm(a(0)), e = std::tanh(a(1));
            h = u * hp + (1 - u) * e;
            ac = e;
            kp = u;
            break;
          }
          case CellType::Vanilla:
            h = std::tanh(a(0));
            ac = h;
            break;
        }
        next_h[kb] = h;
        next_c[kb] = c;
        if (p == 0) {
          act[kb] = ac;
          keep[kb] = kp;
        }
      }
      q.h.swap(next_h);
      q.c.swap(next_c);
    }
    if (t >= t0) {  // renormalise the memory twin per sequence, accumulating its growth
      for (int b = 0; b < S; ++b) {
        if (!std::isfinite(gain[b])) continue;
        double n2 = 0;
        for (int k = 0; k < P; ++k) {
          const size_t kb = size_t(k) * S + b;
          const double dh = pop[1].h[kb] - pop[0].h[kb], dc = pop[1].c[kb] - pop[0].c[kb];
          n2 += dh * dh + dc * dc;
        }
        const double n = std::sqrt(n2);
        if (std::isnan(n) || std::isinf(n) || n == 0) {
          gain[b] = std::isnan(n) ? NAN : n > 0 ? INFINITY : -INFINITY;
          continue;
        }
        gain[b] += 2.0 * std::log(n / eps);
        const double s = eps / n;
        for (int k = 0; k < P; ++k) {
          const size_t kb = size_t(k) * S + b;
          pop[1].h[kb] = pop[0].h[kb] + s * (pop[1].h[kb] - pop[0].h[kb]);
          pop[1].c[kb] = pop[0].c[kb] + s * (pop[1].c[kb] - pop[0].c[kb]);
        }
      }
    }
  }

  TaskProbe out;
  out.cell = cell;
  out.width = P;
  out.networks = 0;
  out.sequences = S;
  out.directions = 1;
  out.input_dim = I;
  out.steps = T;
  out.memory_from = t0;
  out.gru = opt.gru;
  out.delta = opt.delta;
  const Pop& z = pop[0];
  auto share = [&](const std::vector<double>& v) {
    double all = 0, mean2 = 0;
    for (int k = 0; k < P; ++k) {
      double m = 0;
      for (int b = 0; b < S; ++b) {
        m += v[size_t(k) * S + b];
        all += v[size_t(k) * S + b] * v[size_t(k) * S + b];
      }
      mean2 += (m / S) * (m / S) * S;
    }
    return all > 0 ? mean2 / all : 0.0;
  };
  double qh = 0, qc = 0, sl = 0, sa = 0, kp = 0;
  const double edge = std::tanh(2.0);
  for (size_t kb = 0; kb < PS; ++kb) {
    qh += z.h[kb] * z.h[kb];
    qc += z.c[kb] * z.c[kb];
    sl += (1 - act[kb] * act[kb]) * (1 - act[kb] * act[kb]);
    sa += std::abs(act[kb]) > edge;
    kp += keep[kb];
  }
  out.Q_h = qh / double(PS);
  out.Q_c = qc / double(PS);
  out.offset_h = share(z.h);
  out.offset_c = share(z.c);
  out.slope = sl / double(PS);
  out.saturated = sa / double(PS);
  out.keep = desc.keep_gate >= 0 ? kp / double(PS) : 0.0;
  out.sensitivity.resize(Gi);
  for (int g = 0; g < Gi; ++g) {
    double dh = 0, dc = 0;
    for (size_t kb = 0; kb < PS; ++kb) {
      dh += (pop[2 + g].h[kb] - z.h[kb]) * (pop[2 + g].h[kb] - z.h[kb]);
      dc += (pop[2 + g].c[kb] - z.c[kb]) * (pop[2 + g].c[kb] - z.c[kb]);
    }
    out.sensitivity[g] = {desc.gates[g], std::sqrt(dh / double(PS)) / opt.delta,
                          std::sqrt(dc / double(PS)) / opt.delta};
  }
  // Memory: ln of the mean over sequences of G_b, and the spread of ln G_b (the probe's terms).
  double mx = -INFINITY;
  bool nan = false;
  for (double l : gain) {
    nan |= std::isnan(l);
    mx = std::max(mx, l);
  }
  if (nan) {
    out.log_gain = NAN;
  } else if (!std::isfinite(mx)) {
    out.log_gain = mx;
  } else {
    double s = 0;
    for (double l : gain) s += std::exp(l - mx);
    out.log_gain = mx + std::log(s / S);
  }
  double m = 0, v = 0;
  int n = 0;
  for (double l : gain)
    if (std::isfinite(l)) {
      m += l;
      ++n;
    }
  if (n >= 2) {
    m /= n;
    for (double l : gain)
      if (std::isfinite(l)) v += (l - m) * (l - m);
    out.log_gain_sd = std::sqrt(v / (n - 1));
  } else {
    out.log_gain_sd = NAN;
  }
  out.log_gain_between_sd = NAN;
  return out;
}

}  // namespace

TaskProbe tied_theory(const InitSpec& spec, const std::vector<double>& x, int S, int T, int I,
                      int t0, const TiedTheoryOptions& opt) {
  const int R = opt.replicas;
  if (R < 1 || R > 64) fail("tied theory: replicas must be in [1, 64] (got {})", R);
  const int P = opt.units / R;
  if (P < 16 || opt.units > (1 << 20))
    fail("tied theory: units must be in [16·replicas, 2^20] (got {} for {} replicas)", opt.units, R);
  if (S < 2) fail("tied theory: at least 2 sequences (got {})", S);
  if (x.size() != size_t(T) * S * I) fail("tied theory: {} inputs for {} × {} × {}", x.size(), T, S, I);
  if (t0 < 0 || t0 >= T) fail("tied theory: memory_from {} is outside [0, {})", t0, T);
  // Independent replicas, so that the theory's own sampling error is measured as the networks'
  // is (compare_to_network), in parallel.
  std::vector<TaskProbe> reps(R);
  std::vector<std::exception_ptr> errors(R);
#pragma omp parallel for schedule(static) if (R > 1)
  for (int r = 0; r < R; ++r) {
    try {
      reps[r] = one_population(spec, x, S, T, I, t0, opt, P, uint64_t(r));
    } catch (...) {
      errors[r] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  TaskProbe out = reps[0];
  out.width = P * R;
  const int Gi = int(out.sensitivity.size());
  double qh = 0, qc = 0, oh = 0, oc = 0, sl = 0, sa = 0, kp = 0, lg = 0, var = 0;
  int var_n = 0;
  std::vector<double> dh2(Gi, 0.0), dc2(Gi, 0.0);
  for (const TaskProbe& r : reps) {
    qh += r.Q_h / R;
    qc += r.Q_c / R;
    oh += r.offset_h / R;
    oc += r.offset_c / R;
    sl += r.slope / R;
    sa += r.saturated / R;
    kp += r.keep / R;
    lg += r.log_gain / R;  // ±∞ and NaN carry through
    if (std::isfinite(r.log_gain_sd)) {
      var += r.log_gain_sd * r.log_gain_sd;
      ++var_n;
    }
    NetworkParts e{r.Q_h, r.Q_c, r.offset_h, r.offset_c, r.slope, r.keep, r.log_gain, {}, {}};
    for (int g = 0; g < Gi; ++g) {
      dh2[g] += r.sensitivity[g].dh * r.sensitivity[g].dh / R;
      dc2[g] += r.sensitivity[g].dc * r.sensitivity[g].dc / R;
      e.dh.push_back(r.sensitivity[g].dh);
      e.dc.push_back(r.sensitivity[g].dc);
    }
    out.per_network.push_back(std::move(e));
  }
  out.Q_h = qh;
  out.Q_c = qc;
  out.offset_h = oh;
  out.offset_c = oc;
  out.slope = sl;
  out.saturated = sa;
  out.keep = kp;
  out.log_gain = lg;
  out.log_gain_sd = var_n > 0 ? std::sqrt(var / var_n) : NAN;
  out.networks = R;
  for (int g = 0; g < Gi; ++g) {
    out.sensitivity[g].dh = std::sqrt(dh2[g]);
    out.sensitivity[g].dc = std::sqrt(dc2[g]);
  }
  return out;
}

}  // namespace rnnmft::sim

namespace rnnmft::sim {

const char* TheoryPart::verdict_name() const {
  switch (verdict) {
    case Verdict::Within:
      return "within";
    case Verdict::Inconclusive:
      return "inconclusive";
    case Verdict::Off:
      break;
  }
  return "off";
}

std::vector<TheoryPart> compare_to_network(const TaskProbe& th, const TaskProbe& net,
                                           double tolerance) {
  std::vector<TheoryPart> out;
  const size_t K = net.per_network.size();
  // 2 standard errors of the mean over networks of one part.
  // The squared standard error of the mean of one part over a side's networks (replicas).
  auto se2 = [](const std::vector<NetworkParts>& all, auto get) {
    const size_t K = all.size();
    if (K < 2) return double(NAN);
    double m = 0, v = 0;
    for (const auto& e : all) m += get(e) / double(K);
    for (const auto& e : all) v += (get(e) - m) * (get(e) - m);
    return v / double(K - 1) / double(K);
  };
  // 2 standard errors of the difference (the theory's replicas count when it has them).
  auto noise_of = [&](auto get) {
    const double a = se2(net.per_network, get), b = se2(th.per_network, get);
    if (std::isnan(a)) return double(NAN);
    return 2 * std::sqrt(a + (std::isnan(b) ? 0.0 : b));
  };
  auto add = [&](std::string name, double a, double b, double noise) {
    TheoryPart p{std::move(name), a, b, 0, noise, false, TheoryPart::Verdict::Off};
    p.error = b != 0 ? std::abs(a - b) / std::abs(b) : (a == 0 ? 0.0 : INFINITY);
    // The memory: the gain G itself where |ln G| ≤ 1 (a relative error of G is one of ln G in
    // absolute terms), else ln G, the number of e-folds, relative (a timescale's error).
    if (p.name == "log_gain") p.error = std::abs(a - b) / std::max(1.0, std::abs(b));
    // A bias move that moves nothing (both below 1e-6 per unit of δ) agrees, whatever the ratio
    // of two numbers at rounding level.
    if (p.name.rfind("d", 0) == 0 && std::abs(a) < 1e-6 && std::abs(b) < 1e-6) p.error = 0;
    if (std::isnan(a) || std::isnan(b)) p.error = NAN;
    p.within = p.error <= tolerance;
    p.verdict = p.within ? TheoryPart::Verdict::Within
                : std::abs(a - b) <= noise ? TheoryPart::Verdict::Inconclusive
                                           : TheoryPart::Verdict::Off;
    out.push_back(std::move(p));
  };
  using E = NetworkParts;
  const bool lstm = describe(net.cell).cell_state;
  add("Q_h", th.Q_h, net.Q_h, noise_of([](const E& e) { return e.Q_h; }));
  add("offset_h", th.offset_h, net.offset_h, noise_of([](const E& e) { return e.offset_h; }));
  if (lstm) {
    add("Q_c", th.Q_c, net.Q_c, noise_of([](const E& e) { return e.Q_c; }));
    add("offset_c", th.offset_c, net.offset_c, noise_of([](const E& e) { return e.offset_c; }));
  }
  add("slope", th.slope, net.slope, noise_of([](const E& e) { return e.slope; }));
  if (describe(net.cell).keep_gate >= 0)
    add("keep", th.keep, net.keep, noise_of([](const E& e) { return e.keep; }));
  add("log_gain", th.log_gain, net.log_gain, noise_of([](const E& e) { return e.log_gain; }));
  for (size_t g = 0; g < net.sensitivity.size() && g < th.sensitivity.size(); ++g) {
    const bool have = K > 0 && net.per_network[0].dh.size() > g;
    add("dh/" + net.sensitivity[g].gate, th.sensitivity[g].dh, net.sensitivity[g].dh,
        have ? noise_of([g](const E& e) { return e.dh[g]; }) : NAN);
    if (lstm)
      add("dc/" + net.sensitivity[g].gate, th.sensitivity[g].dc, net.sensitivity[g].dc,
          have ? noise_of([g](const E& e) { return e.dc[g]; }) : NAN);
  }
  return out;
}

}  // namespace rnnmft::sim
