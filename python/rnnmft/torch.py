"""Critical initialization and mean-field diagnosis of ``torch.nn`` recurrent modules
(docs/python.md).

    import torch, rnnmft
    lstm = torch.nn.LSTM(input_size=28, hidden_size=128)
    rnnmft.torch.critical_init_(lstm, seq_len=1000, input_var=0.112)  # in place (v2)
    print(rnnmft.torch.diagnose(lstm, seq_len=1000))    # ξ, χ, m1, m2, verdict per layer

Handles nn.LSTM, nn.GRU, nn.RNN (tanh), multi-layer, bidirectional (each direction) and
batch_first modules, and nn.LSTMCell, nn.GRUCell, nn.RNNCell (tanh). nn.GRU computes the
reset-after GRU, so its theory is the reset-after one unless ``gru_variant`` says otherwise.
"""
import math
import warnings

import numpy as np
import torch

import rnnmft as _rnnmft_pkg
from rnnmft._stacked import (  # noqa: F401 (the stacked theory, docs/theory.md §11)
    _np, _STACKED_MAX_LEN, _MEHLER_N, _gate_moments, _tanh_hermite, _Mehler, _scan,
    _stacked_gates, _two_time, _CONTENT, _second_half, _run_layer, _input_cov, _approximation_notes)

__all__ = ["critical_init_", "diagnose", "estimate_spec", "Diagnosis"]


class _Layer:
    """One weight set of a module: layer k, direction d, and its four parameter names."""

    def __init__(self, layer, direction, suffix, input_dim):
        self.layer, self.direction, self.input_dim = layer, direction, input_dim
        self.names = {k: f"{k}{suffix}" for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _describe(module):
    """(cell, hidden, layers, has_bias) of a supported module, or ValueError saying why not."""
    nn = torch.nn
    if isinstance(module, nn.RNNBase):
        kind = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "vanilla"}.get(module.mode)
        if module.mode == "RNN_RELU":
            raise ValueError("nn.RNN with nonlinearity='relu' is not covered by the theory (the "
                             "vanilla cell is tanh, docs/cells.md); use nonlinearity='tanh'")
        if kind is None:
            raise ValueError(f"unsupported recurrent module mode '{module.mode}'")
        if getattr(module, "proj_size", 0) > 0:
            raise ValueError("nn.LSTM with proj_size > 0 is not covered: the theory's state is the "
                             "N-dimensional h that the projection replaces")
        N = module.hidden_size
        dirs = 2 if module.bidirectional else 1
        layers = []
        for k in range(module.num_layers):
            I = module.input_size if k == 0 else N * dirs
            for d in range(dirs):
                layers.append(_Layer(k, "reverse" if d else "forward",
                                     f"_l{k}" + ("_reverse" if d else ""), I))
        return kind, N, layers, bool(module.bias)
    cells = {nn.LSTMCell: "lstm", nn.GRUCell: "gru", nn.RNNCell: "vanilla"}
    for cls, kind in cells.items():
        if isinstance(module, cls):
            if kind == "vanilla" and module.nonlinearity != "tanh":
                raise ValueError("nn.RNNCell with nonlinearity='relu' is not covered by the "
                                 "theory (the vanilla cell is tanh); use nonlinearity='tanh'")
            return kind, module.hidden_size, [_Layer(0, "forward", "", module.input_size)], \
                bool(module.bias)
    raise ValueError(f"expected torch.nn.LSTM, GRU, RNN (tanh), LSTMCell, GRUCell or RNNCell "
                     f"(got {type(module).__name__})")


def _gru_variant(cell, gru_variant):
    if gru_variant is None:
        return "reset-after"  # what nn.GRU and nn.GRUCell compute
    return _rnnmft_pkg._variant(gru_variant)


def _layer_seed(seed, k):
    # Weight set 0 gets the seed itself, so that a one-layer module matches
    # `rnnmft train --init spec.json --seed SEED`; the others get well-separated seeds.
    return seed if k == 0 else (seed + k * 0x9E3779B97F4A7C15) % 2**64


