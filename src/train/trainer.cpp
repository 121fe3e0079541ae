#include "train/trainer.h"

#include <unistd.h>

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <thread>
#include <type_traits>

#include "data/batches.h"
#include "data/task_stats.h"
#include "spec/draw.h"
#include "spec/init_spec.h"
#include "train/optimizers/optimizer.h"
#include "gpu/cuda_backend.h"
#include "train/safetensors.h"
#include "train/ensemble_hub.h"
#include "train/step_engine.h"
#include "train/weights_io.h"
#include "util/atomic_file.h"
#include "util/duration.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/parse_number.h"
#include "util/rng.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft {

namespace {
Rng init_rng(uint64_t seed) {
  return Rng(seed, 0x696e6974 /* "init" */);
}
}  // namespace

std::optional<InitSpec> initialize_model(RnnModel<float>& model, const std::string& init,
                                         int seq_len, uint64_t seed) {
  Rng rng = init_rng(seed);
  if (is_preset(init)) {
    draw_preset(model, init, seq_len, rng);
  } else if ((init.size() > 12 && init.substr(init.size() - 12) == ".safetensors") ||
             (fs::is_regular_file(init) && looks_like_safetensors(init))) {
    import_weights(model, read_safetensors(init));
  } else if (init == "critical") {
    fail("--init critical depends on the task: train() solves it (solve_run_critical)");
  } else if (fs::is_regular_file(init)) {
    InitSpec spec = load_spec_file(init);
    draw_from_spec(model, spec, rng);
    return spec;
  } else {
    fail(
        "--init '{}' is neither a preset (pytorch, keras, orthogonal[:gain], chrono[:T_max], "
        "critical) nor an existing spec file or .safetensors weights file",
        init);
  }
  return std::nullopt;
}

void initialize_model_from_spec(RnnModel<float>& model, const InitSpec& spec, uint64_t seed) {
  Rng rng = init_rng(seed);
  draw_from_spec(model, spec, rng);
}

theory::CriticalResult solve_run_critical(const TrainConfig& cfg, const Task& task,
                                          const TaskInputStats& stats,
                                          const std::vector<std::string>& fixes,
                                          std::optional<theory::Criterion> criterion) {
  const CellType cell = parse_cell(cfg.cell);
  theory::CriticalOptions opt;
  opt.seq_len = task.seq_len();
  opt.fixes = fixes;
  opt.criterion = criterion;
  opt.theory.input_var = stats.input_var;
  if (describe(cell).reset_gate) opt.theory.gru_variant = parse_gru_variant(cfg.gru_variant);
  theory::CriticalResult r = theory::critical_init(cell, opt);
  // critical_init records T, R, the criterion and the GRU variant of the theory.
  SpecDesign& d = r.spec.design;
  d.width = cfg.hidden;
  d.task = cfg.task.name;
  r.spec.source = fmt::format("critical init for {} at T = {}, R = {:.4g}", cell_name(cell),
                              d.seq_len, d.input_var);
  return r;
}

namespace {

using Clock = std::chrono::steady_clock;

void write_json_atomic(const std::string& path, const json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", absolute_path(path));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {  // syntax, and numbers beyond a double (1e400)
    fail("{}: not valid JSON ({})", absolute_path(path), e.what());
  }
}

