"""rnnmft from Python: the mean field theory of gated recurrent networks and their critical
initialization, computed by the same C++ library as the ``rnnmft`` command (docs/python.md).

    import rnnmft
    spec = rnnmft.critical("lstm", seq_len=1000)      # the spec `rnnmft critical -o` writes
    th = rnnmft.theory("lstm", spec, seq_len=1000)    # `rnnmft theory --json` as a dict
    grid = rnnmft.phase("gru", x="update.bias_mean=0:8:33", y="candidate.recurrent_std=0.5:4:33")
    sim = rnnmft.simulate("lstm", spec, width=1000, steps=300, seed=0)

Results are plain dicts (the CLI's JSON fields) and NumPy arrays. Every error is a ValueError
with the CLI's message. ``rnnmft.torch`` (imported on first use, it needs torch) initializes and
diagnoses ``torch.nn`` modules; ``rnnmft.load_weights`` reads an ``rnnmft export`` (and loads
it into ``torch.nn`` modules) without the safetensors package.
"""
import json
import math
import numbers
import os
import reprlib

from . import _rnnmft
from .weights import Weights, load_weights

__all__ = ["theory", "trainability", "critical", "critical_v2", "compare", "phase", "simulate", "preset", "load_spec",
           "check_spec", "draw", "gate_names", "load_weights", "Weights", "CELLS",
           "GRU_VARIANTS", "SPEC_PARAMS"]

CELLS = tuple(_rnnmft.cells())  # vanilla, minimal, gru, lstm: the C++ cell table
GRU_VARIANTS = ("reset-after", "reset-before")
# The per-gate fields of a spec (docs/cells.md §Init spec) that `fix=` and phase axes name.
SPEC_PARAMS = ("recurrent_std", "input_std", "bias_mean", "bias_std")
PRESETS = ("pytorch", "keras", "orthogonal", "chrono")


def __getattr__(name):
    # `rnnmft.torch` is imported lazily, so that the rest works without torch.
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'rnnmft' has no attribute '{name}'")


# --- argument checks (what C++ does not check, or checks with a flag's name) -----------------

# The C++ side counts steps, trials and sizes in 32-bit ints.
_INT32_MAX = 2**31 - 1
# An input dimension beyond this is refused by the weight draw (module.cpp), so by all.
_INPUT_DIM_MAX = 10**6

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother = 3, 60, 60


def _show(v):
    # A bounded repr for messages: a deeply nested or self-referencing argument must give a
    # ValueError naming it, not a RecursionError from repr(), and a 10⁶-character string no
    # 10⁶-character message.
    return _repr.repr(v)


def _bool(name, v):
    # bool("no") is True: a flag given as a string or a number is a mistake, not a truthy value.
    if isinstance(v, bool) or type(v).__name__ == "bool_":  # numpy.bool_ too
        return bool(v)
    raise ValueError(f"{name} must be True or False (got {_show(v)})")


def _int(name, v, lo=None, hi=None):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError(f"{name} must be an integer (got {_show(v)})")
    v = int(v)
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be at least {lo} (got {v})")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be at most {hi} (got {v})")
    return v


def _float(name, v, lo=None, allow_nan=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValueError(f"{name} must be a number (got {_show(v)})")
    v = float(v)
    if math.isnan(v) and allow_nan:
        return v
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite (got {v})")
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be ≥ {lo} (got {v})")
    return v


def _cell(cell):
    if not isinstance(cell, str) or cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)} (got {_show(cell)})")
    return cell


def _variant(v):
    if v not in GRU_VARIANTS:
        raise ValueError(f"gru_variant must be 'reset-after' or 'reset-before' (got {_show(v)})")
    return v


def _seq_len(T):
    # The C++ side counts steps in a 32-bit int.
    return _int("seq_len", T, lo=2, hi=2**31 - 1)