def critical_init_(module, seq_len, fix=None, seed=None, *, input_var=1.0, gru_variant=None,
                   criterion=None, stacked=True, design=None, timescales=None):
    """Draws the critical initialization for sequences of length ``seq_len`` into ``module``,
    in place (docs/theory.md §6, §11): every layer and direction, with the C++ draw that
    ``rnnmft train --init spec.json`` uses (W_hh block ~ N(0, σ²/N) or σ·orthogonal, W_ih block
    ~ N(0, ν²/I), bias_ih ~ N(μ, ρ²), bias_hh = 0), in PyTorch's gate order.

    module: nn.LSTM, nn.GRU, nn.RNN (tanh), or nn.LSTMCell / GRUCell / RNNCell (tanh), with
        bias=True; multi-layer, bidirectional and batch_first modules are handled.
    seq_len: the sequence length T to design for.
    fix: {"gate.param": value} held fixed in every layer's search (the CLI's --fix), e.g.
        {"reset.recurrent_std": 0.5}.
    seed: the draw's seed (None: one drawn from torch's global generator, so torch.manual_seed
        fixes it). The first weight set uses ``seed`` itself, so a one-layer module gets exactly
        the weights of ``rnnmft train --init spec.json --seed seed``.
    input_var: R, the second moment of each component of the first layer's inputs (independent
        from step to step).
    gru_variant: for GRUs, default "reset-after" (what nn.GRU computes).
    criterion: "tied" (default for the gated cells) or "untied".
    stacked: layer k ≥ 1 reads layer k−1's state, which is correlated over ~T steps. With True
        (and T ≤ 4096) the content gate's input scale ν of layer k ≥ 1 (candidate / cell /
        hidden ``input_std``, unless ``fix`` sets it) is chosen with the stacked two-time theory
        (docs/theory.md §11) so that layer k's predicted mean square over steps [T/2, T) equals
        layer 0's; GRU and vanilla layers are then solved for the tied criterion with that ν at
        R = the predicted mean square of layer k−1, LSTM layers keep layer 0's solved knobs
        (recorded in spec["diagnostics"]["stacked"]). With False, or above T = 4096, layer
        k ≥ 1 is designed as a first layer with R = Q_h (fixed point) of layer k−1, as if its
        inputs were independent over time.

    design: None (default) draws what ``rnnmft train --init critical`` draws: "v2" for a
        one-layer LSTM or GRU module, "v1" where v2 does not apply (nn.RNN, a multi-layer module,
        or ``fix`` / ``criterion`` given, which are v1's). "v1" is the solve described above
        (``--init critical-v1``); "v2" (docs/theory.md §13, :func:`rnnmft.critical_v2`,
        ``--init critical-v2``): keep-gate timescales spread on [2, seq_len] (``timescales``:
        "log-uniform", the default, or "uniform") with each unit's write coupled to its keep,
        the content gate unsaturated at R = input_var (the second moment over the steps that
        carry data); one-layer modules only (layers above the first read a state whose scale v2
        does not design), no ``fix`` or ``criterion``.

    Returns a list with one dict per weight set: "layer", "direction", "design" ("v1" or "v2"),
    "input_var", "seed", "spec" (the spec dict, with its diagnostics, as ``rnnmft critical -o``
    writes it), and with the stacked design "mean_square" (the prediction for steps [T/2, T)).
    """
    cell, N, layers, has_bias = _describe(module)
    if not has_bias:
        raise ValueError("bias=False: the critical init sets the gates' biases (e.g. the keep "
                         "gate's bias mean); build the module with bias=True")
    T = _rnnmft_pkg._seq_len(seq_len)
    R0 = _rnnmft_pkg._float("input_var", input_var, lo=0.0)
    variant = _gru_variant(cell, gru_variant)
    fixes = _rnnmft_pkg._fixes(cell, fix)  # checked before any work
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    seed = _rnnmft_pkg._int("seed", seed, lo=0, hi=2**64 - 1)
    params = dict(module.named_parameters())
    multi = len({ly.layer for ly in layers}) > 1
    if design is None:  # what the name "critical" draws (docs/theory.md §13.5)
        design, _ = _rnnmft_pkg._rnnmft.critical_design(cell, bool(fix) or
                                                        criterion is not None, multi)
        if design == "v1" and timescales is not None:
            raise ValueError("timescales is for design v2, and this module gets v1 (a vanilla "
                             "cell, several layers, or fix / criterion given)")
        if design == "v2" and not R0 > 0:
            raise ValueError(f"critical_init_ draws critical init v2 for a one-layer {cell} "
                             "module (docs/theory.md §13.5), designed for input_var = R > 0, the "
                             "inputs' second moment over the steps that carry data (0.112 for "
                             f"MNIST on [0, 1], padded or not; got {R0}); or pass design='v1' "
                             "for the solved init at R = 0")
    design = _rnnmft_pkg._str("design", design)
    if design not in ("v1", "v2"):
        raise ValueError(f"design must be None, 'v1' or 'v2' (got {design!r})")
    if design != "v2" and timescales is not None:
        raise ValueError("timescales is for design='v2' (design='v1' solves one keep-gate bias)")
    if design == "v2":
        if multi:
            raise ValueError("design='v2' designs one layer: layers above the first read a state "
                             "whose scale it does not set (use design='v1' for stacked modules)")
        if fix or criterion is not None:
            raise ValueError("design='v2' solves nothing: fix and criterion are for design='v1'")
        spec = _rnnmft_pkg.critical_v2(cell, T, input_var=R0, width=N, input_dim=layers[0].input_dim,
                                       gru_variant=variant,
                                       timescales=timescales or "log-uniform")
        out = []
        for k, ly in enumerate(layers):  # both directions of the one layer
            s = _layer_seed(seed, k)
            _copy_draw(params, ly, _rnnmft_pkg.draw(spec, ly.input_dim, N, s))
            out.append({"layer": ly.layer, "direction": ly.direction, "design": "v2",
                        "input_var": R0, "seed": s, "spec": spec})
        return out
    run_stacked = _rnnmft_pkg._bool("stacked", stacked) and multi and T <= _STACKED_MAX_LEN
    content = _CONTENT[cell]
    nu_fixed = any(k == f"{content}.input_std" for k in _fix_keys(fixes))

    def solve(R, extra=None, I=None):
        fx = _merge_fixes(fixes, extra)
        return _rnnmft_pkg.critical(cell, T, fix=fx, criterion=criterion, input_var=R, width=N,
                                    input_dim=I, gru_variant=variant, tied_check=False)

    def predict(spec, Cx, direction="forward"):
        gates, hn = _stacked_gates(cell, spec, None, None, False, variant)
        return _run_layer(cell, gates, hn, Cx, direction)

    out = []
    specs = {}  # layer → (spec, R): both directions of a layer share the spec
    results = {}  # layer → two-time results per direction (stacked design)
    ms0 = []  # layer 0's predicted mean squares: the target of the layers above
    for k, ly in enumerate(layers):
        if ly.layer not in specs:
            if ly.layer == 0 or not run_stacked:
                R = R0 if ly.layer == 0 else \
                    specs[ly.layer - 1][0]["diagnostics"]["fixed_point"]["Q_h"]
                spec = solve(R, I=ly.input_dim)
            else:
                Cx = _input_cov(ly.layer, T, R0, results)
                R = _second_half(np.diag(Cx))
                target = float(np.mean(ms0))
                spec = _design_layer(solve, predict, specs[0][0], Cx, R, target, content,
                                     nu_fixed, ly.input_dim, cell, ly.layer)
            specs[ly.layer] = (spec, R)
        spec, R = specs[ly.layer]
        if run_stacked:
            r = predict(spec, _input_cov(ly.layer, T, R0, results), ly.direction)
            results.setdefault(ly.layer, []).append(r)
            results.pop(ly.layer - 2, None)  # T × T matrices no longer needed
            if ly.layer == 0:
                ms0.append(r["mean_square"])
        s = _layer_seed(seed, k)
        _copy_draw(params, ly, _rnnmft_pkg.draw(spec, ly.input_dim, N, s))
        o = {"layer": ly.layer, "direction": ly.direction, "design": "v1", "input_var": R,
             "seed": s, "spec": spec}
        if run_stacked:
            o["mean_square"] = results[ly.layer][-1]["mean_square"]
        out.append(o)
    return out


