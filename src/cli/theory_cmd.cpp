// `rnnmft theory` (mean-field diagnosis of an init spec or preset) and `rnnmft critical`, and the
// flags they share with compare and phase (cli/theory_flags.h).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/theory_flags.h"
#include "data/task_stats.h"
#include "sim/tied_check.h"
#include "sim/report.h"
#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/critical_v2.h"
#include "theory/mean_field.h"
#include "theory/phase.h"
#include "theory/trainability.h"
#include "sim/task_probe.h"
#include "theory/verdict.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnmft::cli {

using nlohmann::json;

using theory::factor;
using theory::verdict;
using theory::xi_text;

void print_theory(const theory::TheoryResult& r, const InitSpec& spec, int T) {
  fmt::print("{} init {}\n", cell_name(r.cell), spec.source);
  for (const auto& name : gate_names(spec.cell)) {
    const GateInit& g = spec.gate(name);
    fmt::print("  {:9} σ={:<8.4g} ν={:<8.4g} μ={:<8.4g} ρ={:<8.4g}{}\n", name, g.recurrent_std,
               g.input_std, g.bias_mean, g.bias_std, g.orthogonal ? " (orthogonal W)" : "");
  }
  if (spec.timescales) {
    // The μ, ρ above are 0 for the gates the timescales draw (docs/theory.md §13).
    const CellDesc& d = describe(spec.cell);
    const auto [m, sd] = spec.timescales->bias_moments();
    fmt::print("  timescales   τ {} on [{:g}, {:g}] per unit: {} bias ln(τ − 1){} (mean {:.4g}, std "
               "{:.4g}; the mean field reads these moments)\n",
               Timescales::dist_name(spec.timescales->dist), spec.timescales->min,
               spec.timescales->max, d.gates[size_t(d.keep_gate)],
               d.input_gate >= 0 ? fmt::format(", {} bias −ln(τ − 1)", d.gates[size_t(d.input_gate)])
                                 : std::string(),
               m, sd);
  }
  if (describe(r.cell).cell_state)
    fmt::print("  fixed point  Q_h = {:.5f} ± {:.1e}   Q_c = {:.5f} ± {:.1e}\n", r.Q_h, r.Q_h_err,
               r.Q_c, r.Q_c_err);
  else
    fmt::print("  fixed point  Q_h = {:.6g}   M_h = {:.6g}{}\n", r.Q_h, r.M_h,
               r.converged ? "" : "   (NOT converged)");
  fmt::print("  timescale    χ = {:.6f}   ξ = {}   c* = {:.4f}{}\n", r.chi, xi_text(r.xi()), r.corr,
             r.chaotic() ? fmt::format("   (chaotic: χ = {:.6f} at c = 1)", r.chi_coincident)
                         : "");
  auto jac = [](const char* name, const theory::Moments2& m) {
    fmt::print("  {:14} m1 = {:.6f}  m2 = {:.6f}  variance = {:.4g}  normalized = {:.4g}\n", name,
               m.m1, m.m2, m.variance(), m.normalized());
  };
  jac(describe(r.cell).cell_state ? "J_c (N×N)" : "jacobian", r.jacobian);
  if (describe(r.cell).cell_state) jac("J (c,h) 2N", r.jacobian_state);
  fmt::print("  over T = {}  untied m1^T = {}   tied gain G_T = {} (diagonal part of m1: {:.6f})\n",
             T, factor(T * std::log(r.jacobian.m1)), factor(r.tied_log_gain(T)),
             r.jacobian.diag);
  fmt::print("  verdict      {}\n", verdict(r, T));
}

void add_theory_flags(CLI::App* cmd, theory::TheoryOptions& o) {
  cmd->add_option("--input-var", o.input_var, "R: second moment of each input component")
      ->capture_default_str();
  cmd->add_option("--input-overlap", o.input_overlap, "R_ab of the two sequences (default R)");
  cmd->add_option("--order", o.order, "Gauss–Hermite order")->capture_default_str();
  cmd->add_option("--samples", o.samples, "LSTM: cell-state samples")->capture_default_str();
  cmd->add_option("--groups", o.groups, "LSTM: independent groups for Monte Carlo errors")
      ->capture_default_str();
  cmd->add_option("--burn-in", o.burn_in, "LSTM: burn-in iterations")->capture_default_str();
  cmd->add_option("--average", o.average, "LSTM: averaging iterations")->capture_default_str();
  cmd->add_option("--mc-seed", o.seed, "LSTM: sampling seed")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option_function<std::string>(
      "--gru-variant", [&o](const std::string& v) { o.gru_variant = parse_gru_variant(v); },
      "GRU: reset-before (default) or reset-after (PyTorch's nn.GRU, docs/theory.md §3.4); a spec "
      "file's designed_for.gru_variant otherwise");
}

