// One run of a sweep, start to finish (or from its checkpoint to finish): resolve the init
// (preset, spec overrides, or the critical spec solved for the run), train, ask the theory about
// the init at the run's T, and write the results line (docs/experiments.md §Results).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "spec/init_spec.h"
#include "train/step_engine.h"

#include "sweep/sweep_spec.h"

namespace rnnmft::sweep {

// Whether an init has Gaussian moments a spec parameter can override (a preset, "critical" or a
// spec .json; not a weights file).
bool has_gaussian_moments(const std::string& init);

// The Gaussian moments of a preset or spec-file init, as the theory sees them; nullopt for a
// weights file.
std::optional<InitSpec> init_moments(const std::string& init, CellType cell, int hidden,
                                     int input_dim, int seq_len);

// Runs `u` in its directory (config "out"), resuming from its checkpoint when one is there, and
// returns the results line, also written atomically to <dir>/result.json. A run that stops on a
// non-finite loss returns a line with "diverged": true; other failures throw rnnmft::Error.
// With `slot`, the run trains on that place of an ensemble shared with other runs (run_pack).
nlohmann::json run_unit(const RunUnit& u, const HubSlot* slot = nullptr);

// The run directory's finished results line, or null when it has none.
nlohmann::json finished_result(const std::string& run_dir);

}  // namespace rnnmft::sweep
