// Runs of a sweep trained together as one ensemble (docs/gpu.md §Sweeps): the runs of a grid
// that share a shape — cell, GRU variant, width, task length and inputs, batch, optimizer, device
// and precision — differ only in what each model of an ensemble may have of its own (init, seed,
// learning rate and schedule, clipping, steps, evaluation and checkpoints).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/sweep_spec.h"

namespace rnnmft::sweep {

// Whether a run's device trains through the ensemble engine (cuda, cpu-ensemble).
bool packable(const RunUnit& u);

// Runs with the same key can share one ensemble.
std::string pack_key(const RunUnit& u);

// Each run's results line (as run_unit writes it), or null with errors[k] saying why.
struct PackOutcome {
  std::vector<nlohmann::json> lines;
  std::vector<std::string> errors;
};

// Trains `units` (equal pack_key) as one ensemble, each run in a thread of its own, resuming
// runs from their checkpoints as run_unit does. A pack that does not fit in the device's memory
// is split in halves, trained one after the other. `progress` says what is happening.
PackOutcome run_pack(const std::vector<RunUnit>& units, bool progress = true);

}  // namespace rnnmft::sweep