theory::TheoryOptions with_variant(theory::TheoryOptions o, const CLI::App* cmd,
                                   const InitSpec& spec) {
  if (cmd->get_option("--gru-variant")->count() == 0 && !spec.design.gru_variant.empty())
    o.gru_variant = parse_gru_variant(spec.design.gru_variant);
  return o;
}

void add_tied_flags(CLI::App* cmd, TiedFlags& f) {
  // Two flags rather than CLI11's "--tied-check,!--no-tied-check", whose help reads
  // "--no-tied-check{false}" as if the check were off by default.
  const auto both = [&f] {
    if (f.asked_on && f.asked_off) fail("--tied-check and --no-tied-check: give one of them");
  };
  cmd->add_flag_callback(
      "--tied-check", [&f, both] { f.on = f.asked_on = true; both(); },
      "Simulate tied networks of width --hidden for T steps beside the theory (on by default)");
  cmd->add_flag_callback(
      "--no-tied-check", [&f, both] { f.on = false; f.asked_off = true; both(); },
      "Skip the tied check");
  cmd->add_option("--tied-trials", f.trials, "Tied networks simulated")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--tied-seed", f.seed, "Seed of the tied networks")
      ->check(non_negative())
      ->capture_default_str();
}

std::optional<sim::TiedCheck> run_tied_check(const InitSpec& spec, const TiedFlags& f, int hidden,
                                             int input_dim, int T,
                                             const theory::TheoryOptions& opt,
                                             double data_var, int data_steps) {
  if (!f.on) return std::nullopt;
  if (T > sim::kTiedCheckMaxSteps) {
    fmt::print(stderr, "note: no tied check for T = {} > {} steps (--no-tied-check)\n", T,
               sim::kTiedCheckMaxSteps);
    return std::nullopt;
  }
  sim::TiedCheckOptions o = sim::beside_theory(hidden, input_dim, T, opt, f.trials, f.seed);
  if (data_steps >= 0) {  // a padded task: its data, then the zero stretch
    o.input_var = data_var;
    o.input_steps = data_steps;
  }
  if (!o.spectral_radius)
    fmt::print(stderr, "note: no spectral radius in the tied check above N = {} (O(N³))\n",
               sim::kTiedCheckMaxRadiusWidth);
  return sim::tied_check(spec, o);
}

void check_model_flags(int hidden, int input_dim, int seq_len) {
  if (hidden < 2 || hidden > 20000) fail("--hidden must be between 2 and 20000 (got {})", hidden);
  if (input_dim < 1) fail("--input-dim must be ≥ 1 (got {})", input_dim);
  if (seq_len < 2) fail("--seq-len must be at least 2 (got {})", seq_len);
}

// A task sets R (its measured input second moment; 0 for the zero stretch of padded tasks), T
// (its length) and I (docs/tasks.md §Input statistics).
void add_design_task_flags(CLI::App* c, TaskFlags& task, const std::string& what) {
  c->add_option("--task", task.options.name, what);
  c->add_option("--unit", task.options.unit, "--task padded/repeat: base step, pixel or row")
      ->check(CLI::IsMember({"pixel", "row"}));
  c->add_flag("--pad-front", task.options.pad_front, "--task padded: zeros before the image");
  c->add_option("--repeat", task.options.repeat, "--task repeat: copies of each step");
  c->add_flag("--standardize", task.options.standardize, "--task: standardized inputs");
  c->add_option("--data-dir", task.data_dir, "Data directory (default $RNNMFT_DATA_DIR or .data/)");
}

std::optional<Task> design_task(const TaskFlags& flags, CLI::App* cmd, int& seq_len,
                                double& input_var, int& input_dim) {
  if (flags.options.name.empty()) return std::nullopt;
  if (cmd->get_option("--input-var")->count() > 0) fail("--input-var and --task: the task sets R");
  TaskFlags tf = flags;
  tf.options.seq_len = cmd->get_option("--seq-len")->count() > 0 ? seq_len : 0;
  std::optional<Task> task(make_task(tf));
  seq_len = task->seq_len();
  input_var = task_input_stats(*task).input_var;
  if (cmd->get_option("--input-dim")->count() > 0 && input_dim != task->input_dim())
    fail("--input-dim {} and --task {}: the task's steps have {} inputs", input_dim,
         task->options().name, task->input_dim());
  input_dim = task->input_dim();
  return task;
}

