#include "sim/tied_check.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "sim/simulate.h"
#include "util/error.h"

namespace rnnmft::sim {

using nlohmann::json;

const char* agreement_name(Agreement a) {
  switch (a) {
    case Agreement::Agrees: return "agrees";
    case Agreement::Disagrees: return "disagrees";
    case Agreement::Inconclusive: return "inconclusive";
  }
  return "?";
}

namespace {
constexpr double kQBand = 3.0;      // Q within 3× of the theory's transient
constexpr double kCorrBand = 2.0;   // chaotic: 1 − corr within 2× of 1 − c*
constexpr double kGrowth = 10.0;    // "grows": the distance ×10 over the fitted steps
constexpr double kChiSlack = 1.005; // … and χ above this (long T)
constexpr double kApart = 0.05;     // trajectories "apart": 1 − corr above this

// An interval [lo, hi] of a ratio against the band [1/b, b].
Agreement band(double lo, double hi, double b) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return Agreement::Inconclusive;
  if (lo >= 1.0 / b && hi <= b) return Agreement::Agrees;
  if (hi < 1.0 / b || lo > b) return Agreement::Disagrees;
  return Agreement::Inconclusive;
}

Agreement worst(Agreement a, Agreement b) {
  if (a == Agreement::Disagrees || b == Agreement::Disagrees) return Agreement::Disagrees;
  if (a == Agreement::Inconclusive || b == Agreement::Inconclusive) return Agreement::Inconclusive;
  return Agreement::Agrees;
}

std::string ratio_text(double q, double se, double theory, double b, Agreement a) {
  if (!(theory > 0))
    return fmt::format("theory 0: {}", agreement_name(a));
  return fmt::format("{:.2f}×; ±2 s.e. {:.2g}–{:.2g}× against 1/{:g}–{:g}×: {}", q / theory,
                     std::max(q - 2 * se, 0.0) / theory, (q + 2 * se) / theory, b, b,
                     agreement_name(a));
}
}  // namespace

Agreement TiedCheck::q_agreement(double q, double se, double theory) const {
  if (!(theory > 0))  // the theory's state is 0: so must the network's be
    return q - 2 * se <= 1e-12 ? Agreement::Agrees : Agreement::Disagrees;
  return band((q - 2 * se) / theory, (q + 2 * se) / theory, kQBand);
}

Agreement TiedCheck::phase_agreement() const {
  if (judge_phase && theory_chaotic) {
    const double d = 1.0 - theory_c_star;
    return band((1.0 - corr - 2 * corr_se) / d, (1.0 - corr + 2 * corr_se) / d, kCorrBand);
  }
  // Ordered (or a padded task): the distance must not grow.
  if (!std::isfinite(chi_lo) || !std::isfinite(chi_hi)) return Agreement::Inconclusive;
  const double H = 0.7 * steps;
  auto grows = [&](double c) { return c > kChiSlack && std::pow(c, H) > kGrowth; };
  if (grows(chi_lo)) return Agreement::Disagrees;
  if (judge_phase && theory_chi > 0 && H * std::log(theory_chi) < std::log(1e-3) &&
      1.0 - corr - 2 * corr_se > kApart)
    return Agreement::Disagrees;
  if (!grows(chi_hi)) return Agreement::Agrees;
  return Agreement::Inconclusive;
}

Agreement TiedCheck::agreement() const {
  Agreement a = worst(phase_agreement(), q_agreement(Q_h, Q_h_se, Q_h_theory));
  if (lstm) a = worst(a, q_agreement(Q_c, Q_c_se, Q_c_theory));
  return a;
}

std::string TiedCheck::summary() const {
  if (Q_h_theory == 0 && Q_h == 0)
    return fmt::format(
        "tied N = {}: spectral radius {:.4f} at step 1, {:.4f} at step {}; no input reaches the "
        "network, its state stays 0 as the theory says",
        width, radius_init, radius_end, steps);
  std::string s = fmt::format("tied N = {}: spectral radius {:.4f} at step 1, {:.4f} at step {}; ",
                              width, radius_init, radius_end, steps);
  const Agreement pa = phase_agreement();
  if (judge_phase && theory_chaotic)
    s += fmt::format("chaotic theory (c* = {:.3f}): trajectories' correlation {:.3f} ± {:.2g} "
                     "(1 − corr within {:g}× of 1 − c*: {})",
                     theory_c_star, corr, corr_se, kCorrBand, agreement_name(pa));
  else if (std::isfinite(chi))
    s += fmt::format(
        "distance χ = {:.5f} (95 %: {:.5f}–{:.5f}), trajectories' correlation {:.3f} ± {:.2g} "
        "against the theory's χ = {:.4f}, c* = 1 (not growing over 0.7·T, nor staying apart "
        "where the theory converges: {})",
        chi, chi_lo, chi_hi, corr, corr_se, theory_chi, agreement_name(pa));
  else
    s += "distance χ = n/a (inconclusive)";
  s += fmt::format("; Q_h {:.3g} ± {:.2g} vs theory {:.3g} ({})", Q_h, Q_h_se, Q_h_theory,
                   ratio_text(Q_h, Q_h_se, Q_h_theory, kQBand,
                              q_agreement(Q_h, Q_h_se, Q_h_theory)));
  if (lstm)
    s += fmt::format("; Q_c {:.3g} ± {:.2g} vs {:.3g} ({})", Q_c, Q_c_se, Q_c_theory,
                     ratio_text(Q_c, Q_c_se, Q_c_theory, kQBand,
                                q_agreement(Q_c, Q_c_se, Q_c_theory)));
  switch (agreement()) {
    case Agreement::Agrees: s += " — behaves as the theory says"; break;
    case Agreement::Disagrees: s += " — DOES NOT behave as the untied theory says"; break;
    case Agreement::Inconclusive:
      s += " — inconclusive: within its noise of the theory's bounds (more --tied-trials narrow "
           "it)";
      break;
  }
  return s;
}

