// Critical init v2 (docs/theory.md §13): a spread of timescales whose writes are coupled to their
// keeps, in place of one keep-gate bias solved for a tied gain of 1.
#pragma once

#include <string>
#include <vector>

#include "spec/init_spec.h"

namespace rnnmft::theory {

struct CriticalV2Options {
  int seq_len = 1000;     // T: the slowest unit's timescale
  double data_var = NAN;  // R of the steps that carry data (padding excluded), > 0
  int input_dim = 1;      // I
  int width = 128;        // N
  // The content gate's pre-activation second moment from the inputs, ν²·R (§13.3): unsaturated.
  double content_input_var = 0.5;
  // The spread of keep-gate timescales on [2, T] (§13.2): log-uniform trains fastest wherever
  // both were measured (docs/experiments.md E23, E29–E37); uniform is chrono's spread.
  Timescales::Dist timescales = Timescales::Dist::LogUniform;
};

struct CriticalV2 {
  InitSpec spec;
  std::vector<std::string> notes;  // what was chosen and why, one line each
};

// Gated cells: keep-gate timescales log-uniform (or uniform) on [2, T] (LSTM input gate −b),
// the content gate (lstm cell, gru candidate, minimal embed) with ν = sqrt(content_input_var / R)
// and (where it reads the state) orthogonal σ = 1, the other gates at Glorot/orthogonal scales. The vanilla
// cell has no gate to couple: throws, naming the v1 init that is its critical init.
CriticalV2 critical_v2(CellType cell, const CriticalV2Options& opt);

// Which design the name "critical" draws (train --init critical, a sweep's "init": "critical",
// rnnmft.torch.critical_init_; docs/theory.md §13.5): v2 wherever it applies, since it trains
// fastest (docs/experiments.md E30–E37), and v1's solved critical point where it does not — the
// vanilla cell (no keep gate to spread), a stacked module (v2 does not scale the state that
// layers above the first read) and a request for v1's solve (a fix or a criterion). `why` says
// which, empty for v2. "critical-v1" and "critical-v2" name one design whatever the cell.
struct CriticalDesignChoice {
  bool v2 = true;
  std::string why;
};
CriticalDesignChoice critical_design(CellType cell, bool v1_knobs, bool stacked = false);

}  // namespace rnnmft::theory