void register_theory(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", init = "pytorch";
    int hidden = 128, input_dim = 1, seq_len = 1000;
    bool json = false;
    theory::TheoryOptions opt;
    TiedFlags tied;
    TaskFlags task;
  };
  auto a = std::make_shared<Args>();
  a->task.options.name.clear();  // no task unless --task names one
  auto* t = app.add_subcommand(
      "theory", "Mean-field fixed point, timescale and Jacobian spectrum of an init");
  auto* cell_opt =
      t->add_option("--cell", a->cell,
                    cell_choices() + " (a spec file brings its own)")
          ->capture_default_str();
  t->add_option("--init", a->init,
                "Preset (pytorch, keras, orthogonal[:gain], chrono[:T_max]) or spec .json")
      ->capture_default_str();
  t->add_option("--hidden,--width", a->hidden, "N: a preset's moments, the tied check's width")
      ->capture_default_str();
  t->add_option("--input-dim", a->input_dim, "I: a preset's moments, the tied check's inputs")
      ->capture_default_str();
  t->add_option("--seq-len", a->seq_len, "T the verdict and the product moments refer to")
      ->capture_default_str();
  t->add_flag("--json", a->json, "Print JSON");
  add_theory_flags(t, a->opt);
  add_tied_flags(t, a->tied);
  add_design_task_flags(t, a->task,
                        "This task's T, R and I, and the trainability prediction on its inputs "
                        "(docs/theory.md §12)");
  t->callback([a, cell_opt, t] {
    const CellType cell = parse_cell(a->cell);
    const std::optional<Task> task =
        design_task(a->task, t, a->seq_len, a->opt.input_var, a->input_dim);
    double data_var = NAN;
    int data_steps = -1;
    if (task) {  // a padded task's data, then the zero stretch, in the tied check
      const TaskInputStats st = task_input_stats(*task);
      if (st.pad_steps > 0 && !a->task.options.pad_front) {
        data_var = st.data_var;
        data_steps = st.data_steps;
      }
    }
    check_model_flags(a->hidden, a->input_dim, a->seq_len);
    if (!is_preset(a->init) && !std::filesystem::is_regular_file(a->init))
      fail(
          "--init '{}' is neither a preset (pytorch, keras, orthogonal[:gain], chrono[:T_max]) nor "
          "an existing spec file",
          a->init);
    InitSpec spec = is_preset(a->init)
                        ? preset_moments(a->init, cell, a->hidden, a->input_dim, a->seq_len)
                        : load_spec_file(a->init);
    if (spec.cell != cell && cell_opt->count() > 0)
      fail("{} is a spec for the {} cell, but --cell {} was given", spec.source,
           cell_name(spec.cell), a->cell);
    theory::TheoryOptions opt = with_variant(a->opt, t, spec);
    opt.horizon = a->seq_len;
    const theory::TheoryResult r = theory::analyze(spec, opt);
    const auto tc = run_tied_check(spec, a->tied, a->hidden, a->input_dim, a->seq_len, opt,
                                   data_var, data_steps);
    // The network as trained, on the task's own inputs (docs/theory.md §12).
    std::optional<sim::TaskProbe> probe;
    if (task) {
      sim::ProbeOptions po;
      po.width = a->hidden;
      po.gru = opt.gru_variant;
      if (is_preset(a->init)) po.preset = a->init;  // drawn as train draws it
      probe = sim::task_probe(spec, *task, po);
    }
    if (a->json) {
      json j = report::theory(r, spec, a->seq_len, tc);
      if (probe) {
        j["task"] = task->options().name;
        j["trainability"] = theory::trainability_json(*probe);
      }
      fmt::print("{}\n", j.dump(2));
    } else {
      print_theory(r, spec, a->seq_len);
      if (tc) fmt::print("  tied check   {}\n", tc->summary());
      if (probe) {
        const theory::Trainability tr = theory::predict_trainable(*probe);
        fmt::print("  on {}  ln gain over the {} steps after step {} = {:.3g}, slope {:.3g}{}\n"
                   "  trainability {}\n",
                   task->options().name, probe->span(), probe->memory_from, probe->log_gain,
                   probe->slope,
                   describe(cell).cell_state ? fmt::format(", max |Δc_T|/δ {:.3g}", probe->max_dc())
                                             : "",
                   tr.summary());
      }
    }
  });
}

