#include "python/request.h"

#include "sim/tied_check.h"

using nlohmann::json;

namespace rnnmft::python {

theory::TheoryOptions theory_options(const Request& r, theory::TheoryOptions o) {
  o.input_var = r.get("input_var", o.input_var);
  o.input_overlap = r.get("input_overlap", o.input_overlap);
  o.order = r.get("order", o.order);
  o.samples = r.get<int64_t>("samples", o.samples);
  o.groups = r.get("groups", o.groups);
  o.burn_in = r.get("burn_in", o.burn_in);
  o.average = r.get("average", o.average);
  o.seed = r.get<uint64_t>("mc_seed", o.seed);
  if (r.has("gru_variant")) o.gru_variant = parse_gru_variant(r.at("gru_variant").get<std::string>());
  return o;
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

InitSpec resolve_spec(const json& init, CellType cell, int hidden, int input_dim, int seq_len) {
  InitSpec spec;
  if (init.contains("preset")) {
    spec = preset_moments(init["preset"].get<std::string>(), cell, hidden, input_dim, seq_len);
  } else if (init.contains("file")) {
    spec = load_spec_file(init["file"].get<std::string>());
  } else if (init.contains("spec")) {
    spec = InitSpec::from_json(init["spec"], "spec");
  } else {
    fail("init must name a preset, a spec file or a spec dict");
  }
  if (spec.cell != cell)
    fail("{} is a spec for the {} cell, but cell '{}' was given", spec.source.empty() ? "the spec" : spec.source,
         cell_name(spec.cell), cell_name(cell));
  return spec;
}

std::optional<sim::TiedCheck> tied_check(const Request& r, const InitSpec& spec, int hidden,
                                         int input_dim, int T, const theory::TheoryOptions& opt) {
  if (!r.get("tied_check", true) || T > sim::kTiedCheckMaxSteps) return std::nullopt;
  return sim::tied_check(spec, sim::beside_theory(hidden, input_dim, T, opt,
                                                  r.get("tied_trials", 12),
                                                  r.get<uint64_t>("tied_seed", 0)));
}

}  // namespace rnnmft::python
