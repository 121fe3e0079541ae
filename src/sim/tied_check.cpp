#include "sim/tied_check.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "sim/simulate.h"
#include "util/error.h"

namespace rnnmft::sim {

using nlohmann::json;

namespace {
// Within a factor 3, allowing two standard errors of the measurement.
bool within3(double q, double se, double theory) {
  if (!(theory > 0)) return q - 2 * se <= 1e-12;  // the theory's state is 0: so must the network's
  return (q + 2 * se) / theory >= 1.0 / 3 && (q - 2 * se) / theory <= 3.0;
}
}  // namespace

bool TiedCheck::holds() const {
  const bool grows = std::isfinite(chi) && chi > 1.005 && std::pow(chi, 0.7 * steps) > 10.0;
  return !grows && within3(Q_h, Q_h_se, Q_h_theory) && (!lstm || within3(Q_c, Q_c_se, Q_c_theory));
}

std::string TiedCheck::summary() const {
  if (Q_h_theory == 0 && Q_h == 0)
    return fmt::format(
        "tied N = {}: spectral radius {:.4f} at step 1, {:.4f} at step {}; no input reaches the "
        "network, its state stays 0 as the theory says",
        width, radius_init, radius_end, steps);
  std::string s = fmt::format(
      "tied N = {}: spectral radius {:.4f} at step 1, {:.4f} at step {}; distance χ = {}; Q_h {:.3g} "
      "± {:.2g} vs theory {:.3g} ({:.2f}×)",
      width, radius_init, radius_end, steps, std::isfinite(chi) ? fmt::format("{:.5f}", chi) : "n/a",
      Q_h, Q_h_se, Q_h_theory, Q_ratio());
  if (lstm)
    s += fmt::format(", Q_c {:.3g} ± {:.2g} vs {:.3g} ({:.2f}×)", Q_c, Q_c_se, Q_c_theory,
                     Q_c_theory > 0 ? Q_c / Q_c_theory : NAN);
  s += holds() ? " — behaves as the theory says" : " — DOES NOT behave as the untied theory says";
  return s;
}

json TiedCheck::to_json() const {
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  json j = {{"width", width},
            {"steps", steps},
            {"spectral_radius_init", num(radius_init)},
            {"spectral_radius_end", num(radius_end)},
            {"chi", num(chi)},
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
  c.Q_h = sr.Q_h.mean;
  c.Q_c = sr.Q_c.mean;
  const double n = std::max(sr.Q_h.n, 1);
  c.Q_h_se = sr.Q_h.std / std::sqrt(n);
  c.Q_c_se = sr.Q_c.std / std::sqrt(n);
  // The theory's Q over the same steps, from the same silent start.
  theory::TheoryOptions to = opt.theory;
  to.input_var = opt.input_var;
  const theory::Transient tr = theory::transient(spec, to, opt.steps, opt.input_steps);
  const int T = opt.steps;
  for (int t = T / 2; t < T; ++t) {
    c.Q_h_theory += tr.Q_h[t] / (T - T / 2);
    if (c.lstm) c.Q_c_theory += tr.Q_c[t] / (T - T / 2);
  }
  return c;
}

}  // namespace rnnmft::sim
