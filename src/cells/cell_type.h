// The four recurrent cells and what generic code needs to know of each, in one table
// (docs/architecture.md §Cells). Gate blocks follow PyTorch's order so that exported weights load
// into torch.nn.LSTM / GRU / RNN unchanged. Code that needs a cell's mathematics dispatches once
// per concern (cells/kernels/dispatch.h; theory/cells.cpp; ensemble/step_math.h with kernel_kind
// in ensemble/ensemble.cpp); everything else reads CellDesc.
#pragma once

#include <string>
#include <vector>

namespace rnnmft {

enum class CellType { Vanilla, Minimal, Gru, Lstm };
enum class GruVariant { ResetAfter, ResetBefore };

// The cell a config gets when it names none.
inline constexpr CellType kDefaultCell = CellType::Lstm;

// The two knobs of a cell's critical search (docs/theory.md §6.1), as spec parameters: `keep`
// sets the diagonal of J (the memory), `content` the recurrent scale of the gate that feeds new
// content into the state.
struct CriticalKnobs {
  const char* keep = nullptr;  // none for the vanilla cell
  const char* content = nullptr;
  // The untied search (m1 = 1) moves `keep` (the LSTM: its m1 is set by E[f²]) or `content`.
  bool untied_moves_keep = false;
  // The default criterion: tied, unless tied and untied agree (the vanilla cell's normal W).
  bool tied_by_default = true;
};

struct CellDesc {
  CellType type;
  const char* name;                 // as specs, the CLI and checkpoints write it
  std::vector<std::string> aliases;  // further names parse_cell accepts
  // Gate names in block order of W_ih (docs/cells.md):
  //   lstm: input forget cell output  (PyTorch i f g o)
  //   gru: reset update candidate     (PyTorch r z n)
  //   minimal: update embed           (the embed block has no recurrent weights)
  //   vanilla: hidden
  std::vector<std::string> gates;
  int input_gates;      // blocks of N rows in W_ih
  int recurrent_gates;  // blocks of N rows in W_hh: the first ones of W_ih's order
  int keep_gate;        // the gate that carries the memory (chrono's bias), −1 if none
  int input_gate;       // a gate whose chrono bias is minus the keep gate's, −1 if none
  bool cell_state;      // a second state c beside h (the LSTM): the state Jacobian is 2N × 2N
  // The candidate's recurrent input passes a reset gate, after or before its product (the two GRU
  // variants, GruVariant); the candidate is the last recurrent block and keeps one extra buffer.
  bool reset_gate;
  // The bias mean of every gate under the keras, chrono and orthogonal presets (the LSTM's
  // forget gate: 1), in gate order.
  std::vector<double> preset_bias;
  // The torch.nn module with these weights (nullptr: none); weight import tells the cells of
  // PyTorch's files apart by their weight_ih_l0 blocks (input_gates), distinct among these.
  const char* torch_module;
  CriticalKnobs critical;
};

// Every cell, in CellType order.
const std::vector<CellDesc>& all_cells();
const CellDesc& describe(CellType c);

CellType parse_cell(const std::string& s);
// "vanilla, minimal, gru or lstm": the names parse_cell accepts, for help texts and errors.
std::string cell_choices();
const char* cell_name(CellType c);
GruVariant parse_gru_variant(const std::string& s);
const char* gru_variant_name(GruVariant v);

inline int input_gates(CellType c) { return describe(c).input_gates; }
inline int recurrent_gates(CellType c) { return describe(c).recurrent_gates; }
inline const std::vector<std::string>& gate_names(CellType c) { return describe(c).gates; }
// Index of a gate in block order, −1 if the cell has no such gate.
int gate_index(CellType c, const std::string& gate);

}  // namespace rnnmft
