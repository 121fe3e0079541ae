// One run of a sweep, start to finish (or from its checkpoint to finish): resolve the init
// (preset, spec overrides, or the critical spec designed for the run), train, ask the theory about
// the init at the run's T, and write the results line (docs/experiments.md §Results).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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

// The keys of a results line (docs/experiments.md §Results), in the order run_unit writes them.
const std::vector<std::string>& result_keys();

// Throws an Error naming `where` unless `line` is a whole results line of run `u`: an object with
// every key of result_keys() (of the right types), u's id, u's parameters and u's sweep (spec
// hash). A line without "sweep" (written before lines carried it) is u's if the rest is.
void check_results_line(const nlohmann::json& line, const RunUnit& u, const std::string& where);

// Throws an Error naming the directory when u's run directory holds files that are not u's: no
// unit.json beside them, or a unit.json of another run or another sweep (a copied or stale
// runs/ would otherwise be resumed or reported as u). A missing or empty directory is u's, and so
// is a unit.json without "sweep" (written before units carried it) whose settings are u's.
void check_run_dir(const RunUnit& u);

// What every run would check first against its data, checked once per task before the sweep
// creates anything: the task builds from its data set (files, split) and each run's batch fits
// its training split. Throws an Error naming `source` and the first run that would fail.
void check_runs_data(const std::vector<const RunUnit*>& units, const std::string& source);

// The types of the keys a results line has (all optional but "run" and "params"); throws an Error
// naming `where` for a key of the wrong type.
void check_line_types(const nlohmann::json& line, const std::string& where);

// The run directory's finished results line, or null when it has none; a result.json that is not
// a whole line of `u` is an error naming it, never adopted.
nlohmann::json finished_result(const RunUnit& u);

}  // namespace rnnmft::sweep
