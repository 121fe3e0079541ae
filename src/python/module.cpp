// The Python extension `rnnmft._rnnmft`: the library the CLI uses, called from Python
// (docs/python.md). Requests come in as JSON text and results go back as JSON text or NumPy
// arrays; the pure-Python package `rnnmft` (python/rnnmft/) names the arguments, checks them and
// turns the JSON into dicts. Every rnnmft::Error (and any other C++ exception) becomes a Python
// ValueError here, so nothing a user passes can abort the interpreter.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cells/cell_type.h"
#include "cells/rnn_model.h"
#include "sim/report.h"
#include "sim/simulate.h"
#include "sim/task_probe.h"
#include "data/dataset.h"
#include "data/tasks.h"
#include "theory/trainability.h"
#include "sim/tied_check.h"
#include "spec/init_spec.h"
#include "theory/critical.h"
#include "theory/critical_v2.h"
#include "theory/mean_field.h"
#include "theory/phase.h"
#include "theory/verdict.h"
#include "train/trainer.h"
#include "python/request.h"
#include "util/error.h"
#include "util/json_read.h"
#include "util/memory.h"
#include "util/fp_env.h"

namespace py = pybind11;
using nlohmann::json;

namespace rnnmft::python {
namespace {


// `rnnmft theory --json`.
std::string theory_json(const std::string& request) {
  const Request r(request, with(with(kTheoryKeys, kTiedKeys),
                                {"cell", "init", "hidden", "input_dim", "seq_len"}));
  const CellType cell = parse_cell(r.at("cell").get<std::string>());
  const int N = r.get("hidden", 128), I = r.get("input_dim", 1), T = r.get("seq_len", 1000);
  const InitSpec spec = resolve_spec(r.at("init"), cell, N, I, T);
  theory::TheoryOptions opt = theory_options(r);
  opt.horizon = T;
  py::gil_scoped_release nogil;
  const theory::TheoryResult res = theory::analyze(spec, opt);
  return report::theory(res, spec, T, tied_check(r, spec, N, I, T, opt)).dump();
}

// `rnnmft critical -o spec.json`: the spec with its diagnostics (what the CLI writes).
std::string critical_json(const std::string& request) {
  const Request r(request, with(with(kTheoryKeys, kTiedKeys),
                                {"cell", "seq_len", "fixes", "criterion", "tol", "hidden",
                                 "input_dim"}));
  const CellType cell = parse_cell(r.at("cell").get<std::string>());
  theory::CriticalOptions co;
  co.seq_len = r.get("seq_len", 1000);
  co.fixes = r.get("fixes", std::vector<std::string>{});
  co.tol = r.get("tol", co.tol);
  co.theory = theory_options(r);
  if (r.has("criterion")) co.criterion = theory::parse_criterion(r.at("criterion").get<std::string>());
  const int N = r.get("hidden", 128), I = r.get("input_dim", 1);
  py::gil_scoped_release nogil;
  theory::CriticalResult res = theory::critical_init(cell, co);
  res.spec.design.width = N;
  const int T = co.seq_len;
  theory::TheoryOptions topt = co.theory;
  topt.horizon = T;
  const json j = report::critical(res, T, tied_check(r, res.spec, N, I, T, topt));
  return report::critical_spec_file(res, j).dump();
}

// `rnnmft critical --design v2 -o` (docs/theory.md §13): the spec, with its notes.
std::string critical_v2_json(const std::string& request) {
  const Request r(request, {"cell", "seq_len", "input_var", "hidden", "input_dim", "gru_variant",
                            "timescales"});
  const CellType cell = parse_cell(r.at("cell").get<std::string>());
  theory::CriticalV2Options o;
  if (r.has("timescales")) {
    const auto dist = Timescales::dist_from_name(r.at("timescales").get<std::string>());
    if (!dist) fail("timescales must be 'log-uniform' or 'uniform'");
    o.timescales = *dist;
  }
  o.seq_len = r.get("seq_len", 1000);
  o.data_var = r.get("input_var", std::nan(""));  // a double: NAN is a float
  o.width = r.get("hidden", 128);
  o.input_dim = r.get("input_dim", 1);
  theory::CriticalV2 v = theory::critical_v2(cell, o);
  v.spec.design.input_var = o.data_var;
  if (cell == CellType::Gru && r.has("gru_variant"))
    v.spec.design.gru_variant =
        gru_variant_name(parse_gru_variant(r.at("gru_variant").get<std::string>()));
  json j = v.spec.to_json();
  j["diagnostics"] = {{"design", "v2"}, {"notes", v.notes}};
  return j.dump();
}

// `rnnmft compare --json`.
std::string compare_json(const std::string& request) {
  const Request r(request, with(with(kTheoryKeys, kTiedKeys),
                                {"cells", "inits", "seq_len", "hidden", "input_dim"}));
  const auto cells = r.at("cells").get<std::vector<std::string>>();
  const auto inits = r.at("inits").get<std::vector<json>>();
  const int N = r.get("hidden", 128), I = r.get("input_dim", 1), T = r.get("seq_len", 1000);
  const theory::TheoryOptions base = theory_options(r);
  py::gil_scoped_release nogil;
  json all = json::array();
  for (const auto& cell_s : cells) {
    const CellType cell = parse_cell(cell_s);
    json jc = report::compare_cell(cell, T, N, I);
    theory::TheoryOptions o = base;
    o.horizon = T;
    for (const auto& init : inits) {
      InitSpec spec;
      theory::TheoryResult res;
      std::optional<theory::CriticalResult> cr;
      if (init.contains("critical")) {
        theory::CriticalOptions co;
        co.seq_len = T;
        co.theory = base;
        cr = theory::critical_init(cell, co);
        spec = cr->spec;
        res = cr->diagnostics;
      } else {
        spec = resolve_spec(init, cell, N, I, T);
        res = theory::analyze(spec, o);
      }
      jc["inits"].push_back(report::compare_init(init.value("name", std::string("critical-v1")),
                                                 res, spec, T, tied_check(r, spec, N, I, T, o),
                                                 cr ? &*cr : nullptr));
    }
    all.push_back(jc);
  }
  return all.dump();
}

// `rnnmft phase`: the grid as arrays of shape (n_y, n_x) (row-major over y then x, as
// phase_grid returns it), ready for matplotlib's contourf(x, y, Z).
py::dict phase_arrays(const std::string& request) {
  const Request r(request, with(kTheoryKeys, {"cell", "init", "x", "y", "seq_len", "hidden",
                                              "input_dim"}));
  const CellType cell = parse_cell(r.at("cell").get<std::string>());
  const int N = r.get("hidden", 128), I = r.get("input_dim", 1), T = r.get("seq_len", 1000);
  // A grid point needs less precision than a reported point (as the CLI's phase).
  theory::TheoryOptions dflt;
  dflt.samples = 4000;
  dflt.burn_in = 80;
  dflt.average = 60;
  theory::TheoryOptions o = theory_options(r, dflt);
  const theory::Axis x = theory::Axis::parse(r.at("x").get<std::string>());
  const theory::Axis y = theory::Axis::parse(r.at("y").get<std::string>());
  std::vector<theory::PhasePoint> grid;
  InitSpec base;
  {
    py::gil_scoped_release nogil;
    if (r.has("init")) {
      base = resolve_spec(r.at("init"), cell, N, I, T);
    } else {
      theory::CriticalOptions co;
      co.seq_len = T;
      co.theory = o;
      base = theory::critical_init(cell, co).spec;
    }
    // Both axes over their whole range before the parallel loop (a standard deviation must stay
    // ≥ 0 at every grid point; phase_grid probes only the first).
    for (const auto* a : {&x, &y})
      for (double v : {a->lo, a->hi}) {
        InitSpec probe = base;
        theory::apply_fix(probe, fmt::format("{}={:.17g}", a->param, v));
      }
    o.horizon = T;
    grid = theory::phase_grid(base, x, y, o);
  }
  const py::ssize_t nx = x.n, ny = y.n;
  auto grid2 = [&](auto&& f) {
    py::array_t<double> a({ny, nx});
    auto m = a.mutable_unchecked<2>();
    for (py::ssize_t j = 0; j < ny; ++j)
      for (py::ssize_t i = 0; i < nx; ++i) m(j, i) = f(grid[size_t(j * nx + i)]);
    return a;
  };
  auto axis = [](const theory::Axis& a) {
    py::array_t<double> v(a.n);
    auto m = v.mutable_unchecked<1>();
    for (int k = 0; k < a.n; ++k) m(k) = a.at(k);
    return v;
  };
  using P = theory::PhasePoint;
  py::dict d;
  d["cell"] = cell_name(cell);
  d["x_param"] = x.param;
  d["y_param"] = y.param;
  d["seq_len"] = T;
  d["base_spec"] = base.to_json().dump();
  d["x"] = axis(x);
  d["y"] = axis(y);
  d["Q_h"] = grid2([](const P& p) { return p.r.Q_h; });
  d["Q_c"] = grid2([](const P& p) { return p.r.Q_c; });
  d["chi"] = grid2([](const P& p) { return p.r.chi; });
  d["xi"] = grid2([](const P& p) { return p.r.xi(); });
  d["c_star"] = grid2([](const P& p) { return p.r.corr; });
  d["chi_coincident"] = grid2([](const P& p) { return p.r.chi_coincident; });
  d["chaotic"] = grid2([](const P& p) { return p.r.chaotic() ? 1.0 : 0.0; });
  d["m1"] = grid2([](const P& p) { return p.r.jacobian.m1; });
  d["m2"] = grid2([](const P& p) { return p.r.jacobian.m2; });
  d["variance"] = grid2([](const P& p) { return p.r.jacobian.variance(); });
  d["log_tied_gain"] = grid2([T](const P& p) { return p.r.tied_log_gain(T); });
  d["quad_error"] = grid2([](const P& p) { return p.r.quadrature.error; });
  d["converged"] =
      grid2([](const P& p) { return !p.failed && p.r.quadrature.converged ? 1.0 : 0.0; });
  return d;
}

py::array_t<double> to_array(const std::vector<double>& v) {
  py::array_t<double> a(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// `rnnmft simulate --json`, with the trajectories as arrays.
py::tuple simulate_result(const std::string& request) {
  const Request r(request, {"cell", "init", "width", "input_dim", "steps", "t0", "tied", "trials",
                            "input_var", "seed", "jacobians", "gru_variant", "spectral_radius",
                            "input_steps"});
  const CellType cell = parse_cell(r.at("cell").get<std::string>());
  sim::SimOptions o;
  o.width = r.get("width", o.width);
  o.input_dim = r.get("input_dim", o.input_dim);
  o.steps = r.get("steps", o.steps);
  o.t0 = r.get("t0", o.t0);
  o.untied = !r.get("tied", false);
  o.trials = r.get("trials", o.trials);
  o.input_var = r.get("input_var", o.input_var);
  o.seed = r.get<uint64_t>("seed", o.seed);
  o.jacobians = r.get("jacobians", o.jacobians);
  o.gru = parse_gru_variant(r.get<std::string>("gru_variant", "reset-before"));
  o.spectral_radius = r.get("spectral_radius", false);
  o.input_steps = r.get("input_steps", o.input_steps);
  const InitSpec spec = resolve_spec(r.at("init"), cell, o.width, o.input_dim, o.steps);
  sim::SimResult res;
  {
    py::gil_scoped_release nogil;
    res = sim::simulate(spec, o);
  }
  py::dict traj;
  traj["Q_h"] = to_array(res.Q_h_t);
  traj["Q_c"] = to_array(res.Q_c_t);
  traj["dist"] = to_array(res.dist_t);
  return py::make_tuple(res.to_json().dump(), traj);
}

// `rnnmft trainability --json`: the tied network at init on a task's inputs and the prediction
// (docs/theory.md §12).
std::string trainability_text(const std::string& request) {
  const Request r(request, {"cell", "init", "task", "seq_len", "unit", "pad_front", "permute",
                            "standardize", "data_dir", "hidden", "networks", "sequences",
                            "directions", "delta", "seed", "gru_variant"});
  const CellType cell = parse_cell(r.at("cell").get<std::string>());
  TaskOptions to;
  to.name = r.at("task").get<std::string>();
  to.seq_len = r.get("seq_len", 0);
  to.unit = r.get<std::string>("unit", to.unit);
  to.pad_front = r.get("pad_front", false);
  if (r.has("permute")) to.permute = r.get<uint64_t>("permute", 0);
  to.standardize = r.get("standardize", false);
  const auto [ds, kind] = parse_task_name(to.name);
  (void)kind;
  auto data = std::make_shared<const Dataset>(
      load_dataset(ds, resolve_data_dir(r.get<std::string>("data_dir", ""))));
  const Task task(data, to);
  sim::ProbeOptions o;
  o.width = r.get("hidden", 64);
  o.networks = r.get("networks", o.networks);
  o.sequences = r.get("sequences", o.sequences);
  o.directions = r.get("directions", o.directions);
  o.delta = r.get("delta", o.delta);
  o.seed = r.get<uint64_t>("seed", o.seed);
  const InitSpec spec = resolve_spec(r.at("init"), cell, o.width, task.input_dim(), task.seq_len());
  // As `rnnmft trainability`: the variant given, else the spec's own, else train's reset-after.
  o.gru = r.has("gru_variant")                 ? parse_gru_variant(r.get<std::string>("gru_variant", ""))
          : !spec.design.gru_variant.empty() ? parse_gru_variant(spec.design.gru_variant)
                                             : GruVariant::ResetAfter;
  // A preset is drawn as train draws it (rnnmft trainability does the same).
  if (r.at("init").contains("preset")) o.preset = r.at("init").at("preset").get<std::string>();
  sim::TaskProbe p;
  {
    py::gil_scoped_release nogil;
    p = sim::task_probe(spec, task, o);
  }
  nlohmann::json j = theory::trainability_json(p);
  j["task"] = task.options().name;
  j["init"] = spec.source;
  return j.dump();
}

// The weights of one layer drawn from a spec exactly as `rnnmft train --init spec.json --seed S`
// draws them (initialize_model_from_spec): W_ih (G·N × I), W_hh (G_h·N × N), b_ih, b_hh (zero),
// float32, PyTorch's gate order.
py::dict draw_layer(const std::string& spec_text, int input_dim, int hidden, uint64_t seed) {
  const InitSpec spec = InitSpec::from_json(parse_json(spec_text), "spec");
  if (hidden < 2 || hidden > 20000) fail("hidden_size must be between 2 and 20000 (got {})", hidden);
  if (input_dim < 1 || input_dim > 1000000) fail("input_size must be between 1 and 10⁶ (got {})", input_dim);
  ModelConfig cfg;
  cfg.cell = spec.cell;
  cfg.hidden = hidden;
  cfg.input_dim = input_dim;
  cfg.classes = 2;
  // The model's float parameters, and their copies into the four arrays returned.
  const double params = double(input_gates(cfg.cell)) * hidden * (input_dim + 1.0) +
                        double(recurrent_gates(cfg.cell)) * hidden * (hidden + 1.0);
  check_fits_available(uint64_t(std::min(8.0 * (params + 2.0 * hidden + 2), 1.8e19)),
                       fmt::format("drawing a {} layer of {} units with {} inputs",
                                   cell_name(cfg.cell), hidden, input_dim));
  std::optional<RnnModel<float>> model;
  {
    py::gil_scoped_release nogil;
    model.emplace(cfg);
    initialize_model_from_spec(*model, spec, seed);
  }
  const ParamLayout& L = model->layout();
  const float* P = model->params().data();
  const py::ssize_t N = hidden, I = input_dim;
  const py::ssize_t Gi = input_gates(cfg.cell), Gh = recurrent_gates(cfg.cell);
  auto copy = [&](size_t off, std::vector<py::ssize_t> shape) {
    py::array_t<float> a(shape);
    std::copy(P + off, P + off + size_t(a.size()), a.mutable_data());
    return a;
  };
  py::dict d;
  d["weight_ih"] = copy(L.w_ih, {Gi * N, I});
  d["weight_hh"] = copy(L.w_hh, {Gh * N, N});
  d["bias_ih"] = copy(L.b_ih, {Gi * N});
  d["bias_hh"] = copy(L.b_hh, {Gh * N});
  return d;
}

std::string preset_json(const std::string& preset, const std::string& cell, int hidden,
                        int input_dim, int seq_len) {
  return preset_moments(preset, parse_cell(cell), hidden, input_dim, seq_len).to_json().dump();
}

std::string load_spec_json(const std::string& path) { return load_spec_file(path).to_json().dump(); }

// A spec dict checked and normalised (every gate, every field), as training reads it.
std::string check_spec_json(const std::string& text, const std::string& where) {
  return InitSpec::from_json(parse_json(text), where).to_json().dump();
}

}  // namespace
}  // namespace rnnmft::python

PYBIND11_MODULE(_rnnmft, m) {
  using namespace rnnmft::python;
  namespace rp = rnnmft::python;
  m.doc() = "rnnmft's C++ library (mean field theory, critical init, simulation, weight draws); "
            "use the `rnnmft` package, which wraps these functions.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rnnmft::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.def("theory", [](const std::string& q) { return guarded([&] { return rp::theory_json(q); }); },
        py::arg("request"), "theory(request_json) -> JSON text of `rnnmft theory --json`.");
  m.def("critical", [](const std::string& q) { return guarded([&] { return rp::critical_json(q); }); },
        py::arg("request"), "critical(request_json) -> JSON text of `rnnmft critical -o` (spec + diagnostics).");
  m.def("critical_v2",
        [](const std::string& q) { return guarded([&] { return rp::critical_v2_json(q); }); },
        py::arg("request"), "critical_v2(request_json) -> JSON text of `rnnmft critical --design v2 -o`.");
  m.def(
      "critical_design",
      [](const std::string& cell, bool v1_knobs, bool stacked) {
        return guarded([&] {
          const auto c =
              rnnmft::theory::critical_design(rnnmft::parse_cell(cell), v1_knobs, stacked);
          return py::make_tuple(c.v2 ? "v2" : "v1", c.why);
        });
      },
      py::arg("cell"), py::arg("v1_knobs"), py::arg("stacked"),
      "critical_design(cell, v1_knobs, stacked) -> (design, why): what the name \"critical\" "
      "draws.");
  m.def("compare", [](const std::string& q) { return guarded([&] { return rp::compare_json(q); }); },
        py::arg("request"), "compare(request_json) -> JSON text of `rnnmft compare --json`.");
  m.def("phase", [](const std::string& q) { return guarded([&] { return rp::phase_arrays(q); }); },
        py::arg("request"), "phase(request_json) -> dict of axes and (n_y, n_x) arrays.");
  m.def("simulate",
        [](const std::string& q) { return guarded([&] { return rp::simulate_result(q); }); },
        py::arg("request"), "simulate(request_json) -> (JSON text of `rnnmft simulate --json`, trajectories).");
  m.def("trainability",
        [](const std::string& q) { return guarded([&] { return rp::trainability_text(q); }); },
        py::arg("request"), "trainability(request_json) -> JSON text of `rnnmft trainability --json`.");
  m.def("draw_layer",
        [](const std::string& spec, int input_dim, int hidden, uint64_t seed) {
          return guarded([&] { return rp::draw_layer(spec, input_dim, hidden, seed); });
        },
        py::arg("spec"), py::arg("input_dim"), py::arg("hidden"), py::arg("seed"),
        "draw_layer(spec_json, input_dim, hidden, seed) -> dict of float32 arrays weight_ih, "
        "weight_hh, bias_ih, bias_hh drawn as `rnnmft train --init spec.json --seed seed` draws them.");
  m.def("preset",
        [](const std::string& p, const std::string& c, int n, int i, int t) {
          return guarded([&] { return rp::preset_json(p, c, n, i, t); });
        },
        py::arg("preset"), py::arg("cell"), py::arg("hidden"), py::arg("input_dim"),
        py::arg("seq_len"), "preset(name, cell, hidden, input_dim, seq_len) -> spec JSON text of a preset's moments.");
  m.def("load_spec", [](const std::string& p) { return guarded([&] { return rp::load_spec_json(p); }); },
        py::arg("path"), "load_spec(path) -> spec JSON text (strictly checked).");
  m.def("check_spec",
        [](const std::string& t, const std::string& where) {
          return guarded([&] { return rp::check_spec_json(t, where); });
        },
        py::arg("spec"), py::arg("where") = "spec", "check_spec(spec_json, where) -> normalised spec JSON text.");
  m.def("cells",
        [] {
          std::vector<std::string> names;
          for (const rnnmft::CellDesc& d : rnnmft::all_cells()) names.push_back(d.name);
          return names;
        },
        "cells() -> the cell names, from the library's cell table.");
  m.def("gate_names",
        [](const std::string& c) {
          return guarded([&] { return rnnmft::gate_names(rnnmft::parse_cell(c)); });
        },
        py::arg("cell"), "gate_names(cell) -> the spec's gate names in block order.");
  m.def("recurrent_gates",
        [](const std::string& c) {
          return guarded([&] { return rnnmft::recurrent_gates(rnnmft::parse_cell(c)); });
        },
        py::arg("cell"), "recurrent_gates(cell) -> number of N-row blocks in W_hh.");
}
