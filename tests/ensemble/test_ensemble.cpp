// The ensemble engine on the CPU reference backend against the CPU engine (RnnModel), cell by
// cell: losses, hits and every gradient tensor; the optimizer step against train/optimizers; K
// models at once against K runs of one.
#include <gtest/gtest.h>

#include <array>
#include <limits>

#include "ensemble/ensemble.h"
#include "ensemble/fused_host.h"
#include "ensemble_check.h"
#include "train/optimizers/optimizer.h"
#include "util/error.h"

namespace rnnmft::test {
namespace {

ens::Ensemble make(const Problem& p, int K, int chunk, const std::string& opt = "adam") {
  ens::EnsembleConfig c = config_for(p, K, chunk);
  c.optimizer = opt;
  return ens::Ensemble(ens::make_cpu_backend(), c);
}

// The engine with the fused sweep run on the host (the GPU's code: one thread per warp, the
// cluster's blocks as arrays, fp32 tiles); cluster 0: the fewest blocks that fit.
ens::Ensemble make_fused(const Problem& p, int K, int chunk, int cluster) {
  ens::EnsembleConfig c = config_for(p, K, chunk);
  c.fused = true;
  c.fused_cluster = cluster;
  return ens::Ensemble(ens::make_cpu_backend(true), c);
}

class EnsembleCells : public ::testing::TestWithParam<CellCase> {};

// Chunks of 4 steps over T = 11: a partial chunk at the end, products across chunk boundaries.
TEST_P(EnsembleCells, LossAndGradientsMatchTheCpuEngine) {
  const Problem p = make_problem(GetParam(), 3, 11, 5, 7, 3);
  for (int chunk : {4, 11, 1}) {
    auto e = make(p, 3, chunk);
    EXPECT_EQ(e.chunk(), chunk);
    check_against_cpu_engine(e, p, 1e-5, 1e-4, GetParam().name + " chunk " + std::to_string(chunk));
  }
}

TEST_P(EnsembleCells, ForwardOnlyGivesTheSameLoss) {
  const Problem p = make_problem(GetParam(), 2, 6, 4, 5, 2);
  auto e = make(p, 2, 0);
  for (int k = 0; k < 2; ++k) {
    e.set_params(k, p.params[k].data());
    e.set_batch(k, p.x[k].data(), p.labels[k].data());
  }
  e.run(true);
  for (int k = 0; k < 2; ++k) {
    RnnModel<float> m(p.mc);
    m.set_params(p.params[k]);
    EXPECT_NEAR(e.losses()[k], m.loss(p.x[k].data(), p.labels[k].data(), p.T, p.B),
                1e-5 * e.losses()[k]);
  }
}

// Padded batches copied by their window, and evaluation batches padded with ignored rows.
TEST_P(EnsembleCells, WindowedBatchesAndIgnoredRows) {
  const Problem p = make_problem(GetParam(), 2, 9, 6, 5, 2);
  auto e = make(p, 2, 4);
  check_window_and_ignored_rows(e, p, 2, 6, 2, 1e-5, 1e-4, GetParam().name);
}

// The fused sweep against the CPU engine: clusters of 1, 2 and 4 blocks, batches of 5 and 18
// rows (16-row tiles, one partial), chunks of 4 over T = 11 (a partial last chunk, the carried
// dh and dc) and of all T. Cells without a fused sweep plan none and run step by step.
TEST_P(EnsembleCells, FusedSweepMatchesTheCpuEngine) {
  const CellCase& c = GetParam();
  const Problem p = make_problem(c, 2, 11, 5, 32, 3);
  const bool fusable = ens::fused_kind(ens::kernel_kind(p.mc));
  for (int cluster : {1, 2}) {
    auto e = make_fused(p, 2, 4, cluster);
    EXPECT_EQ(e.fused_plan(false).P, fusable ? cluster : 0);
    EXPECT_EQ(e.fused_plan(true).P, fusable ? cluster : 0);
    check_against_cpu_engine(e, p, 1e-5, 1e-4, c.name + " cluster " + std::to_string(cluster));
  }
  const Problem wide = make_problem(c, 1, 7, 18, 64, 2);
  auto e = make_fused(wide, 1, 7, 4);
  EXPECT_EQ(e.fused_plan(true).P, fusable ? 4 : 0);
  check_against_cpu_engine(e, wide, 1e-5, 1e-4, c.name + " N 64, B 18, cluster 4");
  // The forward-only sweep (evaluation) too.
  for (int k = 0; k < 1; ++k) {
    e.set_params(k, wide.params[k].data());
    e.set_batch(k, wide.x[k].data(), wide.labels[k].data());
  }
  e.run(true);
  RnnModel<float> m(wide.mc);
  m.set_params(wide.params[0]);
  EXPECT_NEAR(e.losses()[0], m.loss(wide.x[0].data(), wide.labels[0].data(), wide.T, wide.B),
              1e-5 * e.losses()[0]);
}

INSTANTIATE_TEST_SUITE_P(AllCells, EnsembleCells, ::testing::ValuesIn(cell_cases()),
                         [](const auto& info) { return info.param.name; });

// Three Adam steps with clipping on one model of three, against train/optimizers' Adam fed the
// same gradients; a frozen model stays unchanged.
TEST(Ensemble, OptimizersMatchTheCpuOptimizers) {
  for (const std::string opt : {"adam", "sgd", "rmsprop"}) {
    const Problem p = make_problem(cell_case("lstm"), 3, 5, 4, 6, 2);
    auto e = make(p, 3, 2, opt);
    std::vector<std::unique_ptr<Optimizer>> ref;
    std::vector<AlignedVector<float>> params = p.params;
    for (int k = 0; k < 3; ++k) {
      e.set_params(k, p.params[k].data());
      e.set_batch(k, p.x[k].data(), p.labels[k].data());
      ref.push_back(make_optimizer(opt, e.layout().total));
    }
    const std::vector<float> lr = {1e-2f, 3e-3f, 1e-3f};
    const std::vector<double> clip = {0.0, 0.05, 1.0};
    e.set_frozen(2, true);
    for (int s = 0; s < 3; ++s) {
      e.run();
      const auto norms = e.grad_norms();
      std::vector<float> g(e.layout().total);
      for (int k = 0; k < 2; ++k) {
        e.get_grad(k, g.data());
        double n2 = 0;
        for (float v : g) n2 += double(v) * v;
        EXPECT_NEAR(norms[k], std::sqrt(n2), 1e-6 * norms[k]);
        if (clip[k] > 0 && norms[k] > clip[k])
          for (float& v : g) v *= float(clip[k] / norms[k]);
        ref[k]->step(params[k].data(), g.data(), g.size(), lr[k]);
      }
      const auto active = e.update(lr, clip, norms);
      EXPECT_TRUE(active[0] && active[1] && !active[2]) << opt;
    }
    std::vector<float> got(e.layout().total);
    for (int k = 0; k < 3; ++k) {
      e.get_params(k, got.data());
      const auto& want = k < 2 ? params[k] : p.params[k];
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << opt << " model " << k;
    }
    // The optimizer state carries the CPU optimizer's names and values.
    auto st = e.optimizer_state(0);
    auto want = ref[0]->state();
    ASSERT_EQ(st.size(), want.size()) << opt;
    for (auto& [name, v] : want) {
      ASSERT_TRUE(st.count(name)) << name;
      EXPECT_EQ(st[name], *v) << name;
    }
  }
}

// The fused sweep's launch shape from its shared memory (ensemble/fused_sweep.h), worked by hand
// for the paper's LSTM (B = 64, N = 128, I = 28) in an H100 block (227 KiB = 232448 bytes);
// every leading dimension is padded by 4 floats, I rounded up to 32.
TEST(Ensemble, FusedPlanFitsTheSharedMemory) {
  constexpr size_t kLimit = 232448;
  // Forward, two blocks: W_hh rows 4·64·132 + h 2·64·132 + an index tile of 256 + W_ih rows
  // 4·64·36 + x 2·64·36 = 64768 floats = 259072 bytes, too much; four: 16896 + 16896 + 256 +
  // 4608 + 4608 = 43264 floats = 173056 bytes.
  const auto f = ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, false, kLimit);
  EXPECT_EQ(f.P, 4);
  EXPECT_EQ(f.smem, size_t(173056));
  // Backward (one copy of h and x, then dz [Bp][G·U + 4], the shares [2][P][Bp][U + 4], dh and
  // dc), four blocks: 16896 + 8448 + 256 + 4608 + 2304 + 64·132 + 2·4·64·36 + 2·64·32 = 63488
  // floats, too much; eight: 8448 + 8448 + 256 + 2304 + 2304 + 64·68 + 2·8·64·20 + 2·64·16 =
  // 48640 floats.
  const auto b = ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, true, kLimit);
  EXPECT_EQ(b.P, 8);
  EXPECT_EQ(b.smem, size_t(48640 * 4));
  // The host cannot know the residency; on a GPU, K clusters run in ceil(K / resident) waves
  // (132 SMs of an H100 hold 33 clusters of four blocks: 256 models in 8 waves).
  EXPECT_EQ(f.resident, 0);
  EXPECT_EQ(ens::fused_waves(f, 256), 0);
  ens::FusedPlan on_gpu = f;
  on_gpu.resident = 33;
  EXPECT_EQ(ens::fused_waves(on_gpu, 256), 8);
  EXPECT_EQ(ens::fused_waves(on_gpu, 33), 1);
  EXPECT_EQ(ens::fused_waves(on_gpu, 34), 2);
  EXPECT_EQ(ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, false, kLimit, 2).P, 0);  // no fit
  EXPECT_EQ(ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, false, kLimit, 8).P, 8);
  // The GRU: 3·64·132 + 16896 + 256 + 3·64·36 + 4608 = 54016 floats fit in two blocks; backward
  // in two, 25344 + 8448 + 256 + 6912 + 2304 + 64·196 + 2·2·64·68 + 64·64 = 77312 do not; in
  // four, 12672 + 8448 + 256 + 3456 + 2304 + 64·100 + 2·4·64·36 + 64·32 = 54016 do.
  EXPECT_EQ(ens::plan_fused(ens::Kind::GruAfter, 64, 128, 28, false, kLimit).P, 2);
  EXPECT_EQ(ens::plan_fused(ens::Kind::GruAfter, 64, 128, 28, true, kLimit).smem,
            size_t(54016 * 4));
  // Vanilla backward, one block (no dc): 16896 + 8448 + 256 + 4608 + 2304 + 8448 + 16896 + 8192 =
  // 66048 floats, too much.
  EXPECT_EQ(ens::plan_fused(ens::Kind::Vanilla, 64, 128, 28, true, kLimit).P, 2);
  EXPECT_EQ(ens::plan_fused(ens::Kind::Vanilla, 64, 128, 28, false, kLimit).P, 1);
  // The reset-before GRU: one copy of h and one of r ⊙ h, and the kept [Bp][U + 4] buffers (z and
  // the candidate's input side; backward also r). Forward, two blocks: 3·64·132 + 2·64·132 + 256
  // + 3·64·36 + 2·64·36 + 2·64·68 = 62720 floats, too much; four: 12672 + 16896 + 256 + 3456 +
  // 4608 + 4608 = 42496.
  const auto gf = ens::plan_fused(ens::Kind::GruBefore, 64, 128, 28, false, kLimit);
  EXPECT_EQ(gf.P, 4);
  EXPECT_EQ(gf.smem, size_t(42496 * 4));
  // Backward, eight blocks: 3·16·132 + 2·64·132 + 256 + 3·16·36 + 64·36 + 3·64·20 + 64·52 +
  // 2·8·64·20 + 64·16 = 56192 floats (224768 bytes).
  const auto gb = ens::plan_fused(ens::Kind::GruBefore, 64, 128, 28, true, kLimit);
  EXPECT_EQ(gb.P, 8);
  EXPECT_EQ(gb.smem, size_t(56192 * 4));
  // The minimalRNN holds two blocks of W_ih's rows and one of W_hh's: 16896 + 16896 + 256 +
  // 2·128·36 + 4608 = 47872 floats in one block.
  EXPECT_EQ(ens::plan_fused(ens::Kind::Minimal, 64, 128, 28, false, kLimit).smem,
            size_t(47872 * 4));
  // bf16 tiles (2 bytes, leading dimensions padded by 8, I rounded up to 16; the index tile, kept
  // buffers, shares, dh and dc stay fp32). LSTM forward, one block: W_hh rows 4·128·136·2 + h
  // 2·64·136·2 + 1024 + W_ih rows 4·128·40·2 + x 2·64·40·2 = 139264 + 34816 + 1024 + 40960 +
  // 10240 = 226304 bytes.
  const auto f16 = ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, false, kLimit, 0, 8, 2);
  EXPECT_EQ(f16.P, 1);
  EXPECT_EQ(f16.tile_bytes, 2);
  EXPECT_EQ(f16.smem, size_t(226304));
  // Backward, two blocks: 69632 + 17408 + 1024 + 20480 + 5120 + dz 64·264·2 + shares 2·2·64·68·4
  // + dh, dc 2·64·64·4 = 249856 bytes, too much; four: 34816 + 17408 + 1024 + 10240 + 5120 +
  // 64·136·2 + 2·4·64·36·4 + 2·64·32·4 = 176128.
  const auto b16 = ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, true, kLimit, 0, 8, 2);
  EXPECT_EQ(b16.P, 4);
  EXPECT_EQ(b16.smem, size_t(176128));
  EXPECT_EQ(ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, true, kLimit, 2, 8, 2).P, 0);
  // The reset-before GRU forward, one block: 3·128·136·2 + h and r ⊙ h 2·64·136·2 + 1024 +
  // 3·128·40·2 + 2·64·40·2 + kept 2·64·132·4 = 248832 bytes, too much; two: 52224 + 34816 + 1024
  // + 15360 + 10240 + 2·64·68·4 = 148480. Backward, two: 52224 + 34816 + 1024 + 15360 + 5120 +
  // 3·64·68·4 + 64·200·2 + 2·2·64·68·4 + 64·64·4 = 272384, too much; four: 26112 + 34816 + 1024
  // + 7680 + 5120 + 3·64·36·4 + 64·104·2 + 2·4·64·36·4 + 64·32·4 = 197632.
  EXPECT_EQ(ens::plan_fused(ens::Kind::GruBefore, 64, 128, 28, false, kLimit, 0, 8, 2).smem,
            size_t(148480));
  EXPECT_EQ(ens::plan_fused(ens::Kind::GruBefore, 64, 128, 28, false, kLimit, 0, 8, 2).P, 2);
  EXPECT_EQ(ens::plan_fused(ens::Kind::GruBefore, 64, 128, 28, true, kLimit, 0, 8, 2).smem,
            size_t(197632));
  EXPECT_EQ(ens::plan_fused(ens::Kind::GruBefore, 64, 128, 28, true, kLimit, 0, 8, 2).P, 4);
  EXPECT_EQ(ens::plan_fused(ens::Kind::Lstm, 64, 128, 28, true, kLimit, 0, 8, 3).P, 0);
  // Units per block must fill 16-wide tiles.
  EXPECT_EQ(ens::plan_fused(ens::Kind::Lstm, 8, 24, 3, false, kLimit).P, 0);
  EXPECT_EQ(ens::plan_fused(ens::Kind::Lstm, 8, 32, 3, false, kLimit, 4).P, 0);
  EXPECT_EQ(ens::plan_fused(ens::Kind::GruBefore, 8, 40, 3, false, kLimit).P, 0);
  // Without --fused the engine plans nothing, whatever the backend has (unless the backend must
  // fuse, below); RNNMFT_FUSED=1 asks for the fused sweep where the backend has one.
  const Problem p = make_problem(cell_case("lstm"), 1, 3, 2, 16, 1);
  const ens::EnsembleConfig c = config_for(p, 1);
  EXPECT_EQ(ens::Ensemble(ens::make_cpu_backend(true), c).fused_plan(false).P, 0);
  setenv("RNNMFT_FUSED", "1", 1);
  EXPECT_EQ(ens::Ensemble(ens::make_cpu_backend(true), c).fused_plan(false).P, 1);
  EXPECT_EQ(ens::Ensemble(ens::make_cpu_backend(), c).fused_plan(false).P, 0);
  unsetenv("RNNMFT_FUSED");
  // bf16 tiles exist only fused: planned without --fused, and a shape without a plan (N = 24 is
  // not a multiple of 16) refused, with the reason.
  EXPECT_EQ(ens::Ensemble(ens::make_cpu_backend(true, ens::TileRounding::Bf16), c)
                .fused_plan(true)
                .tile_bytes,
            2);
  const Problem odd = make_problem(cell_case("lstm"), 1, 3, 2, 24, 1);
  try {
    ens::Ensemble(ens::make_cpu_backend(true, ens::TileRounding::Bf16), config_for(odd, 1));
    ADD_FAILURE() << "bf16 without a fused plan was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only in the fused sweep"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hidden 24"), std::string::npos) << e.what();
  }
}

