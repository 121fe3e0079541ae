// Sweeps (docs/experiments.md §Sweeps): a grid of training runs from one JSON spec. The unit of
// work is one run, described by JSON (RunUnit), so the same runs can be handed to local
// processes, MPI ranks or a GPU engine.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rnnmft::sweep {

using ojson = nlohmann::ordered_json;

// One axis of the grid: a training option ("seed", "init", "seq_len", …) or a spec parameter
// ("forget.bias_mean"), with its values in grid order.
struct Axis {
  std::string name;
  bool spec_param = false;  // "gate.param"
  std::vector<nlohmann::json> values;
};

struct SweepSpec {
  std::string name, description;
  nlohmann::json base;      // training options and spec parameters shared by every run
  std::vector<Axis> axes;   // in the order the spec lists them
  nlohmann::json report;    // hints for `rnnmft report` (threshold)
  std::string source;       // the file it came from, for messages

  // Strict: unknown keys, bad axis names, wrong value types, empty grids and malformed ranges
  // are errors naming `where` and the key.
  static SweepSpec parse(const ojson& j, const std::string& where);
  static SweepSpec load(const std::string& path);
  // The normalised spec, as stored in DIR/sweep.json (what "the same spec" means on resume).
  ojson canonical() const;
  // What defines its runs (base and grid; not name, description or report), hashed: every
  // results line and run directory of the sweep carries it.
  std::string runs_hash() const;
  // The number of runs; SIZE_MAX when the product of the axes' lengths does not fit.
  size_t size() const;
  // Run r's value on each axis (r < size(); the first axis slowest).
  nlohmann::json point(size_t r) const;
};

// One run of a sweep, self-contained: what to train and where.
struct RunUnit {
  std::string id;                 // stable: derived from params alone
  std::string sweep;              // SweepSpec::runs_hash of the sweep it belongs to
  nlohmann::json params;          // axis name → value
  nlohmann::json config;          // TrainConfig JSON (out = the run directory)
  nlohmann::json spec_overrides;  // "gate.param" → value
  nlohmann::json critical_fix;    // "gate.param" → value, for init "critical-v1" (or "critical")
  std::string critical_criterion;  // "" (default), tied or untied
  // critical_fix or critical_criterion set: knobs of v1's solve (theory::critical_design).
  bool asks_v1_solve() const { return !critical_fix.empty() || !critical_criterion.empty(); }
  std::string git;                // revision of the code that made the unit
  std::string cache_dir;          // shared by the sweep's runs: critical specs solved once

  nlohmann::json to_json() const;
  static RunUnit from_json(const nlohmann::json& j, const std::string& where);
};

// Stable id of a run from its axis values: "r" + 16 hex digits of a 64-bit FNV-1a hash of the
// canonical JSON of params (keys sorted, integers as integers). The hash starts from
// 1469598103934665603, not FNV's 14695981039346656037: ids already in results files depend on it.
std::string run_id(const nlohmann::json& params);
// 16 hex digits of the 64-bit FNV-1a hash of `text`.
std::string stable_hash(const std::string& text);

// The Cartesian product of the axes, first axis slowest; `out_dir` holds runs/<id>/. Every run's
// training configuration is validated here, before any work starts.
std::vector<RunUnit> expand(const SweepSpec& spec, const std::string& out_dir,
                            const std::string& git = "");

// The training options a sweep accepts (train's long option names with '_' for '-').
const std::vector<std::string>& option_names();

}  // namespace rnnmft::sweep
