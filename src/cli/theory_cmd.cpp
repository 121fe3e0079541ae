// `rnnmft theory`: mean-field diagnosis of an init spec or preset.
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/mean_field.h"
#include "theory/phase.h"
#include "util/error.h"

namespace rnnmft::cli {

using nlohmann::json;

std::string verdict(const theory::TheoryResult& r, int T) {
  const double xi = r.xi(), v = r.jacobian.normalized(), m1 = r.jacobian.m1;
  std::string s;
  if (r.cell == CellType::Lstm || r.chi >= 1.0 || xi >= T)
    s = xi >= T ? fmt::format("signals survive T = {} steps (ξ = {})", T,
                              std::isfinite(xi) ? fmt::format("{:.0f}", xi) : "∞")
                : fmt::format("signals fade after ~{:.0f} of T = {} steps (ξ/T = {:.2g})", xi, T,
                              xi / T);
  else
    s = fmt::format("signals fade after ~{:.0f} of T = {} steps (ξ/T = {:.2g})", xi, T, xi / T);
  const double logm1T = T * std::log(m1);
  if (std::abs(logm1T) > std::log(100.0))
    s += fmt::format("; gradients {} by ~10^{:.0f} over T (m1 = {:.4f})",
                     logm1T < 0 ? "vanish" : "explode", std::abs(logm1T) / std::log(10.0), m1);
  else
    s += fmt::format("; gradient norms stay within 100× over T (m1 = {:.4f})", m1);
  s += fmt::format("; spectrum spread T·v = {:.3g}", T * v);
  return s;
}

void print_theory(const theory::TheoryResult& r, const InitSpec& spec, int T) {
  fmt::print("{} init {}\n", cell_name(r.cell), spec.source);
  for (const auto& name : gate_names(spec.cell)) {
    const GateInit& g = spec.gate(name);
    fmt::print("  {:9} σ={:<8.4g} ν={:<8.4g} μ={:<8.4g} ρ={:<8.4g}{}\n", name, g.recurrent_std,
               g.input_std, g.bias_mean, g.bias_std, g.orthogonal ? " (orthogonal W)" : "");
  }
  if (r.cell == CellType::Lstm)
    fmt::print("  fixed point  Q_h = {:.5f} ± {:.1e}   Q_c = {:.5f} ± {:.1e}\n", r.Q_h, r.Q_h_err,
               r.Q_c, r.Q_c_err);
  else
    fmt::print("  fixed point  Q_h = {:.6g}   M_h = {:.6g}{}\n", r.Q_h, r.M_h,
               r.converged ? "" : "   (NOT converged)");
  fmt::print("  timescale    χ = {:.6f}   ξ = {}   c* = {:.4f}\n", r.chi,
             std::isfinite(r.xi()) ? fmt::format("{:.1f}", r.xi()) : "∞", r.corr);
  auto jac = [](const char* name, const theory::Moments2& m) {
    fmt::print("  {:14} m1 = {:.6f}  m2 = {:.6f}  variance = {:.4g}  normalized = {:.4g}\n", name,
               m.m1, m.m2, m.variance(), m.normalized());
  };
  jac(r.cell == CellType::Lstm ? "J_c (N×N)" : "jacobian", r.jacobian);
  if (r.cell == CellType::Lstm) jac("J (c,h) 2N", r.jacobian_state);
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
  cmd->add_option("--mc-seed", o.seed, "LSTM: sampling seed")->capture_default_str();
}

void register_theory(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", init = "pytorch";
    int hidden = 128, input_dim = 1, seq_len = 1000;
    bool json = false;
    theory::TheoryOptions opt;
  };
  auto a = std::make_shared<Args>();
  auto* t = app.add_subcommand(
      "theory", "Mean-field fixed point, timescale and Jacobian spectrum of an init");
  auto* cell_opt =
      t->add_option("--cell", a->cell,
                    "vanilla, minimal, gru (reset-before) or lstm (a spec file brings its own)")
          ->capture_default_str();
  t->add_option("--init", a->init,
                "Preset (pytorch, keras, orthogonal[:gain], chrono[:T_max]) or spec .json")
      ->capture_default_str();
  t->add_option("--hidden", a->hidden, "N, to map a preset to its moments")->capture_default_str();
  t->add_option("--input-dim", a->input_dim, "I, to map a preset to its moments")
      ->capture_default_str();
  t->add_option("--seq-len", a->seq_len, "T the verdict and the product moments refer to")
      ->capture_default_str();
  t->add_flag("--json", a->json, "Print JSON");
  add_theory_flags(t, a->opt);
  t->callback([a, cell_opt] {
    const CellType cell = parse_cell(a->cell);
    if (a->hidden < 1 || a->input_dim < 1 || a->seq_len < 1)
      fail("--hidden, --input-dim and --seq-len must be ≥ 1");
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
    theory::TheoryOptions opt = a->opt;
    opt.horizon = a->seq_len;
    const theory::TheoryResult r = theory::analyze(spec, opt);
    if (a->json) {
      json j = r.to_json();
      j["spec"] = spec.to_json();
      j["verdict"] = verdict(r, a->seq_len);
      fmt::print("{}\n", j.dump(2));
    } else {
      print_theory(r, spec, a->seq_len);
    }
  });
}