// What WMMA needs of every tile it loads, for every layout: a pointer 32-byte aligned and a leading
// dimension of whole 16-byte units (4 floats, 8 bf16). A tile starts at a region's offset plus
// multiples of 16 rows and of the k extent (8 floats or 16 bf16: 32 bytes), so it suffices that
// every region starts on 32 bytes and every leading dimension is a multiple of 16 bytes.
TEST(Ensemble, FusedLayoutAlignsEveryTileForWmma) {
  int layouts = 0;
  for (const ens::Kind k : {ens::Kind::Vanilla, ens::Kind::Minimal, ens::Kind::Lstm,
                            ens::Kind::GruAfter, ens::Kind::GruBefore})
    for (int tb : {4, 2})
      for (int P : {1, 2, 4, 8})
        for (int N = 16 * P; N <= 512; N += 16 * P)
          for (int B : {1, 5, 16, 17, 64, 100})
            for (int I : {1, 3, 8, 9, 16, 28, 33})
              for (bool backward : {false, true}) {
                const ens::FusedLayout l = ens::fused_layout(k, B, N, I, P, backward, tb);
                const std::string at = "kind " + std::to_string(int(k)) + ", " +
                                       std::to_string(tb) + " bytes, P " + std::to_string(P) +
                                       ", N " + std::to_string(N) + ", B " + std::to_string(B) +
                                       ", I " + std::to_string(I) + (backward ? ", bwd" : ", fwd");
                for (int off : {l.h, l.rh, l.idx, l.wi, l.x, l.keep, l.bytes})
                  ASSERT_EQ(off % 32, 0) << at;
                for (int ld : {l.ldw, l.ldh, l.ldi}) ASSERT_EQ(ld * tb % 16, 0) << at;
                ASSERT_EQ(l.Ip % ens::tile_k(tb), 0) << at;
                ASSERT_GE(l.Ip, I) << at;
                if (backward) {
                  for (int off : {l.d, l.r, l.dh, l.dc}) ASSERT_EQ(off % 32, 0) << at;
                  ASSERT_EQ(l.ldd * tb % 16, 0) << at;
                }
                ++layouts;
              }
  EXPECT_GT(layouts, 10000);
}

