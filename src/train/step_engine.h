// The training step of one model behind one interface, so that the trainer's loop (log,
// validation, checkpoints, NaN guard, resume) is the same on every device (docs/gpu.md):
//   cpu           RnnModel and train/optimizers (the CPU engine);
//   cuda          the ensemble engine with one model on the GPU;
//   cpu-ensemble  the ensemble engine with one model on its CPU reference backend (for checks).
// The host model and optimizer stay the record of the run: evaluation and checkpoints read them
// after sync_to_host(), so a checkpoint written on one device resumes on any other.
#pragma once

#include <memory>
#include <string>

#include "cells/rnn_model.h"
#include "train/optimizers/optimizer.h"

namespace rnnmft {

class StepEngine {
 public:
  struct Result {
    float loss = 0;
    int correct = 0;
    double grad_norm = 0;
  };
  virtual ~StepEngine() = default;
  // Loss, hits and gradient of the model on a time-major batch; nothing is updated yet.
  virtual Result gradients(const float* x, const int* labels, int T, int B) = 0;
  // Clips the last gradient to `clip` (0: off) and applies the optimizer with `lr`.
  virtual void apply(double clip, float lr) = 0;
  // Copies the device's parameters and optimizer state into the host model and optimizer.
  virtual void sync_to_host() = 0;
  // Every batch is zero outside steps [t0, t1) (Task::data_window): an engine may copy only those.
  virtual void set_input_window(int /*t0*/, int /*t1*/) {}
  // Whether forward() is there: evaluation then runs on the engine, in batches of its B.
  virtual bool evaluates() const { return false; }
  // Loss (the mean over the B rows, a row labelled −1 counting 0) and hits of a batch of the
  // engine's B sequences with the present parameters; nothing is updated.
  virtual Result forward(const float* x, const int* labels);
};

class EnsembleHub;  // train/ensemble_hub.h
// A training run's place in an ensemble shared with other runs (a packed sweep).
struct HubSlot {
  EnsembleHub* hub = nullptr;
  int index = 0;
};

// Checks a --device value ("cpu", "cuda", "cpu-ensemble") and --precision ("fp32", "tf32", "bf16").
void validate_device(const std::string& device, const std::string& precision);

// The engine of `device` for `model` and `opt` (their present state is the starting point).
std::unique_ptr<StepEngine> make_step_engine(const std::string& device,
                                             const std::string& precision, RnnModel<float>& model,
                                             Optimizer& opt, const std::string& optimizer,
                                             int seq_len, int batch);

}  // namespace rnnmft
