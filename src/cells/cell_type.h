// The four recurrent cells and their gate layout (docs/cells.md). Gate blocks follow PyTorch's
// order so that exported weights load into torch.nn.LSTM / GRU / RNN unchanged.
#pragma once

#include <string>
#include <vector>

namespace rnnmft {

enum class CellType { Vanilla, Minimal, Gru, Lstm };
enum class GruVariant { ResetAfter, ResetBefore };

CellType parse_cell(const std::string& s);
const char* cell_name(CellType c);
GruVariant parse_gru_variant(const std::string& s);
const char* gru_variant_name(GruVariant v);

// Blocks of N rows in W_ih (input side) and in W_hh (recurrent side).
int input_gates(CellType c);
int recurrent_gates(CellType c);

// The spec's gate names in block order of W_ih (docs/cells.md):
//   lstm: input forget cell output  (PyTorch i f g o)
//   gru: reset update candidate     (PyTorch r z n)
//   minimal: update embed           (the embed block has no recurrent weights)
//   vanilla: hidden
const std::vector<std::string>& gate_names(CellType c);

}  // namespace rnnmft