// TF32 as the tensor cores take it: 10 bits of mantissa, to nearest, ties away from zero; bf16 as
// CUDA's __float2bfloat16_rn.
TEST(Ensemble, RoundsToTf32AndBf16AsCuda) {
  const float u = std::ldexp(1.f, -10);              // TF32's unit in the last place at 1
  EXPECT_EQ(ens::round_tf32(1.f + u / 2), 1.f + u);  // a tie, away from zero
  EXPECT_EQ(ens::round_tf32(-(1.f + u / 2)), -(1.f + u));
  EXPECT_EQ(ens::round_tf32(1.f + u / 4), 1.f);
  EXPECT_EQ(ens::round_tf32(1.f + 3 * u / 4), 1.f + u);
  EXPECT_EQ(ens::round_tf32(1.f + u), 1.f + u);
  EXPECT_EQ(ens::round_tf32(2.f + u), 2.f + 2 * u);  // TF32's unit is 2u on [2, 4): a tie
  EXPECT_EQ(ens::round_tf32(0.f), 0.f);
  EXPECT_EQ(ens::round_tf32(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(ens::round_tf32(std::numeric_limits<float>::quiet_NaN())));
  // A carry into the exponent, and overflow to infinity.
  EXPECT_EQ(ens::round_tf32(std::nextafter(2.f, 0.f)), 2.f);
  EXPECT_EQ(ens::round_tf32(std::numeric_limits<float>::max()),
            std::numeric_limits<float>::infinity());
  EXPECT_EQ(ens::round_tf32(std::ldexp(1.f, -137)), std::ldexp(1.f, -136));  // a subnormal tie
  // bf16: 7 bits of mantissa, ties to even.
  const float b = std::ldexp(1.f, -7);
  EXPECT_EQ(ens::round_bf16(1.f + b / 2), 1.f);              // a tie, to the even 1
  EXPECT_EQ(ens::round_bf16(1.f + 3 * b / 2), 1.f + 2 * b);  // a tie, to the even 1 + 2b
  EXPECT_EQ(ens::round_bf16(-(1.f + 3 * b / 4)), -(1.f + b));
  EXPECT_EQ(ens::round_bf16(1.f + b / 4), 1.f);
  EXPECT_EQ(ens::round_bf16(-(1.f + b / 2)), -1.f);
  EXPECT_EQ(ens::round_bf16(-std::numeric_limits<float>::max()),
            -std::numeric_limits<float>::infinity());
  EXPECT_EQ(ens::round_bf16(std::ldexp(1.f, -134)), 0.f);  // a subnormal tie, to the even 0
  EXPECT_EQ(ens::round_bf16(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(ens::round_bf16(std::numeric_limits<float>::quiet_NaN())));
}

// The fused sweep with TF32 and bf16 tiles, emulated on the host, at the paper's shape. TF32: two
// of the GPU test CudaEnsemble.FusedSweepAtThePapersShape's problems, at its tolerances, so that
// they are known to hold for the rounding alone. bf16 (3 bits fewer): what bf16
// products would cost in accuracy. Each rounding is really applied (the gradient moves).
TEST(Ensemble, FusedSweepInTf32AndBf16) {
  for (const char* cell : {"lstm", "gru_reset_before"}) {
    const Problem p = make_problem(cell_case(cell), 2, 40, 64, 128, 28);
    ens::EnsembleConfig c = config_for(p, 2, 16);
    c.fused = true;
    ens::Ensemble exact(ens::make_cpu_backend(true), c);
    check_against_cpu_engine(exact, p, 1e-5, 1e-4, std::string(cell) + " fused, fp32");
    std::vector<float> g(exact.layout().total), ge(g.size());
    for (int k = 0; k < 2; ++k) {
      RnnModel<float> m(p.mc);
      m.set_params(p.params[k]);
      AlignedVector<float> ref;
      m.loss_and_grad(p.x[k].data(), p.labels[k].data(), p.T, p.B, ref, nullptr);
      exact.get_grad(k, ge.data());
      std::printf("%s fused, fp32 model %d: gradient %.1e (relative, against the CPU engine)\n",
                  cell, k, rel_err(ge.data(), ref.data(), 0, ge.size()));
    }
    double err[2][2];  // [tf32, bf16][model]: the gradient against the fp32 tiles'
    for (const auto r : {ens::TileRounding::Tf32, ens::TileRounding::Bf16}) {
      const int ri = r == ens::TileRounding::Tf32 ? 0 : 1;
      const std::string what = std::string(cell) + (ri == 0 ? " fused, tf32" : " fused, bf16");
      ens::Ensemble e(ens::make_cpu_backend(true, r), c);
      // bf16 runs in the bf16 layout, in the clusters the GPU would take.
      EXPECT_EQ(e.fused_plan(false).tile_bytes, ri == 0 ? 4 : 2) << what;
      EXPECT_EQ(e.fused_plan(true).tile_bytes, ri == 0 ? 4 : 2) << what;
      check_against_cpu_engine(e, p, 1e-2, 5e-2, what);
      for (int k = 0; k < 2; ++k) {
        e.get_grad(k, g.data());
        exact.get_grad(k, ge.data());
        err[ri][k] = rel_err(g.data(), ge.data(), 0, g.size());
        std::printf("%s model %d: loss %.1e, gradient %.1e (relative, against fp32 tiles)\n",
                    what.c_str(), k,
                    std::abs(e.losses()[k] - exact.losses()[k]) / exact.losses()[k], err[ri][k]);
      }
    }
    for (int k = 0; k < 2; ++k) {
      EXPECT_GT(err[0][k], 1e-5) << cell;           // fp32 alone: about 1e-7
      EXPECT_GT(err[1][k], 3 * err[0][k]) << cell;  // 7 bits of mantissa against 10
    }
  }
}

// Training with the fused sweep's tiles rounded: 300 Adam steps on the synthetic task, the loss
// curve against the CPU engine's. Bounds about ten times what each rounding was measured to do
// (docs/gpu.md §Precision); coarser rounding moves the curve more, and every run learns.
TEST(Ensemble, FusedTrainingCurvesByRounding) {
  const ModelConfig mc{CellType::Lstm, GruVariant::ResetAfter, 2, 32, 8};
  double before = -1;
  for (const auto r : {ens::TileRounding::Fp32, ens::TileRounding::Tf32, ens::TileRounding::Bf16}) {
    ens::EnsembleConfig c;
    c.model = mc;
    c.seq_len = 12;
    c.batch = 16;
    c.chunk = 5;
    c.fused = true;
    ens::Ensemble e(ens::make_cpu_backend(true, r), c);
    ASSERT_EQ(e.fused_plan(true).P, 1);
    const auto [cpu, dev] = training_curves(e, mc, 12, 16, 300, 5e-3f);
    double worst = 0, last = 0;
    for (size_t s = 0; s < cpu.size(); ++s)
      worst = std::max(worst, double(std::abs(cpu[s] - dev[s])));
    for (size_t s = cpu.size() - 50; s < cpu.size(); ++s) last += (dev[s] - cpu[s]) / 50;
    std::printf(
        "rounding %d: worst |loss difference| %.2e, mean of the last 50 %.2e; loss %.4f -> %.4f "
        "(CPU engine %.4f)\n",
        int(r), worst, last, dev[0], dev.back(), cpu.back());
    EXPECT_LT(worst, r == ens::TileRounding::Fp32   ? 1e-5
                     : r == ens::TileRounding::Tf32 ? 5e-3
                                                    : 5e-2);
    EXPECT_GT(worst, before);
    before = worst;
    EXPECT_LT(dev.back(), dev[0] - 0.3);
  }
}

TEST(Ensemble, ManyModelsEqualOneAtATime) {
  const Problem p = make_problem(cell_case("gru_reset_before"), 4, 7, 3, 5, 2);
  auto all = make(p, 4, 3);
  for (int k = 0; k < 4; ++k) {
    all.set_params(k, p.params[k].data());
    all.set_batch(k, p.x[k].data(), p.labels[k].data());
  }
  all.run();
  std::vector<float> g(all.layout().total), g1(all.layout().total);
  for (int k = 0; k < 4; ++k) {
    auto one = make(p, 1, 3);
    one.set_params(0, p.params[k].data());
    one.set_batch(0, p.x[k].data(), p.labels[k].data());
    one.run();
    EXPECT_EQ(one.losses()[0], all.losses()[k]);
    all.get_grad(k, g.data());
    one.get_grad(0, g1.data());
    EXPECT_EQ(g, g1) << "model " << k;
  }
}

TEST(Ensemble, RefusesBadLabelsAndShapes) {
  const Problem p = make_problem(cell_case("vanilla"), 1, 3, 2, 4, 1);
  auto e = make(p, 1, 0);
  std::vector<int> bad = {0, 10};
  EXPECT_THROW(e.set_batch(0, p.x[0].data(), bad.data()), Error);
  // −1 marks an ignored row of an evaluation batch only; windows lie within the T steps.
  std::vector<int> ignored = {0, -1};
  EXPECT_THROW(e.set_batch(0, p.x[0].data(), ignored.data()), Error);
  EXPECT_NO_THROW(e.set_batch(0, p.x[0].data(), ignored.data(), 0, 3, true));
  std::vector<int> minus2 = {0, -2};
  EXPECT_THROW(e.set_batch(0, p.x[0].data(), minus2.data(), 0, 3, true), Error);
  EXPECT_THROW(e.set_batch(0, p.x[0].data(), p.labels[0].data(), 2, 4, false), Error);
  EXPECT_THROW(e.set_batch(0, p.x[0].data(), p.labels[0].data(), 2, 1, false), Error);
  ens::EnsembleConfig c;
  c.model = p.mc;
  c.models = 0;
  EXPECT_THROW(ens::Ensemble(ens::make_cpu_backend(), c), Error);
  c.models = 1;
  c.optimizer = "lamb";
  EXPECT_THROW(ens::Ensemble(ens::make_cpu_backend(), c), Error);
}

}  // namespace
}  // namespace rnnmft::test