void register_critical(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", out, criterion, design = "v1", timescales;
    int hidden = 128, input_dim = 1;
    theory::CriticalOptions opt;
    bool json = false;
    TiedFlags tied;
    TaskFlags task;
  };
  auto a = std::make_shared<Args>();
  a->task.options.name.clear();  // no task unless --task names one
  auto* c = app.add_subcommand(
      "critical", "Critical initialization: ξ = T, gradients kept over T steps, tied or untied");
  c->add_option("--cell", a->cell, cell_choices())->capture_default_str();
  c->add_option("--seq-len", a->opt.seq_len, "Sequence length T to design for")
      ->capture_default_str();
  c->add_option("--criterion", a->criterion,
                "tied (default for gated cells: ξ = T and tied gain 1 over T) or untied (m1 = 1)");
  c->add_option("--fix", a->opt.fixes, "gate.param=value held fixed (repeatable)");
  c->add_option("--design", a->design,
                "v1 (critical-v1, the mean-field critical point): keep-gate bias solved for ξ = "
                "T and tied gain 1; v2 (what train --init critical draws for the gated cells): a "
                "spread of timescales on [2, T] with writes coupled to keeps (docs/theory.md §13)")
      ->check(CLI::IsMember({"v1", "v2"}))
      ->capture_default_str();
  c->add_option("--timescales", a->timescales,
                "--design v2: the spread of keep-gate timescales on [2, T], log-uniform "
                "(default: fastest measured, docs/experiments.md E30–E37) or uniform (chrono's)")
      ->check(CLI::IsMember({"log-uniform", "uniform"}));
  c->add_option("--hidden,--width", a->hidden, "N: the width of the tied check and of the spec")
      ->capture_default_str();
  c->add_option("--input-dim", a->input_dim, "I of the tied check")->capture_default_str();
  c->add_option("--tol", a->opt.tol, "Accepted |T·ln m1 − target| and |ln G_T|")
      ->capture_default_str();
  add_design_task_flags(c, a->task, "Design for this task's T, R and I (e.g. mnist-padded, mnist-pixel)");
  c->add_option("-o,--output", a->out,
                "Write the spec here (for rnnmft train --init / theory --init)");
  c->add_flag("--json", a->json, "Print JSON");
  add_theory_flags(c, a->opt.theory);
  add_tied_flags(c, a->tied);
  auto* seq_opt = c->get_option("--seq-len");
  auto* var_opt = c->get_option("--input-var");
  auto* dim_opt = c->get_option("--input-dim");
  auto* design_opt = c->get_option("--design");
  c->callback([a, seq_opt, var_opt, dim_opt, design_opt] {
    const CellType cell = parse_cell(a->cell);
    theory::CriticalOptions co = a->opt;
    int input_dim = a->input_dim;
    std::string task_line;
    double data_var = NAN, v2_data_var = NAN;
    int data_steps = -1;
    if (!a->task.options.name.empty()) {
      if (var_opt->count() > 0) fail("--input-var and --task: the task sets R");
      TaskFlags tf = a->task;
      tf.options.seq_len = seq_opt->count() > 0 ? co.seq_len : 0;
      const Task task = make_task(tf);
      const TaskInputStats st = task_input_stats(task);
      co.seq_len = task.seq_len();
      co.theory.input_var = st.input_var;
      if (dim_opt->count() == 0) input_dim = task.input_dim();
      task_line = st.description;
      if (st.pad_steps > 0 && !a->task.options.pad_front) {
        data_var = st.data_var;
        data_steps = st.data_steps;
      }
      v2_data_var = data_steps_var(st);
    }
    check_model_flags(a->hidden, input_dim, co.seq_len);
    if (a->design == "v2") {
      if (!a->criterion.empty() || !co.fixes.empty())
        fail("--design v2 has no criterion to solve: --criterion and --fix are for v1");
      // R over the steps that carry data: padding says nothing about saturation.
      const double R = std::isfinite(v2_data_var) ? v2_data_var : co.theory.input_var;
      theory::CriticalV2Options vo{.seq_len = co.seq_len, .data_var = R, .input_dim = input_dim,
                                   .width = a->hidden};
      if (!a->timescales.empty()) vo.timescales = *Timescales::dist_from_name(a->timescales);
      theory::CriticalV2 v2 = theory::critical_v2(cell, vo);
      v2.spec.design.task = a->task.options.name;
      v2.spec.design.input_var = co.theory.input_var;  // the task's R, as train compares it
      if (cell == CellType::Gru)
        v2.spec.design.gru_variant = gru_variant_name(co.theory.gru_variant);
      v2.spec.source = fmt::format("critical v2 for T = {}", co.seq_len);
      theory::TheoryOptions topt = co.theory;
      topt.horizon = co.seq_len;
      const theory::TheoryResult mf = theory::analyze(v2.spec, topt);
      json j = {{"design", "v2"}, {"spec", v2.spec.to_json()}, {"notes", v2.notes},
                {"mean_field", mf.to_json()}};
      if (!task_line.empty()) j["task_inputs"] = task_line;
      if (!a->out.empty()) write_file_atomic(a->out, v2.spec.to_json().dump(2) + "\n");
      if (a->json) {
        fmt::print("{}\n", j.dump(2));
        return;
      }
      print_theory(mf, v2.spec, co.seq_len);
      if (!task_line.empty()) fmt::print("  task         {}\n", task_line);
      for (const auto& n : v2.notes) fmt::print("  note         {}\n", n);
      fmt::print("  note         the mean field above reads the timescales as Gaussian bias moments "
                 "and loses their coupling; rnnmft trainability --init FILE --task TASK measures "
                 "the drawn network\n");
      if (!a->out.empty()) fmt::print("  wrote        {}\n", absolute_path(a->out));
      return;
    }
    if (!a->timescales.empty())
      fail("--timescales is for --design v2 (v1 solves one keep-gate bias)");
    if (!a->criterion.empty()) co.criterion = theory::parse_criterion(a->criterion);
    theory::CriticalResult r = theory::critical_init(cell, co);
    r.spec.design.width = a->hidden;
    r.spec.design.task = a->task.options.name;
    const int T = co.seq_len;
    theory::TheoryOptions topt = co.theory;
    topt.horizon = T;
    const auto tc =
        run_tied_check(r.spec, a->tied, a->hidden, input_dim, T, topt, data_var, data_steps);
    json j = report::critical(r, T, tc);
    j["design"] = "v1";
    if (!task_line.empty()) j["task_inputs"] = task_line;
    if (!a->out.empty())
      write_file_atomic(a->out, report::critical_spec_file(r, j).dump(2) + "\n");
    if (a->json) {
      fmt::print("{}\n", j.dump(2));
    } else {
      InitSpec shown = r.spec;
      shown.source = fmt::format("critical ({} criterion) for T = {} (solved {})",
                                 theory::criterion_name(r.criterion), T, r.knobs_text());
      print_theory(r.diagnostics, shown, T);
      if (!task_line.empty()) fmt::print("  task         {}\n", task_line);
      fmt::print("  criterion    {}: T·ln m1 = {:.4f} (target {}), ln G_T = {:.4f}{}\n",
                 theory::criterion_name(r.criterion), r.log_m1_T,
                 r.criterion == theory::Criterion::Tied ? "−1" : "0", r.log_gain_T,
                 r.criterion == theory::Criterion::Tied ? " (target 0)" : "");
      if (tc) fmt::print("  tied check   {}\n", tc->summary());
      for (const auto& n : r.notes) fmt::print("  note         {}\n", n);
      // This command's default stays v1, the mean-field point; train's "critical" is v2 here.
      if (design_opt->count() == 0 && theory::critical_design(cell, false).v2)
        fmt::print(
            "  note         this is critical-v1, the mean-field critical point; train --init "
            "critical draws critical init v2 for the {} cell (--design v2 here, "
            "docs/theory.md §13), which trained faster (docs/experiments.md E30–E37)\n",
            cell_name(cell));
      if (!a->out.empty()) fmt::print("  wrote        {}\n", absolute_path(a->out));
    }
    if (!r.reached)
      fail("the {} criterion was not reached for {} (T·ln m1 = {:.4f}, ln G_T = {:.4f}); see the "
           "notes",
           theory::criterion_name(r.criterion), cell_name(cell), r.log_m1_T, r.log_gain_T);
  });
}

}  // namespace rnnmft::cli
