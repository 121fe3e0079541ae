// `rnnmft trainability`: the network a user trains, at init, on the task's inputs
// (sim/task_probe.h), and the prediction of whether it trains (theory/trainability.h); for one
// init, or for every run of a sweep (DIR/trainability.jsonl, held against the runs by `report`).
#include <fmt/core.h>

#include <Eigen/Core>

#include <unistd.h>

#include <atomic>
#include <exception>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "sim/task_probe.h"
#include "sim/tied_theory.h"
#include "spec/init_spec.h"
#include "sweep/runner.h"
#include "sweep/sweep_spec.h"
#include "theory/trainability.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnmft::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Args {
  std::string cell = "lstm", init = "pytorch", gru_variant, sweep_dir;
  int hidden = 64, networks = 2, sequences = 8, directions = 4, jobs = 1, units = 8192;
  uint64_t seed = 0;
  double delta = 0.05;
  bool json = false, theory = false;
  TaskFlags task;
};

sim::ProbeOptions probe_options(const Args& a, int hidden, GruVariant gru) {
  sim::ProbeOptions o;
  o.width = hidden;
  o.networks = a.networks;
  o.sequences = a.sequences;
  o.directions = a.directions;
  o.seed = a.seed;
  o.delta = a.delta;
  o.gru = gru;
  return o;
}

void print_probe(const sim::TaskProbe& p, const InitSpec& spec, const Task& task) {
  const bool lstm = describe(p.cell).cell_state;
  fmt::print("{}{} init {} on {} (T = {}, I = {}), tied, width {}, {} networks × {} sequences × {} "
             "directions\n",
             cell_name(p.cell),
             describe(p.cell).reset_gate ? fmt::format(" ({})", gru_variant_name(p.gru)) : "",
             spec.source, task.options().name, p.steps, p.input_dim, p.width, p.networks,
             p.sequences, p.directions);
  fmt::print("  state at T    Q_h = {:.4g} ({:.0f} % per-unit offset){}\n", p.Q_h,
             100 * p.offset_h,
             lstm ? fmt::format("   Q_c = {:.4g} ({:.0f} % offset)", p.Q_c, 100 * p.offset_c)
                  : "");
  fmt::print("  saturation    slope E[(1 − a²)²] = {:.3g}, {:.0f} % of units beyond |pre| = 2; "
             "keep gate {:.4g}\n",
             p.slope, 100 * p.saturated, p.keep);
  fmt::print("  memory        ln gain over the {} steps from step {} to T: {:.3g} (sd {:.2g} over "
             "sequences, {:.2g} between networks)\n",
             p.span(), p.memory_from, p.log_gain, p.log_gain_sd, p.log_gain_between_sd);
  std::string s;
  for (const auto& g : p.sensitivity)
    s += lstm ? fmt::format(" {} {:.3g}/{:.3g}", g.gate, g.dh, g.dc)
              : fmt::format(" {} {:.3g}", g.gate, g.dh);
  fmt::print("  sensitivity   |Δh_T|{}/δ per gate bias (δ = {}):{}\n", lstm ? "/|Δc_T|" : "",
             p.delta, s);
  const theory::Trainability t = theory::predict_trainable(p);
  fmt::print("  prediction    {}\n", t.summary());
}