namespace rnnmft::test {
namespace {

// 300 steps of training: the ensemble's curve on the reference backend follows the CPU engine's.
TEST(Ensemble, TrainingFollowsTheCpuEngine) {
  const ModelConfig mc{CellType::Lstm, GruVariant::ResetAfter, 2, 16, 8};
  ens::EnsembleConfig c;
  c.model = mc;
  c.seq_len = 12;
  c.batch = 16;
  c.chunk = 5;
  ens::Ensemble e(ens::make_cpu_backend(), c);
  const auto [cpu, dev] = training_curves(e, mc, 12, 16, 300, 5e-3f);
  double worst = 0;
  for (size_t s = 0; s < cpu.size(); ++s)
    worst = std::max(worst, double(std::abs(cpu[s] - dev[s])));
  EXPECT_LT(worst, 1e-3);
  // It learned: the last 50 steps' mean loss is well below the first 50's.
  double first = 0, last = 0;
  for (int s = 0; s < 50; ++s) {
    first += cpu[s];
    last += cpu[cpu.size() - 1 - s];
  }
  EXPECT_LT(last, 0.8 * first);
}

}  // namespace
}  // namespace rnnmft::test

namespace rnnmft::test {
namespace {

// Edge shapes: T = 1, B = 1, I = 1, N = 1 and N = 33, one-step chunks; then a second run on the
// same engine with the models' data swapped (nothing stale from the first run).
TEST(Ensemble, EdgeShapesAndASecondRun) {
  for (const CellCase& c : cell_cases())
    for (auto [T, B, N, I] : {std::array<int, 4>{1, 1, 1, 1}, {3, 1, 33, 1}, {5, 2, 1, 2}}) {
      Problem p = make_problem(c, 2, T, B, N, I);
      auto e = make(p, 2, 1);
      check_against_cpu_engine(e, p, 1e-5, 1e-4, c.name + " T" + std::to_string(T));
      std::swap(p.params[0], p.params[1]);
      std::swap(p.x[0], p.x[1]);
      std::swap(p.labels[0], p.labels[1]);
      check_against_cpu_engine(e, p, 1e-5, 1e-4, c.name + " swapped");
    }
}

// A model whose loss is not finite is left as it was (parameters and Adam's step count); the
// other model's update is the one it would get alone.
TEST(Ensemble, NonFiniteModelIsLeftUnchanged) {
  Problem p = make_problem(cell_case("lstm"), 2, 6, 3, 5, 2);
  p.params[1][p.params[1].size() / 2] = std::numeric_limits<float>::quiet_NaN();
  auto e = make(p, 2, 2);
  auto one = make(p, 1, 2);
  for (int k = 0; k < 2; ++k) {
    e.set_params(k, p.params[k].data());
    e.set_batch(k, p.x[k].data(), p.labels[k].data());
  }
  one.set_params(0, p.params[0].data());
  one.set_batch(0, p.x[0].data(), p.labels[0].data());
  e.run();
  one.run();
  EXPECT_FALSE(std::isfinite(e.losses()[1]));
  const auto active = e.update({1e-2f, 1e-2f}, {1.0, 1.0}, e.grad_norms());
  one.update({1e-2f}, {1.0}, one.grad_norms());
  EXPECT_TRUE(active[0]);
  EXPECT_FALSE(active[1]);
  std::vector<float> a(e.layout().total), b(e.layout().total);
  e.get_params(0, a.data());
  one.get_params(0, b.data());
  EXPECT_EQ(a, b);
  e.get_params(1, a.data());
  for (size_t i = 0; i < a.size(); ++i)
    if (std::isfinite(p.params[1][i])) {
      ASSERT_EQ(a[i], p.params[1][i]) << i;
    }
  EXPECT_EQ(e.optimizer_state(1).at("adam.t")[0], 0.f);
}

// Optimizer state carried into a fresh engine continues the run exactly (checkpoints).
TEST(Ensemble, OptimizerStateRoundTrip) {
  for (const std::string opt : {"adam", "sgd", "rmsprop"}) {
    const Problem p = make_problem(cell_case("gru_reset_after"), 1, 5, 3, 6, 2);
    auto a = make(p, 1, 2, opt), b = make(p, 1, 2, opt);
    a.set_params(0, p.params[0].data());
    a.set_batch(0, p.x[0].data(), p.labels[0].data());
    for (int s = 0; s < 3; ++s) {
      a.run();
      a.update({3e-3f}, {0.0}, a.grad_norms());
    }
    std::vector<float> w(a.layout().total), w2(a.layout().total);
    a.get_params(0, w.data());
    b.set_params(0, w.data());
    b.set_optimizer_state(0, a.optimizer_state(0));
    b.set_batch(0, p.x[0].data(), p.labels[0].data());
    for (auto* e : {&a, &b}) {
      e->run();
      e->update({3e-3f}, {0.0}, e->grad_norms());
    }
    a.get_params(0, w.data());
    b.get_params(0, w2.data());
    EXPECT_EQ(w, w2) << opt;
    EXPECT_THROW(b.set_optimizer_state(0, {}), Error) << opt;
  }
}

}  // namespace
}  // namespace rnnmft::test
