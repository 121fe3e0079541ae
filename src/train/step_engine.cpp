#include "train/step_engine.h"

#include <cmath>

#include "ensemble/ensemble.h"
#include "gpu/cuda_backend.h"
#include "util/error.h"

namespace rnnmft {
namespace {

class CpuStep final : public StepEngine {
 public:
  CpuStep(RnnModel<float>& m, Optimizer& o) : model_(m), opt_(o) {}
  Result gradients(const float* x, const int* labels, int T, int B) override {
    Result r;
    r.loss = model_.loss_and_grad(x, labels, T, B, grad_, &r.correct);
    double n2 = 0;
    for (float g : grad_) n2 += double(g) * g;
    r.grad_norm = norm_ = std::sqrt(n2);
    return r;
  }
  void apply(double clip, float lr) override {
    if (clip > 0 && norm_ > clip) {
      const float scale = float(clip / norm_);
      for (float& g : grad_) g *= scale;
    }
    opt_.step(model_.params().data(), grad_.data(), grad_.size(), lr);
  }
  void sync_to_host() override {}

 private:
  RnnModel<float>& model_;
  Optimizer& opt_;
  AlignedVector<float> grad_;
  double norm_ = 0;
};

class EnsembleStep final : public StepEngine {
 public:
  EnsembleStep(std::unique_ptr<ens::Backend> be, RnnModel<float>& m, Optimizer& o,
               const std::string& optimizer, int T, int B)
      : model_(m), opt_(o), ens_(std::move(be), config(m, optimizer, T, B)) {
    ens_.set_params(0, m.params().data());
    std::map<std::string, std::vector<float>> st;
    for (auto& [name, v] : o.state()) st[name] = *v;
    ens_.set_optimizer_state(0, st);
  }
  Result gradients(const float* x, const int* labels, int, int) override {
    ens_.set_batch(0, x, labels, t0_, t1_, false);
    ens_.run();
    norms_ = ens_.grad_norms();
    return {ens_.losses()[0], int(ens_.correct()[0]), norms_[0]};
  }
  void apply(double clip, float lr) override { ens_.update({lr}, {clip}, norms_); }
  void set_input_window(int t0, int t1) override {
    t0_ = t0;
    t1_ = t1;
  }
  bool evaluates() const override { return true; }
  Result forward(const float* x, const int* labels) override {
    ens_.set_batch(0, x, labels, t0_, t1_, true);
    ens_.run(true);
    return {ens_.losses()[0], int(ens_.correct()[0]), 0.0};
  }
  void sync_to_host() override {
    ens_.get_params(0, model_.params().data());
    const auto st = ens_.optimizer_state(0);
    for (auto& [name, v] : opt_.state()) *v = st.at(name);
  }

 private:
  static ens::EnsembleConfig config(const RnnModel<float>& m, const std::string& optimizer, int T,
                                    int B) {
    ens::EnsembleConfig c;
    c.model = m.config();
    c.models = 1;
    c.seq_len = T;
    c.batch = B;
    c.optimizer = optimizer;
    return c;
  }
  RnnModel<float>& model_;
  Optimizer& opt_;
  ens::Ensemble ens_;
  std::vector<double> norms_;
  int t0_ = 0, t1_ = ens_.config().seq_len;
};

}  // namespace

StepEngine::Result StepEngine::forward(const float*, const int*) {
  fail("this engine does not evaluate (evaluation runs on the host model)");
}

void validate_device(const std::string& device, const std::string& precision) {
  if (device != "cpu" && device != "cuda" && device != "cpu-ensemble")
    fail("--device must be cpu, cuda or cpu-ensemble (got '{}')", device);
  gpu::parse_precision(precision);
  if (device != "cuda" && precision != "fp32")
    fail("--precision {} needs --device cuda (the CPU engines compute in fp32)", precision);
}

std::unique_ptr<StepEngine> make_step_engine(const std::string& device,
                                             const std::string& precision, RnnModel<float>& model,
                                             Optimizer& opt, const std::string& optimizer,
                                             int seq_len, int batch) {
  validate_device(device, precision);
  if (device == "cpu") return std::make_unique<CpuStep>(model, opt);
  auto be = device == "cuda" ? gpu::make_cuda_backend(gpu::parse_precision(precision))
                             : ens::make_cpu_backend(ens::fused_from_env());
  return std::make_unique<EnsembleStep>(std::move(be), model, opt, optimizer, seq_len, batch);
}

}  // namespace rnnmft
