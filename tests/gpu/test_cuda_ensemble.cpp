// The CUDA backend against the CPU engine (RnnModel) and against the CPU reference backend:
// losses, hits, every gradient tensor, the optimizer step, many models against one at a time, a
// training curve. Without a GPU (or without the CUDA engine) every test reports itself skipped.
#include <gtest/gtest.h>

#include <cstdio>

#include "ensemble/ensemble.h"
#include "ensemble_check.h"
#include "gpu/cuda_backend.h"
#include "util/error.h"

namespace rnnmft::test {
namespace {

std::string no_gpu_reason() {
  try {
    gpu::cuda_device_name();
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

#define REQUIRE_GPU()                                          \
  do {                                                         \
    const std::string why = no_gpu_reason();                   \
    if (!why.empty()) GTEST_SKIP() << "no GPU to test: " << why; \
  } while (0)

// cuBLAS is opened at run time, not linked (gpu/cuda_backend.cpp): every function the engine
// calls must resolve, and the library must be the toolkit's major version. Needs no GPU, only the
// engine built in.
TEST(CudaBuild, OpensTheToolkitsCublasAtRunTime) {
  if (!gpu::cuda_built()) GTEST_SKIP() << "this rnnmft was built without the CUDA engine";
  const std::string lib = gpu::cublas_library();
  std::printf("cuBLAS: %s\n", lib.c_str());
  EXPECT_NE(lib.find("libcublas.so." RNNMFT_CUDA_MAJOR_FOR_TESTS " "), std::string::npos) << lib;
  EXPECT_NE(lib.find("(version " RNNMFT_CUDA_MAJOR_FOR_TESTS "."), std::string::npos) << lib;
}

ens::Ensemble make(const Problem& p, int K, int chunk, gpu::Precision prec = gpu::Precision::Fp32,
                   bool reference = false, bool record = true) {
  ens::EnsembleConfig c = config_for(p, K, chunk);
  c.record = record;
  return ens::Ensemble(gpu::make_cuda_backend(prec, reference), c);
}

// The fused sweep (docs/gpu.md §Fused sweeps): tf32 or bf16 tiles, cluster 0 for the fewest
// blocks.
ens::Ensemble make_fused(const Problem& p, int K, int chunk, int cluster, bool record = true,
                         gpu::Precision prec = gpu::Precision::Tf32) {
  ens::EnsembleConfig c = config_for(p, K, chunk);
  c.record = record;
  c.fused = true;
  c.fused_cluster = cluster;
  return ens::Ensemble(gpu::make_cuda_backend(prec), c);
}

class CudaCells : public ::testing::TestWithParam<CellCase> {};

// fp32: loss within 1e-5 and every gradient tensor within 1e-4 (relative) of the CPU engine.
TEST_P(CudaCells, Fp32MatchesTheCpuEngine) {
  REQUIRE_GPU();
  const Problem small = make_problem(GetParam(), 3, 11, 5, 7, 3);
  for (int chunk : {4, 11}) {
    auto e = make(small, 3, chunk);
    check_against_cpu_engine(e, small, 1e-5, 1e-4, GetParam().name + " small");
  }
  // A size where cuBLAS uses its tiled kernels: N = 64, B = 32, T = 60.
  // Recorded (a CUDA graph, replayed twice) and launched call by call.
  const Problem mid = make_problem(GetParam(), 2, 60, 32, 64, 4);
  for (bool record : {true, false}) {
    auto e = make(mid, 2, 16, gpu::Precision::Fp32, false, record);
    check_against_cpu_engine(e, mid, 1e-5, 1e-4, GetParam().name + " mid");
    // Again with the two models' data swapped: nothing of the first run is replayed stale.
    Problem swapped = mid;
    std::swap(swapped.params[0], swapped.params[1]);
    std::swap(swapped.x[0], swapped.x[1]);
    std::swap(swapped.labels[0], swapped.labels[1]);
    check_against_cpu_engine(e, swapped, 1e-5, 1e-4, GetParam().name + " mid, swapped");
  }
}

// The plain product kernel gives the same results as cuBLAS.
TEST_P(CudaCells, ReferenceProductsMatchCublas) {
  REQUIRE_GPU();
  const Problem p = make_problem(GetParam(), 2, 20, 8, 33, 2);
  auto e = make(p, 2, 6, gpu::Precision::Fp32, true);
  check_against_cpu_engine(e, p, 1e-5, 1e-4, GetParam().name + " reference");
}

// tf32 products: the loss within 1e-2 and the gradients within 5e-2 of fp32's (the inputs of each
// product are rounded to 10 mantissa bits).
TEST_P(CudaCells, Tf32StaysCloseToFp32) {
  REQUIRE_GPU();
  const Problem p = make_problem(GetParam(), 2, 30, 16, 32, 3);
  auto e = make(p, 2, 8, gpu::Precision::Tf32);
  check_against_cpu_engine(e, p, 1e-2, 5e-2, GetParam().name + " tf32");
}

// Padded batches copied by their window, and evaluation batches padded with ignored rows.
TEST_P(CudaCells, WindowedBatchesAndIgnoredRows) {
  REQUIRE_GPU();
  const Problem p = make_problem(GetParam(), 2, 20, 8, 16, 3);
  auto e = make(p, 2, 6);
  check_window_and_ignored_rows(e, p, 3, 12, 3, 1e-5, 1e-4, GetParam().name);
}

// The fused sweep against the CPU engine with tf32's tolerances: clusters of 1, 2 and 4 blocks
// exchanging h and their shares of dz W_hh through distributed shared memory, a batch of 20 rows
// (one partial 16-row tile), chunks of 8 over T = 30, recorded and launched directly; TF32 and
// bf16 tiles (I = 3: padded to 8 and to 16). Cells without a fused sweep plan none and run step
// by step.
TEST_P(CudaCells, FusedSweepMatchesTheCpuEngine) {
  REQUIRE_GPU();
  const Problem p = make_problem(GetParam(), 3, 30, 20, 64, 3);
  const bool fusable = ens::fused_kind(ens::kernel_kind(p.mc));
  for (const auto prec : {gpu::Precision::Tf32, gpu::Precision::Bf16})
    for (int cluster : {0, 1, 2, 4})
      for (bool record : {true, false}) {
        if (!record && cluster != 0) continue;
        const std::string what = GetParam().name + " fused " + gpu::precision_name(prec) +
                                 ", cluster " + std::to_string(cluster) +
                                 (record ? "" : ", direct");
        if (prec == gpu::Precision::Bf16 && !fusable) {  // bf16 exists only fused
          EXPECT_THROW(make_fused(p, 3, 8, cluster, record, prec), Error) << what;
          continue;
        }
        auto e = make_fused(p, 3, 8, cluster, record, prec);
        if (fusable && cluster > 0) {
          EXPECT_EQ(e.fused_plan(false).P, cluster) << what;
        }
        EXPECT_EQ(e.fused_plan(true).P > 0, fusable) << what;
        if (fusable) {
          EXPECT_EQ(e.fused_plan(true).tile_bytes, prec == gpu::Precision::Bf16 ? 2 : 4) << what;
        }
        check_against_cpu_engine(e, p, 1e-2, 5e-2, what);
      }
}

INSTANTIATE_TEST_SUITE_P(AllCells, CudaCells, ::testing::ValuesIn(cell_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(CudaEnsemble, ManyModelsEqualOneAtATime) {
  REQUIRE_GPU();
  const Problem p = make_problem(cell_case("lstm"), 5, 25, 8, 32, 2);
  auto all = make(p, 5, 7);
  for (int k = 0; k < 5; ++k) {
    all.set_params(k, p.params[k].data());
    all.set_batch(k, p.x[k].data(), p.labels[k].data());
  }
  all.run();
  std::vector<float> g(all.layout().total), g1(all.layout().total);
  for (int k = 0; k < 5; ++k) {
    auto one = make(p, 1, 7);
    one.set_params(0, p.params[k].data());
    one.set_batch(0, p.x[k].data(), p.labels[k].data());
    one.run();
    EXPECT_NEAR(one.losses()[0], all.losses()[k], 1e-6 * std::abs(all.losses()[k]));
    all.get_grad(k, g.data());
    one.get_grad(0, g1.data());
    expect_grad_close(all.layout(), g.data(), g1.data(), 1e-5, "model " + std::to_string(k));
  }
}

// The paper's shape (N = 128, B = 64, I = 28) in an H100 block's 227 KiB: the LSTM and the
// reset-before GRU take clusters of 4 blocks forward and 8 backward (the GRU's backward 219.5 KiB
// a block), the reset-after GRU 2 and 4; the fused sweep against the CPU engine at tf32's
// tolerances.
TEST(CudaEnsemble, FusedSweepAtThePapersShape) {
  REQUIRE_GPU();
  const struct {
    const char* cell;
    int forward, backward;
  } cases[] = {{"lstm", 4, 8}, {"gru_reset_before", 4, 8}, {"gru_reset_after", 2, 4}};
  for (const auto& c : cases) {
    const Problem p = make_problem(cell_case(c.cell), 2, 40, 64, 128, 28);
    auto e = make_fused(p, 2, 16, 0);
    EXPECT_EQ(e.fused_plan(false).P, c.forward) << c.cell;
    EXPECT_EQ(e.fused_plan(true).P, c.backward) << c.cell;
    check_against_cpu_engine(e, p, 1e-2, 5e-2, std::string(c.cell) + " fused, N 128, B 64");
  }
}

// bf16 tiles at the paper's shape: the LSTM in one block forward and 4 backward, the reset-before
// GRU in 2 and 4 (what bf16 saves of shared memory). With cuBLAS (its other products in TF32)
// against the CPU engine at tf32's tolerances. Then with the plain fp32 product kernel for the
// other products, as the host has them, against the host's bf16 sweep (the same layout and
// clusters, tiles stored as bf16): those differ only in the order the tensor cores sum and where
// that flips a rounding, so their distance must be a small part of what bf16 itself moves the
// gradient (the host's bf16 against its fp32 tiles).
TEST(CudaEnsemble, Bf16SweepAtThePapersShapeMatchesTheHosts) {
  REQUIRE_GPU();
  const struct {
    const char* cell;
    int forward, backward;
  } cases[] = {{"lstm", 1, 4}, {"gru_reset_before", 2, 4}};
  for (const auto& c : cases) {
    const Problem p = make_problem(cell_case(c.cell), 2, 40, 64, 128, 28);
    auto gpu_e = make_fused(p, 2, 16, 0, true, gpu::Precision::Bf16);
    EXPECT_EQ(gpu_e.fused_plan(false).P, c.forward) << c.cell;
    EXPECT_EQ(gpu_e.fused_plan(true).P, c.backward) << c.cell;
    check_against_cpu_engine(gpu_e, p, 1e-2, 5e-2, std::string(c.cell) + " fused bf16, N 128");
    ens::EnsembleConfig cfg = config_for(p, 2, 16);
    cfg.fused = true;
    ens::Ensemble plain(gpu::make_cuda_backend(gpu::Precision::Bf16, true), cfg);
    ens::Ensemble host(ens::make_cpu_backend(true, ens::TileRounding::Bf16), cfg);
    ens::Ensemble host32(ens::make_cpu_backend(true), cfg);
    ASSERT_EQ(plain.fused_plan(false).P, c.forward) << c.cell;
    ASSERT_EQ(plain.fused_plan(true).P, c.backward) << c.cell;
    ASSERT_EQ(host.fused_plan(false).P, c.forward) << c.cell;
    ASSERT_EQ(host.fused_plan(true).P, c.backward) << c.cell;
    for (ens::Ensemble* e : {&plain, &host, &host32}) {
      for (int k = 0; k < 2; ++k) {
        e->set_params(k, p.params[k].data());
        e->set_batch(k, p.x[k].data(), p.labels[k].data());
      }
      e->run();
    }
    std::vector<float> g(gpu_e.layout().total), gh(g.size()), g32(g.size());
    for (int k = 0; k < 2; ++k) {
      plain.get_grad(k, g.data());
      host.get_grad(k, gh.data());
      host32.get_grad(k, g32.data());
      const double gpu_host = rel_err(g.data(), gh.data(), 0, g.size());
      const double bf16_fp32 = rel_err(gh.data(), g32.data(), 0, g.size());
      std::printf(
          "%s model %d: GPU bf16 against the host's %.1e, the host's bf16 against its fp32 "
          "tiles %.1e (relative gradient); loss %.7g against %.7g\n",
          c.cell, k, gpu_host, bf16_fp32, plain.losses()[k], host.losses()[k]);
      EXPECT_LT(gpu_host, 0.25 * bf16_fp32) << c.cell << " model " << k;
      EXPECT_NEAR(plain.losses()[k], host.losses()[k], 1e-5 * std::abs(host.losses()[k]));
    }
  }
}

// The optimizer kernels against train/optimizers on the same gradients.
TEST(CudaEnsemble, OptimizersMatchTheCpuOptimizers) {
  REQUIRE_GPU();
  for (const std::string opt : {"adam", "sgd", "rmsprop"}) {
    const Problem p = make_problem(cell_case("gru_reset_after"), 2, 6, 4, 8, 2);
    ens::EnsembleConfig c = config_for(p, 2);
    c.optimizer = opt;
    ens::Ensemble e(gpu::make_cuda_backend(gpu::Precision::Fp32), c);
    std::vector<AlignedVector<float>> params = p.params;
    std::vector<std::unique_ptr<Optimizer>> ref;
    for (int k = 0; k < 2; ++k) {
      e.set_params(k, p.params[k].data());
      e.set_batch(k, p.x[k].data(), p.labels[k].data());
      ref.push_back(make_optimizer(opt, e.layout().total));
    }
    const std::vector<float> lr = {1e-2f, 2e-3f};
    const std::vector<double> clip = {0.05, 0.0};
    std::vector<float> g(e.layout().total);
    for (int s = 0; s < 3; ++s) {
      e.run();
      const auto norms = e.grad_norms();
      for (int k = 0; k < 2; ++k) {
        e.get_grad(k, g.data());
        if (clip[k] > 0 && norms[k] > clip[k])
          for (float& v : g) v *= float(clip[k] / norms[k]);
        ref[k]->step(params[k].data(), g.data(), g.size(), lr[k]);
      }
      e.update(lr, clip, norms);
    }
    std::vector<float> got(e.layout().total);
    for (int k = 0; k < 2; ++k) {
      e.get_params(k, got.data());
      EXPECT_LE(rel_err(got.data(), params[k].data(), 0, got.size()), 1e-6) << opt << " " << k;
    }
  }
}

// 300 steps: the GPU's curve follows the CPU engine's.
TEST(CudaEnsemble, TrainingFollowsTheCpuEngine) {
  REQUIRE_GPU();
  for (const CellType cell : {CellType::Lstm, CellType::Gru}) {
    const ModelConfig mc{cell, GruVariant::ResetAfter, 2, 32, 8};
    ens::EnsembleConfig c;
    c.model = mc;
    c.seq_len = 20;
    c.batch = 32;
    c.chunk = 6;
    ens::Ensemble e(gpu::make_cuda_backend(gpu::Precision::Fp32), c);
    const auto [cpu, dev] = training_curves(e, mc, 20, 32, 300, 5e-3f);
    double worst = 0;
    for (size_t s = 0; s < cpu.size(); ++s)
      worst = std::max(worst, double(std::abs(cpu[s] - dev[s])));
    EXPECT_LT(worst, 1e-2) << cell_name(cell);
    std::printf("%s: 300-step curves, largest |loss difference| %.2e, final loss %.4f (cpu) %.4f "
                "(gpu)\n", cell_name(cell), worst, cpu.back(), dev.back());
  }
}

TEST(CudaEnsemble, ReportsAFullGpuClearly) {
  REQUIRE_GPU();
  const Problem p = make_problem(cell_case("lstm"), 1, 3, 2, 4, 1);
  ens::EnsembleConfig c;
  c.model = ModelConfig{CellType::Lstm, GruVariant::ResetAfter, 1, 4096, 10};
  c.models = 4096;
  c.seq_len = 100000;
  c.batch = 64;
  try {
    ens::Ensemble e(gpu::make_cuda_backend(gpu::Precision::Fp32), c);
    FAIL() << "a 100+ TB ensemble was allocated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GPU out of memory"), std::string::npos) << e.what();
  }
  // The refusal leaves no error behind: the next ensemble runs and matches the CPU engine.
  auto next = make(p, 1, 0);
  check_against_cpu_engine(next, p, 1e-5, 1e-4, "after the refusal");
}

}  // namespace
}  // namespace rnnmft::test