json TiedCheck::to_json() const {
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  json j = {{"width", width},
            {"steps", steps},
            {"spectral_radius_init", num(radius_init)},
            {"spectral_radius_end", num(radius_end)},
            {"chi", num(chi)},
            {"chi_lo", num(chi_lo)},
            {"chi_hi", num(chi_hi)},
            {"corr", num(corr)},
            {"corr_se", num(corr_se)},
            {"theory_chaotic", theory_chaotic},
            {"theory_c_star", num(theory_c_star)},
            {"theory_chi", num(theory_chi)},
            {"phase", agreement_name(phase_agreement())},
            {"verdict", agreement_name(agreement())},
            {"Q_h", num(Q_h)},
            {"Q_h_theory", num(Q_h_theory)},
            {"Q_h_se", num(Q_h_se)},
            {"Q_h_ratio", num(Q_ratio())},
            {"holds", holds()}};
  if (lstm) {
    j["Q_c"] = num(Q_c);
    j["Q_c_theory"] = num(Q_c_theory);
    j["Q_c_se"] = num(Q_c_se);
  }
  return j;
}

TiedCheckOptions beside_theory(int hidden, int input_dim, int T, const theory::TheoryOptions& opt,
                               int trials, uint64_t seed) {
  TiedCheckOptions o;
  o.width = hidden;
  o.input_dim = input_dim;
  o.steps = std::max(T, 20);
  o.trials = trials;
  o.seed = seed;
  o.input_var = opt.input_var;
  o.theory = opt;
  o.gru = opt.gru_variant;
  o.spectral_radius = hidden <= kTiedCheckMaxRadiusWidth;
  return o;
}

TiedCheck tied_check(const InitSpec& spec, const TiedCheckOptions& opt) {
  if (opt.steps < 20) fail("the tied check needs T ≥ 20 steps (got {})", opt.steps);
  SimOptions so;
  so.width = opt.width;
  so.input_dim = opt.input_dim;
  so.steps = opt.steps;
  so.t0 = std::max(2, int(0.3 * opt.steps));
  so.untied = false;
  so.trials = opt.trials;
  so.input_var = opt.input_var;
  so.seed = opt.seed;
  so.jacobians = 0;
  so.gru = opt.gru;
  so.spectral_radius = opt.spectral_radius;
  so.input_steps = opt.input_steps;
  const SimResult sr = simulate(spec, so);
  TiedCheck c;
  c.width = opt.width;
  c.steps = opt.steps;
  c.lstm = describe(spec.cell).cell_state;
  c.radius_init = sr.radius_init.mean;
  c.radius_end = sr.radius_end.mean;
  c.chi = sr.chi;
  c.chi_lo = sr.chi_lo;
  c.chi_hi = sr.chi_hi;
  c.corr = sr.corr.mean;
  c.corr_se = sr.corr.n > 0 ? sr.corr.std / std::sqrt(double(sr.corr.n)) : NAN;
  c.Q_h = sr.Q_h.mean;
  c.Q_c = sr.Q_c.mean;
  const double n = std::max(sr.Q_h.n, 1);
  c.Q_h_se = sr.Q_h.std / std::sqrt(n);
  c.Q_c_se = sr.Q_c.std / std::sqrt(n);
  // The theory's Q over the same steps, from the same silent start.
  theory::TheoryOptions to = opt.theory;
  to.input_var = opt.input_var;
  const theory::Transient tr = theory::transient(spec, to, opt.steps, opt.input_steps);
  // The phase the theory predicts with inputs at every step (fewer LSTM samples: only the phase
  // and c* are needed).
  if (opt.input_steps < 0) {
    theory::TheoryOptions po = to;
    po.samples = std::min<int64_t>(po.samples, 4000);
    po.groups = std::min(po.groups, 4);
    po.order_check = false;
    po.timescale = true;
    const theory::TheoryResult th = theory::analyze(spec, po);
    c.judge_phase = true;
    c.theory_chaotic = th.chaotic();
    c.theory_c_star = th.corr;
    c.theory_chi_coincident = th.chi_coincident;
    c.theory_chi = th.chi;
  }
  const int T = opt.steps;
  for (int t = T / 2; t < T; ++t) {
    c.Q_h_theory += tr.Q_h[t] / (T - T / 2);
    if (c.lstm) c.Q_c_theory += tr.Q_c[t] / (T - T / 2);
  }
  return c;
}

}  // namespace rnnmft::sim
