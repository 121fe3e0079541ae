"""Critical initialization and mean-field diagnosis of ``torch.nn`` recurrent modules
(docs/python.md).

    import torch, rnnmft
    lstm = torch.nn.LSTM(input_size=28, hidden_size=128)
    rnnmft.torch.critical_init_(lstm, seq_len=1000)      # in place, every layer
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
                   criterion=None):
    """Draws the critical initialization for sequences of length ``seq_len`` into ``module``,
    in place (docs/theory.md §6): every layer and direction, with the C++ draw that
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
    input_var: R, the second moment of each component of the first layer's inputs. Layer k ≥ 1
        reads layer k−1's hidden state, so it is designed for R = Q_h of layer k−1 as the
        theory predicts it.
    gru_variant: for GRUs, default "reset-after" (what nn.GRU computes).
    criterion: "tied" (default for the gated cells) or "untied".

    Returns a list with one dict per weight set: "layer", "direction", "input_var", "seed" and
    "spec" (the spec dict, with its diagnostics, as ``rnnmft critical -o`` writes it).
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
    out = []
    specs = {}  # layer → (spec, Q_h): both directions of a layer share the spec
    for k, ly in enumerate(layers):
        if ly.layer not in specs:
            R = R0 if ly.layer == 0 else specs[ly.layer - 1][1]
            spec = _rnnmft_pkg.critical(cell, T, fix=fixes, criterion=criterion, input_var=R,
                                        width=N, input_dim=ly.input_dim, gru_variant=variant,
                                        tied_check=False)
            specs[ly.layer] = (spec, spec["diagnostics"]["fixed_point"]["Q_h"], R)
        spec, _, R = specs[ly.layer]
        s = _layer_seed(seed, k)
        w = _rnnmft_pkg.draw(spec, ly.input_dim, N, s)
        with torch.no_grad():
            for key, name in ly.names.items():
                p = params[name]
                if tuple(p.shape) != w[key].shape:
                    raise ValueError(f"{name} has shape {tuple(p.shape)}, expected {w[key].shape}")
                p.copy_(torch.from_numpy(w[key]))
        out.append({"layer": ly.layer, "direction": ly.direction, "input_var": R, "seed": s,
                    "spec": spec})
    return out


def _np(t):
    return t.detach().to("cpu", torch.float64).numpy()


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
    raise ValueError(f"{type(module).__name__} has no layer {layer} direction {direction!r}")


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
                         f"m1 = {d['m1']:.6f}  m2 = {d['m2']:.6f}  Q_h = {d['Q_h']:.4g}")
            for name, g in d["gates"].items():
                lines.append(f"  {name:9} σ={g['recurrent_std']:<8.4g} ν={g['input_std']:<8.4g} "
                             f"μ={g['bias_mean']:<8.4g} ρ={g['bias_std']:<8.4g}"
                             f"{' (orthogonal W)' if g['recurrent_dist'] == 'orthogonal' else ''}")
            lines.append(f"  verdict: {d['verdict']}")
        return "\n".join(lines)


def diagnose(module, seq_len, *, input_var=1.0, gru_variant=None, tied_check=False, **options):
    """The mean-field diagnosis of ``module``'s actual weights for sequences of length
    ``seq_len``, per layer and direction (docs/theory.md §5, §7).

    Each weight set's gate moments are estimated from its weights (:func:`estimate_spec`) and
    handed to the theory (``rnnmft.theory``). The first layer's inputs have second moment
    ``input_var``; layer k ≥ 1 gets R = Q_h of layer k−1 as the theory predicts it.
    gru_variant: default "reset-after" (what nn.GRU computes). tied_check: also simulate tied
    networks of the module's width (slower). options: the theory's numerics (see rnnmft.theory).

    Returns a :class:`Diagnosis` (a list, printed as a table) of dicts with "layer",
    "direction", "cell", "gru_variant" (GRU), "input_var", "gates" (the estimated moments),
    "Q_h", "Q_c" (LSTM), "chi", "xi" (float, inf where it diverges), "c_star", "chaotic", "m1",
    "m2" (of J_c for the LSTM), "log_tied_gain", "verdict", "spec" and "theory" (the full
    dict of rnnmft.theory).
    """
    cell, N, layers, has_bias = _describe(module)
    T = _rnnmft_pkg._seq_len(seq_len)
    R0 = _rnnmft_pkg._float("input_var", input_var, lo=0.0)
    variant = _gru_variant(cell, gru_variant)
    params = dict(module.named_parameters())
    out = Diagnosis()
    Q_prev = {}  # layer → Q_h per direction
    for ly in layers:
        R = R0 if ly.layer == 0 else float(np.mean(Q_prev[ly.layer - 1]))
        spec = _estimate(cell, N, ly, params, has_bias)
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
        Q_prev.setdefault(ly.layer, []).append(fp["Q_h"])
        out.append(d)
    return out
