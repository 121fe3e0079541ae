// Weights in PyTorch's names and layouts (docs/cells.md §Weights), so that
//   rnn = torch.nn.LSTM(I, N) / GRU(I, N) / RNN(I, N); head = torch.nn.Linear(N, C)
// in a module with attributes `rnn` and `head` loads them with load_state_dict.
#pragma once

#include <string>

#include "cells/rnn_model.h"
#include "train/safetensors.h"

namespace rnnmft {

// Throws an Error naming the tensor when a weight is not finite (NaN, ±inf).
SafeTensors export_weights(const RnnModel<float>& model);
// The model configuration a weights file describes (metadata, or inferred from the shapes).
ModelConfig config_from_weights(const SafeTensors& st);
// Checks a weights file for `train --init FILE` before a model is allocated: reads its header
// only (each tensor's data must lie within the file) and refuses, naming the file, weights for
// another cell, width or GRU variant than `want` (input_dim and classes too when they are > 0).
void check_weights_file(const std::string& path, const ModelConfig& want);
// Whether `init` names a weights file rather than a preset or a spec: it ends in .safetensors or
// begins as one (the test train --init makes).
bool is_weights_init(const std::string& init);
// Copies the tensors into `model`, checking names and shapes against its configuration.
void import_weights(RnnModel<float>& model, const SafeTensors& st);

}  // namespace rnnmft
