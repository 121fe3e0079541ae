// Weights files as `rnnmft eval --weights` and `train --init w.safetensors` read them: the
// container (train/safetensors.h), the configuration it describes, then the import.
#include "cells/rnn_model.h"
#include "fuzz_file.h"
#include "train/safetensors.h"
#include "train/weights_io.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input(data, size, "weights.safetensors");
  try {
    const rnnmft::SafeTensors st = rnnmft::read_safetensors(path);
    // Every tensor holds exactly the bytes its shape and dtype need (counted without wrapping).
    for (const auto& [name, t] : st.tensors) {
      long double need = t.dtype == "F64" || t.dtype == "I64"   ? 8
                         : t.dtype == "F32" || t.dtype == "I32" ? 4
                         : t.dtype == "U8" || t.dtype == "I8" || t.dtype == "BOOL" ? 1
                                                                                     : 2;
      for (int64_t d : t.shape) need *= (long double)d;
      if (need != (long double)t.bytes.size()) std::abort();
    }
    const rnnmft::ModelConfig cfg = rnnmft::config_from_weights(st);
    rnnmft::RnnModel<float> model(cfg);
    rnnmft::import_weights(model, st);
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
