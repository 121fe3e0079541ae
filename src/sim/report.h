// What `theory`, `critical` and `compare` report as JSON: the theory's result with its spec, its
// verdict and the tied check beside it. The CLI (cli/theory_cmd.cpp, cli/compare_cmd.cpp) and the
// Python module (python/module.cpp) both build their output here, so the two stay the same.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sim/tied_check.h"
#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/mean_field.h"

namespace rnnmft::report {

using Json = nlohmann::json;

// `rnnmft theory --json`: the result, "spec", "verdict" over T steps, "tied_check" (null if none).
Json theory(const theory::TheoryResult& r, const InitSpec& spec, int T,
            const std::optional<sim::TiedCheck>& tc);

// `rnnmft critical --json`: the search's result with the same four parts for its spec.
Json critical(const theory::CriticalResult& r, int T, const std::optional<sim::TiedCheck>& tc);

// The spec file `rnnmft critical -o` writes: the spec, with the report (less the spec itself)
// under "diagnostics".
Json critical_spec_file(const theory::CriticalResult& r, Json report);

// One init of `rnnmft compare --json`: the theory report, its name and, for the critical init,
// its criterion, whether it was reached and its notes.
Json compare_init(const std::string& name, const theory::TheoryResult& r, const InitSpec& spec,
                  int T, const std::optional<sim::TiedCheck>& tc,
                  const theory::CriticalResult* critical = nullptr);

// One cell of `rnnmft compare --json`, its inits to be appended to "inits".
Json compare_cell(CellType cell, int T, int hidden, int input_dim);

}  // namespace rnnmft::report
