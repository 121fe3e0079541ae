#include "train/ensemble_hub.h"

#include <map>
#include <string>

#include "util/error.h"

namespace rnnmft {

// Run k's view of the hub: the StepEngine its trainer loop talks to.
class HubStep final : public StepEngine {
 public:
  HubStep(EnsembleHub& hub, int k, RnnModel<float>& model, Optimizer& opt)
      : hub_(hub), k_(k), model_(model), opt_(opt), t1_(hub.config().seq_len) {}
  // The run's trainer is done with it (finished or stopped): the rounds go on without it.
  ~HubStep() override { hub_.leave(k_); }
  Result gradients(const float* x, const int* labels, int, int) override {
    return batch_call(EnsembleHub::Op::Grad, x, labels);
  }
  void apply(double clip, float lr) override {
    EnsembleHub::Slot r;
    r.op = EnsembleHub::Op::Apply;
    r.clip = clip;
    r.lr = lr;
    hub_.call(k_, r);
  }
  void sync_to_host() override {
    std::lock_guard<std::mutex> lock(hub_.mu_);
    hub_.ens_.get_params(k_, model_.params().data());
    const auto st = hub_.ens_.optimizer_state(k_);
    for (auto& [name, v] : opt_.state()) *v = st.at(name);
  }
  void set_input_window(int t0, int t1) override {
    t0_ = t0;
    t1_ = t1;
  }
  bool evaluates() const override { return true; }
  Result forward(const float* x, const int* labels) override {
    return batch_call(EnsembleHub::Op::Eval, x, labels);
  }

 private:
  // A call that brings a batch (gradients or evaluation) with the run's input window.
  Result batch_call(EnsembleHub::Op op, const float* x, const int* labels) {
    EnsembleHub::Slot r;
    r.op = op;
    r.x = x;
    r.labels = labels;
    r.t0 = t0_;
    r.t1 = t1_;
    return hub_.call(k_, r);
  }

  EnsembleHub& hub_;
  int k_;
  RnnModel<float>& model_;
  Optimizer& opt_;
  int t0_ = 0, t1_;
};

EnsembleHub::EnsembleHub(std::unique_ptr<ens::Backend> backend, const ens::EnsembleConfig& cfg)
    : ens_(std::move(backend), cfg) {
  const size_t K = size_t(cfg.models);
  slots_.resize(K);
  lr_.assign(K, 0.f);
  clip_.assign(K, 0.0);
  norms_.assign(K, 0.0);
  active_ = cfg.models;
}

void EnsembleHub::check_slot(int k) const {
  if (k < 0 || k >= int(slots_.size()))
    fail("run {} of a pack of {}: no such place in the ensemble", k, slots_.size());
}

std::unique_ptr<StepEngine> EnsembleHub::engine(int k, RnnModel<float>& model, Optimizer& opt,
                                                const std::string& optimizer, int seq_len,
                                                int batch) {
  check_slot(k);
  const ens::EnsembleConfig& c = ens_.config();
  const ModelConfig& m = model.config(), &e = c.model;
  if (m.cell != e.cell || m.gru != e.gru || m.hidden != e.hidden || m.input_dim != e.input_dim ||
      m.classes != e.classes || seq_len != c.seq_len || batch != c.batch ||
      optimizer != c.optimizer)
    fail("run {} of the pack does not have the ensemble's shape (cell, GRU variant, hidden, "
         "inputs, classes, T = {}, batch {}, optimizer {})",
         k, c.seq_len, c.batch, c.optimizer);
  std::lock_guard<std::mutex> lock(mu_);
  if (!slots_[size_t(k)].active) fail("run {} of the pack has already left its ensemble", k);
  ens_.set_params(k, model.params().data());
  std::map<std::string, std::vector<float>> st;
  for (auto& [name, v] : opt.state()) st[name] = *v;
  ens_.set_optimizer_state(k, st);
  return std::make_unique<HubStep>(*this, k, model, opt);
}

void EnsembleHub::leave(int k) {
  check_slot(k);
  std::lock_guard<std::mutex> lock(mu_);
  Slot& s = slots_[size_t(k)];
  if (!s.active) return;
  s.active = false;
  --active_;
  // The others may have been waiting for this run alone.
  if (pending_ > 0 && pending_ == active_) execute();
}

StepEngine::Result EnsembleHub::call(int k, const Slot& request) {
  check_slot(k);
  std::unique_lock<std::mutex> lock(mu_);
  Slot& s = slots_[size_t(k)];
  if (!s.active) fail("run {} of the pack has already left its ensemble", k);
  const bool active = s.active;
  s = request;
  s.active = active;
  s.error = nullptr;
  ++pending_;
  const size_t mine = round_;
  if (pending_ == active_) execute();
  else cv_.wait(lock, [&] { return round_ != mine; });
  if (s.error) std::rethrow_exception(s.error);
  return s.result;
}

void EnsembleHub::execute() {
  const int K = int(slots_.size());
  try {
    bool apply = false, grad = false, loss = false;
    for (const Slot& s : slots_) {
      apply |= s.op == Op::Apply;
      grad |= s.op == Op::Grad;
      loss |= s.op == Op::Grad || s.op == Op::Eval;
    }
    // The update first: it uses the gradients of the runs' previous round, which the sweep below
    // overwrites.
    if (apply) {
      for (int k = 0; k < K; ++k) {
        const Slot& s = slots_[size_t(k)];
        ens_.set_frozen(k, s.op != Op::Apply);
        lr_[size_t(k)] = s.lr;
        clip_[size_t(k)] = s.clip;
      }
      ens_.update(lr_, clip_, norms_);
    }
    if (loss) {
      for (int k = 0; k < K; ++k) {
        Slot& s = slots_[size_t(k)];
        if (s.op != Op::Grad && s.op != Op::Eval) continue;
        try {  // a bad batch fails its own run only
          ens_.set_batch(k, s.x, s.labels, s.t0, s.t1, s.op == Op::Eval);
        } catch (const Error&) {
          s.error = std::current_exception();
        }
      }
      ens_.run(!grad);
      ++rounds_;
      if (grad) norms_ = ens_.grad_norms();
      for (int k = 0; k < K; ++k) {
        Slot& s = slots_[size_t(k)];
        if ((s.op != Op::Grad && s.op != Op::Eval) || s.error) continue;
        s.result.loss = ens_.losses()[size_t(k)];
        s.result.correct = int(ens_.correct()[size_t(k)]);
        s.result.grad_norm = s.op == Op::Grad ? norms_[size_t(k)] : 0.0;
      }
    }
  } catch (...) {
    for (Slot& s : slots_)
      if (s.op != Op::None) s.error = std::current_exception();
  }
  for (Slot& s : slots_) {
    s.op = Op::None;
    s.x = nullptr;  // the batches belong to the runs' loops, which go on
    s.labels = nullptr;
  }
  pending_ = 0;
  ++round_;
  cv_.notify_all();
}

}  // namespace rnnmft
