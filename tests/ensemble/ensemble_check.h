// Shared by the CPU and the CUDA ensemble tests: random models and batches, and the comparison of
// an ensemble's losses and gradients with RnnModel's (the CPU engine).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "../cell_cases.h"
#include "cells/rnn_model.h"
#include "ensemble/ensemble.h"
#include "spec/draw.h"
#include "train/optimizers/optimizer.h"
#include "util/rng.h"

namespace rnnmft::test {

// Model k's parameters (PyTorch's default init, seed k) and batch.
struct Problem {
  ModelConfig mc;
  int T, B;
  std::vector<AlignedVector<float>> params, x;
  std::vector<std::vector<int>> labels;
};

inline Problem make_problem(const CellCase& c, int K, int T, int B, int N, int I) {
  Problem p{ModelConfig{c.cell, c.gru, I, N, 10}, T, B, {}, {}, {}};
  for (int k = 0; k < K; ++k) {
    RnnModel<float> m(p.mc);
    Rng rng(100 + k);
    draw_preset(m, "pytorch", T, rng);
    p.params.push_back(m.params());
    AlignedVector<float> x(size_t(T) * B * I);
    for (auto& v : x) v = float(rng.normal());
    p.x.push_back(x);
    std::vector<int> y(B);
    for (auto& v : y) v = int(rng.below(10));
    p.labels.push_back(y);
  }
  return p;
}

// The engine's configuration for problem p: K models, chunks of `chunk` steps (0: by memory).
inline ens::EnsembleConfig config_for(const Problem& p, int K, int chunk = 0) {
  ens::EnsembleConfig c;
  c.model = p.mc;
  c.models = K;
  c.seq_len = p.T;
  c.batch = p.B;
  c.chunk = chunk;
  return c;
}

// max |a − b| / max |b| over one tensor [off, off + n).
inline double rel_err(const float* a, const float* b, size_t off, size_t n) {
  double d = 0, m = 1e-30;
  for (size_t i = off; i < off + n; ++i) {
    d = std::max(d, std::abs(double(a[i]) - double(b[i])));
    m = std::max(m, std::abs(double(b[i])));
  }
  return d / m;
}

// Every tensor of the gradient within `tol` of the reference, tensor by tensor.
inline void expect_grad_close(const ParamLayout& L, const float* g, const float* ref, double tol,
                              const std::string& what) {
  const std::pair<const char*, std::pair<size_t, size_t>> t[] = {
      {"W_ih", {L.w_ih, L.w_hh - L.w_ih}},         {"W_hh", {L.w_hh, L.b_ih - L.w_hh}},
      {"b_ih", {L.b_ih, L.b_hh - L.b_ih}},         {"b_hh", {L.b_hh, L.w_head - L.b_hh}},
      {"W_head", {L.w_head, L.b_head - L.w_head}}, {"b_head", {L.b_head, L.total - L.b_head}}};
  for (const auto& [name, r] : t)
    EXPECT_LE(rel_err(g, ref, r.first, r.second), tol) << what << " " << name;
}

// Runs the ensemble on the problem and checks each model against RnnModel<float>.
inline void check_against_cpu_engine(ens::Ensemble& e, const Problem& p, double loss_tol,
                                     double grad_tol, const std::string& what) {
  const int K = e.config().models;
  for (int k = 0; k < K; ++k) {
    e.set_params(k, p.params[k].data());
    e.set_batch(k, p.x[k].data(), p.labels[k].data());
  }
  e.run();
  std::vector<float> g(e.layout().total);
  for (int k = 0; k < K; ++k) {
    RnnModel<float> m(p.mc);
    m.set_params(p.params[k]);
    AlignedVector<float> ref;
    int correct = -1;
    const float L = m.loss_and_grad(p.x[k].data(), p.labels[k].data(), p.T, p.B, ref, &correct);
    EXPECT_LE(std::abs(e.losses()[k] - L), loss_tol * std::abs(L)) << what << " model " << k;
    EXPECT_EQ(int(e.correct()[k]), correct) << what << " model " << k;
    e.get_grad(k, g.data());
    expect_grad_close(e.layout(), g.data(), ref.data(), grad_tol,
                      what + " model " + std::to_string(k));
  }
}

// Padded batches (Ensemble::set_batch with a window) and padded evaluation batches (label −1):
// model 0's batch is zero outside steps [t0, t1) and written over a batch that was not, so the
// steps outside the window must have gone back to zero; its loss and gradient are RnnModel's on
// the zero-padded batch. Then the last `ignored` rows labelled −1: forward only, loss·B is the
// sum over the other rows (RnnModel on those rows alone) and the hits are theirs.
inline void check_window_and_ignored_rows(ens::Ensemble& e, const Problem& p, int t0, int t1,
                                          int ignored, double loss_tol, double grad_tol,
                                          const std::string& what) {
  const int T = p.T, B = p.B, I = p.mc.input_dim;
  AlignedVector<float> xw = p.x[0];
  for (int t = 0; t < T; ++t)
    if (t < t0 || t >= t1)
      std::fill(xw.begin() + long(t) * B * I, xw.begin() + long(t + 1) * B * I, 0.f);
  e.set_params(0, p.params[0].data());
  e.set_batch(0, p.x[1].data(), p.labels[1].data());  // every step non-zero on the device
  e.set_batch(0, xw.data(), p.labels[0].data(), t0, t1, false);
  e.run();
  RnnModel<float> m(p.mc);
  m.set_params(p.params[0]);
  AlignedVector<float> ref;
  int correct = -1;
  const float L = m.loss_and_grad(xw.data(), p.labels[0].data(), T, B, ref, &correct);
  EXPECT_LE(std::abs(e.losses()[0] - L), loss_tol * std::abs(L)) << what << " window";
  EXPECT_EQ(int(e.correct()[0]), correct) << what << " window";
  std::vector<float> g(e.layout().total);
  e.get_grad(0, g.data());
  expect_grad_close(e.layout(), g.data(), ref.data(), grad_tol, what + " window");

  const int Br = B - ignored;
  std::vector<int> labels = p.labels[0];
  for (int b = Br; b < B; ++b) labels[size_t(b)] = -1;
  AlignedVector<float> xr(size_t(T) * Br * I);
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < Br; ++b)
      for (int i = 0; i < I; ++i)
        xr[(size_t(t) * Br + b) * I + i] = xw[(size_t(t) * B + b) * I + i];
  e.set_batch(0, xw.data(), labels.data(), t0, t1, true);
  e.run(true);
  int correct_r = -1;
  const float Lr = m.loss(xr.data(), p.labels[0].data(), T, Br, &correct_r);
  EXPECT_LE(std::abs(e.losses()[0] * float(B) - Lr * float(Br)), loss_tol * std::abs(Lr) * Br)
      << what << " ignored rows";
  EXPECT_EQ(int(e.correct()[0]), correct_r) << what << " ignored rows";
}

}  // namespace rnnmft::test

