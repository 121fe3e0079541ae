// Evaluation of a run's model on a split: on the host model (the CPU engine) or on the run's
// engine in batches of its own size.
#include <algorithm>

#include "train/step_engine.h"
#include "train/trainer.h"

namespace rnnmft {

EvalResult evaluate(RnnModel<float>& model, const Task& task, Split split, int64_t limit,
                    int batch) {
  const size_t n = limit > 0 ? std::min<size_t>(size_t(limit), task.size(split)) : task.size(split);
  const int T = task.seq_len(), I = task.input_dim();
  EvalResult r;
  double loss_sum = 0;
  size_t hits = 0;
  AlignedVector<float> x;
  std::vector<int> labels;
  for (size_t k0 = 0; k0 < n; k0 += size_t(batch)) {
    const size_t B = std::min<size_t>(size_t(batch), n - k0);
    std::vector<size_t> ks(B);
    for (size_t b = 0; b < B; ++b) ks[b] = k0 + b;
    x.resize(size_t(T) * B * I);
    labels.resize(B);
    task.batch(split, ks, x.data(), labels.data());
    int correct = 0;
    loss_sum += double(model.loss(x.data(), labels.data(), T, int(B), &correct)) * double(B);
    hits += size_t(correct);
  }
  r.count = n;
  r.loss = n ? loss_sum / double(n) : 0;
  r.accuracy = n ? double(hits) / double(n) : 0;
  return r;
}

ModelConfig model_config(const TrainConfig& cfg, const Task& task) {
  ModelConfig mc;
  mc.cell = parse_cell(cfg.cell);
  mc.gru = parse_gru_variant(cfg.gru_variant);
  mc.hidden = cfg.hidden;
  mc.input_dim = task.input_dim();
  mc.classes = task.num_classes();
  return mc;
}

EvalResult evaluate_on_engine(StepEngine& engine, const Task& task, Split split, int64_t limit,
                              int batch) {
  const size_t n = limit > 0 ? std::min<size_t>(size_t(limit), task.size(split)) : task.size(split);
  const Task::Window w = task.data_window();
  AlignedVector<float> x(size_t(task.seq_len()) * size_t(batch) * size_t(task.input_dim()));
  std::vector<int> labels(static_cast<size_t>(batch));
  std::vector<size_t> ks(static_cast<size_t>(batch));
  double loss_sum = 0;
  size_t hits = 0;
  for (size_t k0 = 0; k0 < n; k0 += size_t(batch)) {
    const size_t real = std::min<size_t>(size_t(batch), n - k0);
    // A last, short batch is filled up with its last example, whose copies count nowhere.
    for (size_t b = 0; b < size_t(batch); ++b) ks[b] = k0 + std::min(b, real - 1);
    task.batch_window(split, ks, x.data(), labels.data(), w);
    for (size_t b = real; b < size_t(batch); ++b) labels[b] = -1;
    const StepEngine::Result r = engine.forward(x.data(), labels.data());
    loss_sum += double(r.loss) * double(batch);
    hits += size_t(r.correct);
  }
  EvalResult r;
  r.count = n;
  r.loss = n ? loss_sum / double(n) : 0;
  r.accuracy = n ? double(hits) / double(n) : 0;
  return r;
}

}  // namespace rnnmft
