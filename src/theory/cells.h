// What the theory knows of each cell, in one table: its mean-field maps (maps/*.cpp) and the base
// point of its critical search. analyze(), transient() and critical_base() read it; this is the
// one place in src/theory/ that names the cells.
#pragma once

#include "spec/init_spec.h"
#include "theory/gauss.h"
#include "theory/mean_field.h"

namespace rnnmft::theory {

struct CellTheory {
  TheoryResult (*analyze)(const InitSpec&, const TheoryOptions&, const GaussHermite&);
  // Q_h(t) from a silent start (§3.1).
  Transient (*transient)(const InitSpec&, const TheoryOptions&, const GaussHermite&, int steps,
                         int input_steps);
  // The critical search's starting spec for horizon T and input variance R (§6).
  InitSpec (*critical_base)(int T, double R);
  // The maps are Monte-Carlo estimates (the LSTM's population sampler, §4.2): the sampler's
  // options apply and the results carry standard errors.
  bool sampled = false;
};

const CellTheory& cell_theory(CellType c);

}  // namespace rnnmft::theory
