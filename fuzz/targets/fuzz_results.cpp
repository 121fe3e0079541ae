// A sweep's results file (DIR/results.jsonl, and the parts a sharded sweep merges;
// sweep/runner.h read_results): one JSON object per line, each with its run's id; a torn last
// line from a crash is dropped, any other bad line is refused with its line number.
#include <nlohmann/json.hpp>

#include "fuzz_file.h"
#include "sweep/runner.h"
#include "util/error.h"

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
  return 0;
}
