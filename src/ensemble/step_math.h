// The element-wise part of a step for every cell: one dispatch that both backends call per
// (model, row, unit). Phases: `Reset` (GRU reset-before only: r ⊙ h before the candidate's
// product), `Forward`, `BackwardA` (all cells; for the reset-before GRU the update and candidate
// gradients), `BackwardB` (reset-before GRU only: the reset gradient once drh is known).
#pragma once

#include "ensemble/cells/gru.h"
#include "ensemble/cells/lstm.h"
#include "ensemble/cells/minimal.h"
#include "ensemble/cells/vanilla.h"

namespace rnnmft::ens {

// The cell as the kernels see it (CellType and GruVariant folded into one small enum so that the
// device code needs no project headers).
enum class Kind : int { Vanilla, Minimal, Lstm, GruAfter, GruBefore };
enum class Phase : int { Reset, Forward, BackwardA, BackwardB };

RNNMFT_HD void apply(Kind kind, Phase phase, const StepRow& r, int j) {
  switch (kind) {
    case Kind::Vanilla:
      phase == Phase::Forward ? vanilla::forward(r, j) : vanilla::backward(r, j);
      return;
    case Kind::Minimal:
      phase == Phase::Forward ? minimal::forward(r, j) : minimal::backward(r, j);
      return;
    case Kind::Lstm:
      phase == Phase::Forward ? lstm::forward(r, j) : lstm::backward(r, j);
      return;
    case Kind::GruAfter:
      phase == Phase::Forward ? gru::forward_after(r, j) : gru::backward_after(r, j);
      return;
    case Kind::GruBefore:
      switch (phase) {
        case Phase::Reset:
          gru::reset_before(r, j);
          return;
        case Phase::Forward:
          gru::forward_before(r, j);
          return;
        case Phase::BackwardA:
          gru::backward_before_zn(r, j);
          return;
        case Phase::BackwardB:
          gru::backward_before_r(r, j);
          return;
      }
  }
}

}  // namespace rnnmft::ens