void register_critical(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", out;
    theory::CriticalOptions opt;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("critical",
                               "Critical initialization: m1 = 1, ξ ≥ T, small spectral variance");
  c->add_option("--cell", a->cell, "vanilla, minimal, gru (reset-before) or lstm")
      ->capture_default_str();
  c->add_option("--seq-len", a->opt.seq_len, "Sequence length T to design for")
      ->capture_default_str();
  c->add_option("--fix", a->opt.fixes, "gate.param=value held fixed (repeatable)");
  c->add_option("-o,--output", a->out,
                "Write the spec here (for rnnmft train --init / theory --init)");
  c->add_flag("--json", a->json, "Print JSON");
  add_theory_flags(c, a->opt.theory);
  c->callback([a] {
    const CellType cell = parse_cell(a->cell);
    const theory::CriticalResult r = theory::critical_init(cell, a->opt);
    json j = r.diagnostics.to_json();
    j["spec"] = r.spec.to_json();
    j["knob"] = {{"name", r.knob}, {"value", r.knob_value}};
    j["reached"] = r.reached;
    j["notes"] = r.notes;
    j["verdict"] = verdict(r.diagnostics, a->opt.seq_len);
    if (!a->out.empty()) {
      json spec = r.spec.to_json();
      spec["diagnostics"] = j;
      spec["diagnostics"].erase("spec");
      const std::string tmp = a->out + ".tmp";
      {
        std::ofstream f(tmp);
        if (!f) fail("{}: cannot write", absolute_path(a->out));
        f << spec.dump(2) << "\n";
      }
      std::filesystem::rename(tmp, a->out);
    }
    if (a->json) {
      fmt::print("{}\n", j.dump(2));
    } else {
      InitSpec shown = r.spec;
      shown.source = fmt::format("critical for T = {} (solved {} = {:.6g})", a->opt.seq_len, r.knob,
                                 r.knob_value);
      print_theory(r.diagnostics, shown, a->opt.seq_len);
      for (const auto& n : r.notes) fmt::print("  note         {}\n", n);
      if (!a->out.empty()) fmt::print("  wrote        {}\n", absolute_path(a->out));
    }
    if (!r.reached)
      fail("m1 = 1 was not reached for {} (m1 = {:.6f}); see the notes", cell_name(cell),
           r.diagnostics.jacobian.m1);
  });
}

