// A sweep across the processes of an MPI job (`mpirun -np K rnnmft sweep …`, docs/cluster.md):
// rank 0 plans the sweep and hands out runs one at a time as ranks ask for them; each other rank
// trains its run in a child process (as a local sweep does) and sends the results line back;
// rank 0 alone appends to results.jsonl. Run directories live under --out, which every rank must
// see (a shared file system).
#pragma once

#include "sweep/runner.h"

namespace rnnmft::sweep {

// Whether this program was built with MPI (OpenMPI from Debian's libopenmpi-dev).
bool mpi_built();

// Runs the sweep as one rank of the job; every rank returns rank 0's summary.
SweepSummary run_sweep_mpi(const SweepSpec& spec, const SweepOptions& opt);

}  // namespace rnnmft::sweep
