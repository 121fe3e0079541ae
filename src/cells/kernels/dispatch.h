// The one place that turns a CellType into its kernel (docs/cells.md §Kernels): callers pass a
// generic lambda, which is instantiated for each cell, and the switch runs once per call, outside
// any loop over rows or units.
#pragma once

#include "cells/cell_type.h"
#include "cells/kernels/gru.h"
#include "cells/kernels/lstm.h"
#include "cells/kernels/minimal.h"
#include "cells/kernels/vanilla.h"
#include "util/error.h"

namespace rnnmft::kernels {

template <class F>
decltype(auto) with_kernel(CellType c, F&& f) {
  switch (c) {
    case CellType::Vanilla:
      return f(Vanilla{});
    case CellType::Minimal:
      return f(Minimal{});
    case CellType::Gru:
      return f(Gru{});
    case CellType::Lstm:
      return f(Lstm{});
  }
  fail("internal: cell {} has no kernel", int(c));
}

}  // namespace rnnmft::kernels
