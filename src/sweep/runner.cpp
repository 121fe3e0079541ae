#include "sweep/runner.h"

#include <fmt/core.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "sweep/run_pack.h"
#include "sweep/run_unit.h"
#include "util/atomic_file.h"
#include "util/duration.h"
#include "util/error.h"
#include "util/json_read.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft::sweep {

std::string git_revision() {
  const std::string cmd =
      fmt::format("git -C '{}' describe --always --dirty --abbrev=12 2>/dev/null", RNNMFT_SOURCE_DIR);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "unknown";
  char buf[128] = {0};
  const bool got = fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  std::string s = got ? buf : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

void prepare_out_dir(const SweepSpec& spec, const std::string& out) {
  const fs::path dir(out), sj = dir / "sweep.json";
  const std::string mine = spec.canonical().dump(2) + "\n";
  if (fs::is_regular_file(sj)) {
    // The runs are defined by base and grid; name, description and report hints may change.
    SweepSpec theirs;
    try {
      theirs = SweepSpec::load(sj.string());
    } catch (const Error& e) {
      fail("{}: not a sweep spec this program wrote ({})", absolute_path(sj.string()), e.what());
    }
    if (theirs.runs_hash() != spec.runs_hash())
      fail(
          "{} holds a sweep made from a different spec ({}): its results would not be comparable. "
          "Use another --out, or the spec it was made from",
          absolute_path(out), absolute_path(sj.string()));
    return;
  }
  if (fs::exists(dir / "results.jsonl"))
    fail("{}: has results.jsonl but no sweep.json: not a sweep directory this program made",
         absolute_path(out));
  fs::create_directories(dir / "runs");
  write_file_atomic(sj.string(), mine);
}

std::vector<json> read_results(const std::string& results_path, const LineCheck& check) {
  std::vector<json> out;
  std::ifstream in(results_path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    json j;
    try {
      j = parse_json(line);
      j.at("run").get<std::string>();
    } catch (const json::exception& e) {
      // A last line without its newline is one cut off by a crash (each line is written whole,
      // newline last); any other bad line is not ours to drop.
      if (in.eof()) break;
      fail(
          "{}:{}: not a results line ({}). Delete that line: `rnnmft sweep` writes a finished "
          "run's line again from its run directory",
          absolute_path(results_path), n, e.what());
    }
    if (check) check(j, fmt::format("{}:{}", absolute_path(results_path), n));
    out.push_back(std::move(j));
  }
  return out;
}

LineCheck lines_of(const std::vector<RunUnit>& units) {
  auto index = std::make_shared<std::map<std::string, const RunUnit*>>();
  for (const auto& u : units) (*index)[u.id] = &u;
  const std::string hash = units.empty() ? "" : units.front().sweep;
  return [index, hash](const json& l, const std::string& where) {
    const std::string id = l["run"].get<std::string>();
    auto it = index->find(id);
    if (it == index->end())
      fail("{}: run {} is not a run of this sweep (its grid has no such run{})", where, id,
           l.is_object() && l.contains("sweep") && l["sweep"] != hash
               ? fmt::format("; the line is of a sweep with spec hash {}", l["sweep"].dump())
               : "");
    try {
      check_results_line(l, *it->second, where);
    } catch (const Error& e) {
      fail("{}. Delete that line: `rnnmft sweep` writes a finished run's line again from its run "
           "directory",
           e.what());
    }
  };
}

// Drops a crash's incomplete last line from the file itself, so that appends start on a new line.
static std::vector<json> repair_and_read(const std::string& results_path,
                                         const LineCheck& check) {
  if (fs::exists(results_path) && drop_partial_last_line(results_path))
    fmt::print(stderr, "warning: {}: dropped an incomplete last line (a run cut off mid-write)\n",
               absolute_path(results_path));
  return read_results(results_path, check);
}

void parse_shard(const std::string& text, int& shard, int& shards) {
  int i = -1, n = -1;
  char slash = 0, tail = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &i, &slash, &n, &tail) != 3 || slash != '/')
    fail("--shard '{}' is not i/n (part i of n, counted from 0: 0/4 … 3/4)", text);
  if (n < 1 || i < 0 || i >= n)
    fail("--shard '{}': need 0 ≤ i < n (part i of n, counted from 0: 0/{} … {}/{})", text,
         std::max(n, 1), std::max(n, 1) - 1, std::max(n, 1));
  shard = i;
  shards = n;
}

std::string lock_path(const SweepOptions& opt) {
  return opt.shards > 1
             ? (fs::path(opt.out) / "parts" / fmt::format(".lock-{}-of-{}", opt.shard, opt.shards))
                   .string()
             : (fs::path(opt.out) / ".lock").string();
}

int launched_processes() {
  // OpenMPI's mpirun, PMI launchers (MPICH, Intel MPI), and a Slurm step started by srun.
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"})
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 1) return n;
    }
  return 1;
}

