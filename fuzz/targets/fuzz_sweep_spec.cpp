// Sweep specs (`rnnmft sweep SPEC.json`, sweep/sweep_spec.h): loaded, normalised, read back from
// their canonical form (what DIR/sweep.json holds, with the same spec hash), and, for small grids,
// expanded into runs as `sweep --list` does (init files read as the runs would read them).
#include "fuzz_file.h"
#include "sweep/sweep_spec.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input(data, size, "sweep.json");
  try {
    const rnnmft::sweep::SweepSpec spec = rnnmft::sweep::SweepSpec::load(path);
    const rnnmft::sweep::SweepSpec again =
        rnnmft::sweep::SweepSpec::parse(spec.canonical(), "round trip");
    if (again.canonical() != spec.canonical() || again.size() != spec.size() ||
        again.runs_hash() != spec.runs_hash())
      std::abort();
    if (spec.size() <= 16) rnnmft::sweep::expand(spec, fuzz::work_dir() + "/out");
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