def _copy_draw(params, ly, w):
    with torch.no_grad():
        for key, name in ly.names.items():
            p = params[name]
            if tuple(p.shape) != w[key].shape:
                raise ValueError(f"{name} has shape {tuple(p.shape)}, expected {w[key].shape}")
            p.copy_(torch.from_numpy(w[key]))


def _fix_keys(fixes):
    """The "gate.param" keys of checked fixes (rnnmft._fixes: "gate.param=value" strings)."""
    return [f.split("=", 1)[0] for f in fixes]


def _merge_fixes(fixes, extra):
    return list(fixes) + [f"{k}={float(v)!r}" for k, v in (extra or {}).items()]


def _design_layer(solve, predict, spec0, Cx, R, target, content, nu_fixed, input_dim, cell,
                  layer):
    """Layer k ≥ 1 of the stacked critical init (docs/theory.md §11.3): the content gate's input
    scale ν such that the layer's predicted mean square over [T/2, T) (two-time theory, driven
    by the layer below's autocovariance Cx) equals ``target`` (layer 0's). ν is found on layer
    0's spec (its gates read no input, so their knobs do not depend on R) by a secant in
    log ν – log mean square. The GRU and vanilla cells are then solved for the tied criterion
    with ν fixed at R (ν corrected once if that moves the prediction by more than 10 %); the
    LSTM keeps layer 0's solved knobs (forget bias, cell recurrent scale: the re-solve costs
    about a minute and moved the cell scale from 0.035 to 0.026 at T = 2000, which changes the
    predicted mean square by < 1 %)."""
    import copy
    if nu_fixed or not target > 0 or not R > 0:  # a silent layer below: nothing to match
        return solve(R, I=input_dim)
    nu = spec0["gates"][content]["input_std"] or 0.5

    def with_nu(spec, v):
        sp = copy.deepcopy(spec)
        sp["gates"][content]["input_std"] = v
        return sp

    pts = []
    for _ in range(8):
        m = predict(with_nu(spec0, nu), Cx)["mean_square"]
        if not m > 0:
            break
        pts.append((math.log(nu), math.log(m)))
        err = math.log(target) - pts[-1][1]
        if abs(err) < math.log(1.05):
            break
        slope = 2.0  # mean square ∝ ν² in the linear regime
        if len(pts) >= 2 and abs(pts[-1][0] - pts[-2][0]) > 1e-9:
            slope = (pts[-1][1] - pts[-2][1]) / (pts[-1][0] - pts[-2][0])
            slope = min(max(slope, 0.2), 4.0)
        nu = math.exp(pts[-1][0] + max(min(err / slope, math.log(100.0)), -math.log(100.0)))
    if cell == "lstm":
        spec = with_nu(spec0, nu)
        spec["designed_for"]["input_var"] = R
    else:
        spec = solve(R, {f"{content}.input_std": nu}, I=input_dim)
        m = predict(spec, Cx)["mean_square"]
        if m > 0 and abs(math.log(m / target)) > math.log(1.1):
            nu *= (target / m) ** 0.5
            spec = solve(R, {f"{content}.input_std": nu}, I=input_dim)
    spec["diagnostics"]["stacked"] = {
        "layer": layer, "input_std": nu, "target_mean_square": target,
        "note": (f"layer {layer} of a stacked module: {content}.input_std = {nu:.4g} chosen so "
                 f"that its mean square over [T/2, T) matches layer 0's (docs/theory.md §11.3)"
                 + ("; the other knobs are layer 0's solution" if cell == "lstm" else ""))}
    return spec


