// `rnnmft bench`: time full training steps (forward, backward through time, Adam update).
#include <fmt/core.h>
#include <sys/resource.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "cells/rnn_model.h"
#include "cli/commands.h"
#include "ensemble/ensemble.h"
#include "gpu/cuda_backend.h"
#include "spec/draw.h"
#include "train/optimizers/adam.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/rng.h"

namespace rnnmft::cli {

namespace {

// One ensemble step of K models: forward, backward through time, norms, clipping and Adam.
template <typename Args>
void bench_cuda(const Args& a) {
  if (a.seq_len < 1 || a.hidden < 1 || a.batch < 1 || a.input_dim < 1 || a.steps < 1 ||
      a.models < 1 || a.chunk < 0)
    fail("--seq-len, --hidden, --batch, --input-dim, --steps and --models must be ≥ 1");
  if (a.pad < 0 || a.pad > a.seq_len) fail("--pad must be between 0 and --seq-len");
  if (a.fused_cluster != 0 && a.fused_cluster != 1 && a.fused_cluster != 2 &&
      a.fused_cluster != 4 && a.fused_cluster != 8)
    fail("--fused-cluster must be 0, 1, 2, 4 or 8 (got {})", a.fused_cluster);
  const gpu::Precision precision = gpu::parse_precision(a.precision);
  ens::EnsembleConfig c;
  c.model = ModelConfig{parse_cell(a.cell), parse_gru_variant(a.gru_variant), a.input_dim,
                        a.hidden, 10};
  c.models = a.models;
  c.seq_len = a.seq_len;
  c.batch = a.batch;
  c.chunk = a.chunk;
  c.record = !a.direct;
  c.fused = a.fused;
  c.fused_cluster = a.fused_cluster;
  const std::string gpu_name = gpu::cuda_device_name();
  ens::Ensemble e(gpu::make_cuda_backend(precision), c);
  const ens::FusedPlan& ff = e.fused_plan(false);
  const ens::FusedPlan& fb = e.fused_plan(true);
  const int pf = ff.P, pb = fb.P;
  // Residency: a slow fused step with K / resident waves is packing, not the kernel.
  auto or_null = [](int v) { return v > 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
  const int waves_f = ens::fused_waves(ff, a.models), waves_b = ens::fused_waves(fb, a.models);
  if (a.fused && (pf == 0 || pb == 0))
    fmt::print(stderr,
               "note: the fused sweep {} (it needs --precision tf32 or bf16, N a multiple of 16 "
               "per block, a block's share of the weights in shared memory and a GPU with "
               "thread-block clusters); the rest runs step by step\n",
               pf == 0 && pb == 0 ? "does not apply here" : pf == 0 ? "runs backward only"
                                                                     : "runs forward only");
  const size_t T = a.seq_len, B = a.batch, I = a.input_dim;
  AlignedVector<float> x(T * B * I);
  std::vector<int> labels(B);
  for (int k = 0; k < a.models; ++k) {
    RnnModel<float> m(c.model);
    Rng rng(1 + k);
    draw_preset(m, a.init, a.seq_len, rng);
    e.set_params(k, m.params().data());
    for (auto& v : x) v = float(rng.uniform());
    std::fill(x.begin() + (T - size_t(a.pad)) * B * I, x.end(), 0.f);
    for (auto& l : labels) l = int(rng.below(10));
    e.set_batch(k, x.data(), labels.data());
  }
  const std::vector<float> lr(size_t(a.models), 1e-3f);
  const std::vector<double> clip(size_t(a.models), 1.0);
  std::vector<double> ms;
  for (int s = 0; s < a.warmup + a.steps; ++s) {
    e.backend().sync();
    const auto t0 = std::chrono::steady_clock::now();
    e.run();
    e.update(lr, clip, e.grad_norms());
    e.backend().sync();
    const double dt =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s >= a.warmup) ms.push_back(dt);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], best = ms.front();
  // The forward sweep alone (evaluation's cost), for the split of a step's time.
  std::vector<double> fw;
  e.run(true);  // records the forward-only sweep
  for (int s = 0; s < a.steps; ++s) {
    e.backend().sync();
    const auto t0 = std::chrono::steady_clock::now();
    e.run(true);
    e.backend().sync();
    fw.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(fw.begin(), fw.end());
  const double G = input_gates(c.model.cell), Gh = recurrent_gates(c.model.cell), N = a.hidden;
  const double flops =
      3.0 * 2.0 * double(T) * double(B) * N * (G * double(I) + Gh * N) * a.models;
  const double peak_mb = e.backend().peak_bytes() / 1048576.0;
  const double gflops = flops / (median * 1e-3) / 1e9;
  if (a.json) {
    fmt::print("{}\n", nlohmann::json{{"ms_per_step", median},
                                      {"ms_per_step_min", best},
                                      {"ms_per_model_step", median / a.models},
                                      {"ms_forward", fw[fw.size() / 2]},
                                      {"recorded", !a.direct},
                                      {"models", a.models},
                                      {"gflops", gflops},
                                      {"peak_gpu_mb", peak_mb},
                                      {"gpu", gpu_name},
                                      {"device", "cuda"},
                                      {"precision", a.precision},
                                      {"chunk", e.chunk()},
                                      {"fused_forward_blocks", pf},
                                      {"fused_backward_blocks", pb},
                                      {"fused_forward_resident_clusters", or_null(ff.resident)},
                                      {"fused_backward_resident_clusters", or_null(fb.resident)},
                                      {"fused_forward_waves", or_null(waves_f)},
                                      {"fused_backward_waves", or_null(waves_b)},
                                      {"cell", a.cell},
                                      {"gru_variant", a.gru_variant},
                                      {"seq_len", T},
                                      {"hidden", a.hidden},
                                      {"batch", B},
                                      {"input_dim", I},
                                      {"init", a.init},
                                      {"pad", a.pad},
                                      {"steps", a.steps}}
                           .dump());
  } else {
    fmt::print(
        "{} on {} ({}), {} models, T={} N={} B={} I={}: {:.2f} ms per ensemble step (median of "
        "{}, min {:.2f}), {:.3f} ms per model-step, {:.0f} GFLOP/s, {:.0f} MiB of GPU memory\n",
        a.cell, gpu_name, a.precision, a.models, T, a.hidden, B, I, median, a.steps, best,
        median / a.models, gflops, peak_mb);
    if (pf > 0 || pb > 0)
      fmt::print("fused sweep: forward {} blocks per cluster, {} clusters resident, {} waves; "
                 "backward {} blocks, {} resident, {} waves\n",
                 pf, ff.resident, waves_f, pb, fb.resident, waves_b);
  }
}

}  // namespace

void register_bench(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", gru_variant = "reset-after";
    std::string device = "cpu", precision = "fp32";
    int seq_len = 784, hidden = 128, batch = 64, input_dim = 1, threads = 1, steps = 5, warmup = 1;
    int models = 1, chunk = 0, pad = 0, fused_cluster = 0;
    bool direct = false, fused = false;
    std::string init = "pytorch";
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* b = app.add_subcommand(
      "bench", "Time training steps: median ms, GEMM-equivalent GFLOP/s, peak memory");
  b->add_option("--cell", a->cell, cell_choices())->capture_default_str();
  b->add_option("--gru-variant", a->gru_variant, "reset-after or reset-before")
      ->capture_default_str();
  b->add_option("--seq-len", a->seq_len, "T")->capture_default_str();
  b->add_option("--hidden", a->hidden, "N")->capture_default_str();
  b->add_option("--batch", a->batch, "B")->capture_default_str();
  b->add_option("--input-dim", a->input_dim, "I")->capture_default_str();
  b->add_option("--threads", a->threads, "Threads")->capture_default_str();
  b->add_option("--steps", a->steps, "Timed steps")->capture_default_str();
  b->add_option("--warmup", a->warmup, "Untimed steps first")->capture_default_str();
  b->add_option("--init", a->init, "Init preset of the timed model(s)")->capture_default_str();
  b->add_option("--pad", a->pad,
                "Zero inputs at the last P steps, as in padded tasks (the gradients that cross "
                "them can become subnormal)")
      ->capture_default_str();
  b->add_option("--device", a->device, "cpu, or cuda (the ensemble engine on the GPU)")
      ->capture_default_str();
  b->add_option("--models", a->models, "Models trained at once (--device cuda)")
      ->capture_default_str();
  b->add_option("--precision", a->precision,
                "fp32, tf32 or bf16 products (--device cuda; bf16: the fused sweep with bf16 "
                "tiles)")
      ->capture_default_str();
  b->add_option("--chunk", a->chunk,
                "Time steps per chunk of the backward sweep (--device cuda; 0: from memory)")
      ->capture_default_str();
  b->add_flag("--direct", a->direct,
              "Launch every call of a step directly instead of replaying a recorded CUDA graph "
              "(--device cuda)");
  b->add_flag("--fused", a->fused,
              "Walk each chunk of time steps in one launch with W_hh on chip (--device cuda "
              "--precision tf32; bf16 always does; docs/gpu.md §Fused sweeps)");
  b->add_option("--fused-cluster", a->fused_cluster,
                "Blocks per model of the fused sweep: 1, 2, 4 or 8 (0: the fewest that fit)")
      ->capture_default_str();
  b->add_flag("--json", a->json, "Print JSON");
  b->callback([a] {
    if (a->device == "cuda") {
      bench_cuda(*a);
      return;
    }
    if (a->device != "cpu") fail("--device must be cpu or cuda (got '{}')", a->device);
    if (a->models != 1) fail("--models needs --device cuda");
    if (a->seq_len < 1 || a->hidden < 1 || a->batch < 1 || a->input_dim < 1 || a->steps < 1 ||
        a->threads < 1)
      fail("--seq-len, --hidden, --batch, --input-dim, --steps and --threads must be ≥ 1");
    warn_if_more_threads_than_cores(a->threads);
    Eigen::setNbThreads(a->threads);
    ModelConfig mc{parse_cell(a->cell), parse_gru_variant(a->gru_variant), a->input_dim, a->hidden,
                   10};
    if (a->pad < 0 || a->pad > a->seq_len) fail("--pad must be between 0 and --seq-len");
    check_fits_available(
        training_memory_bytes({input_gates(mc.cell), recurrent_gates(mc.cell), a->hidden,
                               a->input_dim, 10, a->batch, a->seq_len, optimizer_slots("adam")}),
        fmt::format("a step with T = {}, batch {} and {} hidden units", a->seq_len, a->batch,
                    a->hidden));
    RnnModel<float> m(mc);
    Rng rng(1);
    draw_preset(m, a->init, a->seq_len, rng);
    const size_t T = a->seq_len, B = a->batch, I = a->input_dim;
    AlignedVector<float> x(T * B * I), grad;
    for (auto& v : x) v = float(rng.uniform());
    std::fill(x.begin() + (T - size_t(a->pad)) * B * I, x.end(), 0.f);
    std::vector<int> labels(B);
    for (auto& l : labels) l = int(rng.below(10));
    Adam adam(m.params().size());
    std::vector<double> ms;
    for (int s = 0; s < a->warmup + a->steps; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      m.loss_and_grad(x.data(), labels.data(), int(T), int(B), grad);
      adam.step(m.params().data(), grad.data(), grad.size(), 1e-3f);
      const double dt =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (s >= a->warmup) ms.push_back(dt);
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    // GEMM-equivalent work: forward 2·T·B·G·N·(N + I), backward twice that (docs/performance.md).
    const double G = input_gates(mc.cell), Gh = recurrent_gates(mc.cell), N = a->hidden;
    const double flops = 3.0 * 2.0 * double(T) * double(B) * N * (G * double(I) + Gh * N);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double peak_mb = ru.ru_maxrss / 1024.0;
    const double gflops = flops / (median * 1e-3) / 1e9;
    if (a->json) {
      fmt::print("{}\n", nlohmann::json{{"ms_per_step", median},
                                        {"gflops", gflops},
                                        {"peak_rss_mb", peak_mb},
                                        {"cell", a->cell},
                                        {"seq_len", T},
                                        {"hidden", a->hidden},
                                        {"batch", B},
                                        {"input_dim", I},
                                        {"threads", a->threads},
                                        {"init", a->init},
                                        {"pad", a->pad},
                                        {"steps", a->steps}}
                             .dump());
    } else {
      fmt::print(
          "{} T={} N={} B={} I={} threads={}: {:.1f} ms/step (median of {}), {:.1f} GFLOP/s, peak "
          "{:.0f} MB\n",
          a->cell, T, a->hidden, B, I, a->threads, median, a->steps, gflops, peak_mb);
    }
  });
}

}  // namespace rnnmft::cli