bool all_finite(const AlignedVector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

void save_checkpoint(const std::string& dir, const RnnModel<float>& model, Optimizer& opt,
                     int64_t step, double wall) {
  SafeTensors st;
  st.add_f32("params", {int64_t(model.params().size())}, model.params().data());
  for (auto& [name, v] : opt.state()) st.add_f32(name, {int64_t(v->size())}, v->data());
  st.metadata = {{"format", "rnnmft-checkpoint-1"},
                 {"step", std::to_string(step)},
                 {"wall_time_s", fmt::format("{:.17g}", wall)},
                 {"optimizer", opt.name()}};
  write_safetensors((fs::path(dir) / "checkpoint.safetensors").string(), st);
}

// Keeps the log consistent with a checkpoint: drops entries after `step`. Returns whether a
// periodic validation at `step` stays in it.
bool truncate_log(const std::string& path, int64_t step) {
  std::ifstream in(path);
  std::vector<std::string> keep;
  std::string line;
  bool val_at_step = false;
  while (std::getline(in, line)) {
    try {
      const json j = json::parse(line);
      const int64_t s = j.value("step", int64_t(0));
      // The final evaluation of the interrupted run is not part of the continued one.
      if (s <= step && !j.contains("test_loss")) {
        keep.push_back(line);
        val_at_step |= s == step && j.contains("val_loss");
      }
    } catch (const json::exception&) {
    }
  }
  in.close();
  std::string out;
  for (const auto& l : keep) out += l + "\n";
  write_file_atomic(path, out);  // whole or not at all: no history lost to a crash here
  return val_at_step;
}

class Progress {
 public:
  Progress(int64_t start, int64_t total) : start_(start), total_(total), tty_(isatty(2)) {}
  void update(int64_t done, double loss, double acc, double elapsed) {
    const double rate = (done - start_) / std::max(elapsed, 1e-9);
    const double eta = (total_ - done) / std::max(rate, 1e-9);
    if (tty_) {
      const int width = 24, fill = int(width * done / std::max<int64_t>(total_, 1));
      fmt::print(stderr, "\r[{}{}] {}/{}  loss {:.4f}  acc {:.3f}  {:.1f} steps/s  ETA {}   ",
                 std::string(fill, '#'), std::string(width - fill, '.'), done, total_, loss, acc,
                 rate, format_duration(eta));
      if (done == total_) fmt::print(stderr, "\n");
    } else {
      const int64_t every = std::max<int64_t>(1, total_ / 20);
      if (done % every == 0 || done == total_)
        fmt::print(stderr, "step {}/{}  loss {:.4f}  acc {:.3f}  {:.1f} steps/s  ETA {}\n", done,
                   total_, loss, acc, rate, format_duration(eta));
    }
  }
  void message(const std::string& m) {
    if (tty_) fmt::print(stderr, "\r{:100}\r", "");
    fmt::print(stderr, "{}\n", m);
  }

 private:
  int64_t start_, total_;
  bool tty_;
};

}  // namespace

RnnModel<float> load_run_model(const std::string& dir) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const TrainConfig cfg = TrainConfig::from_json(read_json(cfg_path), absolute_path(cfg_path));
  const SafeTensors ck = read_safetensors((fs::path(dir) / "checkpoint.safetensors").string());
  auto data = shared_dataset(parse_task_name(cfg.task.name).first, resolve_data_dir(cfg.data_dir));
  const Task task(data, cfg.task);
  RnnModel<float> model(model_config(cfg, task));
  model.set_params(ck.get_f32("params", {int64_t(model.params().size())}));
  return model;
}

