// Stochastic gradient descent with optional (heavy-ball) momentum, PyTorch's form:
// v ← μ v + g, p ← p − lr·v.
#pragma once

#include "train/optimizers/optimizer.h"

namespace rnnmft {

class Sgd : public Optimizer {
 public:
  explicit Sgd(size_t n, float momentum = 0.9f) : v_(n, 0.f), mu_(momentum) {}
  void step(float* p, const float* g, size_t n, float lr) override {
    for (size_t i = 0; i < n; ++i) {
      v_[i] = mu_ * v_[i] + g[i];
      p[i] -= lr * v_[i];
    }
  }
  std::map<std::string, std::vector<float>*> state() override { return {{"sgd.v", &v_}}; }
  const char* name() const override { return "sgd"; }

 private:
  std::vector<float> v_;
  float mu_;
};

}  // namespace rnnmft
