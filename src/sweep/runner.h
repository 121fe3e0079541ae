// Runs a sweep on this machine: `jobs` runs at once, each in its own process (`rnnmft sweep-run`)
// so that a crash, a divergence or a kill loses at most the runs in flight, which a rerun of the
// same command continues from their checkpoints (docs/experiments.md §Sweeps).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/sweep_spec.h"
#include "util/atomic_file.h"

namespace rnnmft::sweep {

struct SweepOptions {
  std::string out;   // DIR: sweep.json, results.jsonl, runs/<id>/
  int jobs = 0;      // runs at once (0: cores / threads per run)
  bool quiet = false;
  std::string exe;   // this program (to start `sweep-run` children)
  // Part `shard` of `shards` (job arrays, docs/cluster.md): the runs whose index in the grid is
  // shard mod shards; results in DIR/parts/results-<shard>-of-<shards>.jsonl.
  int shard = 0, shards = 1;
  // Runs trained together as one ensemble, at most (runs on cuda or cpu-ensemble of one shape,
  // sweep/run_pack.h; 0: 256 on cuda, 1 on cpu-ensemble). An ensemble that does not fit in the
  // GPU's memory is split.
  int pack = 0;
};

// The work of one process: one run, or runs trained as one ensemble.
using Job = std::vector<const RunUnit*>;
// The runs to do as jobs, in grid order: runs that can share an ensemble in packs of up to
// `pack` (SweepOptions::pack; 0: on cuda 256, or fewer so that each of `workers` processes — MPI's
// worker ranks — gets a pack of every shape), the others one by one.
std::vector<Job> make_jobs(const std::vector<const RunUnit*>& todo, int pack, int workers = 1);

// "i/n" with 0 ≤ i < n (throws with the reason otherwise).
void parse_shard(const std::string& text, int& shard, int& shards);

struct SweepSummary {
  size_t total = 0, already = 0, finished = 0, diverged = 0, failed = 0;
  size_t busy = 0;  // left to another sweep process that holds the run's lock
};

// Creates DIR/sweep.json, or checks that an existing one was written for the same runs (base and
// grid). Called with the sweep's lock held, under DIR/.spec.lock: two sweeps started at once on a
// fresh DIR cannot both write it.
void prepare_out_dir(const SweepSpec& spec, const std::string& out);

// Checks one line of a results file; `where` is "path:line". Throws an Error to refuse it.
using LineCheck = std::function<void(const nlohmann::json& line, const std::string& where)>;

// The lines of a results.jsonl (none when it does not exist), each an object with "run" and
// passing `check` when given; an incomplete last line from a crash is skipped, any other bad line
// is an error naming it.
std::vector<nlohmann::json> read_results(const std::string& results_path,
                                         const LineCheck& check = {});

// A LineCheck for the results of `units` (one sweep): the line's run is one of them and the line
// is a whole line of that run (check_results_line).
LineCheck lines_of(const std::vector<RunUnit>& units);

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
// `units`: expand(spec, opt.out, git_revision()), made before the directory is claimed.
SweepPlan plan_sweep(std::vector<RunUnit> units, const SweepOptions& opt);

// The runs of this shard whose directories hold no result.json yet: those whose data must be
// there (check_runs_data) before the sweep starts.
std::vector<const RunUnit*> runs_to_check(const std::vector<RunUnit>& units,
                                          const SweepOptions& opt);

// A job's process, started (`exe sweep-run` for one run, `exe sweep-run-pack` for several): the
// locks of its runs are held until it is finished; runs whose lock another sweep process holds
// are left to it (`busy`). pid −1: nothing was started.
struct StartedJob {
  pid_t pid = -1;
  Job job;  // the runs it trains
  std::string log;
  std::vector<std::unique_ptr<FileLock>> locks;
  std::vector<const RunUnit*> busy;
  std::filesystem::file_time_type started;  // a pack's start (its runs' own output is newer)
};
StartedJob start_job(const Job& job, const SweepOptions& opt);

// After the process ended with wait status `status`: the results lines of its runs that finished
// (a pack's finished runs count even when another of its runs failed) and a message for each that
// did not, naming the run, the exit and the end of its output.
struct JobOutcome {
  std::vector<nlohmann::json> lines;
  std::vector<std::string> failures;
};
JobOutcome finish_job(const StartedJob& s, int status);

// What `sweep` does before planning, on one process (rank 0 under MPI): DIR prepared for the spec
// (prepare_out_dir) and the sweep's (or shard's) lock taken, or an error naming the other sweep.
std::unique_ptr<FileLock> claim_sweep_dir(const SweepSpec& spec, const SweepOptions& opt);

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
