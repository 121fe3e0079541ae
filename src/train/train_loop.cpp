// The training loop and the final evaluation of a run (train/run_stages.h).
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "train/ensemble_hub.h"
#include "train/run_stages.h"
#include "train/safetensors.h"
#include "util/atomic_file.h"
#include "util/duration.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rnnmft {

// Progress on stderr: a bar on a terminal, 20 plain lines per run otherwise.
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

namespace {

void save_checkpoint(const std::string& path, const RnnModel<float>& model, Optimizer& opt,
                     int64_t step, double wall, const LogWindow& window) {
  SafeTensors st;
  st.add_f32("params", {int64_t(model.params().size())}, model.params().data());
  for (auto& [name, v] : opt.state()) st.add_f32(name, {int64_t(v->size())}, v->data());
  // The open log window goes with the checkpoint (17 digits: the doubles round-trip exactly), so
  // that a run resumed between two log lines writes the uninterrupted run's next line.
  st.metadata = {{"format", "rnnmft-checkpoint-1"},
                 {"step", std::to_string(step)},
                 {"wall_time_s", fmt::format("{:.17g}", wall)},
                 {"optimizer", opt.name()},
                 {"log_window_steps", std::to_string(window.n)},
                 {"log_window_loss", fmt::format("{:.17g}", window.loss)},
                 {"log_window_accuracy", fmt::format("{:.17g}", window.accuracy)}};
  write_safetensors(path, st);
}

std::unique_ptr<StepEngine> run_engine(const TrainConfig& cfg, RnnModel<float>& model,
                                       Optimizer& opt, int T, int B, const HubSlot* slot) {
  return slot ? slot->hub->engine(slot->index, model, opt, cfg.optimizer, T, B)
              : make_step_engine(cfg.device, cfg.precision, model, opt, cfg.optimizer, T, B);
}

}  // namespace

TrainingLoop::TrainingLoop(const TrainConfig& cfg, const RunDir& d, const Task& task,
                           RnnModel<float>& model, Optimizer& opt, const RunStart& start,
                           const HubSlot* slot)
    : cfg_(cfg),
      dir_(d),
      task_(task),
      model_(model),
      opt_(opt),
      start_(start.step),
      wall_before_(start.wall_before),
      revalidate_(start.revalidate),
      T_(task.seq_len()),
      I_(task.input_dim()),
      B_(cfg.batch),
      sampler_(task.size(Split::Train), size_t(cfg.batch), cfg.seed),
      x_(size_t(T_) * size_t(B_) * size_t(I_)),
      labels_(size_t(B_)),
      engine_(run_engine(cfg, model, opt, T_, B_, slot)),
      window_(task.data_window()),
      progress_(std::make_unique<Progress>(start.step, cfg.steps)),
      last_ckpt_(start.step),
      log_window_(start.window),
      divergence_limit_(100.0 * std::log(double(model.config().classes))) {
  engine_->set_input_window(window_.t0, window_.t1);
  t0_ = std::chrono::steady_clock::now();
}

TrainingLoop::~TrainingLoop() = default;

double TrainingLoop::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

EvalResult TrainingLoop::evaluate(Split split, int64_t limit) {
  return engine_->evaluates() ? evaluate_on_engine(*engine_, task_, split, limit, B_)
                              : rnnmft::evaluate(model_, task_, split, limit);
}

void TrainingLoop::log(const json& entry) const {
  // Every log line goes out in one checked write and reaches the disk (util/atomic_file.h).
  append_line(dir_.log, entry.dump());
}

void TrainingLoop::run() {
  if (revalidate_) validate(start_);
  for (int64_t s = start_; s < cfg_.steps; ++s) step(s);
}

