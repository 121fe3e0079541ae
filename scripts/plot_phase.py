#!/usr/bin/env python3
"""Heatmap of a phase diagram CSV from `rnnmft phase`: log10 ξ with the ξ = T contour and the
m1 = 1 line.  Usage: /usr/bin/python3 scripts/plot_phase.py grid.csv [-o grid.png]"""
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
    reader = csv.reader(f)
    header = next(reader)
    rows = [r for r in reader]
if not rows:
    raise SystemExit(f"{path}: no rows")
xs = sorted({float(r[0]) for r in rows})
ys = sorted({float(r[1]) for r in rows})
T = int(rows[0][8])
xi = np.full((len(ys), len(xs)), np.nan)
m1 = np.full_like(xi, np.nan)
for r in rows:
    i, j = xs.index(float(r[0])), ys.index(float(r[1]))
    v = math.inf if r[4] == "inf" else float(r[4])
    xi[j, i] = math.log10(min(max(v, 1e-3), 1e7))
    m1[j, i] = float(r[5])
fig, ax = plt.subplots(figsize=(7, 5.5))
im = ax.pcolormesh(xs, ys, xi, shading="auto", cmap="viridis")
fig.colorbar(im, ax=ax, label="log10 ξ (capped at 10^7)")
# Contours only where the level lies inside the data (matplotlib warns otherwise).
if len(xs) > 1 and len(ys) > 1 and np.nanmin(xi) < math.log10(T) < np.nanmax(xi):
    cs = ax.contour(xs, ys, xi, levels=[math.log10(T)], colors="w", linewidths=1.5)
    ax.clabel(cs, fmt={math.log10(T): f"ξ = T = {T}"}, fontsize=8)
if len(xs) > 1 and len(ys) > 1 and np.nanmin(m1) < 1.0 < np.nanmax(m1):
    cm = ax.contour(xs, ys, m1, levels=[1.0], colors="r", linewidths=1, linestyles="--")
    ax.clabel(cm, fmt={1.0: "m1 = 1"}, fontsize=8)
ax.set_xlabel(header[0])
ax.set_ylabel(header[1])
ax.set_title(f"timescale ξ ({path.rsplit('/', 1)[-1]})")
fig.tight_layout()
fig.savefig(out, dpi=90)
print(f"wrote {out}")
