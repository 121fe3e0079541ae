#!/usr/bin/env python3
"""Theory against wide random networks, untied and tied: writes the table and figures of
docs/validation.md.  Usage: /usr/bin/python3 scripts/validation.py [build/rnnmft] [--width N]

Runs `rnnmft theory --json` and `rnnmft simulate --json` (untied and tied) for each point,
replaces the table between the markers in docs/validation.md, and draws docs/figures/*.png.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else os.path.join(ROOT, "build", "rnnmft")
WIDTH = int(sys.argv[sys.argv.index("--width") + 1]) if "--width" in sys.argv else 1000
TMP = tempfile.mkdtemp()
# Long enough before t0 for the state to become stationary at all but the slowest points.
T0, STEPS = 300, 450


def g(s, n, m, r):
    return {"recurrent_std": s, "input_std": n, "bias_mean": m, "bias_std": r}


POINTS = [
    ("vanilla A", {"cell": "vanilla", "gates": {"hidden": g(1.5, 0.5, 0.1, 0.2)}}),
    ("vanilla B", {"cell": "vanilla", "gates": {"hidden": g(0.8, 1.0, -0.3, 0.5)}}),
    ("minimal A", {"cell": "minimal", "gates": {"update": g(2, 0.5, 1, 0.3), "embed": g(0, 1, 0.2, 0.3)}}),
    ("minimal B", {"cell": "minimal", "gates": {"update": g(3, 0.3, 3, 0.1), "embed": g(0, 1, 0, 0.1)}}),
    ("GRU A", {"cell": "gru", "gates": {"update": g(1.5, 0.5, 1, 0.3), "reset": g(1.2, 0.5, 0.5, 0.2), "candidate": g(1.8, 0.7, 0.2, 0.2)}}),
    ("GRU B", {"cell": "gru", "gates": {"update": g(3, 0.3, 2, 0.1), "reset": g(2, 0.5, -0.5, 0.2), "candidate": g(2.5, 0.7, 0.5, 0.2)}}),
    ("LSTM A", {"cell": "lstm", "gates": {"input": g(1.2, 0.5, 0, 0.2), "forget": g(1, 0.5, 2, 0.2), "output": g(1.3, 0.5, 0.5, 0.2), "cell": g(1.5, 0.8, 0.3, 0.2)}}),
    ("LSTM B", {"cell": "lstm", "gates": {"input": g(2, 0.5, -1, 0.3), "forget": g(2, 0.5, 1, 0.3), "output": g(2, 0.5, 1, 0.3), "cell": g(2.5, 0.8, 0, 0.3)}}),
    ("LSTM C", {"cell": "lstm", "gates": {"input": g(0.5, 0.3, -1, 0.1), "forget": g(0.5, 0.3, 4, 0.1), "output": g(0.5, 0.3, 1, 0.1), "cell": g(1, 0.5, 0, 0.1)}}),
]


def run(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"rnnmft {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def critical(cell):
    path = os.path.join(TMP, f"{cell}_critical.json")
    run("critical", "--cell", cell, "--no-tied-check", "-o", path)
    return path


def spec_file(name, spec):
    path = os.path.join(TMP, name.replace(" ", "_") + ".json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def fmt(x, digits=4):
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}g}"


def gap(a, b):
    try:
        return f"{100 * (b - a) / abs(a):+.1f}%"
    except (TypeError, ZeroDivisionError):
        return "–"


rows = []
points = [(n, spec_file(n, s)) for n, s in POINTS]
points += [("GRU critical", critical("gru")), ("LSTM critical", critical("lstm"))]
curves = {}
for name, path in points:
    th = json.loads(run("theory", "--init", path, "--no-tied-check", "--json"))
    sims = {}
    for mode in ("--untied", "--tied"):
        out = os.path.join(TMP, name.replace(" ", "_") + mode)
        sims[mode] = json.loads(run("simulate", "--init", path, "--width", str(WIDTH), "--trials", "4", mode,
                                    "--input-dim", "100", "--steps", str(STEPS), "--t0", str(T0), "--json", "-o", out))
        if mode == "--untied":
            curves[name] = (out, th)
    u, t = sims["--untied"], sims["--tied"]
    quantities = [("Q_h", th["fixed_point"]["Q_h"], u["stationary"]["Q_h"], t["stationary"]["Q_h"]),
                  ("m1", th["jacobian"]["m1"], u["jacobian"]["m1"], t["jacobian"]["m1"]),
                  ("m2", th["jacobian"]["m2"], u["jacobian"]["m2"], t["jacobian"]["m2"])]
    if th["cell"] == "lstm":
        quantities.insert(1, ("Q_c", th["fixed_point"]["Q_c"], u["stationary"]["Q_c"], t["stationary"]["Q_c"]))
        quantities += [("m1 (c,h)", th["jacobian_state"]["m1"], u["jacobian_state"]["m1"], t["jacobian_state"]["m1"]),
                       ("m2 (c,h)", th["jacobian_state"]["m2"], u["jacobian_state"]["m2"], t["jacobian_state"]["m2"])]
    # JSON writes an infinite ξ as null with xi_infinite: true.
    def xi(ts):
        return "inf" if ts.get("xi_infinite") else ts["xi"]
    quantities.append(("ξ", xi(th["timescale"]), xi(u["timescale"]), xi(t["timescale"])))
    for q, a, b, c in quantities:
        rows.append(f"| {name} | {q} | {fmt(a)} | {fmt(b)} | {gap(a, b) if not isinstance(b, str) and not isinstance(a, str) else '–'} "
                    f"| {fmt(c)} | {gap(a, c) if not isinstance(c, str) and not isinstance(a, str) else '–'} |")
    print(name, "done", file=sys.stderr)

table = ["| point | quantity | theory | untied | gap | tied | gap |", "|---|---|---|---|---|---|---|"] + rows
doc = os.path.join(ROOT, "docs", "validation.md")
text = open(doc).read()
begin, end = "<!-- table:begin -->", "<!-- table:end -->"
text = text[: text.index(begin) + len(begin)] + "\n" + "\n".join(table) + "\n" + text[text.index(end):]
open(doc, "w").write(text)

# Figures: Q(t) and the two-trajectory distance against t (simulation points, theory lines).
fig, axes = plt.subplots(2, 2, figsize=(11, 7))
for col, name in enumerate(["GRU A", "LSTM B"]):
    out, th = curves[name]
    rows_ = [l.strip().split(",") for l in open(os.path.join(out, "trajectories.csv"))][1:]
    t = [float(r[0]) for r in rows_]
    qh = [float(r[1]) for r in rows_]
    d = [float(r[3]) for r in rows_]
    ax = axes[0][col]
    ax.plot(t, qh, ".", ms=3, label="simulation (untied, N = %d)" % WIDTH)
    ax.axhline(th["fixed_point"]["Q_h"], color="k", lw=1, label="theory Q_h*")
    ax.set_title(f"{name}: Q_h(t)")
    ax.set_xlabel("t")
    ax.legend()
    ax = axes[1][col]
    t0 = T0
    ax.semilogy(t, d, ".", ms=3, label="simulation: |s_a − s_b|²/D")
    chi = th["timescale"]["chi"]
    tt = [x for x in t if x >= t0]
    ax.semilogy(tt, [d[t0 - 1] * chi ** (x - t0) for x in tt], "k-", lw=1, label=f"theory χ^t, ξ = {-1 / math.log(chi):.2f}")
    ax.axvline(t0, color="gray", ls=":", lw=1)
    ax.set_title(f"{name}: distance, identical inputs from t0 = {t0}")
    ax.set_xlabel("t")
    ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(ROOT, "docs", "figures", "signal_propagation.png"), dpi=90)

# Singular values of J and of a product of Jacobians against the theory's moments.
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, name in zip(axes, ["GRU A", "LSTM B", "GRU critical"]):
    out, th = curves[name]
    sv = [float(l) for l in list(open(os.path.join(out, "singular_values.csv")))[1:]]
    sq = [s * s for s in sv]
    ax.hist(sq, bins=60, density=True, alpha=0.6, label="simulation: squared singular values of J")
    m1, m2 = th["jacobian"]["m1"], th["jacobian"]["m2"]
    sd = math.sqrt(max(m2 - m1 * m1, 0))
    ax.axvline(m1, color="k", lw=1.5, label=f"theory m1 = {m1:.3f}")
    ax.axvspan(m1 - sd, m1 + sd, color="k", alpha=0.1, label=f"theory ±√(m2 − m1²) = {sd:.3f}")
    ax.set_title(f"{name} (N = {WIDTH}, untied)")
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(ROOT, "docs", "figures", "jacobian_spectra.png"), dpi=90)

fig, ax = plt.subplots(figsize=(6, 3.8))
for name in ["GRU critical", "GRU A"]:
    out, th = curves[name]
    sv = [float(l) for l in list(open(os.path.join(out, "product_singular_values.csv")))[1:]]
    ax.hist([math.log10(max(s, 1e-300)) for s in sv], bins=60, alpha=0.6, density=True,
            label=f"{name}: m1^10 (theory) = {th['jacobian']['m1'] ** 10:.3g}")
ax.set_xlabel("log10 singular value of J_10 ⋯ J_1")
ax.set_title("Product of 10 Jacobians")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(ROOT, "docs", "figures", "product_spectra.png"), dpi=90)
print("wrote docs/validation.md table and docs/figures/*.png", file=sys.stderr)