void TrainingLoop::step(int64_t s) {
  const auto ks = sampler_.batch_at(uint64_t(s));
  std::vector<size_t> idx(ks.begin(), ks.end());
  task_.batch_window(Split::Train, idx, x_.data(), labels_.data(), window_);
  const StepEngine::Result r = engine_->gradients(x_.data(), labels_.data(), T_, B_);
  const float loss = r.loss;
  const double gnorm = r.grad_norm;
  // Divergence (docs/training.md §Guarantees): a non-finite loss or gradient, or a loss above
  // 100·ln C, a hundred times that of a uniform guess.
  const bool nonfinite = !std::isfinite(loss) || !std::isfinite(gnorm);
  if (nonfinite || loss > divergence_limit_)
    diverged(s + 1, nonfinite ? fmt::format("non-finite {} (loss {}, gradient norm {})",
                                            std::isfinite(loss) ? "gradient" : "loss", loss, gnorm)
                              : fmt::format("exploding loss {:.4g}, above 100·ln C = {:.4g}", loss,
                                            divergence_limit_));
  const double lr = cfg_.schedule == "cosine"
                        ? cfg_.lr * 0.5 * (1.0 + std::cos(M_PI * double(s) / double(cfg_.steps)))
                        : cfg_.lr;
  engine_->apply(cfg_.clip, float(lr));
  const int64_t done = s + 1;
  const double acc = double(r.correct) / B_;
  LogWindow& w = log_window_;
  w.loss += loss;
  w.accuracy += acc;
  ++w.n;
  const bool periodic = done % cfg_.log_every == 0;
  if (periodic || done == cfg_.steps) {
    log(json{{"step", done},
             {"loss", w.loss / w.n},
             {"accuracy", w.accuracy / w.n},
             {"grad_norm", gnorm},
             {"lr", lr},
             {"time_s", wall_before_ + elapsed()}});
    progress_->update(done, w.loss / w.n, w.accuracy / w.n, elapsed());
    // The last step's line off the --log-every grid leaves its window open: the checkpoint keeps
    // it, and a run extended with --resume drops that line and continues the window.
    if (periodic) w = LogWindow{};
  }
  const bool validation_due = done % cfg_.eval_every == 0 && done != cfg_.steps,
             checkpoint_due = done % cfg_.checkpoint_every == 0 || done == cfg_.steps;
  if (validation_due || checkpoint_due) engine_->sync_to_host();
  if (validation_due) validate(done);
  if (checkpoint_due) checkpoint(done);
}

void TrainingLoop::validate(int64_t done) {
  const EvalResult v = evaluate(Split::Val, cfg_.eval_limit);
  log(json{{"step", done},
           {"val_loss", v.loss},
           {"val_accuracy", v.accuracy},
           {"val_examples", v.count}});
  progress_->message(fmt::format("step {}: validation loss {:.4f}, accuracy {:.4f} ({} examples)",
                                 done, v.loss, v.accuracy, v.count));
}

void TrainingLoop::checkpoint(int64_t done) {
  // Only finite parameters become a checkpoint: the last one stays the last good one.
  if (!all_finite(model_.params())) diverged(done, "non-finite parameters after the update");
  save_checkpoint(dir_.checkpoint, model_, opt_, done, wall_before_ + elapsed(), log_window_);
  last_ckpt_ = done;
}

// Stops the run: the log says why, and the last checkpoint (finite, written before) stays.
void TrainingLoop::diverged(int64_t step, const std::string& why) {
  log(json{{"step", step}, {"error", "diverged: " + why}});
  fail(
      "training diverged at step {}: {}. Training stopped; the last good checkpoint, step {}, "
      "is intact: {}",
      step, why, last_ckpt_,
      last_ckpt_ > 0 ? absolute_path(dir_.checkpoint) : "(none written yet)");
}

json final_evaluation(TrainingLoop& loop, const TrainConfig& cfg, const RunDir& d,
                      const RunStart& start) {
  const double run_time = loop.elapsed(), train_time = start.wall_before + run_time;
  const EvalResult val = loop.evaluate(Split::Val, cfg.eval_limit);
  const EvalResult test = loop.evaluate(Split::Test, cfg.test_limit);
  json metrics = {
      {"steps", cfg.steps},
      {"train_time_s", train_time},
      {"ms_per_step", 1000.0 * run_time / double(std::max<int64_t>(cfg.steps - start.step, 1))},
      {"val", {{"loss", val.loss}, {"accuracy", val.accuracy}, {"examples", val.count}}},
      {"test", {{"loss", test.loss}, {"accuracy", test.accuracy}, {"examples", test.count}}}};
  loop.log(json{{"step", cfg.steps},
                {"val_loss", val.loss},
                {"val_accuracy", val.accuracy},
                {"test_loss", test.loss},
                {"test_accuracy", test.accuracy}});
  write_json_atomic((d.dir / "metrics.json").string(), metrics);
  loop.progress().message(
      fmt::format("done: test accuracy {:.4f} (loss {:.4f}), validation accuracy {:.4f}; "
                  "{} steps in {}",
                  test.accuracy, test.loss, val.accuracy, cfg.steps, format_duration(train_time)));
  return metrics;
}

}  // namespace rnnmft
