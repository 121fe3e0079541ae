// `sweep --merge DIR`: the parts of a sharded sweep into one results.jsonl (docs/cluster.md).
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "sweep/runner.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft::sweep {

namespace {

// The results files to merge: results.jsonl first, then the parts in name order.
std::vector<std::string> result_files(const fs::path& d, size_t& parts_found) {
  std::vector<std::string> files;
  const std::string merged = (d / "results.jsonl").string();
  if (fs::is_regular_file(merged)) files.push_back(merged);
  std::vector<std::string> parts;
  if (fs::is_directory(d / "parts"))
    for (const auto& e : fs::directory_iterator(d / "parts")) {
      const std::string name = e.path().filename().string();
      int i = 0, n = 0;
      char tail = 0;
      if (name.rfind("results-", 0) != 0 || e.path().extension() != ".jsonl") continue;
      if (std::sscanf(name.c_str(), "results-%d-of-%d.jsonl%c", &i, &n, &tail) != 2 || n < 1 ||
          i < 0 || i >= n)
        fail("{}: not a part this program writes (results-<i>-of-<n>.jsonl with 0 ≤ i < n)",
             absolute_path(e.path().string()));
      parts.push_back(e.path().string());
    }
  std::sort(parts.begin(), parts.end());
  files.insert(files.end(), parts.begin(), parts.end());
  if (parts.empty() && files.empty())
    fail("{}: no results.jsonl and no parts/results-<i>-of-<n>.jsonl to merge",
         absolute_path(d.string()));
  parts_found = parts.size();
  return files;
}

// One line per run of `units`, from `files`; two different lines of one run, a run not of the
// sweep or a run without a line are refused.
std::vector<json> one_line_per_run(const std::vector<RunUnit>& units,
                                   const std::vector<std::string>& files,
                                   const std::string& dir, MergeSummary& m) {
  std::map<std::string, size_t> index;
  for (size_t k = 0; k < units.size(); ++k) index[units[k].id] = k;
  // Lines of one run agree in everything but the time it took and the revision that ran it
  // (runs are deterministic; a different build shows in the numbers).
  auto comparable = [](json j) {
    j.erase("seconds");
    j.erase("git");
    return j.dump();
  };
  std::vector<json> line(units.size());
  std::vector<std::string> from(units.size());
  // Every line is a whole line of one of the sweep's runs (a part of another sweep, or a line
  // written by hand, is refused with its place).
  const LineCheck ours = lines_of(units);
  for (const auto& f : files) {
    for (auto& l : read_results(f, ours)) {
      ++m.lines;
      const std::string id = l["run"].get<std::string>();
      const size_t k = index.at(id);
      if (line[k].is_null()) {
        line[k] = std::move(l);
        from[k] = f;
      } else if (comparable(line[k]) != comparable(l)) {
        fail("run {} has two different results lines, in {} and in {}: remove the wrong one (or "
             "its run directory and part line) and rerun that run",
             id, absolute_path(from[k]), absolute_path(f));
      }
    }
  }
  std::vector<std::string> missing;
  for (size_t k = 0; k < units.size(); ++k)
    if (line[k].is_null()) missing.push_back(units[k].id);
  if (!missing.empty()) {
    std::string some;
    for (size_t k = 0; k < std::min<size_t>(missing.size(), 5); ++k)
      some += (k ? ", " : "") + missing[k];
    fail("{}: {} of {} runs have no results line yet ({}{}): finish the shards (rerun the ones "
         "that stopped; they resume), then merge again",
         absolute_path(dir), missing.size(), units.size(), some, missing.size() > 5 ? ", …" : "");
  }
  return line;
}

}  // namespace

MergeSummary merge_sweep(const std::string& dir) {
  const fs::path d(dir), sj = d / "sweep.json";
  if (!fs::is_regular_file(sj))
    fail("{}: no sweep.json (is this a sweep directory? rnnmft sweep SPEC --out DIR writes it)",
         absolute_path(dir));
  const SweepSpec spec = SweepSpec::load(sj.string());
  FileLock lock((d / ".lock").string(), false);
  if (!lock.held())
    fail("{}: a sweep is running in this directory; merge when it is done", absolute_path(dir));
  if (fs::is_directory(d / "parts"))
    for (const auto& e : fs::directory_iterator(d / "parts")) {
      const std::string name = e.path().filename().string();
      if (name.rfind(".lock-", 0) != 0) continue;
      FileLock shard(e.path().string(), false);
      if (!shard.held())
        fail("{}: shard {} is still running; merge when every shard is done", absolute_path(dir),
             name.substr(6));
    }
  const std::vector<RunUnit> units = expand(spec, dir);
  MergeSummary m;
  const std::vector<std::string> files = result_files(d, m.parts);
  const std::vector<json> line = one_line_per_run(units, files, dir, m);
  std::string out;
  for (const auto& l : line) out += l.dump() + "\n";
  write_file_atomic((d / "results.jsonl").string(), out);
  m.runs = units.size();
  return m;
}

}  // namespace rnnmft::sweep
