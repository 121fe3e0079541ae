"""The two-time mean field of stacked layers (docs/theory.md §11), used by
:func:`rnnmft.torch.diagnose` and :func:`rnnmft.torch.critical_init_`."""
import math

import numpy as np
import torch


def _np(t):
    return t.detach().to("cpu", torch.float64).numpy()


# ---------------------------------------------------------------------------------------------
# Stacked networks: the two-time mean field of a layer driven by the layer below
# (docs/theory.md §11). Layer k ≥ 1 reads layer k−1's state, which is correlated over time (at the
# critical init over ~T steps), so its state depends on the whole autocovariance C_x(t, s) of its
# input, and from a silent start on the transient, not on a stationary second moment alone.

_STACKED_MAX_LEN = 4096  # O(T²) memory and time: 3 matrices of T² doubles
_MEHLER_N = 12
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(80)
_GH_W = _GH_W / _GH_W.sum()


def _hermite_table():
    he = [np.ones_like(_GH_X), _GH_X.copy()]
    for n in range(1, _MEHLER_N):
        he.append(_GH_X * he[n] - n * he[n - 1])
    norm = np.sqrt([math.factorial(n) for n in range(_MEHLER_N + 1)])
    return np.array(he[:_MEHLER_N + 1]) / norm[:, None]


_GH_HE = _hermite_table()


def _gate_moments(mean, var):
    """E[a], E[a²] of a = logistic(u), u ~ N(mean, var)."""
    a = 0.5 * (1.0 + np.tanh(0.5 * (mean + math.sqrt(max(var, 0.0)) * _GH_X)))
    return float(_GH_W @ a), float(_GH_W @ (a * a))


def _tanh_hermite(mean, var):
    """The Mehler coefficients a_n = E[tanh(u) He_n(x)]/√n! of u = mean + √var·x (n ≤ 12), and
    E[tanh(u)²]: for jointly Gaussian u, v of correlation ρ,
    E[tanh u tanh v] = Σ_n a_n(u) a_n(v) ρⁿ."""
    f = np.tanh(mean + math.sqrt(max(var, 0.0)) * _GH_X)
    return _GH_HE @ (_GH_W * f), float(_GH_W @ (f * f))


class _Mehler:
    """E[φ(u_t) φ(u_s)] for the steps s < t of a Gaussian process u, φ = tanh, from the Mehler
    series (n ≤ 12; the rest of the series, tail_t = E[φ²] − Σ a_n², added as ρ^13 √(tail_t
    tail_s), so that ρ → 1 meets the diagonal)."""

    def __init__(self, T):
        self.A = np.zeros((_MEHLER_N + 1, T))
        self.amax = np.zeros(_MEHLER_N + 1)
        self.tail = np.zeros(T)
        self.var = np.zeros(T)
        self.mean = np.zeros(T)
        self.e2max = 0.0
        self.max_tail = 0.0  # largest tail / E[φ²]: how far from the linear regime

    def add(self, t, mean, var):
        a, e2 = _tanh_hermite(mean, var)
        self.A[:, t] = a
        self.amax = np.maximum(self.amax, np.abs(a))
        self.tail[t] = max(e2 - float(a @ a), 0.0)
        self.e2max = max(self.e2max, e2)
        # the nonlinear part beyond the first order (n ≥ 2 and the tail) relative to E[φ²]
        lin = float(a[0] ** 2 + a[1] ** 2)
        if e2 > 0:
            self.max_tail = max(self.max_tail, (e2 - lin) / e2)
        self.var[t], self.mean[t] = var, mean
        return e2

    def row(self, t, cov):
        """cov: the covariance of u_t with u_s, s < t (length t)."""
        if t == 0:
            return np.zeros(0)
        den = np.sqrt(self.var[:t] * self.var[t])
        rho = np.divide(cov, den, out=np.zeros(t), where=den > 0)
        np.clip(rho, -1.0, 1.0, out=rho)
        A = self.A
        out = A[0, t] * A[0, :t]
        thr = 1e-13 * self.e2max  # terms below 1e-13 of E[φ²] are left out
        need = [n for n in range(1, _MEHLER_N + 1) if abs(A[n, t]) * self.amax[n] > thr]
        p = np.ones(t)
        for n in range(1, (need[-1] if need else 0) + 1):
            p *= rho
            if n in need:
                out += (A[n, t] * A[n, :t]) * p
        if self.tail[t] > thr:
            out += rho ** (_MEHLER_N + 1) * np.sqrt(self.tail[t] * self.tail[:t])
        return out


