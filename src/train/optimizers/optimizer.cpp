#include "train/optimizers/optimizer.h"

#include "train/optimizers/adam.h"
#include "train/optimizers/rmsprop.h"
#include "train/optimizers/sgd.h"
#include "util/error.h"

namespace rnnmft {

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, size_t n) {
  if (name == "adam") return std::make_unique<Adam>(n);
  if (name == "sgd") return std::make_unique<Sgd>(n);
  if (name == "rmsprop") return std::make_unique<RmsProp>(n);
  fail("unknown optimizer '{}' (expected adam, sgd or rmsprop)", name);
}

}  // namespace rnnmft
