// The protocol (docs/cluster.md §MPI): a worker sends kReady with what its last job gave ("" at
// the start; then {"lines": [...], "failed": [...], "busy": [...]}), rank 0 answers kWork with the
// grid indices of the next job's runs (one run, or a pack trained as one ensemble), or none when
// there is nothing left.
#include "sweep/mpi_sweep.h"

#include <fmt/core.h>
#include <mpi.h>

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <string>

#include "sweep/run_unit.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_read.h"

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
  std::vector<RunUnit> units = expand(spec, opt.out, git_revision());  // checked before DIR exists
  check_runs_data(runs_to_check(units, opt), spec.source.empty() ? "sweep" : spec.source);
  const auto dir_lock = claim_sweep_dir(spec, opt);
  SweepPlan plan = plan_sweep(std::move(units), opt);
  SweepSummary sum = plan.summary;
  const std::vector<Job> jobs = make_jobs(plan.todo, opt.pack, ranks - 1);
  std::deque<Job> todo(jobs.begin(), jobs.end());
  if (!opt.quiet)
    fmt::print(stderr,
               "sweep {} on {} MPI ranks: {} runs, {} already finished, {} to do as {} jobs (a "
               "run, or runs packed into one ensemble), one per worker rank at a time; results in "
               "{}\n",
               spec.name, ranks, sum.total, sum.already, plan.todo.size(), jobs.size(),
               absolute_path(plan.results));
  int active = ranks - 1;
  while (active > 0) {
    int from = 0;
    const std::string msg = recv_text(kReady, from);
    if (!msg.empty()) {
      const json report = parse_json(msg);
      for (const auto& b : report.at("busy")) {
        ++sum.busy;
        fmt::print(stderr, "rank {}: run {} is being trained by another sweep process: left to "
                   "it\n", from, b.get<std::string>());
      }
      for (const auto& f : report.at("failed")) {
        ++sum.failed;
        fmt::print(stderr, "rank {}: {}", from, f.get<std::string>());
      }
      for (const auto& line : report.at("lines")) {
        append_line(plan.results, line.dump());  // one writer: rank 0
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
    }
    std::vector<int> next;
    if (!todo.empty()) {
      for (const RunUnit* u : todo.front()) next.push_back(int(u - plan.units.data()));
      todo.pop_front();
    } else {
      --active;
    }
    MPI_Send(next.data(), int(next.size()), MPI_INT, from, kWork, MPI_COMM_WORLD);
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
    MPI_Status st;
    MPI_Probe(0, kWork, MPI_COMM_WORLD, &st);
    int n = 0;
    MPI_Get_count(&st, MPI_INT, &n);
    std::vector<int> next(size_t(std::max(n, 0)));
    MPI_Recv(next.data(), n, MPI_INT, 0, kWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (next.empty()) return;
    Job job;
    for (int k : next) {
      if (k < 0 || size_t(k) >= units.size())
        fail("rank 0 sent run {} of a {}-run grid", k, units.size());
      job.push_back(&units[size_t(k)]);
    }
    json report = {{"lines", json::array()}, {"failed", json::array()}, {"busy", json::array()}};
    try {  // this job only: the rank goes on with the next
      StartedJob s = start_job(job, opt);
      for (const RunUnit* u : s.busy) report["busy"].push_back(u->id);
      if (s.pid >= 0) {
        int status = 0;
        while (waitpid(s.pid, &status, 0) < 0)
          if (errno != EINTR) fail("waiting for the run process of {} failed", s.job[0]->id);
        const JobOutcome o = finish_job(s, status);
        for (const auto& l : o.lines) report["lines"].push_back(l);
        for (const auto& f : o.failures) report["failed"].push_back(f);
      }
    } catch (const std::exception& e) {
      for (const RunUnit* u : job)
        report["failed"].push_back(
            fmt::format("run {} could not be started: {}\n", u->id, e.what()));
    }
    msg = report.dump();
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