void register_compare(CLI::App& app) {
  struct Args {
    std::vector<std::string> cells = {"lstm", "gru"},
                             inits = {"critical", "pytorch", "keras", "chrono"};
    int seq_len = 1000, hidden = 128, input_dim = 1;
    std::string out_dir;
    theory::TheoryOptions opt;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("compare", "The critical init side by side with the usual ones");
  c->add_option("--cells", a->cells, "Cells")->capture_default_str();
  c->add_option("--inits", a->inits, "critical, presets or spec files")->capture_default_str();
  c->add_option("--seq-len", a->seq_len, "Sequence length T")->capture_default_str();
  c->add_option("--hidden", a->hidden, "N, for the presets' moments")->capture_default_str();
  c->add_option("--input-dim", a->input_dim, "I, for the presets' moments")->capture_default_str();
  c->add_option("--out-dir", a->out_dir, "Write each critical spec here as CELL_critical.json");
  add_theory_flags(c, a->opt);
  c->callback([a] {
    if (a->seq_len < 2) fail("--seq-len must be at least 2");
    for (const auto& cell_s : a->cells) {
      const CellType cell = parse_cell(cell_s);
      fmt::print("== {} at T = {} (N = {}, I = {}) ==\n", cell_name(cell), a->seq_len, a->hidden,
                 a->input_dim);
      struct Row {
        std::string name;
        theory::TheoryResult r;
      };
      std::vector<Row> rows;
      for (const auto& init : a->inits) {
        if (init == "critical") {
          theory::CriticalOptions co;
          co.seq_len = a->seq_len;
          co.theory = a->opt;
          const auto cr = theory::critical_init(cell, co);
          fmt::print("critical spec (solved {} = {:.6g}{}):\n", cr.knob, cr.knob_value,
                     cr.reached ? "" : ", m1 = 1 NOT reached");
          for (const auto& name : gate_names(cell)) {
            const GateInit& g = cr.spec.gate(name);
            fmt::print(
                "  {:9} recurrent_std {:<9.4g} input_std {:<8.4g} bias_mean {:<8.4g} bias_std "
                "{:.4g}\n",
                name, g.recurrent_std, g.input_std, g.bias_mean, g.bias_std);
          }
          for (const auto& n : cr.notes) fmt::print("  note: {}\n", n);
          if (!a->out_dir.empty()) {
            std::filesystem::create_directories(a->out_dir);
            const std::string path = (std::filesystem::path(a->out_dir) /
                                      (std::string(cell_name(cell)) + "_critical.json"))
                                         .string();
            save_spec_file(cr.spec, path);
            fmt::print("  written to {} (use: rnnmft train --init {})\n", absolute_path(path),
                       path);
          }
          rows.push_back({"critical", cr.diagnostics});
        } else {
          InitSpec spec = is_preset(init)
                              ? preset_moments(init, cell, a->hidden, a->input_dim, a->seq_len)
                              : load_spec_file(init);
          theory::TheoryOptions o = a->opt;
          o.horizon = a->seq_len;
          rows.push_back({init, theory::analyze(spec, o)});
        }
      }
      const char* jname = cell == CellType::Lstm ? "J_c" : "J";
      fmt::print("\n  {:10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}\n", "init", "χ", "ξ",
                 fmt::format("m1({})", jname), fmt::format("m2({})", jname), "variance", "m1^T");
      for (const auto& row : rows) {
        const auto& r = row.r;
        const double xi = r.xi();
        fmt::print("  {:10} {:>10.6f} {:>10} {:>10.6f} {:>10.6f} {:>10.3g} {:>12.3g}\n", row.name,
                   r.chi, std::isfinite(xi) ? fmt::format("{:.1f}", xi) : "∞", r.jacobian.m1,
                   r.jacobian.m2, r.jacobian.variance(), std::pow(r.jacobian.m1, a->seq_len));
      }
      fmt::print("\n");
      for (const auto& row : rows) fmt::print("  {:10} {}\n", row.name, verdict(row.r, a->seq_len));
      fmt::print("\n");
    }
  });
}

void register_phase(CLI::App& app) {
  struct Args {
    std::string cell = "lstm", init, x, y, out;
    int seq_len = 1000, hidden = 128, input_dim = 1;
    theory::TheoryOptions opt;
  };
  auto a = std::make_shared<Args>();
  // A grid point needs less precision than a reported point: 4000 samples give m1 to ~1e-4.
  a->opt.samples = 4000;
  a->opt.burn_in = 80;
  a->opt.average = 60;
  auto* p = app.add_subcommand("phase", "ξ, m1 and the variance on a grid of two hyperparameters");
  p->add_option("--cell", a->cell, "vanilla, minimal, gru or lstm")->capture_default_str();
  p->add_option("--init", a->init,
                "Base point: preset or spec .json (default: the critical base point)");
  p->add_option("--x", a->x, "gate.param=lo:hi:n")->required();
  p->add_option("--y", a->y, "gate.param=lo:hi:n")->required();
  p->add_option("--seq-len", a->seq_len, "T (for the base point and the product moments)")
      ->capture_default_str();
  p->add_option("--hidden", a->hidden, "N, for a preset's moments")->capture_default_str();
  p->add_option("--input-dim", a->input_dim, "I, for a preset's moments")->capture_default_str();
  p->add_option("-o,--output", a->out, "CSV file")->required();
  add_theory_flags(p, a->opt);
  p->callback([a] {
    const CellType cell = parse_cell(a->cell);
    InitSpec base;
    if (a->init.empty()) {
      base = theory::critical_base(cell, a->seq_len, a->opt.input_var);
      // The critical base point with its knob at its solved value.
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
    theory::TheoryOptions o = a->opt;
    o.horizon = a->seq_len;
    const auto grid = theory::phase_grid(base, x, y, o);
    const std::string tmp = a->out + ".tmp";
    {
      std::ofstream f(tmp);
      if (!f) fail("{}: cannot write", absolute_path(a->out));
      f << fmt::format("{},{},Q_h,chi,xi,m1,m2,variance,seq_len\n", x.param, y.param);
      for (const auto& pt : grid)
        f << fmt::format("{:.10g},{:.10g},{:.10g},{:.10g},{},{:.10g},{:.10g},{:.10g},{}\n", pt.x,
                         pt.y, pt.r.Q_h, pt.r.chi,
                         std::isfinite(pt.r.xi()) ? fmt::format("{:.10g}", pt.r.xi()) : "inf",
                         pt.r.jacobian.m1, pt.r.jacobian.m2, pt.r.jacobian.variance(), a->seq_len);
    }
    std::filesystem::rename(tmp, a->out);
    fmt::print("wrote {} ({} × {} points of {}); plot: /usr/bin/python3 scripts/plot_phase.py {}\n",
               absolute_path(a->out), x.n, y.n, cell_name(cell), a->out);
  });
}

}  // namespace rnnmft::cli
