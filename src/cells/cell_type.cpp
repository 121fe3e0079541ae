#include "cells/cell_type.h"

#include <fmt/format.h>

#include "util/error.h"

namespace rnnmft {

const std::vector<CellDesc>& all_cells() {
  static const std::vector<CellDesc> table = {
      {.type = CellType::Vanilla,
       .name = "vanilla",
       .aliases = {"rnn"},
       .gates = {"hidden"},
       .input_gates = 1,
       .recurrent_gates = 1,
       .keep_gate = -1,
       .input_gate = -1,
       .cell_state = false,
       .reset_gate = false,
       .preset_bias = {0.0},
       .torch_module = "RNN",
       .critical = {.keep = nullptr,
                    .content = "hidden.recurrent_std",
                    .untied_moves_keep = false,
                    .tied_by_default = false}},
      {.type = CellType::Minimal,
       .name = "minimal",
       .aliases = {"minimalrnn"},
       .gates = {"update", "embed"},
       .input_gates = 2,
       .recurrent_gates = 1,  // the embed block reads the input only
       .keep_gate = 0,
       .input_gate = -1,
       .cell_state = false,
       .reset_gate = false,
       .preset_bias = {0.0, 0.0},
       .torch_module = nullptr,
       .critical = {.keep = "update.bias_mean",
                    .content = "update.recurrent_std",
                    .untied_moves_keep = false,
                    .tied_by_default = true}},
      {.type = CellType::Gru,
       .name = "gru",
       .aliases = {},
       .gates = {"reset", "update", "candidate"},
       .input_gates = 3,
       .recurrent_gates = 3,
       .keep_gate = 1,
       .input_gate = -1,
       .cell_state = false,
       .reset_gate = true,
       .preset_bias = {0.0, 0.0, 0.0},
       .torch_module = "GRU",
       .critical = {.keep = "update.bias_mean",
                    .content = "candidate.recurrent_std",
                    .untied_moves_keep = false,
                    .tied_by_default = true}},
      {.type = CellType::Lstm,
       .name = "lstm",
       .aliases = {},
       .gates = {"input", "forget", "cell", "output"},
       .input_gates = 4,
       .recurrent_gates = 4,
       .keep_gate = 1,
       .input_gate = 0,
       .cell_state = true,
       .reset_gate = false,
       .preset_bias = {0.0, 1.0, 0.0, 0.0},  // the forget gate's 1
       .torch_module = "LSTM",
       .critical = {.keep = "forget.bias_mean",
                    .content = "cell.recurrent_std",
                    .untied_moves_keep = true,
                    .tied_by_default = true}},
  };
  return table;
}

const CellDesc& describe(CellType c) {
  const auto& t = all_cells();
  const size_t i = size_t(c);
  if (i >= t.size() || t[i].type != c) fail("internal: cell {} is not in the cell table", int(c));
  return t[i];
}

std::string cell_choices() {
  std::string out;
  const auto& t = all_cells();
  for (size_t i = 0; i < t.size(); ++i)
    out += fmt::format("{}{}", i == 0 ? "" : i + 1 == t.size() ? " or " : ", ", t[i].name);
  return out;
}

CellType parse_cell(const std::string& s) {
  for (const CellDesc& d : all_cells()) {
    if (s == d.name) return d.type;
    for (const auto& a : d.aliases)
      if (s == a) return d.type;
  }
  fail("unknown cell '{}' (expected {})", s, cell_choices());
}

const char* cell_name(CellType c) { return describe(c).name; }

int gate_index(CellType c, const std::string& gate) {
  const auto& g = describe(c).gates;
  for (size_t k = 0; k < g.size(); ++k)
    if (g[k] == gate) return int(k);
  return -1;
}

GruVariant parse_gru_variant(const std::string& s) {
  if (s == "reset-after") return GruVariant::ResetAfter;
  if (s == "reset-before") return GruVariant::ResetBefore;
  fail("unknown GRU variant '{}' (expected reset-after or reset-before)", s);
}

const char* gru_variant_name(GruVariant v) {
  return v == GruVariant::ResetAfter ? "reset-after" : "reset-before";
}

}  // namespace rnnmft
