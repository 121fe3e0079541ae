#include "cells/cell_type.h"

#include <fmt/format.h>

#include "util/error.h"

namespace rnnmft {

const std::vector<CellDesc>& all_cells() {
  static const std::vector<CellDesc> table = {
      {CellType::Vanilla, "vanilla", {"rnn"}, {"hidden"}, 1, 1, -1, -1, false, false, {0.0},
       "RNN", {nullptr, "hidden.recurrent_std", false, false}},
      {CellType::Minimal, "minimal", {"minimalrnn"}, {"update", "embed"}, 2, 1, 0, -1, false,
       false, {0.0, 0.0}, nullptr,
       {"update.bias_mean", "update.recurrent_std", false, true}},
      {CellType::Gru, "gru", {}, {"reset", "update", "candidate"}, 3, 3, 1, -1, false, true,
       {0.0, 0.0, 0.0}, "GRU",
       {"update.bias_mean", "candidate.recurrent_std", false, true}},
      {CellType::Lstm, "lstm", {}, {"input", "forget", "cell", "output"}, 4, 4, 1, 0, true, false,
       {0.0, 1.0, 0.0, 0.0}, "LSTM", {"forget.bias_mean", "cell.recurrent_std", true, true}},
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