def _is_orthogonal(W, sigma):
    # σ·Q with Q orthogonal: W Wᵀ = σ² I up to float32 rounding (recurrent_dist "orthogonal").
    if sigma <= 0 or W.shape[0] != W.shape[1]:
        return False
    G = W @ W.T / sigma**2
    return float(np.max(np.abs(G - np.eye(W.shape[0])))) < 1e-3


def estimate_spec(module, layer=0, direction="forward"):
    """The Gaussian moments of one weight set of ``module``'s actual weights, as a spec dict
    (docs/cells.md §Init spec): per gate σ = RMS of its W_hh block × √N, ν = RMS of its W_ih
    block × √I, μ = mean of its bias_ih + bias_hh entries, ρ = their standard deviation (the
    GRU's b_hn folded in: exact for a constant reset gate, warned about when large);
    recurrent_dist "orthogonal" where the block is σ times an orthogonal matrix."""
    cell, N, layers, has_bias = _describe(module)
    params = dict(module.named_parameters())
    for ly in layers:
        if ly.layer == layer and ly.direction == direction:
            return _estimate(cell, N, ly, params, has_bias)
    show = _rnnmft_pkg._show  # bounded: a nested argument must not end in a RecursionError
    raise ValueError(f"{type(module).__name__} has no layer {show(layer)} direction "
                     f"{show(direction)}")


