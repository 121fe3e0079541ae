// Several training runs of one shape on one ensemble (a packed sweep, docs/gpu.md §Sweeps).
// Each run keeps its own trainer loop in its own thread (batches from its seed, its log,
// validation, checkpoints, divergence guard, resume), so that a packed run writes what it would
// write alone. Its engine calls meet in rounds: a round starts when every run still taking part
// has made its call, and its calls are done together — one update for the runs that apply (the
// others frozen), then one sweep for the runs that need losses (forward only when none needs a
// gradient). A run that finishes, diverges or fails leaves, and the rounds go on without it.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "ensemble/ensemble.h"
#include "train/step_engine.h"

namespace rnnmft {

class EnsembleHub {
 public:
  // cfg.models runs, all taking part until they leave.
  EnsembleHub(std::unique_ptr<ens::Backend> backend, const ens::EnsembleConfig& cfg);
  EnsembleHub(const EnsembleHub&) = delete;
  EnsembleHub& operator=(const EnsembleHub&) = delete;

  int models() const { return ens_.config().models; }
  const ens::EnsembleConfig& config() const { return ens_.config(); }
  std::string backend_name() {
    std::lock_guard<std::mutex> lock(mu_);
    return ens_.backend().name();
  }

  // Run k's engine, starting from its model's and optimizer's present state. The model must
  // have the ensemble's shape, and training must use its T and B.
  std::unique_ptr<StepEngine> engine(int k, RnnModel<float>& model, Optimizer& opt,
                                     const std::string& optimizer, int seq_len, int batch);
  // Run k takes part in no further round (done, stopped or failed); a second call does nothing.
  void leave(int k);

  // Sweeps of the ensemble run so far (rounds that needed losses).
  size_t rounds() const { return rounds_; }

 private:
  friend class HubStep;
  enum class Op { None, Grad, Eval, Apply };
  struct Slot {
    bool active = true;
    Op op = Op::None;
    const float* x = nullptr;
    const int* labels = nullptr;
    int t0 = 0, t1 = 0;
    float lr = 0;
    double clip = 0;
    StepEngine::Result result;
    std::exception_ptr error;
  };
  // Posts run k's call and waits for its round; rethrows what the round threw.
  StepEngine::Result call(int k, const Slot& request);
  void execute();  // the round (mu_ held)
  void check_slot(int k) const;

  ens::Ensemble ens_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  std::vector<float> lr_;
  std::vector<double> clip_, norms_;
  int active_ = 0, pending_ = 0;
  size_t round_ = 0, rounds_ = 0;
};

}  // namespace rnnmft