SweepPlan plan_sweep(std::vector<RunUnit> units, const SweepOptions& opt) {
  SweepPlan p;
  p.units = std::move(units);
  const fs::path dir(opt.out);
  const std::string merged = (dir / "results.jsonl").string();
  p.results = opt.shards > 1 ? (dir / "parts" /
                                fmt::format("results-{}-of-{}.jsonl", opt.shard, opt.shards))
                                   .string()
                             : merged;
  std::set<std::string> done_before;
  const LineCheck ours = lines_of(p.units);
  for (auto& l : repair_and_read(p.results, ours)) {
    done_before.insert(l["run"].get<std::string>());
    p.earlier.push_back(std::move(l));
  }
  // A sharded sweep after a merge (or a re-sharded one): what results.jsonl holds is done.
  if (p.results != merged)
    for (const auto& l : read_results(merged, ours)) done_before.insert(l["run"].get<std::string>());
  std::vector<json> adopted;  // appended once every run has been checked: a refusal adds nothing
  for (size_t k = 0; k < p.units.size(); ++k) {
    if (int(k % size_t(opt.shards)) != opt.shard) continue;
    const RunUnit& u = p.units[k];
    ++p.summary.total;
    if (done_before.count(u.id)) {
      ++p.summary.already;
      continue;
    }
    // A run another sweep process is training (another sharding, an MPI job) is its to check
    // and finish: start_job leaves it to that process.
    const fs::path rd(u.config.at("out").get<std::string>());
    std::optional<FileLock> run_lock;
    if (fs::is_directory(rd)) {
      run_lock.emplace((rd / ".lock").string(), false);
      if (!run_lock->held()) {
        p.todo.push_back(&u);
        continue;
      }
    }
    // Its directory is the run's own (not a copied or stale runs/ of another sweep), and when
    // finished but its line never reached this results file (a kill, another sharding), that line.
    check_run_dir(u);
    json r = finished_result(u);
    if (!r.is_null()) {
      ++p.summary.already;
      adopted.push_back(std::move(r));
      continue;
    }
    p.todo.push_back(&u);
  }
  for (auto& r : adopted) {
    append_line(p.results, r.dump());
    p.earlier.push_back(std::move(r));
  }
  return p;
}

std::vector<const RunUnit*> runs_to_check(const std::vector<RunUnit>& units,
                                          const SweepOptions& opt) {
  std::vector<const RunUnit*> out;
  for (size_t k = 0; k < units.size(); ++k)
    if (int(k % size_t(opt.shards)) == opt.shard &&
        !fs::exists(fs::path(units[k].config.at("out").get<std::string>()) / "result.json"))
      out.push_back(&units[k]);
  return out;
}

std::unique_ptr<FileLock> claim_sweep_dir(const SweepSpec& spec, const SweepOptions& opt) {
  const fs::path dir(opt.out);
  if (fs::exists(dir) && !fs::is_directory(dir))
    fail("{}: exists and is not a directory", absolute_path(opt.out));
  if (fs::exists(dir / "results.jsonl") && !fs::exists(dir / "sweep.json"))
    fail("{}: has results.jsonl but no sweep.json: not a sweep directory this program made",
         absolute_path(opt.out));
  fs::create_directories(opt.shards > 1 ? dir / "parts" : dir);
  // One sweep (or one copy of a shard) per directory at a time: two would train the same runs
  // and append twice. Nothing is written before this lock is held.
  auto lock = std::make_unique<FileLock>(lock_path(opt), false);
  if (!lock->held())
    fail("{}: another rnnmft sweep{} is running in this directory (wait for it, or stop it and "
         "rerun to resume)",
         absolute_path(opt.out),
         opt.shards > 1 ? fmt::format(" of shard {}/{}", opt.shard, opt.shards) : "");
  // Shards of two specs hold different locks: sweep.json is checked and written by one of them
  // at a time, so the second sees the first's spec and refuses.
  FileLock spec_lock((dir / ".spec.lock").string());
  prepare_out_dir(spec, opt.out);
  return lock;
}

namespace {

// The best test accuracy so far and the parameters of its run, for the progress lines.
struct BestRun {
  double acc = -1;
  std::string what;
  void note(const json& line) {
    if (line["final_test_acc"].is_number() && line["final_test_acc"].get<double>() > acc) {
      acc = line["final_test_acc"];
      what = line["params"].dump();
    }
  }
  std::string text() const {
    return acc >= 0 ? fmt::format("{:.4f} {}", acc, what) : std::string("-");
  }
};

// Jobs at once: --jobs, or one ensemble at a time on one GPU, or as many runs as the cores hold.
int parallel_jobs(const SweepPlan& plan, const SweepOptions& opt) {
  int threads = 1;
  bool gpu = false;
  for (const auto& u : plan.units) threads = std::max(threads, u.config.at("threads").get<int>());
  for (const RunUnit* u : plan.todo) gpu |= u->config.value("device", "") == "cuda";
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return opt.jobs > 0 ? opt.jobs : gpu ? 1 : std::max(1, cores / threads);
}

void announce(const SweepSpec& spec, const SweepOptions& opt, const SweepPlan& plan,
              const std::vector<Job>& all_jobs, int jobs) {
  size_t packed = 0;
  for (const auto& j : all_jobs) packed += j.size() > 1 ? 1 : 0;
  const size_t largest =
      all_jobs.empty() ? 0
                       : std::max_element(all_jobs.begin(), all_jobs.end(),
                                          [](const Job& a, const Job& b) {
                                            return a.size() < b.size();
                                          })->size();
  fmt::print(stderr,
             "sweep {}{}: {} runs, {} already finished, {} to do{}, {} at once; results in {}\n",
             spec.name.empty() ? "" : spec.name,
             opt.shards > 1 ? fmt::format(" (shard {}/{})", opt.shard, opt.shards) : "",
             plan.summary.total, plan.summary.already, plan.todo.size(),
             packed ? fmt::format(" ({} ensemble{} of up to {})", packed, packed > 1 ? "s" : "",
                                  largest)
                    : "",
             jobs, absolute_path(plan.results));
}

// Runs the jobs `jobs` at a time, each in a process of its own, appending each finished run's
// line to the results file as its process ends.
class JobQueue {
 public:
  JobQueue(const SweepPlan& plan, const SweepOptions& opt, int jobs, SweepSummary& sum,
           BestRun& best)
      : plan_(plan), opt_(opt), jobs_(jobs), sum_(sum), best_(best),
        tty_(isatty(2) && !opt.quiet), t0_(std::chrono::steady_clock::now()) {}

