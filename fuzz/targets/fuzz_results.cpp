// A sweep's results file (DIR/results.jsonl, and the parts a sharded sweep merges;
// sweep/runner.h read_results): one JSON object per line, each with its run's id; a torn last
// line from a crash is dropped, any other bad line is refused with its line number. With the
// sweep's check (lines_of), every line kept is a whole line of one of its runs.
#include <nlohmann/json.hpp>

#include "fuzz_file.h"
#include "sweep/run_unit.h"
#include "sweep/runner.h"
#include "util/error.h"

namespace {

// A sweep of two runs (seed 0 and 1) with a fixed spec hash.
const std::vector<rnnmft::sweep::RunUnit>& units() {
  static const std::vector<rnnmft::sweep::RunUnit> u = [] {
    std::vector<rnnmft::sweep::RunUnit> v;
    for (int seed : {0, 1}) {
      rnnmft::sweep::RunUnit r;
      r.params = {{"seed", seed}};
      r.id = rnnmft::sweep::run_id(r.params);
      r.sweep = "0123456789abcdef";
      r.config = {{"out", "/nonexistent"}};
      v.push_back(r);
    }
    return v;
  }();
  return u;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input(data, size, "results.jsonl");
  try {
    for (const nlohmann::json& line : rnnmft::sweep::read_results(path)) {
      // What read_results promises: an object whose "run" is a string.
      if (!line.is_object() || !line.contains("run") || !line["run"].is_string()) std::abort();
      (void)line.dump();
    }
  } catch (const rnnmft::Error&) {
  }
  try {
    for (const nlohmann::json& line :
         rnnmft::sweep::read_results(path, rnnmft::sweep::lines_of(units()))) {
      // Every key, of its type; the spec hash may be missing only (a line written before lines
      // carried it), never another sweep's.
      for (const auto& k : rnnmft::sweep::result_keys())
        if (!line.contains(k) && k != "sweep") std::abort();
      try {
        rnnmft::sweep::check_line_types(line, "fuzz");
      } catch (const rnnmft::Error&) {
        std::abort();  // lines_of let a key of the wrong type through
      }
      const auto& u = line["run"] == units()[0].id ? units()[0] : units()[1];
      if (line["run"] != u.id || line["params"] != u.params) std::abort();
      if (line.contains("sweep") && line["sweep"] != u.sweep) std::abort();
    }
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
