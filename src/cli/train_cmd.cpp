// `rnnmft train`, `rnnmft export`, `rnnmft eval` and `rnnmft grads`.
#include <fmt/core.h>

#include <Eigen/Core>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "train/trainer.h"
#include "train/weights_io.h"
#include "util/error.h"

namespace rnnmft::cli {
namespace {

using nlohmann::json;

struct TrainArgs {
  TaskFlags task;
  TrainConfig cfg;
  std::string resume;
};

// The model in a weights file, with the task it is evaluated on.
struct Loaded {
  std::unique_ptr<RnnModel<float>> model;
  std::unique_ptr<Task> task;
};

Loaded load_for_task(const std::string& weights, const TaskFlags& tf) {
  Loaded l;
  l.task = std::make_unique<Task>(make_task(tf));
  const SafeTensors st = read_safetensors(weights);
  const ModelConfig mc = config_from_weights(st);
  if (mc.input_dim != l.task->input_dim())
    fail("{}: the model reads {} inputs per step, task {} gives {}", st.path, mc.input_dim,
         tf.options.name, l.task->input_dim());
  if (mc.classes != l.task->num_classes())
    fail("{}: the model's head has {} classes, task {} has {}", st.path, mc.classes,
         tf.options.name, l.task->num_classes());
  l.model = std::make_unique<RnnModel<float>>(mc);
  import_weights(*l.model, st);
  return l;
}

}  // namespace

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* t = app.add_subcommand("train", "Train a recurrent classifier on a sequence task");
  add_task_flags(t, a->task, false);
  TrainConfig& c = a->cfg;
  t->add_option("--cell", c.cell, cell_choices())->capture_default_str();
  t->add_option("--gru-variant", c.gru_variant, "reset-after (PyTorch) or reset-before (paper)")
      ->capture_default_str();
  t->add_option("--hidden", c.hidden, "Hidden units N")->capture_default_str();
  t->add_option("--init", c.init,
                "pytorch, keras, orthogonal[:gain], chrono[:T_max], critical (designed for the "
                "task's T and inputs, saved as DIR/init_spec.json: critical-v2 for the gated "
                "cells, critical-v1 for the vanilla cell), critical-v2 (log-uniform timescales "
                "on [2, T], docs/theory.md §13), critical-v1 (keep-gate bias solved for ξ = T and "
                "tied gain 1, §6), a spec .json or weights .safetensors")
      ->capture_default_str();
  t->add_option("--steps", c.steps, "Training steps")->capture_default_str();
  t->add_option("--batch", c.batch, "Batch size")->capture_default_str();
  t->add_option("--optimizer", c.optimizer, "adam, sgd (momentum 0.9) or rmsprop")
      ->capture_default_str();
  t->add_option("--lr", c.lr, "Learning rate")->capture_default_str();
  t->add_option("--clip", c.clip, "Clip the gradient's global norm to this (0: off)")
      ->capture_default_str();
  t->add_option("--schedule", c.schedule, "constant or cosine")->capture_default_str();
  t->add_option("--seed", c.seed, "Seed of the init and the batches")
      ->check(non_negative())
      ->capture_default_str();
  t->add_option("--threads", c.threads,
                "Threads, each owning a slice of the batch (≥ 8 rows) for the whole sequence")
      ->capture_default_str();
  t->add_option("--log-every", c.log_every, "Steps per log line")->capture_default_str();
  t->add_option("--eval-every", c.eval_every, "Steps between validations")->capture_default_str();
  t->add_option("--eval-limit", c.eval_limit,
                "Validation examples per periodic validation (≤0: all)")
      ->capture_default_str();
  t->add_option("--test-limit", c.test_limit, "Test examples of the final evaluation (≤0: all)")
      ->capture_default_str();
  t->add_option("--device", c.device,
                 "cpu, cuda (the GPU engine, docs/gpu.md) or cpu-ensemble (the GPU engine's CPU "
                 "reference); on --resume, continues on another device [default: cpu, or the "
                 "run's]");
  t->add_option("--precision", c.precision,
                "Products on --device cuda: fp32, tf32 or bf16 (docs/gpu.md §Precision) [default: "
                "fp32, or the run's]");
  t->add_option("--checkpoint-every", c.checkpoint_every, "Steps between checkpoints")
      ->capture_default_str();
  auto* out = t->add_option("--out", c.out, "Run directory (log.jsonl, metrics.json, checkpoint)");
  auto* res = t->add_option("--resume", a->resume, "Continue the run in this directory");
  out->excludes(res);
  auto* steps_opt = t->get_option("--steps");
  t->callback([a, steps_opt, t] {
    TrainConfig cfg = a->cfg;
    const bool resume = !a->resume.empty();
    if (resume) {
      // A resumed run is the run its config.json describes: a flag that would change it is
      // refused rather than ignored (docs/training.md §Guarantees).
      std::string refused;
      for (const CLI::Option* o : t->get_options()) {
        const std::string name = o->get_name();
        if (o->count() > 0 && name != "--resume" && name != "--steps" && name != "--device" &&
            name != "--precision")
          refused += (refused.empty() ? "" : ", ") + name;
      }
      if (!refused.empty())
        fail(
            "{} cannot change on --resume: the run keeps the settings of {}/config.json (only "
            "--steps, --device and --precision may be given); start a new run with --out to "
            "change them",
            refused, a->resume);
      cfg.out = a->resume;
      if (steps_opt->count() == 0) cfg.steps = 0;
    } else {
      if (a->task.options.name.empty()) fail("--task is required");
      if (cfg.out.empty()) fail("--out DIR is required");
      cfg.task = a->task.options;
      if (a->task.permute >= 0) cfg.task.permute = uint64_t(a->task.permute);
      cfg.data_dir = a->task.data_dir.empty() ? "" : absolute_path(a->task.data_dir);
      if (is_weights_init(cfg.init))  // its header, before a model of --hidden units is allocated
        check_weights_file(cfg.init, {parse_cell(cfg.cell), parse_gru_variant(cfg.gru_variant), 0,
                                      cfg.hidden, 0});
    }
    train(cfg, resume);
  });

