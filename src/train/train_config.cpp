// TrainConfig: its JSON (config.json, sweep units) and the checks that run before any work.
#include <cmath>
#include <limits>
#include <type_traits>

#include "train/optimizers/optimizer.h"
#include "train/step_engine.h"
#include "train/trainer.h"
#include "util/error.h"

using nlohmann::json;

namespace rnnmft {

json TrainConfig::to_json() const {
  json t = {{"name", task.name},           {"seq_len", task.seq_len},
            {"pad_front", task.pad_front}, {"unit", task.unit},
            {"repeat", task.repeat},       {"standardize", task.standardize},
            {"val_size", task.val_size},   {"split_seed", task.split_seed}};
  t["permute"] = task.permute ? json(*task.permute) : json(nullptr);
  return {{"task", t},
          {"data_dir", data_dir},
          {"cell", cell},
          {"gru_variant", gru_variant},
          {"hidden", hidden},
          {"init", init},
          {"steps", steps},
          {"batch", batch},
          {"optimizer", optimizer},
          {"lr", lr},
          {"clip", clip},
          {"schedule", schedule},
          {"seed", seed},
          {"threads", threads},
          {"log_every", log_every},
          {"eval_every", eval_every},
          {"checkpoint_every", checkpoint_every},
          {"eval_limit", eval_limit},
          {"test_limit", test_limit},
          {"device", device.empty() ? "cpu" : device},
          {"precision", precision.empty() ? "fp32" : precision}};
}

namespace {

// An integer field of config.json: a JSON integer (not 2.5, not 1e300) that fits T, else an error
// naming the field.
template <typename T>
T json_int(const json& v, const std::string& what) {
  if (!v.is_number_integer()) fail("{}: {} is not an integer", what, v.dump());
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<T>::max())) fail("{}: {} is out of range", what, u);
    return T(u);
  }
  const int64_t s = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (s < 0) fail("{}: {} is out of range", what, s);
  } else {
    if (s < int64_t(std::numeric_limits<T>::min()) || s > int64_t(std::numeric_limits<T>::max()))
      fail("{}: {} is out of range", what, s);
  }
  return T(s);
}

}  // namespace

TrainConfig TrainConfig::from_json(const json& j, const std::string& where) {
  TrainConfig c;
  try {
    const json& t = j.at("task");
    const std::string w = where + ": ";
    c.task.name = t.at("name");
    c.task.seq_len = json_int<int>(t.at("seq_len"), w + "task.seq_len");
    c.task.pad_front = t.at("pad_front");
    c.task.unit = t.at("unit");
    c.task.repeat = json_int<int>(t.at("repeat"), w + "task.repeat");
    c.task.standardize = t.at("standardize");
    c.task.val_size = json_int<size_t>(t.at("val_size"), w + "task.val_size");
    c.task.split_seed = json_int<uint64_t>(t.at("split_seed"), w + "task.split_seed");
    if (!t.at("permute").is_null())
      c.task.permute = json_int<uint64_t>(t.at("permute"), w + "task.permute");
    c.data_dir = j.at("data_dir");
    c.cell = j.at("cell");
    c.gru_variant = j.at("gru_variant");
    c.hidden = json_int<int>(j.at("hidden"), w + "hidden");
    c.init = j.at("init");
    c.steps = json_int<int64_t>(j.at("steps"), w + "steps");
    c.batch = json_int<int>(j.at("batch"), w + "batch");
    c.optimizer = j.at("optimizer");
    c.lr = j.at("lr");
    c.clip = j.at("clip");
    c.schedule = j.at("schedule");
    c.seed = json_int<uint64_t>(j.at("seed"), w + "seed");
    c.threads = json_int<int>(j.at("threads"), w + "threads");
    c.log_every = json_int<int64_t>(j.at("log_every"), w + "log_every");
    c.eval_every = json_int<int64_t>(j.at("eval_every"), w + "eval_every");
    c.checkpoint_every = json_int<int64_t>(j.at("checkpoint_every"), w + "checkpoint_every");
    c.eval_limit = json_int<int64_t>(j.at("eval_limit"), w + "eval_limit");
    c.test_limit = j.contains("test_limit") ? json_int<int64_t>(j["test_limit"], w + "test_limit")
                                            : 0;
    c.device = j.value("device", std::string("cpu"));
    c.precision = j.value("precision", std::string("fp32"));
  } catch (const json::exception& e) {
    fail("{}: malformed run configuration ({})", where, e.what());
  }
  return c;
}

void TrainConfig::validate() const {
  parse_cell(cell);
  parse_gru_variant(gru_variant);
  make_optimizer(optimizer, 1);
  if (schedule != "constant" && schedule != "cosine")
    fail("unknown schedule '{}' (expected constant or cosine)", schedule);
  if (!(lr >= std::numeric_limits<float>::min() && lr <= std::numeric_limits<float>::max()))
    fail("--lr must be a positive number that a float holds, {:g} to {:g} (got {})",
         std::numeric_limits<float>::min(), std::numeric_limits<float>::max(), lr);
  if (!(clip >= 0) || !std::isfinite(clip)) fail("--clip must be ≥ 0 (got {})", clip);
  if (steps < 1) fail("--steps must be at least 1 (got {})", steps);
  if (batch < 1) fail("--batch must be at least 1 (got {})", batch);
  if (hidden < 1 || hidden > 16384) fail("--hidden must be between 1 and 16384 (got {})", hidden);
  if (threads < 1 || threads > 256) fail("--threads must be between 1 and 256 (got {})", threads);
  if (log_every < 1 || eval_every < 1 || checkpoint_every < 1)
    fail("--log-every, --eval-every and --checkpoint-every must be at least 1");
  parse_task_name(task.name);
  validate_device(device.empty() ? "cpu" : device, precision.empty() ? "fp32" : precision);
}

}  // namespace rnnmft
