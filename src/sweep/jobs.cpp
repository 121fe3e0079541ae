// A sweep's work as jobs — one run, or runs packed into one ensemble — each in a process of its
// own: grouping, starting (locks, unit files, the child) and collecting what it left.
#include <fmt/core.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>

#include "sweep/run_pack.h"
#include "sweep/run_unit.h"
#include "sweep/runner.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft::sweep {
namespace {

// Starts `exe <command> <file>` (sweep-run unit.json, sweep-run-pack pack.json) with its output in
// `log_path`; the child dies with the sweep (PR_SET_PDEATHSIG), so a killed sweep leaves no run
// writing behind its back.
pid_t spawn(const std::string& exe, const std::string& unit_path, const std::string& log_path,
            const char* command = "sweep-run") {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) fail("cannot start a run process: fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(3);
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      ::close(fd);
    }
    execl(exe.c_str(), exe.c_str(), command, unit_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

std::string last_lines(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string l;
  while (std::getline(in, l)) {
    // Progress bars redraw with '\r': keep what is after the last one.
    const auto cr = l.rfind('\r');
    if (cr != std::string::npos) l = l.substr(cr + 1);
    if (l.empty()) continue;
    lines.push_back(l);
    if (lines.size() > n) lines.pop_front();
  }
  std::string s;
  for (const auto& x : lines) s += "    " + x + "\n";
  return s;
}

}  // namespace

std::vector<Job> make_jobs(const std::vector<const RunUnit*>& todo, int pack, int workers) {
  // The default size on cuda: 256 runs, or fewer so that every worker gets a pack of each shape.
  std::map<std::string, size_t> count;
  for (const RunUnit* u : todo)
    if (packable(*u)) ++count[pack_key(*u)];
  auto limit_of = [&](const RunUnit* u, const std::string& key) {
    if (pack > 0) return size_t(pack);
    if (u->config.value("device", "") != "cuda") return size_t(1);
    const size_t w = size_t(std::max(workers, 1));
    return std::min<size_t>(256, (count[key] + w - 1) / w);
  };
  std::vector<Job> jobs;
  std::map<std::string, size_t> open;  // pack key → its job still taking runs
  for (const RunUnit* u : todo) {
    const std::string key = packable(*u) ? pack_key(*u) : "";
    const size_t limit = key.empty() ? 1 : limit_of(u, key);
    if (limit < 2) {
      jobs.push_back({u});
      continue;
    }
    auto it = open.find(key);
    if (it == open.end() || jobs[it->second].size() >= limit) {
      open[key] = jobs.size();
      jobs.push_back({u});
    } else {
      jobs[it->second].push_back(u);
    }
  }
  return jobs;
}

StartedJob start_job(const Job& job, const SweepOptions& opt) {
  StartedJob r;
  for (const RunUnit* u : job) {
    const fs::path rd(u->config["out"].get<std::string>());
    fs::create_directories(rd);
    auto lock = std::make_unique<FileLock>((rd / ".lock").string(), false);
    if (!lock->held()) {
      r.busy.push_back(u);
      continue;
    }
    write_file_atomic((rd / "unit.json").string(), u->to_json().dump(2) + "\n");
    r.job.push_back(u);
    r.locks.push_back(std::move(lock));
  }
  if (r.job.empty()) return r;
  if (r.job.size() == 1) {
    const fs::path rd(r.job[0]->config["out"].get<std::string>());
    r.log = (rd / "output.log").string();
    r.pid = spawn(opt.exe, (rd / "unit.json").string(), r.log);
    return r;
  }
  // The pack's runs by their unit files; its output (every run's) in packs/<first run>.log.
  const fs::path pd = fs::path(opt.out) / "packs";
  fs::create_directories(pd);
  json units = json::array();
  for (const RunUnit* u : r.job)
    units.push_back((fs::path(u->config["out"].get<std::string>()) / "unit.json").string());
  const std::string pack = (pd / (r.job[0]->id + ".json")).string();
  write_file_atomic(pack, json{{"units", units}}.dump(2) + "\n");
  r.log = (pd / (r.job[0]->id + ".log")).string();
  fs::remove(r.log);  // this attempt's output only
  r.started = fs::file_time_type::clock::now();
  r.pid = spawn(opt.exe, pack, r.log, "sweep-run-pack");
  return r;
}

JobOutcome finish_job(const StartedJob& s, int status) {
  JobOutcome o;
  const bool exit_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  for (const RunUnit* u : s.job) {
    json line;
    try {
      line = finished_result(*u);
    } catch (const Error& e) {  // this run's failure, not the sweep's
      o.failures.push_back(fmt::format("run {} {} failed: {}\n", u->id, u->params.dump(), e.what()));
      continue;
    }
    if (!line.is_null() && (exit_ok || s.job.size() > 1)) {
      o.lines.push_back(std::move(line));
      continue;
    }
    // A pack's run that failed on its own wrote why into its output.log; a pack that died (a
    // signal, or before its runs started) left only the pack's log.
    std::string log = s.log;
    if (s.job.size() > 1) {
      const std::string own = (fs::path(u->config["out"].get<std::string>()) / "output.log").string();
      if (fs::is_regular_file(own) && fs::file_size(own) > 0 &&
          fs::last_write_time(own) >= s.started)
        log = own;
    }
    o.failures.push_back(fmt::format(
        "run {} {} failed ({}); its output ({}):\n{}", u->id, u->params.dump(),
        WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                          : fmt::format("signal {}", WTERMSIG(status)),
        absolute_path(log), last_lines(log, 4)));
  }
  return o;
}

}  // namespace rnnmft::sweep