def _estimate(cell, N, ly, params, has_bias):
    W_ih = _np(params[ly.names["weight_ih"]])
    W_hh = _np(params[ly.names["weight_hh"]])
    for key, W in (("weight_ih", W_ih), ("weight_hh", W_hh)):
        if not np.all(np.isfinite(W)):
            raise ValueError(f"{ly.names[key]} has non-finite entries")
    b_ih = _np(params[ly.names["bias_ih"]]) if has_bias else np.zeros(W_ih.shape[0])
    b_hh = _np(params[ly.names["bias_hh"]]) if has_bias else np.zeros(W_hh.shape[0])
    for key, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if has_bias and not np.all(np.isfinite(b)):
            raise ValueError(f"{ly.names[key]} has non-finite entries")
    # The theory has one bias per gate: bias_hh is folded into it. For the GRU's candidate that
    # is exact only when the reset gate is constant (b_hn sits inside r ⊙ (W_hn h + b_hn),
    # docs/theory.md §3.4); PyTorch's default b_hn (variance 1/(3N)) changes nothing visible, a
    # large one is named in a warning.
    b = b_ih + b_hh
    I = W_ih.shape[1]
    Gh = W_hh.shape[0] // N
    if cell == "gru":
        b_hn = b_hh[2 * N:3 * N]
        rms = float(np.sqrt(np.mean(b_hn**2)))
        if rms > 0.1:
            warnings.warn(f"{ly.names['bias_hh']}: the candidate's recurrent bias b_hn has RMS "
                          f"{rms:.3g}; the theory folds it into the input bias, exact only for a "
                          f"constant reset gate (docs/python.md)", stacklevel=3)
    gates = {}
    for g, name in enumerate(_rnnmft_pkg.gate_names(cell)):
        rows = slice(g * N, (g + 1) * N)
        U, bb = W_ih[rows], b[rows]
        e = {"input_std": math.sqrt(float(np.mean(U**2)) * I),
             "bias_mean": float(np.mean(bb)), "bias_std": float(np.std(bb)),
             "recurrent_std": 0.0, "recurrent_dist": "gaussian"}
        if g < Gh:
            W = W_hh[rows]
            e["recurrent_std"] = math.sqrt(float(np.mean(W**2)) * N)
            if _is_orthogonal(W, e["recurrent_std"]):
                e["recurrent_dist"] = "orthogonal"
        for key in ("input_std", "bias_mean", "bias_std", "recurrent_std"):
            if not math.isfinite(e[key]):  # finite entries whose squares overflow
                raise ValueError(f"{ly.names['weight_hh' if key == 'recurrent_std' else 'weight_ih' if key == 'input_std' else 'bias_ih']}: "
                                 f"gate '{name}' gives a non-finite {key} ({e[key]})")
        gates[name] = e
    return {"cell": cell, "gates": gates}


