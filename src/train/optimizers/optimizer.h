// Optimizer interface: an update of the flat parameter vector from its gradient, with named
// state vectors that checkpoints save and restore exactly.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rnnmft {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step(float* params, const float* grad, size_t n, float lr) = 0;
  // Named state (moments, step count as a one-element vector) for checkpoints.
  virtual std::map<std::string, std::vector<float>*> state() = 0;
  virtual const char* name() const = 0;
};

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, size_t n);

}  // namespace rnnmft
