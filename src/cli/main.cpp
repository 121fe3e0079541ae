// rnnmft: mean field theory, critical initialization and training of gated RNNs.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "cli/commands.h"
#include "gpu/cuda_backend.h"
#include "sweep/mpi_sweep.h"
#include "util/error.h"
#include "util/fp_env.h"

int main(int argc, char** argv) {
  // Before any thread exists, so that every thread started later inherits it (util/fp_env.h).
  rnnmft::flush_denormals();
  CLI::App app{
      "rnnmft: mean field theory, critical initialization and fast training of gated "
      "recurrent networks"};
  app.require_subcommand(1);
  app.set_version_flag(
      "--version",
      std::string("rnnmft 0.1.0 (") +
          (rnnmft::gpu::cuda_built() ? "CUDA engine built in: --device cuda"
                                     : "CUDA engine not built") +
          (rnnmft::sweep::mpi_built() ? "; MPI sweeps built in: mpirun -np K rnnmft sweep)"
                                      : "; MPI sweeps not built)"));
  rnnmft::cli::register_data(app);
  rnnmft::cli::register_train(app);
  rnnmft::cli::register_theory(app);
  rnnmft::cli::register_trainability(app);
  rnnmft::cli::register_critical(app);
  rnnmft::cli::register_compare(app);
  rnnmft::cli::register_simulate(app);
  rnnmft::cli::register_phase(app);
  rnnmft::cli::register_bench(app);
  rnnmft::cli::register_sweep(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const rnnmft::Error& e) {
    fmt::print(stderr, "rnnmft: error: {}\n", e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // An unwritable or impossible path (its what() names it): the user's to fix, not a bug.
    fmt::print(stderr, "rnnmft: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "rnnmft: internal error: {}\n", e.what());
    return 2;
  }
  return 0;
}
