// Weights in PyTorch's names and layouts (docs/cells.md §Weights), so that
//   rnn = torch.nn.LSTM(I, N) / GRU(I, N) / RNN(I, N); head = torch.nn.Linear(N, C)
// in a module with attributes `rnn` and `head` loads them with load_state_dict.
#pragma once

#include <string>

#include "cells/rnn_model.h"
#include "train/safetensors.h"

namespace rnnmft {

SafeTensors export_weights(const RnnModel<float>& model);
// The model configuration a weights file describes (metadata, or inferred from the shapes).
ModelConfig config_from_weights(const SafeTensors& st);
// Copies the tensors into `model`, checking names and shapes against its configuration.
void import_weights(RnnModel<float>& model, const SafeTensors& st);

}  // namespace rnnmft