json train(const TrainConfig& cfg_in, bool resume_in, const HubSlot* slot) {
  TrainConfig cfg = cfg_in;
  bool resume = resume_in;
  if (cfg.out.empty()) fail("--out DIR is required");
  const fs::path dir(cfg.out);
  const std::string cfg_path = (dir / "config.json").string(),
                    ck_path = (dir / "checkpoint.safetensors").string(),
                    log_path = (dir / "log.jsonl").string();
  if (resume) {
    if (!fs::is_regular_file(cfg_path))
      fail("{}: nothing to resume (needs config.json and checkpoint.safetensors)",
           absolute_path(cfg.out));
    // A run that stopped before its first checkpoint has nothing to continue: it starts over
    // from its saved configuration.
    if (!fs::is_regular_file(ck_path)) {
      fmt::print(stderr, "{}: no checkpoint yet; the run starts over from step 0\n",
                 absolute_path(cfg.out));
      resume = false;
      std::error_code ec;
      fs::remove(log_path, ec);
    }
    TrainConfig saved = TrainConfig::from_json(read_json(cfg_path), absolute_path(cfg_path));
    saved.out = cfg.out;
    if (cfg_in.steps > 0) saved.steps = cfg_in.steps;  // 0: keep the saved target
    // A checkpoint resumes on any device: the host model and optimizer are the record.
    const bool moved = (!cfg_in.device.empty() && cfg_in.device != saved.device) ||
                       (!cfg_in.precision.empty() && cfg_in.precision != saved.precision);
    if (!cfg_in.device.empty()) saved.device = cfg_in.device;
    if (!cfg_in.precision.empty()) saved.precision = cfg_in.precision;
    else if (saved.device != "cuda") saved.precision = "fp32";  // tf32 is a GPU choice
    cfg = saved;
    cfg.validate();
    // The next plain --resume continues where this one runs.
    if (moved) {
      if (cfg.device == "cuda") gpu::cuda_device_name();  // no GPU: leave the run as it was
      write_json_atomic(cfg_path, cfg.to_json());
    }
  } else if (fs::exists(cfg_path)) {
    fail("{} already holds a run: continue it with --resume {} (a run without a checkpoint "
         "starts over) or choose another --out",
         absolute_path(cfg.out), cfg.out);
  } else {
    // A new run writes these: a directory that already has one of them is not overwritten.
    for (const char* f : {"log.jsonl", "metrics.json", "checkpoint.safetensors"})
      if (fs::exists(dir / f))
        fail(
            "{} already holds {} and no run's config.json: choose another --out (nothing was "
            "written)",
            absolute_path(cfg.out), f);
  }
  if (cfg.device.empty()) cfg.device = "cpu";
  if (cfg.precision.empty()) cfg.precision = "fp32";
  cfg.validate();
  if (cfg.device == "cuda") gpu::cuda_device_name();  // no GPU: say so before anything is written

  // Everything that can be wrong with the input is found here, before the first step.
  auto data = shared_dataset(parse_task_name(cfg.task.name).first, resolve_data_dir(cfg.data_dir));
  const Task task(data, cfg.task);
  if (size_t(cfg.batch) > task.size(Split::Train))
    fail("--batch {} is larger than the {} training examples", cfg.batch, task.size(Split::Train));
  {
    // Beyond the data set (in memory already): the training batch with every step's gates and
    // states for the backward sweep (CPU engine; the CUDA engine keeps those on the GPU), a
    // second copy of its inputs, and the inputs of an evaluation batch of up to 256 sequences
    // (evaluation keeps no states). Measured at
    // T = 8192, I = 32768, B = 1: 3.1 GiB beyond the data, for 3.0 estimated here.
    const uint64_t T = uint64_t(task.seq_len()), B = uint64_t(cfg.batch),
                   N = uint64_t(cfg.hidden), I = uint64_t(task.input_dim()),
                   G = uint64_t(input_gates(parse_cell(cfg.cell)));
    auto limited = [](size_t n, int64_t limit) {
      return limit > 0 ? std::min<uint64_t>(n, uint64_t(limit)) : uint64_t(n);
    };
    const uint64_t Be = std::min<uint64_t>(
        256, std::max(limited(task.size(Split::Val), cfg.eval_limit),
                      limited(task.size(Split::Test), cfg.test_limit)));
    const uint64_t inputs = 4 * T * I, states = 4 * T * (G * N + 3 * N);
    check_fits_available(inputs * (2 * B + Be) + states * (cfg.device == "cuda" ? 0 : B),
                         fmt::format("training with T = {}, batch {}, {} inputs per step and {} "
                                     "hidden units (and an evaluation batch of {})",
                                     T, B, I, N, Be));
  }
  warn_if_more_threads_than_cores(cfg.threads);
  RnnModel<float> model(model_config(cfg, task));
  auto opt = make_optimizer(cfg.optimizer, model.params().size());
  int64_t start = 0;
  bool revalidate = false;
  double wall_before = 0;
  std::vector<std::string> warnings;  // also written to the log, once it is open
  json solved;                        // --init critical: DIR/init_spec.json
  std::string solved_line;
  if (resume) {
    const SafeTensors ck = read_safetensors(ck_path);
    model.set_params(ck.get_f32("params", {int64_t(model.params().size())}));
    for (auto& [name, v] : opt->state()) *v = ck.get_f32(name, {int64_t(v->size())});
    if (!all_finite(model.params()))
      fail("{}: the checkpoint holds non-finite parameters and cannot be resumed",
           absolute_path(ck_path));
    start = parse_int64_strict(ck.meta("step"), absolute_path(ck_path) + ": metadata 'step'");
    wall_before = parse_double_strict(ck.meta("wall_time_s"),
                                      absolute_path(ck_path) + ": metadata 'wall_time_s'");
    if (start < 0 || !(wall_before >= 0) || !std::isfinite(wall_before))
      fail("{}: metadata 'step' = {} and 'wall_time_s' = {} must be non-negative",
           absolute_path(ck_path), start, wall_before);
    if (start > cfg.steps)
      fail("{}: checkpoint is at step {}, beyond --steps {}", ck_path, start, cfg.steps);
    // A finished run extended past its end logged its validation at `start` as part of the
    // final evaluation, which the log drops: it is redone below where a validation is due.
    revalidate = !truncate_log(log_path, start) && start > 0 && start % cfg.eval_every == 0 &&
                 start < cfg.steps;
  } else {
    // A resumed run reloads its checkpoint above: the critical init is solved once, here.
    if (cfg.init == "critical") {
      const TaskInputStats stats = task_input_stats(task);
      const theory::CriticalResult r = solve_run_critical(cfg, task, stats);
      initialize_model_from_spec(model, r.spec, cfg.seed);
      if (!r.reached)
        warnings.push_back(fmt::format(
            "--init critical: the {} criterion was not reached for {} (T·ln m1 = {:.4f}, ln G_T = "
            "{:.4f}); the spec is the nearest the search found (notes in init_spec.json)",
            theory::criterion_name(r.criterion), cfg.cell, r.log_m1_T, r.log_gain_T));
      json diag = r.to_json();
      diag["task_inputs"] = stats.description;
      solved = r.spec.to_json();
      solved["diagnostics"] = diag;
      solved_line = fmt::format(
          "init critical ({} criterion): solved {} for {} at T = {}, R = {:.4g} ({}); m1 = {:.4f}, "
          "ξ = {:.4g}, tied gain over T = {:.3g}; spec in {}",
          theory::criterion_name(r.criterion), r.knobs_text(), cfg.cell, task.seq_len(),
          stats.input_var, stats.description, r.diagnostics.jacobian.m1, r.diagnostics.xi(),
          std::exp(r.log_gain_T),
          absolute_path((dir / "init_spec.json").string()));
    } else if (auto spec = initialize_model(model, cfg.init, task.seq_len(), cfg.seed);
               spec && !spec->design.empty()) {
      const TaskInputStats stats = task_input_stats(task);
      warnings = design_mismatches(spec->design, spec->source, task.seq_len(), stats.input_var,
                                   cfg.gru_variant, cfg.hidden, cfg.task.name);
    }
    fs::create_directories(dir);
    if (!solved.is_null()) write_json_atomic((dir / "init_spec.json").string(), solved);
    write_json_atomic(cfg_path, cfg.to_json());
    if (!solved_line.empty()) fmt::print(stderr, "{}\n", solved_line);
    for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  }
  // Eigen's thread count is process-wide: the runs of a pack (threads of one process) leave it.
  if (!slot) Eigen::setNbThreads(cfg.threads);

  // Every log line goes out in one checked write and reaches the disk (util/atomic_file.h).
  auto log = [&](const json& j) { append_line(log_path, j.dump()); };
  for (const auto& w : warnings) log(json{{"warning", w}});
  BatchSampler sampler(task.size(Split::Train), size_t(cfg.batch), cfg.seed);
  const int T = task.seq_len(), I = task.input_dim(), B = cfg.batch;
  AlignedVector<float> x(size_t(T) * B * I);  // zero: batches write the data window only
  auto engine = slot ? slot->hub->engine(slot->index, model, *opt, cfg.optimizer, T, B)
                     : make_step_engine(cfg.device, cfg.precision, model, *opt, cfg.optimizer, T, B);
  const Task::Window window = task.data_window();
  engine->set_input_window(window.t0, window.t1);
  // Evaluation on the engine where it can (in batches of B), on the host model otherwise.
  auto evaluate_run = [&](Split split, int64_t limit) {
    return engine->evaluates() ? evaluate_on_engine(*engine, task, split, limit, B)
                               : evaluate(model, task, split, limit);
  };
  std::vector<int> labels(B);
  Progress progress(start, cfg.steps);
  const auto t0 = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto validate = [&](int64_t done) {  // the periodic validation
    const EvalResult v = evaluate_run(Split::Val, cfg.eval_limit);
    log(json{{"step", done},
             {"val_loss", v.loss},
             {"val_accuracy", v.accuracy},
             {"val_examples", v.count}});
    progress.message(fmt::format("step {}: validation loss {:.4f}, accuracy {:.4f} ({} examples)",
                                 done, v.loss, v.accuracy, v.count));
  };
  if (revalidate) validate(start);
  int64_t last_ckpt = start;
  double recent_loss = 0, recent_acc = 0;
  int recent_n = 0;

  const double divergence_limit = 100.0 * std::log(double(model.config().classes));
  // Stops the run: the log says why, and the last checkpoint (finite, written before) stays.
  auto diverged = [&](int64_t step, const std::string& why) {
    log(json{{"step", step}, {"error", "diverged: " + why}});
    fail("training diverged at step {}: {}. Training stopped; the last good checkpoint, step {}, "
         "is intact: {}",
         step, why, last_ckpt, last_ckpt > 0 ? absolute_path(ck_path) : "(none written yet)");
  };
  for (int64_t s = start; s < cfg.steps; ++s) {
    const auto ks = sampler.batch_at(uint64_t(s));
    std::vector<size_t> idx(ks.begin(), ks.end());
    task.batch_window(Split::Train, idx, x.data(), labels.data(), window);
    const StepEngine::Result r = engine->gradients(x.data(), labels.data(), T, B);
    const float loss = r.loss;
    const int correct = r.correct;
    const double gnorm = r.grad_norm;
    // Divergence (docs/training.md §Guarantees): a non-finite loss or gradient, or a loss above
    // 100·ln C, a hundred times that of a uniform guess.
    const bool nonfinite = !std::isfinite(loss) || !std::isfinite(gnorm);
    if (nonfinite || loss > divergence_limit)
      diverged(s + 1, nonfinite ? fmt::format("non-finite {} (loss {}, gradient norm {})",
                                              std::isfinite(loss) ? "gradient" : "loss", loss,
                                              gnorm)
                                : fmt::format("exploding loss {:.4g}, above 100·ln C = {:.4g}",
                                              loss, divergence_limit));
    const double lr = cfg.schedule == "cosine"
                          ? cfg.lr * 0.5 * (1.0 + std::cos(M_PI * double(s) / double(cfg.steps)))
                          : cfg.lr;
    engine->apply(cfg.clip, float(lr));
    const int64_t done = s + 1;
    const double acc = double(correct) / B;
    recent_loss += loss;
    recent_acc += acc;
    ++recent_n;
    if (done % cfg.log_every == 0 || done == cfg.steps) {
      log(json{{"step", done},
                  {"loss", recent_loss / recent_n},
                  {"accuracy", recent_acc / recent_n},
                  {"grad_norm", gnorm},
                  {"lr", lr},
                  {"time_s", wall_before + elapsed()}});
      progress.update(done, recent_loss / recent_n, recent_acc / recent_n, elapsed());
      recent_loss = recent_acc = 0;
      recent_n = 0;
    }
    if ((done % cfg.eval_every == 0 && done != cfg.steps) || done % cfg.checkpoint_every == 0 ||
        done == cfg.steps)
      engine->sync_to_host();
    if (done % cfg.eval_every == 0 && done != cfg.steps) validate(done);
    if (done % cfg.checkpoint_every == 0 || done == cfg.steps) {
      // Only finite parameters become a checkpoint: the last one stays the last good one.
      if (!all_finite(model.params())) diverged(done, "non-finite parameters after the update");
      save_checkpoint(cfg.out, model, *opt, done, wall_before + elapsed());
      last_ckpt = done;
    }
  }
  const double run_time = elapsed(), train_time = wall_before + run_time;
  const EvalResult val = evaluate_run(Split::Val, cfg.eval_limit);
  const EvalResult test = evaluate_run(Split::Test, cfg.test_limit);
  json metrics = {
      {"steps", cfg.steps},
      {"train_time_s", train_time},
      {"ms_per_step", 1000.0 * run_time / double(std::max<int64_t>(cfg.steps - start, 1))},
      {"val", {{"loss", val.loss}, {"accuracy", val.accuracy}, {"examples", val.count}}},
      {"test", {{"loss", test.loss}, {"accuracy", test.accuracy}, {"examples", test.count}}}};
  log(json{{"step", cfg.steps},
              {"val_loss", val.loss},
              {"val_accuracy", val.accuracy},
              {"test_loss", test.loss},
              {"test_accuracy", test.accuracy}});
  write_json_atomic((dir / "metrics.json").string(), metrics);
  progress.message(
      fmt::format("done: test accuracy {:.4f} (loss {:.4f}), validation accuracy {:.4f}; "
                  "{} steps in {}",
                  test.accuracy, test.loss, val.accuracy, cfg.steps, format_duration(train_time)));
  return metrics;
}

}  // namespace rnnmft