// Every run of a sweep: its spec (as trained), task and width; DIR/trainability.jsonl.
void probe_sweep(const Args& a) {
  const fs::path dir(a.sweep_dir);
  const fs::path results = dir / "results.jsonl", spec_file = dir / "sweep.json";
  if (!fs::is_regular_file(results)) fail("{}: no results.jsonl (run the sweep first)", dir.string());
  const sweep::SweepSpec sp = sweep::SweepSpec::load(spec_file.string());
  // What `report` reads: whole lines of runs of this grid, one per run (a last line cut off by a
  // crash is left out, as the sweep drops it when it resumes).
  const std::vector<json> lines = sweep::read_results(results.string(), report_lines(sp));
  if (lines.empty()) fail("{}: no finished runs yet", dir.string());
  std::map<std::string, sweep::RunUnit> units;
  for (auto& u : sweep::expand(sp, dir.string())) units.emplace(u.id, u);
  std::vector<json> out(lines.size());
  std::map<std::string, std::shared_ptr<const Task>> tasks;
  std::vector<std::shared_ptr<const Task>> run_task(lines.size());
  std::vector<TrainConfig> configs(lines.size());
  std::vector<std::string> presets(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string id = lines[i]["run"].get<std::string>();
    auto it = units.find(id);
    if (it == units.end()) fail("{}: run {} is not a run of {}", results.string(), id, spec_file.string());
    TrainConfig c = TrainConfig::from_json(it->second.config, id);
    configs[i] = c;
    // A run that drew a preset as it is (no spec parameters, which give it the preset's Gaussian
    // moments) is probed as drawn; the line's spec holds only the preset's moments.
    if (is_preset(c.init) && it->second.spec_overrides.empty()) presets[i] = c.init;
    TaskFlags tf;
    tf.options = c.task;
    tf.data_dir = a.task.data_dir;  // the data here, wherever the sweep ran
    const std::string key = json(c.task.name).dump() + c.task.unit +
                            std::to_string(c.task.seq_len) + std::to_string(c.task.pad_front) +
                            std::to_string(c.task.standardize) +
                            (c.task.permute ? std::to_string(*c.task.permute) : "-");
    if (!tasks.count(key)) tasks[key] = std::make_shared<const Task>(make_task(tf));
    run_task[i] = tasks[key];
  }
  // Everything that can be refused is checked here, before any probe: an error inside the
  // parallel loop below is carried out of it and rethrown.
  std::vector<InitSpec> specs;
  for (const auto& l : lines) specs.push_back(InitSpec::from_json(l["spec"], l["run"].get<std::string>()));
  std::vector<GruVariant> variants;
  for (const auto& c : configs) variants.push_back(parse_gru_variant(c.gru_variant));
  std::atomic<size_t> done{0};
  std::vector<std::exception_ptr> errors(lines.size());
  const bool tty = isatty(2);
#pragma omp parallel for schedule(dynamic) num_threads(a.jobs)
  for (size_t i = 0; i < lines.size(); ++i) {
    try {
      sim::ProbeOptions o = probe_options(a, configs[i].hidden, variants[i]);
      o.preset = presets[i];
      const sim::TaskProbe p = sim::task_probe(specs[i], *run_task[i], o);
      json j = {{"run", lines[i]["run"]}, {"params", lines[i]["params"]},
                {"final_test_acc", lines[i]["final_test_acc"]}};
      j["probe"] = theory::trainability_json(p);
      out[i] = j;
    } catch (...) {
      errors[i] = std::current_exception();
    }
    const size_t d = ++done;
    if (tty || d == lines.size()) fmt::print(stderr, "\r  probed {}/{} runs", d, lines.size());
  }
  fmt::print(stderr, "\n");
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  std::string text;
  for (const auto& j : out) text += j.dump() + "\n";
  write_file_atomic((dir / "trainability.jsonl").string(), text);
  // A sweep without a "report" object counts "trained" at the report's default threshold.
  const double threshold = sp.report.is_object() ? sp.report.value("threshold", 0.5) : 0.5;
  int agree = 0, n = 0;
  for (const auto& j : out) {
    // A run without a final accuracy (it diverged) did not train, as `report` counts it.
    const bool trained =
        j["final_test_acc"].is_number() && j["final_test_acc"].get<double>() >= threshold;
    agree += trained == j["probe"]["trainable"].get<bool>();
    ++n;
  }
  fmt::print("{}: the prediction agrees with \"trained (test accuracy ≥ {})\" in {} of {} runs "
             "({:.1f} %)\nwrote {}\n",
             dir.string(), threshold, agree, n, n ? 100.0 * agree / n : 0.0,
             (dir / "trainability.jsonl").string());
}

// The mean-field theory of the tied network (sim/tied_theory.h) on the probe's own sequences,
// every part against the tied network the probe ran.
json theory_against(const Args& a, const InitSpec& spec, const Task& task, const sim::TaskProbe& p) {
  const sim::ProbeInputs in = sim::probe_inputs(task, a.sequences, a.seed, -1);
  sim::TiedTheoryOptions o;
  o.units = a.units;
  o.seed = a.seed;
  o.gru = p.gru;
  o.delta = a.delta;
  const sim::TaskProbe th = sim::tied_theory(spec, in.x, in.S, in.T, in.I, in.t0, o);
  const auto parts = sim::compare_to_network(th, p);
  json rows = json::array();
  int within = 0, inconclusive = 0;
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  for (const auto& q : parts) {
    rows.push_back({{"part", q.name}, {"theory", num(q.theory)}, {"network", num(q.network)},
                    {"error", num(q.error)}, {"noise", num(q.noise)}, {"verdict", q.verdict_name()}});
    within += q.verdict == sim::TheoryPart::Verdict::Within;
    inconclusive += q.verdict == sim::TheoryPart::Verdict::Inconclusive;
  }
  return {{"units", a.units}, {"tolerance", 0.10}, {"parts", rows}, {"within", within},
          {"inconclusive", inconclusive}, {"of", int(parts.size())},
          {"prediction", theory::trainability_json(th)}};
}

void print_theory(const json& t, int width, int networks) {
  fmt::print("  theory        the mean-field theory of the tied network (§12.6, {} units) against "
             "these tied networks ({} of width {}):\n",
             t["units"].get<int>(), networks, width);
  auto v = [](const json& x) {
    return x.is_null() ? std::string("—") : fmt::format("{:.4g}", x.get<double>());
  };
  for (const auto& r : t["parts"]) {
    const std::string err =
        r["error"].is_null() ? "—" : fmt::format("{:.1f} %", 100 * r["error"].get<double>());
    const std::string verdict = r["verdict"].get<std::string>();
    fmt::print("    {:<16} theory {:>11}   networks {:>11} (±{:<9})  error {:>8}   {}\n",
               r["part"].get<std::string>(), v(r["theory"]), v(r["network"]), v(r["noise"]), err,
               verdict == "within"         ? "within 10 %"
               : verdict == "inconclusive" ? "inconclusive: within the networks' spread"
                                           : "OFF by more than 10 % and the networks' spread");
  }
  fmt::print("    {} of {} parts within 10 %, {} inconclusive (± is 2 standard errors of the "
             "networks' mean); the theory's prediction: {}\n",
             t["within"].get<int>(), t["of"].get<int>(), t["inconclusive"].get<int>(),
             t["prediction"]["trainable"].get<bool>() ? "trainable" : "not trainable");
}

}  // namespace

