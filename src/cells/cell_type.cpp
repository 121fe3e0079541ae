#include "cells/cell_type.h"

#include "util/error.h"

namespace rnnmft {

CellType parse_cell(const std::string& s) {
  if (s == "vanilla" || s == "rnn") return CellType::Vanilla;
  if (s == "minimal" || s == "minimalrnn") return CellType::Minimal;
  if (s == "gru") return CellType::Gru;
  if (s == "lstm") return CellType::Lstm;
  fail("unknown cell '{}' (expected vanilla, minimal, gru or lstm)", s);
}

const char* cell_name(CellType c) {
  switch (c) {
    case CellType::Vanilla:
      return "vanilla";
    case CellType::Minimal:
      return "minimal";
    case CellType::Gru:
      return "gru";
    case CellType::Lstm:
      return "lstm";
  }
  return "?";
}

GruVariant parse_gru_variant(const std::string& s) {
  if (s == "reset-after") return GruVariant::ResetAfter;
  if (s == "reset-before") return GruVariant::ResetBefore;
  fail("unknown GRU variant '{}' (expected reset-after or reset-before)", s);
}

const char* gru_variant_name(GruVariant v) {
  return v == GruVariant::ResetAfter ? "reset-after" : "reset-before";
}

int input_gates(CellType c) {
  switch (c) {
    case CellType::Vanilla:
      return 1;
    case CellType::Minimal:
      return 2;
    case CellType::Gru:
      return 3;
    case CellType::Lstm:
      return 4;
  }
  return 0;
}

int recurrent_gates(CellType c) {
  return c == CellType::Minimal ? 1 : input_gates(c);
}

const std::vector<std::string>& gate_names(CellType c) {
  static const std::vector<std::string> vanilla = {"hidden"}, minimal = {"update", "embed"},
                                        gru = {"reset", "update", "candidate"},
                                        lstm = {"input", "forget", "cell", "output"};
  switch (c) {
    case CellType::Vanilla:
      return vanilla;
    case CellType::Minimal:
      return minimal;
    case CellType::Gru:
      return gru;
    default:
      return lstm;
  }
}

}  // namespace rnnmft
