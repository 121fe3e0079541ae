// Adam (Kingma & Ba 2015) with PyTorch's defaults: β1 = 0.9, β2 = 0.999, ε = 1e-8, bias correction.
#pragma once

#include <cmath>

#include "train/optimizers/optimizer.h"

namespace rnnmft {

class Adam : public Optimizer {
 public:
  explicit Adam(size_t n, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f)
      : m_(n, 0.f), v_(n, 0.f), t_(1, 0.f), b1_(beta1), b2_(beta2), eps_(eps) {}
  void step(float* p, const float* g, size_t n, float lr) override {
    t_[0] += 1.f;
    const double c1 = 1.0 - std::pow(double(b1_), double(t_[0]));
    const double c2 = 1.0 - std::pow(double(b2_), double(t_[0]));
    const float step = float(lr / c1), rc2 = float(1.0 / std::sqrt(c2));
    for (size_t i = 0; i < n; ++i) {
      m_[i] = b1_ * m_[i] + (1.f - b1_) * g[i];
      v_[i] = b2_ * v_[i] + (1.f - b2_) * g[i] * g[i];
      p[i] -= step * m_[i] / (std::sqrt(v_[i]) * rc2 + eps_);
    }
  }
  std::map<std::string, std::vector<float>*> state() override {
    return {{"adam.m", &m_}, {"adam.v", &v_}, {"adam.t", &t_}};
  }
  const char* name() const override { return "adam"; }

 private:
  std::vector<float> m_, v_, t_;
  float b1_, b2_, eps_;
};

}  // namespace rnnmft