  void run(std::deque<Job> todo) {
    while (!todo.empty() || !running_.empty()) {
      while (!todo.empty() && int(running_.size()) < jobs_) {
        start(todo.front());
        todo.pop_front();
      }
      show();
      int status = 0;
      const pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) {
        if (errno == EINTR) continue;
        fail("waiting for the run processes failed");
      }
      auto it = running_.find(pid);
      if (it == running_.end()) continue;
      const StartedJob r = std::move(it->second);
      running_.erase(it);
      running_runs_ -= r.job.size();
      collect(r, status);
    }
    if (tty_) fmt::print(stderr, "\r\033[K");
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  void start(const Job& job) {
    StartedJob r = start_job(job, opt_);
    for (const RunUnit* u : r.busy) {
      ++sum_.busy;
      if (tty_) fmt::print(stderr, "\r\033[K");
      fmt::print(stderr, "run {} is being trained by another sweep process: left to it\n", u->id);
    }
    if (r.pid < 0) return;
    running_runs_ += r.job.size();
    running_[r.pid] = std::move(r);
  }
  void collect(const StartedJob& r, int status) {
    const JobOutcome o = finish_job(r, status);
    done_now_ += r.job.size();
    for (const json& line : o.lines) {
      append_line(plan_.results, line.dump());
      ++sum_.finished;
      if (line["diverged"].get<bool>()) ++sum_.diverged;
      best_.note(line);
    }
    for (const std::string& f : o.failures) {
      ++sum_.failed;
      if (tty_) fmt::print(stderr, "\r\033[K");
      fmt::print(stderr, "{}", f);
    }
  }
  void show() const {
    if (!tty_) return;
    const double el = elapsed();
    const size_t to_do = plan_.todo.size();
    const double eta = done_now_ ? el / double(done_now_) * double(to_do - done_now_) : NAN;
    fmt::print(stderr, "\r\033[K[sweep] {}/{} runs  running {}  ETA {}  best test acc {}",
               sum_.already + done_now_, sum_.total, running_runs_, format_duration(eta),
               best_.text());
  }

  const SweepPlan& plan_;
  const SweepOptions& opt_;
  const int jobs_;
  SweepSummary& sum_;
  BestRun& best_;
  const bool tty_;
  const std::chrono::steady_clock::time_point t0_;
  std::map<pid_t, StartedJob> running_;
  size_t running_runs_ = 0, done_now_ = 0;
};

}  // namespace

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& opt) {
  // Every run's settings are checked (expand) before the directory exists: a spec refused here
  // leaves nothing that would make its corrected version "a different spec".
  std::vector<RunUnit> expanded = expand(spec, opt.out, git_revision());
  check_runs_data(runs_to_check(expanded, opt), spec.source.empty() ? "sweep" : spec.source);
  const auto dir_lock = claim_sweep_dir(spec, opt);
  const SweepPlan plan = plan_sweep(std::move(expanded), opt);
  SweepSummary sum = plan.summary;
  const int jobs = parallel_jobs(plan, opt);
  BestRun best;
  for (const auto& l : plan.earlier) best.note(l);
  const std::vector<Job> all_jobs = make_jobs(plan.todo, opt.pack);
  if (!opt.quiet) announce(spec, opt, plan, all_jobs, jobs);
  JobQueue queue(plan, opt, jobs, sum, best);
  queue.run(std::deque<Job>(all_jobs.begin(), all_jobs.end()));
  if (!opt.quiet)
    fmt::print(stderr,
               "sweep done: {} runs finished now ({} diverged), {} before, {} failed{}, in {}; best "
               "test accuracy {}\n",
               sum.finished, sum.diverged, sum.already, sum.failed,
               sum.busy ? fmt::format(", {} left to another sweep process", sum.busy) : "",
               format_duration(queue.elapsed()), best.text());
  return sum;
}

}  // namespace rnnmft::sweep
