#include "sim/report.h"

#include "theory/verdict.h"

namespace rnnmft::report {

Json theory(const theory::TheoryResult& r, const InitSpec& spec, int T,
            const std::optional<sim::TiedCheck>& tc) {
  Json j = r.to_json();
  j["spec"] = spec.to_json();
  j["verdict"] = theory::verdict(r, T);
  j["tied_check"] = tc ? tc->to_json() : Json(nullptr);
  return j;
}

Json critical(const theory::CriticalResult& r, int T, const std::optional<sim::TiedCheck>& tc) {
  Json j = r.to_json();
  j["spec"] = r.spec.to_json();
  j["verdict"] = theory::verdict(r.diagnostics, T);
  j["tied_check"] = tc ? tc->to_json() : Json(nullptr);
  return j;
}

Json critical_spec_file(const theory::CriticalResult& r, Json report) {
  Json out = r.spec.to_json();
  report.erase("spec");
  out["diagnostics"] = std::move(report);
  return out;
}

Json compare_init(const std::string& name, const theory::TheoryResult& r, const InitSpec& spec,
                  int T, const std::optional<sim::TiedCheck>& tc,
                  const theory::CriticalResult* critical) {
  Json j = theory(r, spec, T, tc);
  j["init"] = name;
  if (critical) {
    j["criterion"] = theory::criterion_name(critical->criterion);
    j["reached"] = critical->reached;
    j["notes"] = critical->notes;
  }
  return j;
}

Json compare_cell(CellType cell, int T, int hidden, int input_dim) {
  return {{"cell", cell_name(cell)},
          {"seq_len", T},
          {"hidden", hidden},
          {"input_dim", input_dim},
          {"inits", Json::array()}};
}

}  // namespace rnnmft::report
