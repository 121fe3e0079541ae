// `rnnmft sweep` (a grid of training runs), its per-run worker `sweep-run`, and `rnnmft report`.
#include <fmt/core.h>
#include <sys/wait.h>

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <map>

#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "report_py.h"
#include "spec/init_spec.h"
#include "sweep/run_pack.h"
#include "sweep/run_unit.h"
#include "sweep/mpi_sweep.h"
#include "sweep/runner.h"
#include "theory/phase.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_read.h"

namespace rnnmft::cli {

// What `report` accepts from results.jsonl: whole lines of runs of the directory's grid, one per
// run. Lines written before results carried the spec hash ("sweep") or train_curve are read; one
// that carries a spec hash must carry this spec's.
sweep::LineCheck report_lines(const sweep::SweepSpec& spec) {
  auto ids = std::make_shared<std::map<std::string, nlohmann::json>>();
  for (size_t r = 0; r < spec.size(); ++r) {
    nlohmann::json p = spec.point(r);
    const std::string id = sweep::run_id(p);
    (*ids)[id] = std::move(p);
  }
  const std::string hash = spec.runs_hash();
  auto seen = std::make_shared<std::map<std::string, std::string>>();  // run → its line's place
  return [ids, hash, seen](const nlohmann::json& l, const std::string& where) {
    // "sweep" and "train_curve" came later than the rest; report.py reads lines without them.
    for (const auto& k : sweep::result_keys())
      if (k != "sweep" && k != "train_curve" && !l.contains(k))
        fail("{}: not a whole results line: '{}' is missing", where, k);
    sweep::check_line_types(l, where);
    const std::string id = l["run"].get<std::string>();
    auto it = ids->find(id);
    if (it == ids->end())
      fail("{}: run {} is not a run of this directory's sweep.json", where, id);
    if (l["params"] != it->second)
      fail("{}: run {} has parameters {}, but sweep.json's run {} has {}", where, id,
           l["params"].dump(), id, it->second.dump());
    if (l.contains("sweep") && l["sweep"] != hash)
      fail("{}: run {} of another sweep (spec hash {}, sweep.json's is {})", where, id,
           l["sweep"].dump(), hash);
    // One row per run: a second line would be drawn twice.
    if (!seen->emplace(id, where).second)
      fail("{}: a second line of run {} (the first is {}); delete one", where, id,
           seen->at(id));
  };
}

namespace {

}  // namespace
namespace {

namespace fs = std::filesystem;
using nlohmann::json;


// For a grid over two spec parameters: the theory's ξ on a finer grid over the same ranges, per
// setting of the other axes (but the seed), from that setting's spec at its T and R. Writes
// OUT/phase_<k>.csv and OUT/phase_index.json for the plotting script.
void write_phase_grids(const sweep::SweepSpec& spec, const std::vector<json>& runs,
                       const std::string& out, int n) {
  std::vector<const sweep::Axis*> sa;
  for (const auto& a : spec.axes)
    if (a.spec_param) sa.push_back(&a);
  json index = json::array();
  if (sa.size() == 2) {
    std::map<std::string, const json*> groups;
    for (const auto& r : runs) {
      json g = r.at("params");
      g.erase(sa[0]->name);
      g.erase(sa[1]->name);
      g.erase("seed");
      if (!r["spec"].is_null()) groups.emplace(g.dump(), &r);
    }
    int k = 0;
    for (const auto& [gkey, r] : groups) {
      const InitSpec base = InitSpec::from_json((*r)["spec"], "results.jsonl spec");
      auto range = [&](const sweep::Axis& a) {
        theory::Axis ax;
        ax.param = a.name;
        ax.lo = ax.hi = a.values.front().get<double>();
        for (const auto& v : a.values) {
          ax.lo = std::min(ax.lo, v.get<double>());
          ax.hi = std::max(ax.hi, v.get<double>());
        }
        ax.n = ax.lo == ax.hi ? 1 : n;
        return ax;
      };
      theory::TheoryOptions to;
      to.input_var = (*r)["input_var"];
      to.horizon = (*r)["seq_len"];
      to.samples = 4000;
      to.burn_in = 80;
      to.average = 60;
      const auto pts = theory::phase_grid(base, range(*sa[0]), range(*sa[1]), to);
      std::string csv = "x,y,xi,chi,m1\n";
      for (const auto& p : pts)
        csv += fmt::format("{:.10g},{:.10g},{},{:.10g},{:.10g}\n", p.x, p.y,
                           std::isfinite(p.r.xi()) ? fmt::format("{:.10g}", p.r.xi()) : "nan",
                           p.r.chi, p.r.jacobian.m1);
      const std::string file = fmt::format("phase_{}.csv", k++);
      write_file_atomic((fs::path(out) / file).string(), csv);
      index.push_back({{"group", json::parse(gkey)},
                       {"file", file},
                       {"x", sa[0]->name},
                       {"y", sa[1]->name},
                       {"seq_len", (*r)["seq_len"]}});
    }
  }
  write_file_atomic((fs::path(out) / "phase_index.json").string(), index.dump(2) + "\n");
}

// Runs `python - args...` with the embedded report script on its standard input (no shell: the
// paths are passed as they are). Returns the exit status (127: python could not be started).
int run_script(const std::string& python, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) fail("cannot start {}: pipe failed", python);
  const pid_t pid = fork();
  if (pid < 0) fail("cannot start {}: fork failed", python);
  if (pid == 0) {
    dup2(fds[0], 0);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv = {const_cast<char*>(python.c_str()), const_cast<char*>("-")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(python.c_str(), argv.data());
    _exit(127);
  }
  ::close(fds[0]);
  // A script that exits early closes the pipe: a write error, not a SIGPIPE that kills us.
  auto* old = std::signal(SIGPIPE, SIG_IGN);
  const std::string script = kReportPy;
  size_t done = 0;
  while (done < script.size()) {
    const ssize_t n = ::write(fds[1], script.data() + done, script.size() - done);
    if (n <= 0) break;
    done += size_t(n);
  }
  ::close(fds[1]);
  std::signal(SIGPIPE, old);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail("waiting for {} failed", python);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

void register_sweep(CLI::App& app) {
  struct Args {
    std::string spec, out, shard, merge;
    int jobs = 0, pack = 0;
    bool quiet = false, list = false;
  };
  auto a = std::make_shared<Args>();
  auto* s = app.add_subcommand(
      "sweep", "Run a grid of training runs from a JSON spec (resumable; docs/experiments.md)");
  s->add_option("spec", a->spec, "Sweep spec .json (base options, grid axes)");
  s->add_option("--out", a->out, "Sweep directory (results.jsonl, runs/<id>/)");
  s->add_option("--jobs", a->jobs, "Runs at once (default: cores / threads per run)");
  s->add_option("--pack", a->pack,
                "Runs trained at once as one ensemble on --device cuda or cpu-ensemble (default: "
                "256 on cuda, split when the GPU's memory is short; 1 on cpu-ensemble)");
  s->add_flag("--quiet", a->quiet, "No progress display");
  s->add_flag("--list", a->list, "Print the runs (id and parameters) and exit");
  s->add_option("--shard", a->shard,
                "i/n: run only part i of n (0 ≤ i < n; job arrays, docs/cluster.md)");
  s->add_option("--merge", a->merge,
                "DIR: merge a sharded sweep's parts into DIR/results.jsonl (one line per run)");
  s->callback([a] {
    if (!a->merge.empty()) {
      if (!a->spec.empty() || !a->out.empty() || !a->shard.empty())
        fail("--merge DIR takes no spec, --out or --shard (DIR's sweep.json is the spec)");
      const sweep::MergeSummary m = sweep::merge_sweep(a->merge);
      fmt::print(stderr, "merged {} lines from {} parts: {} runs in {}\n", m.lines, m.parts, m.runs,
                 absolute_path((std::filesystem::path(a->merge) / "results.jsonl").string()));
      return;
    }
    if (a->spec.empty()) fail("a sweep spec is required (rnnmft sweep SPEC.json --out DIR)");
    const sweep::SweepSpec spec = sweep::SweepSpec::load(a->spec);
    if (a->jobs < 0) fail("--jobs must be ≥ 1 (or 0: automatic), got {}", a->jobs);
    if (a->pack < 0 || a->pack > 4096)
      fail("--pack must be between 1 and 4096 (or 0: automatic), got {}", a->pack);
    if (a->list) {
      for (const auto& u : sweep::expand(spec, a->out.empty() ? "." : a->out))
        fmt::print("{}  {}\n", u.id, u.params.dump());
      return;
    }
    if (a->out.empty()) fail("--out DIR is required");
    sweep::SweepOptions o;
    o.out = a->out;
    o.jobs = a->jobs;
    o.pack = a->pack;
    o.quiet = a->quiet;
    o.exe = std::filesystem::read_symlink("/proc/self/exe").string();
    if (!a->shard.empty()) sweep::parse_shard(a->shard, o.shard, o.shards);
    const int procs = sweep::launched_processes();
    if (procs > 1 && !sweep::mpi_built())
      fail("started as one of {} processes (mpirun or srun), but this rnnmft was built without "
           "MPI: each would run the whole grid. Rebuild with libopenmpi-dev installed, or use "
           "--shard i/n with a job array (docs/cluster.md)",
           procs);
    const sweep::SweepSummary sum =
        procs > 1 ? sweep::run_sweep_mpi(spec, o) : sweep::run_sweep(spec, o);
    if (sum.failed > 0)
      fail("{} of {} runs failed (their output is in {}/runs/<id>/output.log, a pack's in "
           "packs/<first run>.log); the rest are in results.jsonl, and a rerun of the same "
           "command retries the failed ones",
           sum.failed, sum.total, absolute_path(a->out));
  });

  auto unit = std::make_shared<std::string>();
  auto* r = app.add_subcommand("sweep-run", "One run of a sweep, from its unit.json (internal)");
  r->group("");  // hidden: `sweep` starts it
  r->add_option("unit", *unit, "unit.json")->required();
  r->callback([unit] {
    std::ifstream in(*unit);
    if (!in) fail("{}: cannot open", absolute_path(*unit));
    nlohmann::json j;
    try {
      j = parse_json(in);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not valid JSON ({})", absolute_path(*unit), e.what());
    }
    const nlohmann::json line = sweep::run_unit(sweep::RunUnit::from_json(j, absolute_path(*unit)));
    fmt::print("{}\n", line.dump());
  });

  auto pack = std::make_shared<std::string>();
  auto* p = app.add_subcommand("sweep-run-pack",
                               "Runs of a sweep as one ensemble, from a pack.json (internal)");
  p->group("");  // hidden: `sweep` starts it
  p->add_option("pack", *pack, "pack.json: {\"units\": [unit.json, ...]}")->required();
  p->callback([pack] {
    const std::string where = absolute_path(*pack);
    auto read = [](const std::string& path) {
      std::ifstream in(path);
      if (!in) fail("{}: cannot open", absolute_path(path));
      try {
        return parse_json(in);
      } catch (const nlohmann::json::exception& e) {
        fail("{}: not valid JSON ({})", absolute_path(path), e.what());
      }
    };
    const nlohmann::json j = read(*pack);
    if (!j.is_object() || !j.contains("units") || !j["units"].is_array() || j["units"].empty())
      fail("{}: expected {{\"units\": [unit.json, ...]}} with at least one unit", where);
    std::vector<sweep::RunUnit> units;
    for (const auto& f : j["units"]) {
      if (!f.is_string()) fail("{}: \"units\" holds a non-string ({})", where, f.dump());
      units.push_back(sweep::RunUnit::from_json(read(f), absolute_path(f.get<std::string>())));
    }
    const sweep::PackOutcome out = sweep::run_pack(units);
    size_t failed = 0;
    for (size_t k = 0; k < units.size(); ++k)
      if (out.lines[k].is_null()) {
        ++failed;
        fmt::print(stderr, "run {} {} failed: {}\n", units[k].id, units[k].params.dump(),
                   out.errors[k]);
      }
    if (failed) fail("{} of the pack's {} runs failed", failed, units.size());
  });

  struct ReportArgs {
    std::string dir, out, metric = "final_test_acc";
    double threshold = NAN;
    int phase_n = 41;
  };
  auto ra = std::make_shared<ReportArgs>();
  auto* rep = app.add_subcommand(
      "report", "Tables and figures of a sweep: heatmaps with ξ contours, learning curves");
  rep->add_option("dir", ra->dir, "Sweep directory (results.jsonl, sweep.json)")->required();
  rep->add_option("-o,--output", ra->out, "Report directory (default DIR/report)");
  auto* thr_opt = rep->add_option(
      "--threshold", ra->threshold,
      "Accuracy that counts as trained (default: the spec's report.threshold, or 0.5)");
  rep->add_option("--metric", ra->metric, "final_test_acc or final_val_acc")
      ->capture_default_str();
  rep->add_option("--phase-n", ra->phase_n, "Theory grid points per axis for the ξ contours")
      ->capture_default_str();
  rep->callback([ra, thr_opt] {
    if (ra->metric != "final_test_acc" && ra->metric != "final_val_acc")
      fail("--metric must be final_test_acc or final_val_acc (got '{}')", ra->metric);
    if (ra->phase_n < 2 || ra->phase_n > 400)
      fail("--phase-n must be between 2 and 400 (got {})", ra->phase_n);
    const std::string sj = (fs::path(ra->dir) / "sweep.json").string();
    if (!fs::is_regular_file(sj))
      fail("{}: no sweep.json (is this a sweep directory? run rnnmft sweep SPEC --out DIR)",
           absolute_path(ra->dir));
    const sweep::SweepSpec spec = sweep::SweepSpec::load(sj);
    const std::string rp = (fs::path(ra->dir) / "results.jsonl").string();
    if (!fs::is_regular_file(rp))
      fail("{}: no results.jsonl (is this a sweep directory? run rnnmft sweep SPEC --out DIR)",
           absolute_path(ra->dir));
    const std::vector<json> runs = sweep::read_results(rp, report_lines(spec));
    if (runs.empty()) fail("{}: no finished runs yet", absolute_path(ra->dir));
    double thr = ra->threshold;
    if (thr_opt->count() == 0)
      thr = spec.report.is_object() && spec.report.contains("threshold")
                ? spec.report["threshold"].get<double>()
                : 0.5;
    if (!(thr > 0 && thr <= 1)) fail("--threshold must be in (0, 1] (got {})", thr);
    const std::string out = ra->out.empty() ? (fs::path(ra->dir) / "report").string() : ra->out;
    fs::create_directories(out);
    write_phase_grids(spec, runs, out, ra->phase_n);
    const char* env = std::getenv("RNNMFT_PYTHON");
    const std::string py = env ? env : "/usr/bin/python3";
    const int st = run_script(py, {ra->dir, out, fmt::format("{}", thr), ra->metric});
    if (st == 127)
      fail("cannot run {} (set RNNMFT_PYTHON to a python3 with matplotlib and numpy)", py);
    if (st == 3)  // scripts/report.py: an import failed
      fail(
          "{} lacks matplotlib or numpy (Debian: python3-matplotlib): install them, or set "
          "RNNMFT_PYTHON to a python that has them",
          py);
    if (st != 0) fail("the report script failed (exit status {}; its message is above)", st);
  });
}

}  // namespace rnnmft::cli
