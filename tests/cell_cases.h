// Every cell the tests cover, from the cell table (cells/cell_type.h): one case per cell, two for
// a cell with GRU variants. Parameterised suites instantiate over this list, so a new cell is
// tested everywhere once it is in the table.
#pragma once

#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cells/cell_type.h"

namespace rnnmft::test {

struct CellCase {
  CellType cell;
  GruVariant gru;
  std::string name;  // a test-name suffix: vanilla, minimal, gru_reset_after, …
};

inline void PrintTo(const CellCase& c, std::ostream* os) { *os << c.name; }

inline std::vector<CellCase> cell_cases() {
  std::vector<CellCase> out;
  for (const CellDesc& d : all_cells()) {
    if (!d.reset_gate) {
      out.push_back({d.type, GruVariant::ResetAfter, d.name});
      continue;
    }
    for (GruVariant v : {GruVariant::ResetAfter, GruVariant::ResetBefore}) {
      std::string name = std::string(d.name) + "_" + gru_variant_name(v);
      for (char& ch : name)
        if (ch == '-') ch = '_';
      out.push_back({d.type, v, name});
    }
  }
  return out;
}

// The case of one cell by its name (cell_cases() order is the table's, but tests should not
// count on positions).
inline CellCase cell_case(const std::string& name) {
  for (const CellCase& c : cell_cases())
    if (c.name == name) return c;
  throw std::runtime_error("no cell case " + name);
}

}  // namespace rnnmft::test
