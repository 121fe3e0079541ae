#include "theory/critical_v2.h"

#include <cmath>

#include "util/error.h"

namespace rnnmft::theory {

namespace {

const char* content_gate(CellType cell) {
  switch (cell) {
    case CellType::Lstm: return "cell";
    case CellType::Gru: return "candidate";
    case CellType::Minimal: return "embed";
    default: return nullptr;
  }
}

}  // namespace

CriticalDesignChoice critical_design(CellType cell, bool v1_knobs, bool stacked) {
  if (!content_gate(cell) || describe(cell).keep_gate < 0)
    return {.v2 = false,
            .why = fmt::format("the {} cell has no keep gate whose timescales v2 spreads",
                               cell_name(cell))};
  if (stacked)
    return {.v2 = false,
            .why = "layers above the first read a state whose scale v2 does not design"};
  if (v1_knobs) return {.v2 = false, .why = "a fix or a criterion asks for v1's solve"};
  return {};
}

CriticalV2 critical_v2(CellType cell, const CriticalV2Options& opt) {
  const CellDesc& d = describe(cell);
  const char* content = content_gate(cell);
  if (!content || d.keep_gate < 0)
    fail("critical init v2 couples a keep gate's timescales to its writes; the {} cell has no "
         "gate (its critical init is --design v1: orthogonal W with gain 1)",
         cell_name(cell));
  if (opt.seq_len < 3) fail("critical init v2 needs T ≥ 3 (got {})", opt.seq_len);
  if (!(opt.data_var > 0) || !std::isfinite(opt.data_var))
    fail("critical init v2 needs the inputs' second moment R > 0 over the steps that carry data "
         "(got {}); give --task or --input-var",
         opt.data_var);
  if (opt.input_dim < 1 || opt.width < 1)
    fail("critical init v2 needs I ≥ 1 and N ≥ 1 (got {} and {})", opt.input_dim, opt.width);
  if (!(opt.content_input_var > 0))
    fail("critical init v2: the content gate's input variance must be > 0 (got {})",
         opt.content_input_var);
  CriticalV2 r;
  InitSpec& s = r.spec;
  s.cell = cell;
  const int G = d.input_gates, Gh = d.recurrent_gates, I = opt.input_dim, N = opt.width;
  for (int gi = 0; gi < G; ++gi) {
    const std::string& name = d.gates[size_t(gi)];
    const bool recurrent = gi < Gh;
    GateInit g;
    // §13.3: gates other than the content gate keep Glorot input scales and one orthogonal
    // recurrent block's share (1/√G_h): small enough that a unit's keep and write stay coupled
    // on every input.
    g.input_std = std::sqrt(2.0 * I / (I + double(G) * N));
    g.recurrent_std = recurrent ? 1.0 / std::sqrt(double(Gh)) : 0.0;
    g.orthogonal = recurrent;
    if (name == content) {
      g.input_std = std::sqrt(opt.content_input_var / opt.data_var);
      if (recurrent) g.recurrent_std = 1.0;  // isometric: the content reads the state unscaled
    }
    s.gates[name] = g;
  }
  // §13.1: the slowest unit keeps its state for T steps; every unit's drift gain is 1.
  s.timescales = Timescales{.dist = opt.timescales, .min = 2.0, .max = double(opt.seq_len)};
  const char* spread = Timescales::dist_name(opt.timescales);
  s.design.seq_len = opt.seq_len;
  s.design.width = N;
  s.design.criterion = fmt::format("v2: timescales {} on [2, T], writes coupled to keeps", spread);
  r.notes.push_back(fmt::format(
      "keep-gate timescales τ {} on [2, {}] ({} bias ln(τ − 1){}): the slowest units keep "
      "the state for T steps, and every unit's write 1/τ matches its forgetting (drift gain 1)",
      spread, opt.seq_len, d.gates[size_t(d.keep_gate)],
      d.input_gate >= 0 ? fmt::format(", {} bias −ln(τ − 1)", d.gates[size_t(d.input_gate)])
                        : std::string()));
  r.notes.push_back(fmt::format(
      "{}.input_std = {:.4g}: its pre-activation from the inputs has second moment {:.3g} at "
      "R = {:.4g} (unsaturated)",
      content, s.gate(content).input_std, opt.content_input_var, opt.data_var));
  return r;
}

}  // namespace rnnmft::theory
