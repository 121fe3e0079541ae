// The first stages of a run (train/run_stages.h): its directory, its configuration, its task and
// the checks before anything is written.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "cells/cell_type.h"
#include "data/dataset.h"
#include "gpu/cuda_backend.h"
#include "train/run_stages.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_read.h"
#include "util/memory.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft {

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", absolute_path(path));
  try {
    return parse_json(in);
  } catch (const json::exception& e) {  // syntax, and numbers beyond a double (1e400)
    fail("{}: not valid JSON ({})", absolute_path(path), e.what());
  }
}

void write_json_atomic(const std::string& path, const json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

RunDir open_run_dir(const std::string& out, bool resume) {
  if (out.empty()) fail("--out DIR is required");
  RunDir d;
  d.dir = fs::path(out);
  d.config = (d.dir / "config.json").string();
  d.checkpoint = (d.dir / "checkpoint.safetensors").string();
  d.log = (d.dir / "log.jsonl").string();
  if (resume) {
    if (!fs::is_regular_file(d.config))
      fail("{}: nothing to resume (needs config.json and checkpoint.safetensors)",
           absolute_path(out));
    d.saved_config = true;
    d.from_checkpoint = fs::is_regular_file(d.checkpoint);
    // A run that stopped before its first checkpoint has nothing to continue: it starts over
    // from its saved configuration.
    if (!d.from_checkpoint) {
      fmt::print(stderr, "{}: no checkpoint yet; the run starts over from step 0\n",
                 absolute_path(out));
      std::error_code ec;
      fs::remove(d.log, ec);
    }
  } else if (fs::exists(d.config)) {
    fail(
        "{} already holds a run: continue it with --resume {} (a run without a checkpoint "
        "starts over) or choose another --out",
        absolute_path(out), out);
  } else {
    // A new run writes these: a directory that already has one of them is not overwritten.
    for (const char* f : {"log.jsonl", "metrics.json", "checkpoint.safetensors"})
      if (fs::exists(d.dir / f))
        fail(
            "{} already holds {} and no run's config.json: choose another --out (nothing was "
            "written)",
            absolute_path(out), f);
  }
  return d;
}

namespace {

// The saved configuration of a resumed run, with what --resume may change.
TrainConfig saved_config(const TrainConfig& requested, const RunDir& d) {
  TrainConfig saved = TrainConfig::from_json(read_json(d.config), absolute_path(d.config));
  saved.out = requested.out;
  if (requested.steps > 0) saved.steps = requested.steps;  // 0: keep the saved target
  // A checkpoint resumes on any device: the host model and optimizer are the record.
  const bool moved = (!requested.device.empty() && requested.device != saved.device) ||
                     (!requested.precision.empty() && requested.precision != saved.precision);
  if (!requested.device.empty()) saved.device = requested.device;
  if (!requested.precision.empty())
    saved.precision = requested.precision;
  else if (saved.device != "cuda")
    saved.precision = "fp32";  // tf32 is a GPU choice
  saved.validate();
  // The next plain --resume continues where this one runs.
  if (moved) {
    if (saved.device == "cuda") gpu::cuda_device_name();  // no GPU: leave the run as it was
    write_json_atomic(d.config, saved.to_json());
  }
  return saved;
}

}  // namespace

TrainConfig resolve_config(const TrainConfig& requested, const RunDir& d) {
  TrainConfig cfg = d.saved_config ? saved_config(requested, d) : requested;
  if (cfg.device.empty()) cfg.device = "cpu";
  if (cfg.precision.empty()) cfg.precision = "fp32";
  cfg.validate();
  if (cfg.device == "cuda") gpu::cuda_device_name();  // no GPU: say so before anything is written
  return cfg;
}

Task run_task(const TrainConfig& cfg) {
  return Task(shared_dataset(parse_task_name(cfg.task.name).first, resolve_data_dir(cfg.data_dir)),
              cfg.task);
}

void check_run_inputs(const TrainConfig& cfg, const Task& task) {
  if (size_t(cfg.batch) > task.size(Split::Train))
    fail("--batch {} is larger than the {} training examples", cfg.batch, task.size(Split::Train));
  // Beyond the data set (in memory already): the parameters with their gradients and optimizer
  // state, the training batch with every step's gates and states for the backward sweep (CPU
  // engine; the CUDA engine keeps those on the GPU), a second copy of its inputs, the backward
  // sweep's per-step buffers (training_memory_bytes), and the inputs of an evaluation batch of up
  // to 256 sequences (evaluation keeps no states). Measured at T = 8192, I = 32768, B = 1:
  // 3.1 GiB beyond the data, for 3.0 estimated here.
  const CellType cell = parse_cell(cfg.cell);
  const uint64_t T = uint64_t(task.seq_len()), B = uint64_t(cfg.batch), N = uint64_t(cfg.hidden),
                 I = uint64_t(task.input_dim()), G = uint64_t(input_gates(cell));
  auto limited = [](size_t n, int64_t limit) {
    return limit > 0 ? std::min<uint64_t>(n, uint64_t(limit)) : uint64_t(n);
  };
  const uint64_t Be =
      std::min<uint64_t>(256, std::max(limited(task.size(Split::Val), cfg.eval_limit),
                                       limited(task.size(Split::Test), cfg.test_limit)));
  const double states = cfg.device == "cuda" ? 4.0 * double(T * B) * double(G * N + 3 * N) : 0;
  const double bytes =
      double(training_memory_bytes({.input_gates = input_gates(cell),
                                    .recurrent_gates = recurrent_gates(cell),
                                    .hidden = cfg.hidden,
                                    .input_dim = task.input_dim(),
                                    .classes = task.num_classes(),
                                    .batch = cfg.batch,
                                    .seq_len = task.seq_len(),
                                    .optimizer_slots = optimizer_slots(cfg.optimizer)})) -
      states + 4.0 * double(T) * double(I) * double(Be);
  check_fits_available(uint64_t(std::min(bytes, 1.8e19)),
                       fmt::format("training with T = {}, batch {}, {} inputs per step and {} "
                                   "hidden units (parameters, gradients, optimizer state, every "
                                   "step's states, and an evaluation batch of {})",
                                   T, B, I, N, Be));
  warn_if_more_threads_than_cores(cfg.threads);
}

}  // namespace rnnmft
