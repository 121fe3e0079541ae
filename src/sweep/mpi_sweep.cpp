// The protocol (docs/cluster.md §MPI): a worker sends kReady with its last
// results line ("" at the start, "!reason" for a run that failed), rank 0 answers kWork with the
// index of the next run in the grid, or −1 when there is none left.
#include "sweep/mpi_sweep.h"

#include <fmt/core.h>
#include <mpi.h>

#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <string>

#include "sweep/run_unit.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft::sweep {

namespace {

constexpr int kReady = 1, kWork = 2;

struct MpiSession {
  MpiSession() {
    int done = 0;
    MPI_Initialized(&done);
    if (!done) MPI_Init(nullptr, nullptr);
  }
  ~MpiSession() {
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
  }
};

void send_text(const std::string& s, int to, int tag) {
  MPI_Send(s.data(), int(s.size()), MPI_CHAR, to, tag, MPI_COMM_WORLD);
}

std::string recv_text(int tag, int& from) {
  MPI_Status st;
  MPI_Probe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &st);
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  std::string s(size_t(n), '\0');
  MPI_Recv(s.data(), n, MPI_CHAR, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  from = st.MPI_SOURCE;
  return s;
}

SweepSummary coordinate(const SweepSpec& spec, const SweepOptions& opt, int ranks) {
  prepare_out_dir(spec, opt.out);
  if (opt.shards > 1) fs::create_directories(fs::path(opt.out) / "parts");
  FileLock dir_lock(lock_path(opt), false);
  if (!dir_lock.held())
    fail("{}: another rnnmft sweep is running in this directory (wait for it, or stop it and "
         "rerun to resume)",
         absolute_path(opt.out));
  SweepPlan plan = plan_sweep(spec, opt);
  SweepSummary sum = plan.summary;
  std::deque<const RunUnit*> todo(plan.todo.begin(), plan.todo.end());
  if (!opt.quiet)
    fmt::print(stderr,
               "sweep {} on {} MPI ranks: {} runs, {} already finished, {} to do, one per worker "
               "rank at a time; results in {}\n",
               spec.name, ranks, sum.total, sum.already, todo.size(), absolute_path(plan.results));
  int active = ranks - 1;
  while (active > 0) {
    int from = 0;
    const std::string msg = recv_text(kReady, from);
    if (msg.rfind("!busy: ", 0) == 0) {
      ++sum.busy;
      fmt::print(stderr, "rank {}: {}", from, msg.substr(7));
    } else if (!msg.empty() && msg[0] == '!') {
      ++sum.failed;
      fmt::print(stderr, "rank {}: {}", from, msg.substr(1));
    } else if (!msg.empty()) {
      const json line = json::parse(msg);
      append_line(plan.results, msg);  // one writer: rank 0
      ++sum.finished;
      if (line.value("diverged", false)) ++sum.diverged;
      if (!opt.quiet)
        fmt::print(stderr, "[sweep] {}/{} runs: {} {} finished on rank {} (test acc {})\n",
                   sum.already + sum.finished + sum.failed, sum.total,
                   line["run"].get<std::string>(), line["params"].dump(), from,
                   line["final_test_acc"].is_number()
                       ? fmt::format("{:.4f}", line["final_test_acc"].get<double>())
                       : std::string("-"));
    }
    int next = -1;
    if (!todo.empty()) {
      next = int(todo.front() - plan.units.data());
      todo.pop_front();
    } else {
      --active;
    }
    MPI_Send(&next, 1, MPI_INT, from, kWork, MPI_COMM_WORLD);
  }
  if (!opt.quiet)
    fmt::print(stderr,
               "sweep done: {} runs finished now ({} diverged), {} before, {} failed{}\n",
               sum.finished, sum.diverged, sum.already, sum.failed,
               sum.busy ? fmt::format(", {} left to another sweep process", sum.busy) : "");
  return sum;
}

void work(const SweepSpec& spec, const SweepOptions& opt) {
  // The same grid in the same order as rank 0's (expand is deterministic).
  const std::vector<RunUnit> units = expand(spec, opt.out, git_revision());
  std::string msg;
  for (;;) {
    send_text(msg, 0, kReady);
    int next = -1;
    MPI_Recv(&next, 1, MPI_INT, 0, kWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (next < 0) return;
    if (size_t(next) >= units.size()) fail("rank 0 sent run {} of a {}-run grid", next, units.size());
    std::string failure;
    try {
      const json r = run_unit_process(units[size_t(next)], opt.exe, failure);
      msg = r.is_null() ? "!" + failure : r.dump();
    } catch (const std::exception& e) {  // this run only: the rank goes on with the next
      msg = fmt::format("!run {} could not be started: {}\n", units[size_t(next)].id, e.what());
    }
  }
}

}  // namespace

bool mpi_built() {
  return true;
}

SweepSummary run_sweep_mpi(const SweepSpec& spec, const SweepOptions& opt) {
  MpiSession session;
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (ranks == 1) {
    fmt::print(stderr,
               "warning: the launcher started several processes but MPI sees one (an MPI other "
               "than the one this rnnmft was built with?); running the sweep here alone\n");
    return run_sweep(spec, opt);
  }
  try {
    if (rank == 0) return coordinate(spec, opt, ranks);
    work(spec, opt);
    return {};
  } catch (const std::exception& e) {
    // The other ranks wait on this one: end the whole job with the reason.
    fmt::print(stderr, "rnnmft: error (rank {}): {}\n", rank, e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return {};
  }
}

}  // namespace rnnmft::sweep
