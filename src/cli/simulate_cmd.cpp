// `rnnmft simulate`: wide random networks against the theory.
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "sim/simulate.h"
#include "spec/init_spec.h"
#include "util/error.h"

namespace rnnmft::cli {

void register_simulate(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", init = "pytorch", gru_variant = "reset-before";
    bool tied = false, untied = false, json = false;
    sim::SimOptions opt;
  };
  auto a = std::make_shared<Args>();
  auto* s = app.add_subcommand("simulate",
                               "Draw wide random networks and measure Q, ξ and Jacobian spectra");
  auto* cell_opt =
      s->add_option("--cell", a->cell, cell_choices() + " (a spec file brings its own)")
          ->capture_default_str();
  s->add_option("--init", a->init, "Preset or spec .json")->capture_default_str();
  s->add_option("--gru-variant", a->gru_variant, "reset-before or reset-after (PyTorch's nn.GRU)")
      ->capture_default_str();
  s->add_option("--hidden,--width", a->opt.width, "N (validation against the theory: ≥ 1000)")
      ->capture_default_str();
  s->add_option("--input-dim", a->opt.input_dim, "I")->capture_default_str();
  s->add_option("--steps", a->opt.steps, "Steps per trial")->capture_default_str();
  s->add_option("--t0", a->opt.t0, "Step from which the two trajectories get identical inputs")
      ->capture_default_str();
  auto* u = s->add_flag("--untied", a->untied, "Redraw W, U, b at every step (default)");
  auto* t = s->add_flag("--tied", a->tied, "Keep one set of weights (a real network)");
  u->excludes(t);
  s->add_option("--trials", a->opt.trials, "Independent networks")->capture_default_str();
  s->add_option("--input-var", a->opt.input_var, "R")->capture_default_str();
  s->add_option("--seed", a->opt.seed, "Seed")->check(non_negative())->capture_default_str();
  s->add_option("--jacobians", a->opt.jacobians, "Jacobians measured per trial")
      ->capture_default_str();
  s->add_option("-o,--output", a->opt.out_dir,
                "Directory for trajectories.csv and singular values");
  s->add_flag("--spectral-radius", a->opt.spectral_radius,
              "Also the spectral radius of the state Jacobian at the first and the last step");
  s->add_flag("--json", a->json, "Print JSON");
  s->callback([a, cell_opt] {
    a->opt.untied = !a->tied;
    a->opt.gru = parse_gru_variant(a->gru_variant);
    const CellType cell = parse_cell(a->cell);
    if (!is_preset(a->init) && !std::filesystem::is_regular_file(a->init))
      fail("--init '{}' is neither a preset nor an existing spec file", a->init);
    InitSpec spec = is_preset(a->init) ? preset_moments(a->init, cell, a->opt.width,
                                                        a->opt.input_dim, a->opt.steps)
                                       : load_spec_file(a->init);
    if (spec.cell != cell && cell_opt->count() > 0)
      fail("{} is a spec for the {} cell, but --cell {} was given", spec.source,
           cell_name(spec.cell), a->cell);
    const sim::SimResult r = sim::simulate(spec, a->opt);
    if (a->json) {
      fmt::print("{}\n", r.to_json().dump(2));
      return;
    }
    fmt::print("{} N = {} ({}), {} trials, {} steps, identical inputs from t0 = {}\n",
               cell_name(r.cell), r.width, r.untied ? "untied" : "tied", a->opt.trials,
               a->opt.steps, a->opt.t0);
    fmt::print("  stationary   Q_h = {:.6g} ± {:.2g}", r.Q_h.mean, r.Q_h.std);
    fmt::print("  (mean over steps {}–{})", a->opt.steps / 2 + 1, a->opt.steps);
    if (describe(r.cell).cell_state) fmt::print("   Q_c = {:.6g} ± {:.2g}", r.Q_c.mean, r.Q_c.std);
    fmt::print(
        "\n  timescale    χ = {:.6f}   ξ = {:.2f}  (95% CI {:.2f} – {:.2f}, {} trials fitted)\n",
        r.chi, r.xi, r.xi_lo, r.xi_hi, r.fitted_trials);
    fmt::print("  correlation  h^a·h^b/(|h^a||h^b|) = {:.4f} ± {:.2g} over the last {} steps\n",
               r.corr.mean, r.corr.std, std::max(a->opt.steps / 10, 1));
    if (r.radius_init.n > 0)
      fmt::print("  spectral radius of the {} Jacobian: {:.5f} ± {:.2g} at step 1, {:.5f} ± {:.2g} at step {}\n",
                 describe(r.cell).cell_state ? "(c, h)" : "state", r.radius_init.mean,
                 r.radius_init.std, r.radius_end.mean, r.radius_end.std, a->opt.steps);
    fmt::print("  {:12} m1 = {:.6f} ± {:.2g}   m2 = {:.6f} ± {:.2g}\n",
               describe(r.cell).cell_state ? "J_c" : "jacobian", r.m1.mean, r.m1.std, r.m2.mean,
               r.m2.std);
    if (describe(r.cell).cell_state)
      fmt::print("  {:12} m1 = {:.6f} ± {:.2g}   m2 = {:.6f} ± {:.2g}\n", "J (c,h)",
                 r.m1_state.mean, r.m1_state.std, r.m2_state.mean, r.m2_state.std);
    if (!a->opt.out_dir.empty())
      fmt::print("  wrote CSV files to {}\n", absolute_path(a->opt.out_dir));
  });
}

}  // namespace rnnmft::cli
