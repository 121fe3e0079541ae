#include "sweep/run_pack.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <memory>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "data/dataset.h"
#include "data/tasks.h"
#include "ensemble/ensemble.h"
#include "gpu/cuda_backend.h"
#include "sweep/run_unit.h"
#include "train/ensemble_hub.h"
#include "train/run_stages.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/duration.h"
#include "util/error.h"
#include "util/fp_env.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft::sweep {
namespace {

std::string device_of(const json& config) {
  return config.value("device", std::string("cpu"));
}

bool out_of_memory(const Error& e) {
  return std::string(e.what()).find("out of memory") != std::string::npos;
}

// The ensemble of `units`, or null when it does not fit in the device's memory (K ≥ 2: the
// caller splits the pack).
std::unique_ptr<EnsembleHub> make_hub(const std::vector<RunUnit>& units, const TrainConfig& cfg,
                                      const ens::EnsembleConfig& ec, bool progress) {
  const size_t K = units.size();
  try {
    auto be = device_of(units[0].config) == "cuda"
                  ? gpu::make_cuda_backend(gpu::parse_precision(cfg.precision))
                  : ens::make_cpu_backend(ens::fused_from_env());
    return std::make_unique<EnsembleHub>(std::move(be), ec);
  } catch (const Error& e) {
    if (K < 2 || !out_of_memory(e)) throw;
    if (progress)
      fmt::print(stderr, "{} runs do not fit in one ensemble ({}): {} and {} one after the other\n",
                 K, e.what(), K / 2, K - K / 2);
    return nullptr;
  }
}

// Run k failed: its results line stays null, and its own output file says why, as for a run
// trained alone (the pack's log holds the output of all its runs).
void fail_run(const RunUnit& u, PackOutcome& out, size_t at, const std::string& why) {
  out.errors[at] = why;
  try {
    write_file_atomic((fs::path(u.config["out"].get<std::string>()) / "output.log").string(),
                      fmt::format("run {} (trained in a pack) failed: {}\n", u.id, why));
  } catch (const std::exception&) {
  }
}

// Each run of the pack in a thread of its own, on its place in `hub`.
void train_in_threads(const std::vector<RunUnit>& units, EnsembleHub& hub, PackOutcome& out,
                      size_t first) {
  const size_t K = units.size();
  // The runs' CPU work (the theory of each init at the end) shares the cores.
  const int omp_threads =
      std::max(1, int(std::max(1u, std::thread::hardware_concurrency()) / unsigned(K)));
  std::vector<std::thread> threads;
  threads.reserve(K);
  for (size_t k = 0; k < K; ++k) {
    try {
      threads.emplace_back([&, k] {
        const HubSlot slot{&hub, int(k)};
        flush_denormals();  // as in the main thread of a run of its own (util/fp_env.h)
#ifdef _OPENMP
        omp_set_num_threads(omp_threads);
#else
        (void)omp_threads;
#endif
        try {
          out.lines[first + k] = run_unit(units[k], &slot);
        } catch (const std::exception& e) {
          fail_run(units[k], out, first + k, e.what());
        } catch (...) {
          fail_run(units[k], out, first + k, "unknown error");
        }
        hub.leave(int(k));  // a run that failed before its engine existed
      });
    } catch (const std::exception& e) {
      // No thread for this run (the system's limit): it and the rest leave, so that the runs
      // already started do not wait for them.
      for (size_t j = k; j < K; ++j) {
        fail_run(units[j], out, first + j, fmt::format("no thread to train it in ({})", e.what()));
        hub.leave(int(j));
      }
      break;
    }
  }
  for (auto& t : threads) t.join();
}

void train_together(const std::vector<RunUnit>& units, PackOutcome& out, size_t first,
                    bool progress) {
  const size_t K = units.size();
  const TrainConfig cfg = TrainConfig::from_json(units[0].config, "run " + units[0].id);
  const Task task = run_task(cfg);
  ens::EnsembleConfig ec;
  ec.model = model_config(cfg, task);
  ec.models = int(K);
  ec.seq_len = task.seq_len();
  ec.batch = cfg.batch;
  ec.optimizer = cfg.optimizer;
  const std::unique_ptr<EnsembleHub> hub = make_hub(units, cfg, ec, progress);
  if (!hub) {
    const size_t half = K / 2;
    train_together({units.begin(), units.begin() + long(half)}, out, first, progress);
    train_together({units.begin() + long(half), units.end()}, out, first + half, progress);
    return;
  }
  if (progress)
    fmt::print(stderr, "ensemble of {} runs on {} (T = {}, batch {}, {} hidden, {})\n", K,
               hub->backend_name(), ec.seq_len, ec.batch, ec.model.hidden, cfg.cell);
  const auto t0 = std::chrono::steady_clock::now();
  train_in_threads(units, *hub, out, first);
  if (progress) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print(stderr, "ensemble of {} runs done in {} ({} ensemble sweeps)\n", K,
               format_duration(s), hub->rounds());
  }
}

}  // namespace

bool packable(const RunUnit& u) {
  const std::string d = device_of(u.config);
  return d == "cuda" || d == "cpu-ensemble";
}

std::string pack_key(const RunUnit& u) {
  const json& c = u.config;
  const json& t = c.at("task");
  json key = json::array();
  for (const char* f : {"name", "seq_len", "pad_front", "unit", "repeat"}) key.push_back(t.at(f));
  for (const char* f : {"data_dir", "cell", "gru_variant", "hidden", "batch", "optimizer",
                        "device", "precision"})
    key.push_back(c.at(f));
  return key.dump();
}

PackOutcome run_pack(const std::vector<RunUnit>& units, bool progress) {
  PackOutcome out;
  out.lines.assign(units.size(), nullptr);
  out.errors.assign(units.size(), "");
  if (units.empty()) return out;
  const std::string key = pack_key(units[0]);
  for (const auto& u : units) {
    if (!packable(u))
      fail("run {}: device '{}' does not train ensembles (cuda or cpu-ensemble do)", u.id,
           device_of(u.config));
    if (pack_key(u) != key)
      fail("run {} cannot share an ensemble with run {}: they differ in shape ({} against {})",
           u.id, units[0].id, pack_key(u), key);
  }
  train_together(units, out, 0, progress);
  return out;
}

}  // namespace rnnmft::sweep