def _scan(a, b):
    """x_s = a_s x_{s−1} + b_s from x_{−1} = 0, for every s (a log-step prefix scan)."""
    A, B = a.copy(), b.copy()
    k, n = 1, len(b)
    while k < n:
        B[k:] = B[k:] + A[k:] * B[:-k]
        A[k:] = A[k:] * A[:-k]
        k *= 2
    return B


def _stacked_gates(cell, spec, ly, params, has_bias, variant):
    """The moments the two-time theory uses: per gate (σ, ν, μ, ρ) of the spec; for nn.GRU's
    candidate (reset-after) its two biases apart, b_in outside the reset gate and b_hn inside."""
    g = {name: (e["recurrent_std"], e["input_std"], e["bias_mean"], e["bias_std"])
         for name, e in spec["gates"].items()}
    hn = (0.0, 0.0)
    if cell == "gru" and variant == "reset-after" and has_bias and params is not None:
        N = params[ly.names["weight_hh"]].shape[1]
        b_in = _np(params[ly.names["bias_ih"]])[2 * N:3 * N]
        b_hn = _np(params[ly.names["bias_hh"]])[2 * N:3 * N]
        s, n = g["candidate"][:2]
        g["candidate"] = (s, n, float(np.mean(b_in)), float(np.std(b_in)))
        hn = (float(np.mean(b_hn)), float(np.std(b_hn)))
    return g, hn


def _two_time(cell, gates, Cx, hn=(0.0, 0.0), untied=False):
    """The two-time mean field of one layer from a silent start (h = c = 0), driven by inputs
    whose per-component second moments are Cx[t, s] = E[x_t x_s] (T × T), with tied weights of
    Gaussian moments ``gates`` {name: (σ, ν, μ, ρ)} (docs/theory.md §11).

    The content's pre-activation u_t = μ + b + U x_t + r_t·(W h_{t−1} + b_hn) is a Gaussian process
    with covariance K(t, s) = ρ² + ν² C_x(t, s) + r_t r_s (σ² C_h(t−1, s−1) + ρ_hn²) (a random
    W reused at every step adds no reaction term: dynamic mean field theory of asymmetric
    networks); its tanh's two-time moments come from the Mehler series. The gates enter through
    their means (E[a], E[a²]) at each step, treated as independent of the content.

    untied: weights and biases redrawn at every step (the theory of docs/theory.md §3–4): the
    content's pre-activations at different steps are then independent (K(t, s) = 0 for s ≠ t),
    and only the input's second moment C_x(t, t) reaches the layer.

    Returns C_h (T × T), and for the LSTM the diagonal Q_c(t); "nonlinear": the largest share of
    E[tanh²] beyond the linear term; "gate_sd": the largest gate pre-activation sd."""
    T = Cx.shape[0]
    dx = np.diag(Cx).copy()
    Ch = np.zeros((T, T))
    s_c, n_c, m_c, r_c = gates[_CONTENT[cell]]
    m_hn, r_hn = hn
    Ea, Eb = np.zeros(T), np.zeros(T)  # E[keep], E[write] per step
    Er, Er2 = np.ones(T), np.ones(T)
    u = _Mehler(T)
    gate_sd = 0.0
    if cell == "lstm":
        Cc, Mc, Eo = np.zeros((T, T)), np.zeros(T), np.zeros(T)
        v = _Mehler(T)
    S = Cc if cell == "lstm" else Ch  # the state the keep gate multiplies
    for t in range(T):
        Q = Ch[t - 1, t - 1] if t else 0.0

        def gate(name):
            nonlocal gate_sd
            s, n, m, r = gates[name]
            var = s * s * Q + n * n * dx[t] + r * r
            gate_sd = max(gate_sd, math.sqrt(var))
            return _gate_moments(m, var)

        if cell == "gru":
            a1, a2 = gate("update")
            Ea[t], Eb[t] = a1, 1.0 - a1
            k2, kb, b2 = a2, a1 - a2, 1.0 - 2.0 * a1 + a2  # E[a²], E[a(1−a)], E[(1−a)²]
            Er[t], Er2[t] = gate("reset")
        elif cell == "lstm":
            f1, f2 = gate("forget")
            i1, i2 = gate("input")
            o1, o2 = gate("output")
            Ea[t], Eb[t], Eo[t] = f1, i1, o1
            k2, kb, b2 = f2, f1 * i1, i2
        # covariance of the content pre-activation with every earlier step
        rec = np.zeros(t + 1)
        if t:
            rec[1:] = Ch[t - 1, :t]
        K = (r_c * r_c + n_c * n_c * Cx[t, :t + 1]
             + (s_c * s_c * rec + r_hn * r_hn) * (Er[t] * Er[:t + 1]))
        K[t] = r_c * r_c + n_c * n_c * dx[t] + (s_c * s_c * rec[t] + r_hn * r_hn) * Er2[t]
        if untied:
            K[:t] = 0.0
        var_t = K[t] + m_hn * m_hn * (Er2[t] - Er[t] ** 2)
        e2 = u.add(t, m_c + Er[t] * m_hn, var_t)
        Chat = u.row(t, K[:t])  # E[φ(u_t) φ(u_s)], s < t
        if cell == "vanilla":
            Ch[t, :t] = Chat
            Ch[:t, t] = Chat
            Ch[t, t] = e2
            continue
        # E[content_t · state_s] for s < t: the state is the keep-gate filter of the content
        B = _scan(Ea[:t], Eb[:t] * Chat)
        if t:
            S[t, :t] = Ea[t] * S[t - 1, :t] + Eb[t] * B
            S[t, t] = k2 * S[t - 1, t - 1] + 2.0 * kb * B[t - 1] + b2 * e2
        else:
            S[t, t] = b2 * e2
        S[:t, t] = S[t, :t]
        if cell == "lstm":
            # h = o·tanh(c), c taken as Gaussian (a sum over many steps)
            Mc[t] = (Ea[t] * Mc[t - 1] if t else 0.0) + Eb[t] * u.A[0, t]
            th2 = v.add(t, Mc[t], max(S[t, t] - Mc[t] ** 2, 0.0))
            row = v.row(t, S[t, :t] - Mc[t] * Mc[:t]) * (Eo[t] * Eo[:t])
            Ch[t, :t] = row
            Ch[:t, t] = row
            Ch[t, t] = o2 * th2
    out = {"C_h": Ch, "nonlinear": u.max_tail, "gate_sd": gate_sd}
    if cell == "lstm":
        out["Q_c"] = np.diag(Cc).copy()
        out["nonlinear_c"] = v.max_tail
    return out


