// Runs a sweep on this machine: `jobs` runs at once, each in its own process (`rnnmft sweep-run`)
// so that a crash, a divergence or a kill loses at most the runs in flight, which a rerun of the
// same command continues from their checkpoints (docs/experiments.md §Sweeps).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/sweep_spec.h"

namespace rnnmft::sweep {

struct SweepOptions {
  std::string out;   // DIR: sweep.json, results.jsonl, runs/<id>/
  int jobs = 0;      // runs at once (0: cores / threads per run)
  bool quiet = false;
  std::string exe;   // this program (to start `sweep-run` children)
};

struct SweepSummary {
  size_t total = 0, already = 0, finished = 0, diverged = 0, failed = 0;
};

// Creates DIR and DIR/sweep.json, or checks that an existing DIR was made by the same spec.
void prepare_out_dir(const SweepSpec& spec, const std::string& out);

// The lines of a results.jsonl (none when it does not exist), each an object with "run"; an
// incomplete last line from a crash is skipped, any other bad line is an error naming it.
std::vector<nlohmann::json> read_results(const std::string& results_path);

// The revision of the sources this program was built from ("unknown" outside a git checkout).
std::string git_revision();

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& opt);

}  // namespace rnnmft::sweep
