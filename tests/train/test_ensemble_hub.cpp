// EnsembleHub (train/ensemble_hub.h) on the CPU reference backend, with real threads: runs that
// share an ensemble end where each ends alone (an engine of its own), whatever the others do —
// fewer steps, evaluations between steps, leaving before they ever had an engine — and a run's bad
// batch fails that run only.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "cells/rnn_model.h"
#include "ensemble/ensemble.h"
#include "spec/draw.h"
#include "train/ensemble_hub.h"
#include "train/optimizers/optimizer.h"
#include "train/step_engine.h"
#include "util/error.h"
#include "util/rng.h"

namespace rnnmft {
namespace {

constexpr int T = 6, B = 4, N = 5, I = 3;

ModelConfig config() { return ModelConfig{CellType::Lstm, GruVariant::ResetAfter, I, N, 10}; }

struct Batch {
  AlignedVector<float> x;
  std::vector<int> y;
};

Batch batch(uint64_t seed) {
  Rng rng(seed);
  Batch b;
  b.x.resize(size_t(T) * B * I);
  for (auto& v : b.x) v = float(rng.normal());
  b.y.resize(B);
  for (auto& v : b.y) v = int(rng.below(10));
  return b;
}

// What run k does: `steps` steps (batch seeds 100k + s), evaluating on batch 7 after each step
// whose index is in `evals`. Returns its final parameters and the losses it saw.
struct Outcome {
  AlignedVector<float> params;
  std::vector<float> losses;
};
Outcome drive(StepEngine& e, RnnModel<float>& model, int k, int steps, int eval_every) {
  Outcome o;
  for (int s = 0; s < steps; ++s) {
    const Batch b = batch(uint64_t(100 * k + s));
    const auto r = e.gradients(b.x.data(), b.y.data(), T, B);
    o.losses.push_back(r.loss);
    e.apply(1.0, 0.01f);
    if (eval_every > 0 && (s + 1) % eval_every == 0) {
      const Batch v = batch(7);
      o.losses.push_back(e.forward(v.x.data(), v.y.data()).loss);
    }
  }
  e.sync_to_host();
  o.params = model.params();
  return o;
}

ens::EnsembleConfig hub_config(int models) {
  ens::EnsembleConfig c;
  c.model = config();
  c.models = models;
  c.seq_len = T;
  c.batch = B;
  return c;
}

RnnModel<float> model_of(int k) {
  RnnModel<float> m(config());
  Rng rng{uint64_t(k)};
  draw_preset(m, "pytorch", T, rng);
  return m;
}

TEST(EnsembleHub, RunsEndWhereEachEndsAlone) {
  const int steps[3] = {5, 2, 4}, evals[3] = {2, 0, 3};
  // Alone: each run with an engine of its own.
  std::vector<Outcome> alone;
  for (int k = 0; k < 3; ++k) {
    RnnModel<float> m = model_of(k);
    auto opt = make_optimizer("adam", m.params().size());
    auto e = make_step_engine("cpu-ensemble", "fp32", m, *opt, "adam", T, B);
    alone.push_back(drive(*e, m, k, steps[k], evals[k]));
  }
  // Together: runs 0–2 in threads, run 3 leaves without ever making an engine.
  EnsembleHub hub(ens::make_cpu_backend(), hub_config(4));
  std::vector<Outcome> together(3);
  std::vector<std::thread> threads;
  for (int k = 0; k < 3; ++k)
    threads.emplace_back([&, k] {
      RnnModel<float> m = model_of(k);
      auto opt = make_optimizer("adam", m.params().size());
      auto e = hub.engine(k, m, *opt, "adam", T, B);
      together[size_t(k)] = drive(*e, m, k, steps[k], evals[k]);
    });
  threads.emplace_back([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the others wait for it
    hub.leave(3);
  });
  for (auto& t : threads) t.join();
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(together[size_t(k)].losses, alone[size_t(k)].losses) << "run " << k;
    EXPECT_EQ(together[size_t(k)].params, alone[size_t(k)].params) << "run " << k;
  }
}

TEST(EnsembleHub, ABadBatchFailsItsRunOnly) {
  EnsembleHub hub(ens::make_cpu_backend(), hub_config(2));
  bool bad_threw = false;
  float good_loss = -1;
  std::thread bad([&] {
    RnnModel<float> m = model_of(0);
    auto opt = make_optimizer("adam", m.params().size());
    auto e = hub.engine(0, m, *opt, "adam", T, B);
    Batch b = batch(1);
    b.y[0] = 10;  // outside the 10 classes
    try {
      e->gradients(b.x.data(), b.y.data(), T, B);
    } catch (const Error&) {
      bad_threw = true;
    }
  });
  std::thread good([&] {
    RnnModel<float> m = model_of(1);
    auto opt = make_optimizer("adam", m.params().size());
    auto e = hub.engine(1, m, *opt, "adam", T, B);
    const Batch b = batch(2);
    good_loss = e->gradients(b.x.data(), b.y.data(), T, B).loss;
    e->apply(0, 0.01f);
  });
  bad.join();
  good.join();
  EXPECT_TRUE(bad_threw);
  EXPECT_GT(good_loss, 0.f);
  // A model of another shape is refused before it joins.
  RnnModel<float> other(ModelConfig{CellType::Gru, GruVariant::ResetAfter, I, N, 10});
  auto opt = make_optimizer("adam", other.params().size());
  EXPECT_THROW(hub.engine(0, other, *opt, "adam", T, B), Error);
}

}  // namespace
}  // namespace rnnmft