  struct ExportArgs {
    std::string dir, out;
  };
  auto e = std::make_shared<ExportArgs>();
  auto* ex =
      app.add_subcommand("export", "Write a run's weights as safetensors with PyTorch names");
  ex->add_option("dir", e->dir, "Run directory")->required();
  ex->add_option("-o,--output", e->out, "Output .safetensors file")->required();
  ex->callback([e] {
    RnnModel<float> m = load_run_model(e->dir);
    write_safetensors(e->out, export_weights(m));
    fmt::print("wrote {} ({} cell, {} hidden units, {} inputs, {} classes)\n",
               absolute_path(e->out), cell_name(m.config().cell), m.config().hidden,
               m.config().input_dim, m.config().classes);
  });

  struct EvalArgs {
    TaskFlags task;
    std::string weights, split = "test";
    int64_t limit = 0;
    bool json = false;
    int threads = 1;
  };
  auto ev = std::make_shared<EvalArgs>();
  auto* evc = app.add_subcommand("eval", "Mean loss and accuracy of weights on a task split");
  evc->add_option("--weights", ev->weights, "Weights .safetensors (from export)")->required();
  add_task_flags(evc, ev->task);
  evc->add_option("--split", ev->split, "test, val or train")->capture_default_str();
  evc->add_option("--limit", ev->limit, "Only the first K examples (file order; 0: all)")
      ->check(non_negative());
  evc->add_option("--threads", ev->threads, "Threads")->capture_default_str();
  evc->add_flag("--json", ev->json, "Print JSON");
  evc->callback([ev] {
    Loaded l = load_for_task(ev->weights, ev->task);
    Eigen::setNbThreads(ev->threads);
    const Split split = parse_split(ev->split);
    const EvalResult r = evaluate(*l.model, *l.task, split, ev->limit);
    if (ev->json)
      fmt::print("{}\n",
                 json{{"loss", r.loss}, {"accuracy", r.accuracy}, {"examples", r.count}}.dump());
    else
      fmt::print("{} {}: loss {:.6f}  accuracy {:.4f}  ({} examples)\n", ev->task.options.name,
                 ev->split, r.loss, r.accuracy, r.count);
  });

  struct GradArgs {
    TaskFlags task;
    std::string weights, split = "test", out;
    int64_t limit = 16;
  };
  auto g = std::make_shared<GradArgs>();
  auto* gc = app.add_subcommand(
      "grads", "Loss and gradient of weights on the first K examples of a split (for checks)");
  gc->add_option("--weights", g->weights, "Weights .safetensors")->required();
  add_task_flags(gc, g->task);
  gc->add_option("--split", g->split, "test, val or train")->capture_default_str();
  gc->add_option("--limit", g->limit, "Batch: the first K examples")->capture_default_str();
  gc->add_option("-o,--output", g->out, "Output .safetensors: x, labels, gradients")->required();
  gc->callback([g] {
    Loaded l = load_for_task(g->weights, g->task);
    const Split split = parse_split(g->split);
    const int B = int(std::min<int64_t>(g->limit, int64_t(l.task->size(split))));
    if (B < 1) fail("--limit must be at least 1");
    std::vector<size_t> ks(B);
    for (int b = 0; b < B; ++b) ks[b] = size_t(b);
    const int T = l.task->seq_len(), I = l.task->input_dim();
    AlignedVector<float> x(size_t(T) * B * I), grad;
    std::vector<int> labels(B);
    l.task->batch(split, ks, x.data(), labels.data());
    const float loss = l.model->loss_and_grad(x.data(), labels.data(), T, B, grad);
    RnnModel<float> gm(l.model->config());
    gm.set_params(grad);
    SafeTensors st = export_weights(gm);
    st.add_f32("x", {T, B, I}, x.data());
    std::vector<int64_t> lab(labels.begin(), labels.end());
    st.add_i64("labels", {B}, lab.data());
    st.metadata["loss"] = fmt::format("{:.9g}", loss);
    write_safetensors(g->out, st);
    fmt::print("loss {:.9g} over {} examples; wrote {}\n", loss, B, absolute_path(g->out));
  });
}

}  // namespace rnnmft::cli
