// A run's config.json as `train --resume` and `load_run_model` read it: the JSON, then
// TrainConfig::from_json and validate() (train/trainer.h).
#include <fstream>
#include <nlohmann/json.hpp>

#include "fuzz_file.h"
#include "train/trainer.h"
#include "util/error.h"

namespace {

// As trainer.cpp's read_json (file-local there): a parse error is an rnnmft::Error.
nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) rnnmft::fail("{}: cannot open", path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    rnnmft::fail("{}: not valid JSON ({})", path, e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input(data, size, "config.json");
  try {
    const rnnmft::TrainConfig cfg = rnnmft::TrainConfig::from_json(read_json(path), path);
    cfg.validate();
    // What was accepted is written back by a resumed run: it must read again.
    rnnmft::TrainConfig::from_json(cfg.to_json(), "round trip").validate();
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