namespace rnnmft::test {

// A learnable task for curve checks: the class is the sign pattern of three running sums.
inline void synthetic_batch(Rng& rng, int T, int B, int I, AlignedVector<float>& x,
                            std::vector<int>& y) {
  x.resize(size_t(T) * B * I);
  y.resize(size_t(B));
  for (int b = 0; b < B; ++b) {
    double s[3] = {0, 0, 0};
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < I; ++i) {
        const float v = float(rng.normal());
        x[(size_t(t) * B + b) * I + i] = v;
        s[(t + i) % 3] += v;
      }
    y[b] = (s[0] > 0) + 2 * (s[1] > 0) + 4 * (s[2] > 0);
  }
}

// `steps` Adam steps (clip 1) of the CPU engine as train/trainer runs them and of the ensemble
// (model 0) on the same batches: the two loss curves.
inline std::pair<std::vector<float>, std::vector<float>> training_curves(ens::Ensemble& e,
                                                                         const ModelConfig& mc,
                                                                         int T, int B, int steps,
                                                                         float lr) {
  RnnModel<float> m(mc);
  Rng init(7);
  draw_preset(m, "pytorch", T, init);
  auto opt = make_optimizer("adam", m.params().size());
  e.set_params(0, m.params().data());
  Rng data(11);
  AlignedVector<float> x, grad;
  std::vector<int> y;
  std::vector<float> cpu, dev;
  for (int s = 0; s < steps; ++s) {
    synthetic_batch(data, T, B, mc.input_dim, x, y);
    const float L = m.loss_and_grad(x.data(), y.data(), T, B, grad);
    double n2 = 0;
    for (float g : grad) n2 += double(g) * g;
    const double gn = std::sqrt(n2);
    if (gn > 1.0)
      for (float& g : grad) g *= float(1.0 / gn);
    opt->step(m.params().data(), grad.data(), grad.size(), lr);
    cpu.push_back(L);
    e.set_batch(0, x.data(), y.data());
    e.run();
    e.update({lr}, {1.0}, e.grad_norms());
    dev.push_back(e.losses()[0]);
  }
  return {cpu, dev};
}

}  // namespace rnnmft::test
