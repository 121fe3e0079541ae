// RMSprop with PyTorch's defaults: α = 0.99, ε = 1e-8; s ← α s + (1 − α) g², p ← p − lr·g/(√s + ε).
#pragma once

#include <cmath>

#include "train/optimizers/optimizer.h"

namespace rnnmft {

class RmsProp : public Optimizer {
 public:
  explicit RmsProp(size_t n, float alpha = 0.99f, float eps = 1e-8f)
      : s_(n, 0.f), a_(alpha), eps_(eps) {}
  void step(float* p, const float* g, size_t n, float lr) override {
    for (size_t i = 0; i < n; ++i) {
      s_[i] = a_ * s_[i] + (1.f - a_) * g[i] * g[i];
      p[i] -= lr * g[i] / (std::sqrt(s_[i]) + eps_);
    }
  }
  std::map<std::string, std::vector<float>*> state() override { return {{"rmsprop.s", &s_}}; }
  const char* name() const override { return "rmsprop"; }

 private:
  std::vector<float> s_;
  float a_, eps_;
};

}  // namespace rnnmft
