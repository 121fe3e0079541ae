// The ensemble's optimizer side: gradient norms, the update of every model (clipping, Adam's
// bias corrections) and each model's optimizer state in the trainer's names.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ensemble/ensemble.h"
#include "util/error.h"

namespace rnnmft::ens {

std::vector<double> Ensemble::grad_norms() {
  be_->sumsq(K_, P_, grad_, P_, norms_d_);
  std::vector<double> n(static_cast<size_t>(K_));
  be_->download(n.data(), norms_d_, n.size());
  for (double& v : n) v = std::sqrt(v);
  return n;
}

std::vector<bool> Ensemble::update(const std::vector<float>& lr, const std::vector<double>& clip,
                                   const std::vector<double>& norms) {
  if (lr.size() != size_t(K_) || clip.size() != size_t(K_) || norms.size() != size_t(K_))
    fail("update needs {} learning rates, clips and norms", K_);
  std::vector<float> coef(4 * size_t(K_), 0.f);
  std::vector<bool> active(static_cast<size_t>(K_));
  for (int k = 0; k < K_; ++k) {
    const double gn = norms[k];
    active[k] = !frozen_[k] && std::isfinite(loss_[k]) && std::isfinite(gn);
    if (!active[k]) continue;
    float* c = &coef[4 * size_t(k)];
    c[0] = 1.f;
    // As train/trainer: scale = clip / ‖g‖ when ‖g‖ > clip.
    c[1] = clip[k] > 0 && gn > clip[k] ? float(clip[k] / gn) : 1.f;
    if (opt_ == OptKind::Adam) {
      steps_[k] += 1.f;
      const double c1 = 1.0 - std::pow(double(0.9f), double(steps_[k]));
      const double c2 = 1.0 - std::pow(double(0.999f), double(steps_[k]));
      c[2] = float(lr[k] / c1);
      c[3] = float(1.0 / std::sqrt(c2));
    } else {
      c[2] = lr[k];
    }
  }
  be_->upload(coef_, coef.data(), coef.size());
  UpdateArgs u;
  u.kind = opt_;
  u.models = K_;
  u.n = P_;
  u.params = params_;
  u.grad = grad_;
  u.s1 = s1_;
  u.s2 = s2_;
  u.coef = coef_;
  be_->update(u);
  return active;
}

std::map<std::string, std::vector<float>> Ensemble::optimizer_state(int k) const {
  std::vector<float> a(static_cast<size_t>(P_));
  be_->download(a.data(), s1_ + size_t(k) * P_, a.size());
  switch (opt_) {
    case OptKind::Adam: {
      std::vector<float> v(static_cast<size_t>(P_));
      be_->download(v.data(), s2_ + size_t(k) * P_, v.size());
      return {{"adam.m", a}, {"adam.v", v}, {"adam.t", {steps_[k]}}};
    }
    case OptKind::Sgd:
      return {{"sgd.v", a}};
    case OptKind::RmsProp:
      return {{"rmsprop.s", a}};
  }
  return {};
}

void Ensemble::set_optimizer_state(int k, const std::map<std::string, std::vector<float>>& s) {
  auto get = [&](const std::string& name, size_t n) -> const std::vector<float>& {
    auto it = s.find(name);
    if (it == s.end()) fail("optimizer state has no '{}'", name);
    if (it->second.size() != n)
      fail("optimizer state '{}' has {} values, expected {}", name, it->second.size(), n);
    return it->second;
  };
  const size_t P = size_t(P_);
  switch (opt_) {
    case OptKind::Adam:
      be_->upload(s1_ + size_t(k) * P, get("adam.m", P).data(), P);
      be_->upload(s2_ + size_t(k) * P, get("adam.v", P).data(), P);
      steps_[k] = get("adam.t", 1)[0];
      return;
    case OptKind::Sgd:
      be_->upload(s1_ + size_t(k) * P, get("sgd.v", P).data(), P);
      return;
    case OptKind::RmsProp:
      be_->upload(s1_ + size_t(k) * P, get("rmsprop.s", P).data(), P);
      return;
  }
}

}  // namespace rnnmft::ens
