#!/usr/bin/env python3
"""Heatmap of a phase diagram CSV from `rnnmft phase`: log10 ξ, with the ξ = T contour, the
m1 = 1 line, the edge of the chaotic region (hatched: c* < 1 with identical inputs) and the line
where tied networks keep their gradients over T steps (G_T = 1).
Usage: /usr/bin/python3 scripts/plot_phase.py grid.csv [-o grid.png]"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

path = sys.argv[1]
out = sys.argv[sys.argv.index("-o") + 1] if "-o" in sys.argv else path.rsplit(".", 1)[0] + ".png"
with open(path) as f:
    reader = csv.DictReader(f)
    header = reader.fieldnames
    rows = list(reader)
if not rows:
    raise SystemExit(f"{path}: no rows")
for col in ("xi", "m1", "seq_len"):
    if col not in header:
        raise SystemExit(f"{path}: no column '{col}' (not a CSV from rnnmft phase?)")
xname, yname = header[0], header[1]
xs = sorted({float(r[xname]) for r in rows})
ys = sorted({float(r[yname]) for r in rows})
T = int(rows[0]["seq_len"])


def grid(col, conv=float):
    g = np.full((len(ys), len(xs)), np.nan)
    if col not in header:
        return g
    for r in rows:
        g[ys.index(float(r[yname])), xs.index(float(r[xname]))] = conv(r[col])
    return g


xi = grid("xi", lambda v: math.log10(min(max(float(v), 1e-3), 1e7)))
m1 = grid("m1")
chaotic = grid("chaotic")
gain = grid("log_tied_gain", lambda v: max(min(float(v), 1e3), -1e3))
# Points where the quadrature did not converge (docs/theory.md §1.1) are left blank: their
# numbers, and any line drawn through them, would be artefacts of the rule.
unconverged = grid("converged") == 0
n_unconverged = int(np.sum(unconverged))
for g in (xi, m1, chaotic, gain):
    g[unconverged] = np.nan
fig, ax = plt.subplots(figsize=(7.5, 5.8))
im = ax.pcolormesh(xs, ys, xi, shading="auto", cmap="viridis")
fig.colorbar(im, ax=ax, label="log10 ξ (capped at 10^7)")
two_d = len(xs) > 1 and len(ys) > 1


# Contours only where the level lies inside the data (matplotlib warns otherwise).
def contour(values, level, label, **kw):
    if two_d and np.nanmin(values) < level < np.nanmax(values):
        cs = ax.contour(xs, ys, values, levels=[level], **kw)
        ax.clabel(cs, fmt={level: label}, fontsize=8)


contour(xi, math.log10(T), f"ξ = T = {T}", colors="w", linewidths=1.5)
contour(m1, 1.0, "m1 = 1", colors="r", linewidths=1, linestyles="--")
contour(gain, 0.0, "tied G_T = 1", colors="orange", linewidths=1.2, linestyles=":")
if two_d and np.nanmax(chaotic) > 0.5:
    ax.contourf(xs, ys, chaotic, levels=[0.5, 1.5], colors="none", hatches=["//"])
    contour(chaotic, 0.5, "chaotic", colors="k", linewidths=1)
if n_unconverged:
    ax.text(0.01, 0.01, f"blank: {n_unconverged} points where the quadrature did not converge",
            transform=ax.transAxes, fontsize=8, color="k",
            bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"))
ax.set_xlabel(xname)
ax.set_ylabel(yname)
ax.set_title(f"timescale ξ ({path.rsplit('/', 1)[-1]}; hatched: chaotic, c* < 1)")
fig.tight_layout()
fig.savefig(out, dpi=90)
print(f"wrote {out}")
