#include "theory/cells.h"

#include <algorithm>
#include <cmath>

#include "theory/maps/common.h"
#include "util/error.h"

namespace rnnmft::theory {

namespace {

GateInit gate(double s, double n, double m, double r, bool orth = false) {
  return {.recurrent_std = s, .input_std = n, .bias_mean = m, .bias_std = r, .orthogonal = orth};
}

// The critical search's base points (docs/theory.md §6): the gates that the search does not move
// are set here, the knobs (CellDesc::critical) start here. critical_base() sets the cell.
InitSpec vanilla_base(int, double) {
  InitSpec s;
  // Orthogonal W and small input and bias variance: φ' ≈ 1 at a small fixed point.
  s.gates["hidden"] = gate(1.0, 0.025, 0.0, 0.0, true);
  return s;
}

InitSpec minimal_base(int T, double R) {
  InitSpec s;
  // Large update-gate bias: E[u²] ≈ 1 − 2e^{−μ + q/2}, μ = ln(2T) + q/2 gives ξ ≈ T (§6.2).
  // The gate reads no input at init (§6.3: a tied input matrix would correlate each unit's
  // gate with its own candidate).
  GateInit u = gate(0.3, 0.0, 0.0, 0.0);
  const double q = u.input_std * u.input_std * R;
  u.bias_mean = std::log(2.0 * T) + q / 2;
  s.gates["update"] = u;
  s.gates["embed"] = gate(0.0, 1.0, 0.0, 0.0);
  return s;
}

InitSpec gru_base(int T, double) {
  InitSpec s;
  // Gates set by their biases alone (no weights at init, §6.3): the update (keep) gate
  // nearly closed to change, 1 − f ≈ 1/(2T); the reset gate open.
  s.gates["update"] = gate(0.0, 0.0, std::log(2.0 * T), 0.0);
  s.gates["reset"] = gate(0.0, 0.0, 2.0, 0.0);
  s.gates["candidate"] = gate(1.0, 0.5, 0.0, 0.0);
  return s;
}

InitSpec lstm_base(int T, double) {
  InitSpec s;
  const double logT = std::log(double(std::max(T, 3)));
  // Gates set by their biases alone (§6.3): input gate mostly shut, output gate open, forget
  // gate near 1. μ_i = −½ ln T keeps E[c²] ≈ e^{2μ_i} E[g²] / (1 − E[f²]) of order 0.1–1
  // (tanh unsaturated).
  s.gates["input"] = gate(0.0, 0.0, -0.5 * logT, 0.0);
  s.gates["forget"] = gate(0.0, 0.0, std::log(2.0 * T), 0.0);
  s.gates["output"] = gate(0.0, 0.0, 4.0, 0.0);
  s.gates["cell"] = gate(1.0, 0.5, 0.0, 0.0);
  return s;
}

Transient lstm_transient(const InitSpec& s, const TheoryOptions& opt, const GaussHermite&,
                         int steps, int input_steps) {
  return maps::lstm_transient(s, opt, steps, input_steps);
}

}  // namespace

const CellTheory& cell_theory(CellType c) {
  // The minimalRNN and the GRU share the affine maps (maps/affine.cpp).
  static const CellTheory vanilla{.analyze = maps::analyze_vanilla,
                                   .transient = maps::vanilla_transient,
                                   .critical_base = vanilla_base},
      minimal{.analyze = maps::analyze_affine,
              .transient = maps::affine_transient,
              .critical_base = minimal_base},
      gru{.analyze = maps::analyze_affine,
          .transient = maps::affine_transient,
          .critical_base = gru_base},
      lstm{.analyze = maps::analyze_lstm,
           .transient = lstm_transient,
           .critical_base = lstm_base,
           .sampled = true};
  switch (c) {
    case CellType::Vanilla:
      return vanilla;
    case CellType::Minimal:
      return minimal;
    case CellType::Gru:
      return gru;
    case CellType::Lstm:
      return lstm;
  }
  fail("internal: no theory for cell {}", int(c));
}

}  // namespace rnnmft::theory