_CONTENT = {"gru": "candidate", "lstm": "cell", "vanilla": "hidden"}


def _second_half(q):
    return float(np.mean(q[len(q) // 2:]))


def _run_layer(cell, gates, hn, Cx, direction):
    """The two-time theory of one weight set; the reverse direction reads the sequence backwards,
    and its results are returned in the sequence's own time."""
    rev = direction == "reverse"
    r = _two_time(cell, gates, Cx[::-1, ::-1] if rev else Cx, hn)
    if rev:
        r["C_h"] = r["C_h"][::-1, ::-1]
        if "Q_c" in r:
            r["Q_c"] = r["Q_c"][::-1]
    q = np.diag(r["C_h"]).copy()
    r["Q_h_t"] = q
    r["mean_square"] = _second_half(q)
    if "Q_c" in r:
        r["mean_square_c"] = _second_half(r["Q_c"])
    return r


def _input_cov(layer, T, R0, results):
    """C_x of a layer's inputs: R0·δ_ts for layer 0 (independent steps), else the state
    autocovariance of layer − 1, averaged over its directions (the inputs are their
    concatenation)."""
    if layer == 0:
        return R0 * np.eye(T)
    Cs = [r["C_h"] for r in results[layer - 1]]
    return sum(Cs) / len(Cs)


def _approximation_notes(r):
    """Where the two-time theory leaves its exact regime (docs/theory.md §11.2)."""
    notes = []
    if r.get("orthogonal"):
        notes.append("orthogonal recurrent weights: the stacked theory treats them as Gaussian "
                     "(not checked for this case)")
    if r["gate_sd"] > 0.5:
        notes.append(f"gates read the input and state (pre-activation sd up to "
                     f"{r['gate_sd']:.2g}); the stacked theory takes them independent of the "
                     f"content and of time: approximate (within 13 % where measured)")
    if r["nonlinear"] > 0.3:
        notes.append(f"the content's tanh is far from linear ({r['nonlinear']:.0%} of its mean "
                     f"square beyond the linear term); the stacked theory's Gaussian closure is "
                     f"approximate there")
    return notes