def _check_finite_tree(obj, path, depth=0):
    # JSON has no NaN or infinity: name the offending entry instead of json's generic error.
    # Nesting is bounded as the C++ reader bounds it (util/json_read.h), before recursion fails.
    if isinstance(obj, (dict, list, tuple)) and depth >= 64:
        raise ValueError(f"{path}: nested deeper than 64 levels")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ValueError(f"{path}: key {_show(k)} is not a string")
            _check_finite_tree(v, f"{path}.{k}", depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_finite_tree(v, f"{path}[{i}]", depth + 1)
    elif isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    elif isinstance(obj, numbers.Real):
        if not math.isfinite(float(obj)):
            raise ValueError(f"{path} is {float(obj)}: not finite")
    else:
        raise ValueError(f"{path}: {type(obj).__name__} is not a JSON value")


def _dumps(obj, path="spec"):
    _check_finite_tree(obj, path)
    return json.dumps(obj, default=_json_default)


def _json_default(o):
    # NumPy scalars (e.g. from arrays) are numbers too.
    if isinstance(o, numbers.Integral):
        return int(o)
    if isinstance(o, numbers.Real):
        return float(o)
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def _str(name, v):
    if not isinstance(v, str):
        raise ValueError(f"{name} must be a string (got {type(v).__name__})")
    if "\0" in v:
        raise ValueError(f"{name} {_show(v)} contains a NUL character")
    return v


def _path(name, p):
    if isinstance(p, (os.PathLike, bytes)):
        p = os.fsdecode(p)
    if not isinstance(p, str):
        raise ValueError(f"{name} must be a file path (got {type(p).__name__})")
    # C++ opens the path as a C string: "a.json\0x" would silently open a.json.
    if "\0" in p:
        raise ValueError(f"{name} {_show(p)} contains a NUL character")
    return p


def _init(init):
    """The request's "init": a preset name, a spec file path or a spec dict."""
    if isinstance(init, dict):
        _check_finite_tree(init, "spec")
        return {"spec": init, "name": "spec"}
    if isinstance(init, os.PathLike):
        init = os.fspath(init)
    if not isinstance(init, str):
        raise ValueError(f"init must be a preset name, a spec file path or a spec dict "
                         f"(got {type(init).__name__})")
    if init.split(":")[0] in PRESETS:
        return {"preset": init, "name": init}
    if os.path.isfile(init):
        return {"file": init, "name": init}
    raise ValueError(f"init '{init}' is neither a preset (pytorch, keras, orthogonal[:gain], "
                     f"chrono[:T_max]) nor an existing spec file")


def _compare_init(init):
    """compare's "init": critical-v1 (solved per cell), or what _init accepts."""
    if init in ("critical", "critical-v2"):
        raise ValueError(f"compare: {init!r} is critical init v2 for the gated cells, a spread of "
                         "timescales the mean-field table cannot describe (docs/theory.md §13.1); "
                         "compare 'critical-v1', the mean-field critical point, and design v2 "
                         "with rnnmft.critical_v2")
    if init == "critical-v1":
        return {"critical": True, "name": "critical-v1"}
    return _init(init)


_THEORY_OPTIONS = ("input_overlap", "order", "samples", "groups", "burn_in", "average", "mc_seed")


def _theory_opts(input_var=1.0, gru_variant="reset-before", **kw):
    unknown = sorted(set(kw) - set(_THEORY_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option {', '.join(map(repr, unknown))} (the theory's options: "
                         f"{', '.join(_THEORY_OPTIONS)})")
    input_overlap, order, samples, groups, burn_in, average, mc_seed = (
        kw.get(k) for k in _THEORY_OPTIONS)
    o = {"input_var": _float("input_var", input_var, lo=0.0),
         "gru_variant": _variant(gru_variant)}
    if input_overlap is not None:
        o["input_overlap"] = _float("input_overlap", input_overlap)
    if order is not None:
        o["order"] = _int("order", order, lo=2, hi=400)
    if samples is not None:
        o["samples"] = _int("samples", samples, lo=1000, hi=2**63 - 1)
    if groups is not None:
        o["groups"] = _int("groups", groups, lo=2, hi=_INT32_MAX)
    if burn_in is not None:
        o["burn_in"] = _int("burn_in", burn_in, lo=0, hi=_INT32_MAX)
    if average is not None:
        o["average"] = _int("average", average, lo=1, hi=_INT32_MAX)
    if mc_seed is not None:
        o["mc_seed"] = _int("mc_seed", mc_seed, lo=0, hi=2**64 - 1)
    return o


def _model_opts(width, input_dim):
    return {"hidden": _int("width", width, lo=2, hi=20000),
            "input_dim": _int("input_dim", input_dim, lo=1, hi=_INPUT_DIM_MAX)}


def _tied_opts(tied_check, tied_trials, tied_seed):
    return {"tied_check": _bool("tied_check", tied_check),
            "tied_trials": _int("tied_trials", tied_trials, lo=1, hi=_INT32_MAX),
            "tied_seed": _int("tied_seed", tied_seed, lo=0, hi=2**64 - 1)}


def _fixes(cell, fix):
    """{"gate.param": value} (or a list of "gate.param=value") → the CLI's --fix strings."""
    if fix is None:
        return []
    if isinstance(fix, dict):
        items = list(fix.items())
    elif isinstance(fix, (list, tuple)):
        items = []
        for f in fix:
            if not isinstance(f, str) or "=" not in f:
                raise ValueError(f"fix {_show(f)} is not 'gate.param=value'")
            k, v = f.split("=", 1)
            items.append((k, v))
    else:
        raise ValueError(f"fix must be a dict {{'gate.param': value}} (got {type(fix).__name__})")
    gates = gate_names(cell)
    out = []
    for key, value in items:
        if not isinstance(key, str) or key.count(".") != 1:
            raise ValueError(f"fix key {_show(key)} is not 'gate.param'")
        gate, param = key.split(".")
        if gate not in gates:
            raise ValueError(f"fix '{key}': {cell} has no gate '{gate}' (its gates: "
                             f"{', '.join(gates)})")
        if param == "recurrent_dist":
            if value not in ("gaussian", "orthogonal"):
                raise ValueError(f"fix '{key}': 'gaussian' or 'orthogonal' (got {_show(value)})")
            out.append(f"{key}={value}")
            continue
        if param not in SPEC_PARAMS:
            raise ValueError(f"fix '{key}': unknown parameter '{param}' "
                             f"({', '.join(SPEC_PARAMS)}, recurrent_dist)")
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"fix '{key}': {_show(value)} is not a number") from None
        v = _float(f"fix '{key}'", value)
        if param != "bias_mean" and v < 0:
            raise ValueError(f"fix '{key}' = {v}: standard deviations are ≥ 0")
        out.append(f"{key}={v!r}")
    return out


def _axis(name, a):
    """'gate.param=lo:hi:n' or (gate.param, lo, hi, n) → the CLI's axis text, checked."""
    if isinstance(a, (tuple, list)):
        if len(a) != 4:
            raise ValueError(f"{name} must be 'gate.param=lo:hi:n' or (param, lo, hi, n)")
        p, lo, hi, n = a
    elif isinstance(a, str):
        if "=" not in a or a.count(":") != 2:
            raise ValueError(f"{name} '{a}' is not gate.param=lo:hi:n")
        p, rng = a.split("=", 1)
        lo, hi, n = rng.split(":")
        try:
            lo, hi, n = float(lo), float(hi), int(n)
        except ValueError:
            raise ValueError(f"{name} '{a}' is not gate.param=lo:hi:n") from None
    else:
        raise ValueError(f"{name} must be 'gate.param=lo:hi:n' or (param, lo, hi, n)")
    lo = _float(f"{name} lower bound", lo)
    hi = _float(f"{name} upper bound", hi)
    n = _int(f"{name} points", n, lo=1, hi=1000)
    if not isinstance(p, str) or "." not in p:
        raise ValueError(f"{name}: {_show(p)} is not gate.param")
    param = p.split(".", 1)[1]
    if param not in SPEC_PARAMS:
        raise ValueError(f"{name}: unknown parameter '{param}' ({', '.join(SPEC_PARAMS)})")
    if param != "bias_mean" and min(lo, hi) < 0:
        raise ValueError(f"{name}: {p} is a standard deviation; the range must be ≥ 0 "
                         f"(got {lo}:{hi})")
    return p, f"{p}={lo!r}:{hi!r}:{n}"


# --- the public functions ---------------------------------------------------------------------

def gate_names(cell):
    """The spec's gate names of ``cell`` in block order (PyTorch's gate order):
    lstm ``input forget cell output`` (i f g o), gru ``reset update candidate`` (r z n),
    minimal ``update embed``, vanilla ``hidden``."""
    return list(_rnnmft.gate_names(_cell(cell)))


def theory(cell, init="pytorch", seq_len=1000, *, width=128, input_dim=1, input_var=1.0,
           gru_variant="reset-before", tied_check=True, tied_trials=12, tied_seed=0, **options):
    """The mean-field diagnosis of an init: ``rnnmft theory --json`` as a dict.

    cell: "vanilla", "minimal", "gru" or "lstm".
    init: a preset ("pytorch", "keras", "orthogonal[:gain]", "chrono[:T_max]"; its moments for
        ``width`` units and ``input_dim`` inputs), a spec dict (e.g. from :func:`critical`) or the
        path of a spec file.
    seq_len: T the verdict and the product moments refer to.
    input_var: R, the per-component second moment of the inputs.
    gru_variant: "reset-before" (the CLI's default) or "reset-after" (PyTorch's nn.GRU).
    tied_check: also simulate tied networks of width ``width`` for T steps (docs/theory.md §9.4).
    options: the theory's numerics (input_overlap, order, samples, groups, burn_in, average,
        mc_seed), as the CLI's flags.

    Returns the CLI's JSON fields: "fixed_point", "timescale" (ξ is None where infinite, with
    "xi_infinite"), "jacobian", "jacobian_state" (LSTM), "spec", "verdict", "tied_check"...
    """
    req = {"cell": _cell(cell), "init": _init(init), "seq_len": _seq_len(seq_len),
           **_model_opts(width, input_dim), **_tied_opts(tied_check, tied_trials, tied_seed),
           **_theory_opts(input_var, gru_variant, **options)}
    return json.loads(_rnnmft.theory(_dumps(req, "init")))


def trainability(cell, init="pytorch", task="mnist-padded", *, seq_len=None, unit="pixel",
                 hidden=64, pad_front=False, permute=None, standardize=False, data_dir=None,
                 networks=2, sequences=8, directions=4, delta=0.05, seed=0, gru_variant=None):
    """Will this init train on this task? ``rnnmft trainability --json`` as a dict.

    Draws ``networks`` tied networks of width ``hidden`` from the init and runs them from the
    zero state over ``sequences`` training sequences of the task (docs/theory.md §12): the
    state and its per-unit offsets at step T, the slope left to the cell's tanh, the gain of
    ``directions`` perturbations across the task's span and its spread over the sequences, and
    how far the final state moves when one gate's bias moves by ``delta``. "trainable" is the
    frozen rule's prediction and "reasons" says which criterion failed, with its numbers.

    task, seq_len (padded tasks; None: the task's own length), unit, pad_front, permute,
    standardize, data_dir: as ``rnnmft train``'s flags (unit defaults to "pixel", as there).
    gru_variant: None takes a spec's designed_for variant, else "reset-after" (nn.GRU).
    """
    req = {"cell": _cell(cell), "init": _init(init), "task": _str("task", task),
           "seq_len": 0 if seq_len is None else _int("seq_len", seq_len, lo=1, hi=_INT32_MAX),
           "unit": _str("unit", unit), "pad_front": _bool("pad_front", pad_front),
           "standardize": _bool("standardize", standardize),
           "hidden": _int("hidden", hidden, lo=2, hi=4096),
           "networks": _int("networks", networks, lo=1, hi=64),
           "sequences": _int("sequences", sequences, lo=2, hi=256),
           "directions": _int("directions", directions, lo=1, hi=64),
           "delta": _float("delta", delta, lo=0.0),
           "seed": _int("seed", seed, lo=0, hi=2**64 - 1)}
    if gru_variant is not None:
        req["gru_variant"] = _variant(gru_variant)
    if permute is not None:
        req["permute"] = _int("permute", permute, lo=0, hi=2**64 - 1)
    if data_dir is not None:
        req["data_dir"] = _path("data_dir", data_dir)
    return json.loads(_rnnmft.trainability(_dumps(req, "init")))


def critical(cell, seq_len=1000, *, fix=None, criterion=None, input_var=1.0, width=128,
             input_dim=1, gru_variant="reset-before", tol=0.01, tied_check=True, tied_trials=12,
             tied_seed=0, check=True, **options):
    """The mean-field critical initialization (critical-v1) for sequences of length ``seq_len``
    (docs/theory.md §6): the spec dict that ``rnnmft critical -o spec.json`` writes (gates,
    designed_for, and "diagnostics": the theory at the solution, knobs, criterion, verdict, tied
    check). ``rnnmft train --init critical`` and ``rnnmft.torch.critical_init_`` draw
    :func:`critical_v2` instead for one-layer gated cells (docs/theory.md §13.5).

    fix: {"gate.param": value} held fixed (the CLI's --fix), e.g. {"reset.recurrent_std": 0.5};
        param is recurrent_std, input_std, bias_mean, bias_std or recurrent_dist.
    criterion: "tied" (default for the gated cells) or "untied".
    input_var: R, the second moment of each input component the spec is designed for.
    gru_variant: "reset-before" (the CLI's default) or "reset-after" (PyTorch's nn.GRU).
    width, input_dim: N and I of the tied check (width is recorded in designed_for).
    check: raise ValueError when the criterion was not reached (as the CLI exits non-zero);
        with False, look at spec["diagnostics"]["reached"] and ["notes"].

    The result can be passed to :func:`theory`, :func:`simulate`, ``rnnmft.torch`` or saved
    with ``json.dump`` for ``rnnmft train --init``.
    """
    cell = _cell(cell)
    check = _bool("check", check)
    req = {"cell": cell, "seq_len": _seq_len(seq_len), "fixes": _fixes(cell, fix),
           "tol": _float("tol", tol), **_model_opts(width, input_dim),
           **_tied_opts(tied_check, tied_trials, tied_seed),
           **_theory_opts(input_var, gru_variant, **options)}
    if req["tol"] <= 0:
        raise ValueError(f"tol must be > 0 (got {tol})")
    if criterion is not None:
        if criterion not in ("tied", "untied"):
            raise ValueError(f"criterion must be 'tied' or 'untied' (got {_show(criterion)})")
        req["criterion"] = criterion
    spec = json.loads(_rnnmft.critical(_dumps(req, "request")))
    d = spec["diagnostics"]
    if check and not d["reached"]:
        raise ValueError(
            f"the {d['criterion']} criterion was not reached for {cell} (T·ln m1 = "
            f"{d['log_m1_T']:.4f}, ln G_T = {d['log_gain_T']:.4f}); notes: "
            f"{'; '.join(d['notes']) or 'none'} (check=False returns the spec anyway)")
    return spec


def critical_v2(cell, seq_len=1000, *, input_var, width=128, input_dim=1, gru_variant=None,
                timescales="log-uniform"):
    """Critical init v2 (docs/theory.md §13): the spec dict that ``rnnmft critical --design v2
    -o spec.json`` writes. Keep-gate timescales spread on [2, seq_len], each unit's write coupled
    to its keep (the LSTM's input bias is minus its forget bias), the content gate unsaturated on
    the inputs.

    input_var: R, the second moment of each input component over the steps that carry data
        (for a padded task: the data steps, not the padding), > 0.
    width, input_dim: N and I (the Glorot scales of the gates depend on them).
    gru_variant: recorded in designed_for for a GRU (the design is the same for both).
    timescales: "log-uniform" (the default, the fastest spread measured: docs/experiments.md
        E30–E37) or "uniform" (chrono's spread).
    Gated cells only: the vanilla cell has no gate to couple (use :func:`critical`).
    """
    cell = _cell(cell)
    req = {"cell": cell, "seq_len": _seq_len(seq_len),
           "input_var": _float("input_var", input_var, lo=0.0), **_model_opts(width, input_dim)}
    if gru_variant is not None:
        req["gru_variant"] = _str("gru_variant", gru_variant)
    timescales = _str("timescales", timescales)
    if timescales not in ("log-uniform", "uniform"):
        raise ValueError(f"timescales must be 'log-uniform' or 'uniform' (got {timescales!r})")
    req["timescales"] = timescales
    return json.loads(_rnnmft.critical_v2(_dumps(req, "request")))


def compare(cells=("lstm", "gru"), inits=("critical-v1", "pytorch", "keras", "chrono"),
            seq_len=1000, *, width=128, input_dim=1, input_var=1.0, gru_variant="reset-before",
            tied_check=True, tied_trials=12, tied_seed=0, **options):
    """The mean-field critical point beside the usual inits: ``rnnmft compare --json`` as a list
    (one dict per cell with "inits": the theory of each init, its spec, verdict and tied check).

    inits: "critical-v1" (the mean-field critical point), presets, spec file paths or spec dicts.
    Critical init v2 (what ``critical_init_`` draws for one-layer gated modules) is a spread of
    timescales that this mean-field table cannot describe: :func:`critical_v2` designs it.
    """
    if isinstance(cells, str):
        cells = [cells]
    if isinstance(inits, (str, dict, os.PathLike)):
        inits = [inits]
    # Only lists: bytes or a dict would be iterated into nonsense; nothing to compare is an error,
    # not an empty result.
    for name, v in (("cells", cells), ("inits", inits)):
        if not isinstance(v, (list, tuple)):
            raise ValueError(f"{name} must be a list (got {type(v).__name__})")
        if not v:
            raise ValueError(f"{name} is empty: name at least one")
    req = {"cells": [_cell(c) for c in cells],
           "inits": [_compare_init(i) for i in inits],
           "seq_len": _seq_len(seq_len), **_model_opts(width, input_dim),
           **_tied_opts(tied_check, tied_trials, tied_seed),
           **_theory_opts(input_var, gru_variant, **options)}
    return json.loads(_rnnmft.compare(_dumps(req, "inits")))


def phase(cell, x, y, *, init=None, seq_len=1000, width=128, input_dim=1, input_var=1.0,
          gru_variant="reset-before", **options):
    """ξ, m1 and the variance on a grid of two hyperparameters (docs/theory.md §8; the CLI's
    ``rnnmft phase``) as a dict of NumPy arrays, ready for matplotlib::

        g = rnnmft.phase("gru", x="update.bias_mean=0:8:33", y="candidate.recurrent_std=0.5:4:33")
        plt.contourf(g["x"], g["y"], np.log10(g["xi"]))

    x, y: "gate.param=lo:hi:n" or (gate.param, lo, hi, n).
    init: the base point (preset, spec dict or file); default the critical init for seq_len.

    Returns "x" (n_x,), "y" (n_y,), and arrays of shape (n_y, n_x): Q_h, Q_c, chi, xi (inf where
    it diverges), c_star, chi_coincident, chaotic (0/1), m1, m2, variance, log_tied_gain; plus
    "x_param", "y_param", "cell", "seq_len" and "base_spec" (a dict).
    """
    cell = _cell(cell)
    xp, xs = _axis("x", x)
    yp, ys = _axis("y", y)
    gates = gate_names(cell)
    for name, p in (("x", xp), ("y", yp)):
        if p.split(".")[0] not in gates:
            raise ValueError(f"{name}: {cell} has no gate '{p.split('.')[0]}' (its gates: "
                             f"{', '.join(gates)})")
    req = {"cell": cell, "x": xs, "y": ys, "seq_len": _seq_len(seq_len),
           **_model_opts(width, input_dim), **_theory_opts(input_var, gru_variant, **options)}
    if init is not None:
        req["init"] = _init(init)
    d = dict(_rnnmft.phase(_dumps(req, "init")))
    d["base_spec"] = json.loads(d["base_spec"])
    return d


def simulate(cell, init="pytorch", *, width=128, input_dim=1, steps=300, t0=100, tied=False,
             trials=4, input_var=1.0, seed=0, jacobians=2, gru_variant="reset-before",
             spectral_radius=False, input_steps=-1):
    """Wide random networks drawn from an init, run on Gaussian inputs (``rnnmft simulate
    --json``): measured Q, ξ, correlation and Jacobian moments, to hold against :func:`theory`.

    init: preset, spec dict or spec file. tied: keep one set of weights (a real network) instead
    of redrawing them every step. input_steps: inputs are zero from this step on (−1: never).

    Returns the CLI's JSON fields plus "trajectories": {"Q_h", "Q_c", "dist"} as arrays over
    the steps (mean over trials; dist geometric).
    """
    req = {"cell": _cell(cell), "init": _init(init), "width": _int("width", width, lo=2, hi=20000),
           "input_dim": _int("input_dim", input_dim, lo=1, hi=_INPUT_DIM_MAX),
           "steps": _int("steps", steps, lo=8, hi=_INT32_MAX),
           "t0": _int("t0", t0, lo=2, hi=_INT32_MAX), "tied": _bool("tied", tied),
           "trials": _int("trials", trials, lo=1, hi=_INT32_MAX),
           "input_var": _float("input_var", input_var, lo=0.0),
           "seed": _int("seed", seed, lo=0, hi=2**64 - 1),
           "jacobians": _int("jacobians", jacobians, lo=0, hi=_INT32_MAX),
           "gru_variant": _variant(gru_variant),
           "spectral_radius": _bool("spectral_radius", spectral_radius),
           "input_steps": _int("input_steps", input_steps, lo=-1, hi=_INT32_MAX)}
    text, traj = _rnnmft.simulate(_dumps(req, "init"))
    out = json.loads(text)
    out["trajectories"] = dict(traj)
    return out


def preset(name, cell, *, width=128, input_dim=1, seq_len=1000):
    """The Gaussian moments of a preset (docs/cells.md §Presets) for ``width`` units and
    ``input_dim`` inputs, as a spec dict (chrono's T_max defaults to seq_len)."""
    if not isinstance(name, str) or name.split(":")[0] not in PRESETS:
        raise ValueError(f"unknown init preset {_show(name)} (expected pytorch, keras, "
                         f"orthogonal[:gain], chrono[:T_max])")
    return json.loads(_rnnmft.preset(name, _cell(cell), _int("width", width, lo=2, hi=20000),
                                     _int("input_dim", input_dim, lo=1, hi=_INPUT_DIM_MAX),
                                     _seq_len(seq_len)))


def load_spec(path):
    """A spec file (``rnnmft critical -o``, docs/cells.md §Init spec), strictly checked, as a
    dict."""
    return json.loads(_rnnmft.load_spec(_path("path", path)))


def check_spec(spec):
    """A spec dict checked as training reads it (unknown keys, missing gates, negative or
    non-finite values are ValueErrors) and returned normalised (every field of every gate)."""
    if not isinstance(spec, dict):
        raise ValueError(f"a spec must be a dict (got {type(spec).__name__})")
    return json.loads(_rnnmft.check_spec(_dumps(spec), "spec"))


def draw(spec, input_size, hidden_size, seed=0):
    """The weights of one recurrent layer drawn from ``spec`` by the C++ draw, exactly as
    ``rnnmft train --init spec.json --seed SEED`` draws them: a dict of float32 arrays
    weight_ih (G·N × I), weight_hh (G_h·N × N), bias_ih (G·N; the spec's bias), bias_hh (zeros),
    with PyTorch's names, shapes and gate order."""
    if not isinstance(spec, dict):
        raise ValueError(f"a spec must be a dict (got {type(spec).__name__})")
    return dict(_rnnmft.draw_layer(_dumps(spec),
                                   _int("input_size", input_size, lo=1, hi=_INPUT_DIM_MAX),
                                   _int("hidden_size", hidden_size, lo=2, hi=20000),
                                   _int("seed", seed, lo=0, hi=2**64 - 1)))
