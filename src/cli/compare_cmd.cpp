// `rnnmft compare` (the mean-field critical point beside the standard inits) and `rnnmft phase` (ξ,
// m1 and the variance over a grid of two spec parameters).
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "cli/theory_flags.h"
#include "data/task_stats.h"
#include "sim/report.h"
#include "sim/task_probe.h"
#include "sim/tied_check.h"
#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/critical_v2.h"
#include "theory/mean_field.h"
#include "theory/phase.h"
#include "theory/trainability.h"
#include "theory/verdict.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnmft::cli {

using nlohmann::json;

using theory::factor;
using theory::verdict;
using theory::xi_text;

namespace {

// Columns of a terminal that `s` takes (its UTF-8 code points; the table's names are not wide
// characters).
int display_width(const std::string& s) {
  int n = 0;
  for (const unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

// The padded MNIST task of length T (image rows for T < 784), as `train` flags.
std::string task_flags(int T) {
  if (T >= 784) return fmt::format("--task mnist-padded --seq-len {}", T);
  if (T >= 28) return fmt::format("--task mnist-padded --unit row --seq-len {}", T);
  return "--task TASK";
}

// What to train with, measured (docs/experiments.md E30–E37), and a command that does it.
void print_training_advice(CellType cell, GruVariant variant, int T) {
  const std::string task = task_flags(T);
  const bool gru = cell == CellType::Gru;
  if (cell == CellType::Lstm || gru) {
    // Steps to 80 % validation accuracy, median of 3 seeds at lr 4e-3 (E30–E37's table): padded
    // rows at T = 1000, 3000, 5000, then pixel MNIST.
    const std::array<int, 4> v2 =
        gru ? std::array{400, 300, 400, 500} : std::array{700, 600, 500, 500};
    const std::array<int, 4> chrono =
        gru ? std::array{500, 600, 500, 2100} : std::array{700, 800, 800, 2100};
    fmt::print(
        "  for training {}, --init critical is the recommendation: critical init v2, timescales\n"
        "  log-uniform on [2, T] with each unit's write coupled to its keep (docs/theory.md §13).\n"
        "  Steps to 80 % validation accuracy, N = 64, Adam 4e-3, median of 3 seeds\n"
        "  (docs/experiments.md E30–E37{}):\n"
        "                   padded rows T = 1000   T = 3000   T = 5000   pixel MNIST\n"
        "    critical v2    {:>18}   {:>8}   {:>8}   {:>11}\n"
        "    chrono         {:>18}   {:>8}   {:>8}   {:>11}\n"
        "  v2 is a spread of timescales, not a point of the table above; critical-v1 there is the\n"
        "  mean-field critical point (ξ = T, tied gain 1).\n"
        "  train it:  rnnmft train {} --cell {}{} --init critical\n"
        "  (--init critical designs for the task's length and inputs{})\n",
        gru ? "a GRU" : "an LSTM", gru ? ", on the reset-after GRU" : "", v2[0], v2[1], v2[2], v2[3],
        chrono[0], chrono[1], chrono[2], chrono[3], task, cell_name(cell),
        gru ? fmt::format(" --gru-variant {}", gru_variant_name(variant)) : "",
        gru ? "; reset-after is PyTorch's nn.GRU and train's default" : "");
    return;
  }
  fmt::print(
      "  train it:  rnnmft train {} --cell {} --init critical\n"
      "  (--init critical designs for the task's length and inputs: {})\n",
      task, cell_name(cell),
      theory::critical_design(cell, false).v2
          ? "critical init v2, docs/theory.md §13"
          : "critical-v1, the mean-field critical point, as this cell has no keep gate");
}

// What the table's columns are (docs/theory.md).
void print_column_legend(bool tied) {
  fmt::print(
      "Columns (mean-field theory, docs/theory.md):\n"
      "  χ          factor by which the squared distance between two sequences' states changes\n"
      "             per step (< 1: inputs are forgotten; > 1: chaos) (§3.3)\n"
      "  ξ          timescale −1/ln χ in steps: how long an input stays visible (∞: never fades)\n"
      "  c*         correlation at which two sequences with the same inputs settle (1: they\n"
      "             merge; < 1: chaotic)\n"
      "  m1, m2     mean and second moment of the squared singular values of the one-step\n"
      "             Jacobian J (LSTM: J_c, of the cell state); m1 = 1 keeps gradient norms (§5)\n"
      "  m1^T       m1 over T steps: the factor on a gradient's squared norm over T steps, with\n"
      "             fresh weights at every step (§5.6)\n"
      "  tied G_T   the same factor with the same weights at every step, as in a trained network\n"
      "             (§9.2); 1 is critical\n");
  if (tied)
    fmt::print(
        "Tied check (networks of width N simulated for T steps, §9.4):\n"
        "  tied ρ     spectral radius of the state Jacobian at step T\n"
        "  tied χ     measured per-step factor of the squared distance of two trajectories\n"
        "  tied Q×    measured mean square of the state over steps T/2 to T ÷ the theory's\n");
}

}  // namespace

void register_compare(CLI::App& app) {
  struct Args {
    std::vector<std::string> cells = {"lstm", "gru"},
                             inits = {"critical-v1", "pytorch", "keras", "chrono"};
    int seq_len = 1000, hidden = 128, input_dim = 1;
    std::string out_dir;
    bool json = false;
    theory::TheoryOptions opt;
    TiedFlags tied;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand(
      "compare",
      "The mean-field critical point side by side with the usual inits, and what to "
      "train with");
  c->add_option("--cells", a->cells, "Cells")->capture_default_str();
  c->add_option("--inits", a->inits, "critical-v1, presets or spec files")->capture_default_str();
  c->add_option("--seq-len", a->seq_len, "Sequence length T")->capture_default_str();
  c->add_option("--hidden,--width", a->hidden, "N: the presets' moments, the tied check's width")
      ->capture_default_str();
  c->add_option("--input-dim", a->input_dim, "I: the presets' moments, the tied check's inputs")
      ->capture_default_str();
  c->add_option("--out-dir", a->out_dir,
                "Write each critical-v1 spec here as CELL_critical-v1.json");
  c->add_flag("--json", a->json, "Print JSON (one object per cell)");
  add_theory_flags(c, a->opt);
  add_tied_flags(c, a->tied);
  c->callback([a, c] {
    check_model_flags(a->hidden, a->input_dim, a->seq_len);
    // Every cell and init is checked before the first (slow) solve, so that a bad one fails at
    // once rather than after the cells before it.
    std::vector<CellType> cells;
    for (const auto& cell_s : a->cells) cells.push_back(parse_cell(cell_s));
    for (const auto& init : a->inits) {
      if (init == "critical" || init == "critical-v2")
        fail(
            "--inits {}: the table holds each init's mean field, one timescale per gate; "
            "critical init v2 (what train --init critical draws for the gated cells) is a spread "
            "of timescales it cannot describe (docs/theory.md §13.1). Compare critical-v1, the "
            "mean-field critical point; `rnnmft critical --design v2` and `rnnmft trainability "
            "--init SPEC --task TASK` show v2",
            init);
      if (init != "critical-v1" && !is_preset(init) && !std::filesystem::is_regular_file(init))
        fail(
            "--inits '{}' is neither critical-v1, a preset (pytorch, keras, orthogonal[:gain], "
            "chrono[:T_max]) nor an existing spec file",
            init);
    }
    for (const CellType cell : cells)
      for (const auto& init : a->inits) {
        if (init == "critical-v1") continue;
        if (is_preset(init)) {
          preset_moments(init, cell, a->hidden, a->input_dim, a->seq_len);
        } else {
          const InitSpec spec = load_spec_file(init);
          if (spec.cell != cell)
            fail("--inits {} is a spec for the {} cell, compared here with --cells {}", init,
                 cell_name(spec.cell), cell_name(cell));
        }
      }
    // The first column is as wide as the longest init (a spec file's path included).
    int name_w = 10;
    for (const auto& init : a->inits) name_w = std::max(name_w, display_width(init));
    json all = json::array();
    for (const CellType cell : cells) {
      const bool gru = cell == CellType::Gru;
      const char* variant = gru_variant_name(a->opt.gru_variant);
      if (!a->json)
        fmt::print("== {}{} at T = {} (N = {}, I = {}, inputs of second moment R = {:g}) ==\n",
                   cell_name(cell), gru ? fmt::format(" ({})", variant) : "", a->seq_len,
                   a->hidden, a->input_dim, a->opt.input_var);
      struct Row {
        std::string name;
        InitSpec spec;
        theory::TheoryResult r;
        std::optional<sim::TiedCheck> tc;
        std::optional<theory::CriticalResult> critical;
      };
      std::vector<Row> rows;
      theory::TheoryOptions o = a->opt;
      o.horizon = a->seq_len;
      for (const auto& init : a->inits) {
        Row row;
        row.name = init;
        if (init == "critical-v1") {
          theory::CriticalOptions co;
          co.seq_len = a->seq_len;
          co.theory = a->opt;
          const auto& cr = row.critical.emplace(theory::critical_init(cell, co));
          row.spec = cr.spec;
          row.r = cr.diagnostics;
          if (!a->json) {
            fmt::print(
                "critical-v1 spec, the mean-field critical point ({} criterion; solved {}{}):\n",
                theory::criterion_name(cr.criterion), cr.knobs_text(),
                cr.reached ? "" : "; NOT reached");
            for (const auto& name : gate_names(cell)) {
              const GateInit& g = cr.spec.gate(name);
              fmt::print(
                  "  {:9} recurrent_std {:<9.4g} input_std {:<8.4g} bias_mean {:<8.4g} bias_std "
                  "{:.4g}\n",
                  name, g.recurrent_std, g.input_std, g.bias_mean, g.bias_std);
            }
            for (const auto& n : cr.notes) fmt::print("  note: {}\n", n);
          }
          if (!a->out_dir.empty()) {
            std::filesystem::create_directories(a->out_dir);
            const std::string path = (std::filesystem::path(a->out_dir) /
                                      (std::string(cell_name(cell)) + "_critical-v1.json"))
                                         .string();
            save_spec_file(cr.spec, path);
            if (!a->json)
              fmt::print(
                  "  written to {}: designed for T = {} and inputs of second moment R = {:g}{} "
                  "(`rnnmft theory --init {}` shows it); to train on a task, `train --init "
                  "critical-v1` solves it for the task's own length and inputs\n",
                  absolute_path(path), a->seq_len, a->opt.input_var,
                  gru ? fmt::format(", the {} GRU", variant) : "", path);
          }
        } else {
          row.spec = is_preset(init)
                         ? preset_moments(init, cell, a->hidden, a->input_dim, a->seq_len)
                         : load_spec_file(init);
          row.r = theory::analyze(row.spec, with_variant(o, c, row.spec));
        }
        row.tc = run_tied_check(row.spec, a->tied, a->hidden, a->input_dim, a->seq_len,
                                with_variant(o, c, row.spec));
        rows.push_back(std::move(row));
      }
      if (a->json) {
        json jc = report::compare_cell(cell, a->seq_len, a->hidden, a->input_dim);
        for (const auto& row : rows) {
          json j = report::compare_init(row.name, row.r, row.spec, a->seq_len, row.tc,
                                        row.critical ? &*row.critical : nullptr);
          jc["inits"].push_back(j);
        }
        all.push_back(jc);
        continue;
      }
      const char* jname = describe(cell).cell_state ? "J_c" : "J";
      const auto pad = [name_w](const std::string& name) {
        return name + std::string(size_t(std::max(0, name_w - display_width(name))), ' ');
      };
      fmt::print("\n  {} {:>10} {:>10} {:>7} {:>10} {:>10} {:>10} {:>10}", pad("init"), "χ", "ξ",
                 "c*", fmt::format("m1({})", jname), fmt::format("m2({})", jname), "m1^T",
                 "tied G_T");
      if (a->tied.on) fmt::print(" {:>10} {:>9} {:>9}", "tied ρ", "tied χ", "tied Q×");
      fmt::print("\n");
      for (const auto& row : rows) {
        const auto& r = row.r;
        fmt::print("  {} {:>10.6f} {:>10} {:>7.4f} {:>10.6f} {:>10.6f} {:>10} {:>10}", pad(row.name),
                   r.chi, xi_text(r.xi()), r.corr, r.jacobian.m1, r.jacobian.m2,
                   factor(a->seq_len * std::log(r.jacobian.m1)),
                   factor(r.tied_log_gain(a->seq_len)));
        if (row.tc)
          fmt::print(" {:>10.4f} {:>9.5f} {:>9.2f}\n", row.tc->radius_end, row.tc->chi,
                     row.tc->Q_ratio());
        else if (a->tied.on)
          fmt::print(" {:>10} {:>9} {:>9}\n", "—", "—", "—");
        else
          fmt::print("\n");
      }
      fmt::print("\n");
      for (const auto& row : rows)
        fmt::print("  {} {}\n", pad(row.name), verdict(row.r, a->seq_len));
      if (a->tied.on) {
        fmt::print("\n");
        for (const auto& row : rows)
          if (row.tc) fmt::print("  {} {}\n", pad(row.name), row.tc->summary());
      }
      fmt::print("\n");
      print_training_advice(cell, a->opt.gru_variant, a->seq_len);
      fmt::print("\n");
    }
    if (a->json)
      fmt::print("{}\n", all.dump(2));
    else
      print_column_legend(a->tied.on);
  });
}

void register_phase(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", init, x, y, out;
    int seq_len = 1000, hidden = 128, input_dim = 1;
    theory::TheoryOptions opt;
    TaskFlags task;
  };
  auto a = std::make_shared<Args>();
  // A grid point needs less precision than a reported point: 4000 samples give m1 to ~1e-4.
  a->opt.samples = 4000;
  a->opt.burn_in = 80;
  a->opt.average = 60;
  auto* p = app.add_subcommand("phase", "ξ, m1 and the variance on a grid of two hyperparameters");
  p->add_option("--cell", a->cell, cell_choices())->capture_default_str();
  p->add_option("--init", a->init,
                "Base point: preset or spec .json (default: the critical init for --seq-len)");
  p->add_option("--x", a->x, "gate.param=lo:hi:n")->required();
  p->add_option("--y", a->y, "gate.param=lo:hi:n")->required();
  p->add_option("--seq-len", a->seq_len, "T (for the base point and the product moments)")
      ->capture_default_str();
  p->add_option("--hidden,--width", a->hidden, "N, for a preset's moments")->capture_default_str();
  p->add_option("--input-dim", a->input_dim, "I, for a preset's moments")->capture_default_str();
  p->add_option("-o,--output", a->out, "CSV file")->required();
  add_theory_flags(p, a->opt);
  a->task.options.name.clear();  // no task unless --task names one
  add_design_task_flags(p, a->task,
                        "This task's T, R and I, and columns of the trainability prediction on its "
                        "inputs at every point (docs/theory.md §12; one probe per point)");
  p->callback([a, p] {
    const CellType cell = parse_cell(a->cell);
    const std::optional<Task> task =
        design_task(a->task, p, a->seq_len, a->opt.input_var, a->input_dim);
    check_model_flags(a->hidden, a->input_dim, a->seq_len);
    InitSpec base;
    if (a->init.empty()) {
      theory::CriticalOptions co;
      co.seq_len = a->seq_len;
      co.theory = a->opt;
      base = theory::critical_init(cell, co).spec;
    } else if (is_preset(a->init)) {
      base = preset_moments(a->init, cell, a->hidden, a->input_dim, a->seq_len);
    } else {
      base = load_spec_file(a->init);
    }
    const theory::Axis x = theory::Axis::parse(a->x), y = theory::Axis::parse(a->y);
    theory::TheoryOptions o = with_variant(a->opt, p, base);
    o.horizon = a->seq_len;
    const auto grid = theory::phase_grid(base, x, y, o);
    // The trainability prediction at every point: the point's spec, probed on the task.
    std::vector<theory::Trainability> pred(task ? grid.size() : 0);
    std::vector<sim::TaskProbe> probes(pred.size());
    if (task) {
      sim::ProbeOptions po;
      po.width = a->hidden;
      po.gru = o.gru_variant;
      std::atomic<size_t> done{0};
      std::vector<std::string> errors(grid.size());
#pragma omp parallel for schedule(dynamic)
      for (size_t k = 0; k < grid.size(); ++k) {
        try {
          InitSpec sp = base;
          theory::apply_fix(sp, fmt::format("{}={:.17g}", x.param, grid[k].x), "--x");
          theory::apply_fix(sp, fmt::format("{}={:.17g}", y.param, grid[k].y), "--y");
          probes[k] = sim::task_probe(sp, *task, po);
          pred[k] = theory::predict_trainable(probes[k]);
        } catch (const std::exception& e) {
          errors[k] = e.what();
        }
        const size_t d = ++done;
#pragma omp critical
        fmt::print(stderr, "\r  trainability: probed {}/{} points", d, grid.size());
      }
      fmt::print(stderr, "\n");
      for (const auto& e : errors)
        if (!e.empty()) fail("phase --task: {}", e);
    }
    {
      std::string f;
      // ξ is written as inf where it diverges (pandas reads it as a float).
      f += fmt::format(
          "{},{},Q_h,Q_c,chi,xi,c_star,chi_coincident,chaotic,m1,m2,variance,log_tied_gain,"
          "seq_len,quad_error,converged{}\n",
          x.param, y.param,
          task ? ",trainable,log_gain,log_gain_sd,slope,max_dc,reasons" : "");
      auto g = [](double v) {
        return std::isfinite(v) ? fmt::format("{:.10g}", v)
                                : std::isnan(v) ? std::string("nan") : v > 0 ? "inf" : "-inf";
      };
      for (size_t k = 0; k < grid.size(); ++k) {
        const auto& pt = grid[k];
        f += fmt::format("{:.10g},{:.10g},{:.10g},{:.10g},{:.10g},{},{:.10g},{},{},{:.10g},{:.10g},"
                         "{:.10g},{},{},{},{}\n",
                         pt.x, pt.y, pt.r.Q_h, pt.r.Q_c, pt.r.chi, g(pt.r.xi()), pt.r.corr,
                         g(pt.r.chi_coincident),
                         pt.r.chaotic() ? 1 : 0, pt.r.jacobian.m1, pt.r.jacobian.m2,
                         pt.r.jacobian.variance(), g(pt.r.tied_log_gain(a->seq_len)),
                         a->seq_len, g(pt.r.quadrature.error),
                         !pt.failed && pt.r.quadrature.converged ? 1 : 0);
        if (task) {  // reasons: the failed criteria's words joined by '+', no comma
          std::string codes;
          for (const auto& c : pred[k].codes) codes += (codes.empty() ? "" : "+") + c;
          const auto& q = probes[k];
          f.pop_back();
          f += fmt::format(",{},{},{},{},{},{}\n", pred[k].trainable ? 1 : 0, g(q.log_gain),
                           g(q.log_gain_sd), g(q.slope),
                           describe(cell).cell_state ? g(q.max_dc()) : std::string("nan"), codes);
        }
      }
      write_file_atomic(a->out, f);
    }
    fmt::print("wrote {} ({} × {} points of {}); plot: /usr/bin/python3 scripts/plot_phase.py {}\n",
               absolute_path(a->out), x.n, y.n, cell_name(cell), a->out);
    const auto unconverged = std::count_if(grid.begin(), grid.end(), [](const auto& p) {
      return !p.failed && !p.r.quadrature.converged;
    });
    if (unconverged > 0)
      fmt::print(stderr,
                 "note: at {} of {} points the quadrature did not converge even at order {} "
                 "(converged = 0 in the CSV; the plot leaves them blank; docs/theory.md §1.1)\n",
                 unconverged, grid.size(), o.gru_variant == GruVariant::ResetAfter ? 200 : 400);
    const auto failed = std::count_if(grid.begin(), grid.end(), [](const auto& p) { return p.failed; });
    if (failed > 0)
      fmt::print(stderr,
                 "note: {} of {} points are beyond the theory's numerical range (values too large "
                 "for the Gaussian integrals) and are written as nan\n",
                 failed, grid.size());
  });
}

}  // namespace rnnmft::cli
