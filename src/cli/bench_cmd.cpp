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
#include "spec/draw.h"
#include "train/optimizers/adam.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft::cli {

void register_bench(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", gru_variant = "reset-after";
    int seq_len = 784, hidden = 128, batch = 64, input_dim = 1, threads = 1, steps = 5, warmup = 1;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* b = app.add_subcommand(
      "bench", "Time training steps: median ms, GEMM-equivalent GFLOP/s, peak memory");
  b->add_option("--cell", a->cell, "vanilla, minimal, gru or lstm")->capture_default_str();
  b->add_option("--gru-variant", a->gru_variant, "reset-after or reset-before")
      ->capture_default_str();
  b->add_option("--seq-len", a->seq_len, "T")->capture_default_str();
  b->add_option("--hidden", a->hidden, "N")->capture_default_str();
  b->add_option("--batch", a->batch, "B")->capture_default_str();
  b->add_option("--input-dim", a->input_dim, "I")->capture_default_str();
  b->add_option("--threads", a->threads, "Threads")->capture_default_str();
  b->add_option("--steps", a->steps, "Timed steps")->capture_default_str();
  b->add_option("--warmup", a->warmup, "Untimed steps first")->capture_default_str();
  b->add_flag("--json", a->json, "Print JSON");
  b->callback([a] {
    if (a->seq_len < 1 || a->hidden < 1 || a->batch < 1 || a->input_dim < 1 || a->steps < 1 ||
        a->threads < 1)
      fail("--seq-len, --hidden, --batch, --input-dim, --steps and --threads must be ≥ 1");
    Eigen::setNbThreads(a->threads);
    ModelConfig mc{parse_cell(a->cell), parse_gru_variant(a->gru_variant), a->input_dim, a->hidden,
                   10};
    RnnModel<float> m(mc);
    Rng rng(1);
    draw_preset(m, "pytorch", a->seq_len, rng);
    const size_t T = a->seq_len, B = a->batch, I = a->input_dim;
    AlignedVector<float> x(T * B * I), grad;
    for (auto& v : x) v = float(rng.uniform());
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