void register_trainability(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand(
      "trainability",
      "Predict whether an init trains on a task: the tied network at init on the task's inputs");
  c->add_option("--cell", a->cell, cell_choices() + " (a spec file brings its own)")
      ->capture_default_str();
  c->add_option("--init", a->init, "Preset (pytorch, keras, orthogonal[:gain], chrono[:T_max]) or spec .json")
      ->capture_default_str();
  auto* variant_opt = c->add_option(
      "--gru-variant", a->gru_variant,
      "GRU: reset-after (PyTorch's nn.GRU, train's default) or reset-before; default: the spec "
      "file's designed_for, else reset-after");
  c->add_option("--hidden,--width", a->hidden, "N: the width of the network probed")
      ->check(CLI::Range(2, 4096))
      ->capture_default_str();
  c->add_option("--networks", a->networks, "Tied networks drawn")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  c->add_option("--sequences", a->sequences, "Training sequences run through each network")
      ->check(CLI::Range(2, 256))
      ->capture_default_str();
  c->add_option("--directions", a->directions,
                "Perturbation directions per network (the same for every sequence)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  c->add_option("--delta", a->delta,
                "Bias move δ of the sensitivity, in (0, 1] (25 Adam steps at lr 2e-3)")
      ->capture_default_str();
  c->add_option("--seed", a->seed,
                "Seed of the networks drawn (and of which training sequences are run); not the "
                "training run's draw")
      ->check(non_negative())
      ->capture_default_str();
  c->add_option("--sweep", a->sweep_dir,
                "A sweep directory: probe every run in results.jsonl, write trainability.jsonl "
                "and print the agreement");
  c->add_option("--jobs", a->jobs, "--sweep: runs probed at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  c->add_flag("--theory", a->theory,
              "Also the mean-field theory of the tied network on the same sequences, every part "
              "against the network probed (use a wide one: --width 512)");
  c->add_option("--units", a->units, "--theory: units in the theory's population")
      ->check(CLI::Range(16, 1 << 20))
      ->capture_default_str();
  c->add_flag("--json", a->json, "Print JSON");
  add_task_flags(c, a->task, false);
  a->task.options.name.clear();  // no task unless --task names one
  c->callback([a, c, variant_opt] {
    // The probe's products are small (a few dozen rows): threads inside them only wait.
    Eigen::setNbThreads(1);
    if (!a->sweep_dir.empty()) {
      // Each run brings its cell, init, width, variant and task.
      for (const char* f : {"--cell", "--init", "--hidden", "--gru-variant", "--task", "--seq-len",
                            "--unit", "--pad-front", "--repeat", "--permute", "--standardize",
                            "--json", "--theory", "--units"})
        if (c->get_option(f)->count() > 0)
          fail("--sweep takes the cell, init, width and task of each run from the sweep: drop {}",
               f);
      return probe_sweep(*a);
    }
    if (a->task.options.name.empty()) fail("--task is required (or --sweep DIR)");
    const CellType cell = parse_cell(a->cell);
    const Task task = make_task(a->task);
    if (!is_preset(a->init) && !fs::is_regular_file(a->init))
      fail("--init '{}' is neither a preset nor an existing spec file", a->init);
    const InitSpec spec = is_preset(a->init) ? preset_moments(a->init, cell, a->hidden,
                                                              task.input_dim(), task.seq_len())
                                             : load_spec_file(a->init);
    // The variant `train` builds unless told otherwise: the spec's own, else reset-after.
    const GruVariant gru = variant_opt->count() > 0 ? parse_gru_variant(a->gru_variant)
                           : !spec.design.gru_variant.empty()
                               ? parse_gru_variant(spec.design.gru_variant)
                               : GruVariant::ResetAfter;
    sim::ProbeOptions po = probe_options(*a, a->hidden, gru);
    if (is_preset(a->init)) po.preset = a->init;  // drawn as train draws it
    const sim::TaskProbe p = sim::task_probe(spec, task, po);
    const json th = a->theory ? theory_against(*a, spec, task, p) : json();
    if (a->json) {
      json j = theory::trainability_json(p);
      j["task"] = task.options().name;
      j["init"] = spec.source;
      if (a->theory) j["theory"] = th;
      fmt::print("{}\n", j.dump(2));
    }
    else {
      print_probe(p, spec, task);
      if (a->theory) print_theory(th, p.width, p.networks);
    }
  });
}

}  // namespace rnnmft::cli