class Diagnosis(list):
    """The list :func:`diagnose` returns (one dict per weight set); printed as a table."""

    def __str__(self):
        lines = []
        for d in self:
            xi = "∞" if math.isinf(d["xi"]) else f"{d['xi']:.1f}"
            lines.append(f"layer {d['layer']} {d['direction']} ({d['cell']}"
                         f"{', ' + d['gru_variant'] if d['cell'] == 'gru' else ''}, "
                         f"R = {d['input_var']:.4g}): ξ = {xi}  χ = {d['chi']:.6f}  "
                         f"m1 = {d['m1']:.6f}  m2 = {d['m2']:.6f}  Q_h = {d['Q_h']:.4g}"
                         + (f"  mean square [T/2, T) = {d['mean_square']:.4g}"
                            if "mean_square" in d else ""))
            for name, g in d["gates"].items():
                lines.append(f"  {name:9} σ={g['recurrent_std']:<8.4g} ν={g['input_std']:<8.4g} "
                             f"μ={g['bias_mean']:<8.4g} ρ={g['bias_std']:<8.4g}"
                             f"{' (orthogonal W)' if g['recurrent_dist'] == 'orthogonal' else ''}")
            lines.append(f"  verdict: {d['verdict']}")
        return "\n".join(lines)


def _stack_verdict(d, base, T):
    """The verdict of a weight set of a stacked module: its activity beside the layer below's
    and layer 0's, ahead of the single-layer verdict (memory, gradients), which no longer says
    that signals survive when the drive reaching the layer has vanished."""
    k, ms = d["layer"], d["mean_square"]
    what = "h" if d["cell"] != "lstm" else "h (c: {:.3g})".format(d["mean_square_c"])
    head = f"mean square of {what} over steps [T/2, T) ≈ {ms:.3g} from a silent start"
    if k == 0:
        return f"{head}; {base}"
    per, tot = d["activity_vs_below"], d["activity_vs_layer0"]
    head += (f" ({tot:.2g}× layer 0's)" if k == 1 else
             f" ({per:.2g}× layer {k - 1}'s, {tot:.2g}× layer 0's)")
    if per < 0.1 or tot < 0.01:
        base = base.replace("signals survive", "its memory spans")
        return (f"{head}: the drive reaching layer {k} vanishes — its activity is {tot:.1e} of "
                f"layer 0's, so what it remembers is a vanishing signal; {base}")
    if per > 10 or tot > 100:
        return (f"{head}: activity grows with depth ({tot:.2g}× layer 0's at layer {k}), the "
                f"drive saturates its tanh; {base}")
    if 0.5 <= tot <= 2:
        return f"{head}: activity holds with depth; {base}"
    if per < 0.5 or per > 2:
        return (f"{head}: activity {'falls' if per < 1 else 'rises'} with depth "
                f"({per:.2g}× from layer {k - 1}); {base}")
    return f"{head}: activity holds from layer {k - 1} to {k}; {base}"


