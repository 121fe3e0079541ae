#include "train/weights_io.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <cmath>
#include <utility>

#include "util/error.h"

namespace rnnmft {

SafeTensors export_weights(const RnnModel<float>& m) {
  const ModelConfig& c = m.config();
  const int64_t N = c.hidden, I = c.input_dim, C = c.classes, Gi = input_gates(c.cell),
                Gh = recurrent_gates(c.cell);
  const float* P = m.params().data();
  const ParamLayout& L = m.layout();
  // Weights that are not finite are refused here, not written (a checkpoint with a NaN in it).
  const std::pair<const char*, std::pair<size_t, size_t>> blocks[] = {
      {"rnn.weight_ih_l0", {L.w_ih, size_t(Gi * N * I)}},
      {"rnn.weight_hh_l0", {L.w_hh, size_t(Gh * N * N)}},
      {"rnn.bias_ih_l0", {L.b_ih, size_t(Gi * N)}},
      {"rnn.bias_hh_l0", {L.b_hh, size_t(Gh * N)}},
      {"head.weight", {L.w_head, size_t(C * N)}},
      {"head.bias", {L.b_head, size_t(C)}}};
  for (const auto& [name, block] : blocks)
    for (size_t i = 0; i < block.second; ++i)
      if (!std::isfinite(P[block.first + i]))
        fail("tensor '{}' holds {} at element {}: non-finite weights are not exported", name,
             P[block.first + i], i);
  SafeTensors st;
  st.add_f32("rnn.weight_ih_l0", {Gi * N, I}, P + L.w_ih);
  st.add_f32("rnn.weight_hh_l0", {Gh * N, N}, P + L.w_hh);
  st.add_f32("rnn.bias_ih_l0", {Gi * N}, P + L.b_ih);
  st.add_f32("rnn.bias_hh_l0", {Gh * N}, P + L.b_hh);
  st.add_f32("head.weight", {C, N}, P + L.w_head);
  st.add_f32("head.bias", {C}, P + L.b_head);
  st.metadata = {{"format", "rnnmft-weights-1"},           {"cell", cell_name(c.cell)},
                 {"gru_variant", gru_variant_name(c.gru)}, {"hidden", std::to_string(N)},
                 {"input_dim", std::to_string(I)},         {"classes", std::to_string(C)}};
  return st;
}

ModelConfig config_from_weights(const SafeTensors& st) {
  ModelConfig c;
  auto it = st.tensors.find("rnn.weight_ih_l0");
  auto hh = st.tensors.find("rnn.weight_hh_l0");
  auto head = st.tensors.find("head.weight");
  if (it == st.tensors.end() || hh == st.tensors.end() || head == st.tensors.end())
    fail("{}: not a weights file (needs rnn.weight_ih_l0, rnn.weight_hh_l0, head.weight)", st.path);
  if (it->second.shape.size() != 2 || hh->second.shape.size() != 2 ||
      head->second.shape.size() != 2)
    fail("{}: weight tensors must be 2-dimensional", st.path);
  c.hidden = int(hh->second.shape[1]);
  c.input_dim = int(it->second.shape[1]);
  c.classes = int(head->second.shape[0]);
  if (st.metadata.count("cell")) {
    c.cell = parse_cell(st.metadata.at("cell"));
  } else {
    // As PyTorch writes them: the cell whose torch.nn module has that many gate blocks (4 LSTM,
    // 3 GRU, 1 vanilla RNN).
    const int64_t g = c.hidden > 0 ? it->second.shape[0] / c.hidden : 0;
    const CellDesc* found = nullptr;
    for (const CellDesc& d : all_cells())
      if (d.torch_module && d.input_gates == g) found = &d;
    if (found)
      c.cell = found->type;
    else
      fail("{}: cannot tell the cell from rnn.weight_ih_l0's {} rows and {} hidden units", st.path,
           it->second.shape[0], c.hidden);
  }
  if (st.metadata.count("gru_variant")) c.gru = parse_gru_variant(st.metadata.at("gru_variant"));
  if (c.hidden < 1 || c.input_dim < 1 || c.classes < 2)
    fail("{}: weights for hidden {}, input {}, classes {}: each must be at least 1 (classes 2)",
         st.path, c.hidden, c.input_dim, c.classes);
  // Every tensor as the cell needs it, before a model of that size is allocated: each tensor's
  // data is in the file (read_safetensors checks that), so the model cannot outgrow the file.
  const int64_t N = c.hidden, I = c.input_dim, C = c.classes, Gi = input_gates(c.cell),
                Gh = recurrent_gates(c.cell);
  const std::pair<const char*, std::vector<int64_t>> want[] = {
      {"rnn.weight_ih_l0", {Gi * N, I}}, {"rnn.weight_hh_l0", {Gh * N, N}},
      {"rnn.bias_ih_l0", {Gi * N}},      {"rnn.bias_hh_l0", {Gh * N}},
      {"head.weight", {C, N}},           {"head.bias", {C}}};
  for (const auto& [name, shape] : want) {
    auto t = st.tensors.find(name);
    if (t == st.tensors.end()) fail("{}: no tensor '{}'", st.path, name);
    if (t->second.shape != shape)
      fail("{}: tensor '{}' has shape {}, a {} of {} hidden units needs {}", st.path, name,
           fmt::join(t->second.shape, "×"), cell_name(c.cell), N, fmt::join(shape, "×"));
  }
  return c;
}

void check_weights_file(const std::string& path, const ModelConfig& want) {
  const SafeTensors st = read_safetensors(path, false);
  const ModelConfig w = config_from_weights(st);
  if (w.cell != want.cell || w.hidden != want.hidden ||
      (want.input_dim > 0 && w.input_dim != want.input_dim) ||
      (want.classes > 0 && w.classes != want.classes) ||
      (describe(want.cell).reset_gate && w.gru != want.gru))
    fail("{}: weights are for {} (hidden {}, input {}, classes {}{}), the run is {} (hidden "
         "{}{}{})",
         st.path, cell_name(w.cell), w.hidden, w.input_dim, w.classes,
         describe(w.cell).reset_gate ? ", " + std::string(gru_variant_name(w.gru)) : "",
         cell_name(want.cell), want.hidden,
         want.input_dim > 0 ? fmt::format(", input {}, classes {}", want.input_dim, want.classes)
                            : "",
         describe(want.cell).reset_gate ? ", " + std::string(gru_variant_name(want.gru)) : "");
}

bool is_weights_init(const std::string& init) {
  if (init.size() > 12 && init.compare(init.size() - 12, 12, ".safetensors") == 0) return true;
  std::error_code ec;
  return std::filesystem::is_regular_file(init, ec) && looks_like_safetensors(init);
}

void import_weights(RnnModel<float>& m, const SafeTensors& st) {
  const ModelConfig& c = m.config();
  const ModelConfig w = config_from_weights(st);
  if (w.cell != c.cell || w.hidden != c.hidden || w.input_dim != c.input_dim ||
      w.classes != c.classes || (describe(c.cell).reset_gate && w.gru != c.gru))
    fail(
        "{}: weights are for {} (hidden {}, input {}, classes {}), the model is {} (hidden {}, "
        "input {}, classes {})",
        st.path, cell_name(w.cell), w.hidden, w.input_dim, w.classes, cell_name(c.cell), c.hidden,
        c.input_dim, c.classes);
  const int64_t N = c.hidden, I = c.input_dim, C = c.classes, Gi = input_gates(c.cell),
                Gh = recurrent_gates(c.cell);
  const ParamLayout& L = m.layout();
  float* P = m.params().data();
  auto put = [&](const char* name, std::vector<int64_t> shape, size_t off) {
    auto v = st.get_f32(name, shape);
    for (float x : v)
      if (!std::isfinite(x)) fail("{}: tensor '{}' holds a non-finite value", st.path, name);
    std::copy(v.begin(), v.end(), P + off);
  };
  put("rnn.weight_ih_l0", {Gi * N, I}, L.w_ih);
  put("rnn.weight_hh_l0", {Gh * N, N}, L.w_hh);
  put("rnn.bias_ih_l0", {Gi * N}, L.b_ih);
  put("rnn.bias_hh_l0", {Gh * N}, L.b_hh);
  put("head.weight", {C, N}, L.w_head);
  put("head.bias", {C}, L.b_head);
}

}  // namespace rnnmft
