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
  // Part `shard` of `shards` (job arrays, docs/cluster.md): the runs whose index in the grid is
  // shard mod shards; results in DIR/parts/results-<shard>-of-<shards>.jsonl.
  int shard = 0, shards = 1;
};

// "i/n" with 0 ≤ i < n (throws with the reason otherwise).
void parse_shard(const std::string& text, int& shard, int& shards);

struct SweepSummary {
  size_t total = 0, already = 0, finished = 0, diverged = 0, failed = 0;
  size_t busy = 0;  // left to another sweep process that holds the run's lock
};

// Creates DIR and DIR/sweep.json, or checks that an existing DIR was made by the same spec.
void prepare_out_dir(const SweepSpec& spec, const std::string& out);

// The lines of a results.jsonl (none when it does not exist), each an object with "run"; an
// incomplete last line from a crash is skipped, any other bad line is an error naming it.
std::vector<nlohmann::json> read_results(const std::string& results_path);

// The revision of the sources this program was built from ("unknown" outside a git checkout).
std::string git_revision();

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& opt);

// What a sweep (or one shard of it) has to do: its runs, the results file it appends to, the
// runs already finished (their lines there, in DIR/results.jsonl, or in their run directories,
// whose lines are appended now) and those left to run, in grid order.
struct SweepPlan {
  std::vector<RunUnit> units;
  std::string results;
  std::vector<const RunUnit*> todo;
  SweepSummary summary;
  std::vector<nlohmann::json> earlier;  // the finished runs' lines
};
SweepPlan plan_sweep(const SweepSpec& spec, const SweepOptions& opt);

// Runs one unit in its own process (`exe sweep-run`) and waits for it: its results line, or null
// with `failure` saying why (exit status or signal, and the end of its output).
nlohmann::json run_unit_process(const RunUnit& u, const std::string& exe, std::string& failure);

// The lock that keeps two sweeps (or two copies of one shard) out of each other's runs.
std::string lock_path(const SweepOptions& opt);

// `sweep --merge DIR`: the parts of a sharded sweep (and any results.jsonl) into one
// DIR/results.jsonl with exactly one line per run, in grid order. Refuses (naming the file) a
// line of a run that is not in DIR's sweep, two different lines for one run, and missing runs.
struct MergeSummary {
  size_t runs = 0, parts = 0, lines = 0;
};
MergeSummary merge_sweep(const std::string& dir);

// The number of processes mpirun or srun started this program as one of (1 when not launched
// so), from their environment.
int launched_processes();

}  // namespace rnnmft::sweep