def diagnose(module, seq_len, *, input_var=1.0, gru_variant=None, tied_check=False,
             stacked=True, **options):
    """The mean-field diagnosis of ``module``'s actual weights for sequences of length
    ``seq_len``, per layer and direction (docs/theory.md §5, §7, §11).

    Each weight set's gate moments are estimated from its weights (:func:`estimate_spec`) and
    handed to the theory (``rnnmft.theory``). The first layer's inputs have second moment
    ``input_var`` and are independent from step to step. Layer k ≥ 1 reads layer k−1's state,
    which is correlated over time: the stacked two-time theory (docs/theory.md §11) predicts
    every layer's state autocovariance from a silent start, driven by the one below, and its
    mean square over steps [T/2, T) ("mean_square"); layer k's single-layer theory gets R = that
    mean square of layer k−1. gru_variant: default "reset-after" (what nn.GRU computes).
    tied_check: also simulate tied networks of the module's width (slower). stacked: False skips
    the two-time theory (O(T²) time and memory; skipped with a note above T = 4096). options:
    the theory's numerics (see rnnmft.theory).

    Returns a :class:`Diagnosis` (a list, printed as a table) of dicts with "layer",
    "direction", "cell", "gru_variant" (GRU), "input_var", "gates" (the estimated moments),
    "Q_h", "Q_c" (LSTM; the single-layer fixed point), "chi", "xi" (float, inf where it
    diverges), "c_star", "chaotic", "m1", "m2" (of J_c for the LSTM), "log_tied_gain",
    "mean_square" (and "mean_square_c", LSTM), "Q_h_t" (the predicted Q_h(t), t = 1…T),
    "activity_vs_below", "activity_vs_layer0", "stacked_notes", "stacked_regime" (the largest
    gate pre-activation sd and the content tanh's share of E[φ²] beyond the linear term),
    "verdict", "spec" and "theory" (the full dict of rnnmft.theory).
    """
    cell, N, layers, has_bias = _describe(module)
    T = _rnnmft_pkg._seq_len(seq_len)
    R0 = _rnnmft_pkg._float("input_var", input_var, lo=0.0)
    variant = _gru_variant(cell, gru_variant)
    params = dict(module.named_parameters())
    run_stacked = _rnnmft_pkg._bool("stacked", stacked) and T <= _STACKED_MAX_LEN
    out = Diagnosis()
    results = {}  # layer → two-time results per direction
    ms_prev = {}  # layer → mean squares per direction
    for ly in layers:
        spec = _estimate(cell, N, ly, params, has_bias)
        stack = None
        if run_stacked:
            gates, hn = _stacked_gates(cell, spec, ly, params, has_bias, variant)
            stack = _run_layer(cell, gates, hn, _input_cov(ly.layer, T, R0, results), ly.direction)
            results.setdefault(ly.layer, []).append(stack)
            results.pop(ly.layer - 2, None)  # T × T matrices no longer needed
        if ly.layer == 0:
            R = R0
        elif run_stacked:
            R = float(np.mean(ms_prev[ly.layer - 1]))
        else:
            R = float(np.mean([o["Q_h"] for o in out if o["layer"] == ly.layer - 1]))
        th = _rnnmft_pkg.theory(cell, spec, T, width=N, input_dim=ly.input_dim, input_var=R,
                                gru_variant=variant, tied_check=tied_check, **options)
        ts, fp, jac = th["timescale"], th["fixed_point"], th["jacobian"]
        d = {"layer": ly.layer, "direction": ly.direction, "cell": cell, "input_var": R,
             "gates": spec["gates"], "Q_h": fp["Q_h"], "chi": ts["chi"],
             "xi": math.inf if ts["xi_infinite"] else ts["xi"], "c_star": ts["c_star"],
             "chaotic": ts["chaotic"], "m1": jac["m1"], "m2": jac["m2"],
             "log_tied_gain": th["tied_gain"]["log_gain"], "verdict": th["verdict"],
             "spec": spec, "theory": th}
        if cell == "gru":
            d["gru_variant"] = variant
        if cell == "lstm":
            d["Q_c"] = fp["Q_c"]
        if stack is not None:
            d["mean_square"] = stack["mean_square"]
            d["Q_h_t"] = stack["Q_h_t"]
            if cell == "lstm":
                d["mean_square_c"] = stack["mean_square_c"]
            stack["orthogonal"] = any(g["recurrent_dist"] == "orthogonal"
                                      and g["recurrent_std"] > 0 for g in spec["gates"].values())
            d["stacked_notes"] = _approximation_notes(stack)
            d["stacked_regime"] = {"gate_sd": stack["gate_sd"], "nonlinear": stack["nonlinear"]}
            ms_prev.setdefault(ly.layer, []).append(stack["mean_square"])
            if ly.layer > 0:
                ms0 = [o["mean_square"] for o in out
                       if o["layer"] == 0 and o["direction"] == ly.direction][0]
                below = [o["mean_square"] for o in out
                         if o["layer"] == ly.layer - 1 and o["direction"] == ly.direction][0]
                d["activity_vs_below"] = _ratio(stack["mean_square"], below)
                d["activity_vs_layer0"] = _ratio(stack["mean_square"], ms0)
            d["verdict"] = _stack_verdict(d, th["verdict"], T)
            if d["stacked_notes"]:
                d["verdict"] += "; stacked theory: " + "; ".join(d["stacked_notes"])
        elif len({ly.layer for ly in layers}) > 1:
            d["verdict"] += (f"; stacked theory not computed (T > {_STACKED_MAX_LEN} or "
                             f"stacked=False): layer k ≥ 1 is judged for R = Q_h of layer k−1 as "
                             f"if its inputs were independent from step to step")
        out.append(d)
    return out


def _ratio(a, b):
    return a / b if b > 0 else (math.inf if a > 0 else 1.0)
