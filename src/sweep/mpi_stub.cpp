// Built without MPI: `sweep` refuses an MPI launch before it gets here (cli/sweep_cmd.cpp).
#include "sweep/mpi_sweep.h"
#include "util/error.h"

namespace rnnmft::sweep {

bool mpi_built() {
  return false;
}

SweepSummary run_sweep_mpi(const SweepSpec&, const SweepOptions&) {
  fail("this rnnmft was built without MPI (install libopenmpi-dev and rebuild)");
}

}  // namespace rnnmft::sweep
