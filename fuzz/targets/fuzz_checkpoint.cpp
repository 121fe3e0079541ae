// A run directory's checkpoint.safetensors as `rnnmft export`/`eval` load it (load_run_model in
// train/trainer.h), beside a fixed valid config.json (a real mnist-row run of 8 LSTM units)
// whose data directory holds a tiny MNIST written once at start.
#include <cstdio>
#include <vector>

#include "data/idx.h"
#include "fuzz_file.h"
#include "train/trainer.h"
#include "util/error.h"

namespace {

// `rnnmft train --task mnist-row --hidden 8 --steps 2`, with data_dir and val_size changed.
constexpr const char* kConfig = R"({
  "batch": 64, "cell": "lstm", "checkpoint_every": 500, "clip": 0.0, "data_dir": "@DATA@",
  "device": "cpu", "eval_every": 500, "eval_limit": 2000, "gru_variant": "reset-after",
  "hidden": 8, "init": "pytorch", "log_every": 10, "lr": 0.001, "optimizer": "adam",
  "precision": "fp32", "schedule": "constant", "seed": 0, "steps": 2,
  "task": {"name": "mnist-row", "pad_front": false, "permute": null, "repeat": 4, "seq_len": 0,
           "split_seed": 0, "standardize": false, "unit": "pixel", "val_size": 4},
  "test_limit": 0, "threads": 1
})";

const std::string& run_dir() {
  static const std::string dir = [] {
    const std::string root = fuzz::work_dir(), data = root + "/data", mnist = data + "/mnist";
    std::filesystem::create_directories(mnist);
    auto images = [](uint32_t n) {
      std::vector<uint8_t> px(size_t(n) * 28 * 28);
      for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 37);
      return px;
    };
    auto labels = [](uint32_t n) {
      std::vector<uint8_t> l(n);
      for (uint32_t i = 0; i < n; ++i) l[i] = uint8_t(i % 10);
      return l;
    };
    rnnmft::write_idx(mnist + "/train-images-idx3-ubyte", {16, 28, 28}, images(16));
    rnnmft::write_idx(mnist + "/train-labels-idx1-ubyte", {16}, labels(16));
    rnnmft::write_idx(mnist + "/t10k-images-idx3-ubyte", {4, 28, 28}, images(4));
    rnnmft::write_idx(mnist + "/t10k-labels-idx1-ubyte", {4}, labels(4));
    std::string cfg = kConfig;
    cfg.replace(cfg.find("@DATA@"), 6, data);
    const std::string run = root + "/run";
    std::filesystem::create_directories(run);
    fuzz::write_input(reinterpret_cast<const uint8_t*>(cfg.data()), cfg.size(), "run/config.json");
    return run;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = run_dir();
  fuzz::write_input(data, size, "run/checkpoint.safetensors");
  try {
    rnnmft::RnnModel<float> model = rnnmft::load_run_model(dir);
    if (model.params().size() != 1306) std::abort();  // 8 LSTM units, 28 inputs, 10 classes
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
