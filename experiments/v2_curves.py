#!/usr/bin/env python3
"""Validation curves of critical init v2, chrono and critical-v1 (the solved init) at lr 4e-3
(docs/experiments.md, E20–E37): one panel per (task, cell), each seed a thin line, the median
over seeds a thick one.

    python3 experiments/v2_curves.py -o docs/figures/experiments/e20_e29_v2_curves.png \\
        experiments/results/e15_best_lr_t1000 experiments/results/e15_seeds \\
        experiments/results/e17_t3000_best_lr experiments/results/e18_lstm_t3000_seeds \\
        experiments/results/e19_gru_t3000 experiments/results/e2[0-57-9]_*/
"""
import argparse, json, os, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from best_lr_table import init_name, runs, task_name  # noqa: E402

COLORS = {"critical v2, uniform τ": "C0", "chrono": "C1", "critical (v1)": "C2",
          "critical v2, log-uniform τ": "C4"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--lr", type=float, default=0.004)
    ap.add_argument("--max-steps", type=int, default=3000)
    a = ap.parse_args()
    panels = {}
    for p, r in runs(a.dirs):
        if abs(p["lr"] - a.lr) > 1e-12 or p["steps"] > a.max_steps:
            continue
        name = init_name(p["init"], r.get("spec"))
        if name not in COLORS:
            continue
        key = (task_name(p), r["seq_len"], p["cell"])
        panels.setdefault(key, {}).setdefault(name, []).append(r["curve"])
    keys = sorted(panels, key=lambda k: (k[0] != "mnist-padded", k[0], k[1], k[2]))
    cols = 2
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.2 * rows), squeeze=False, sharey=True)
    for ax, key in zip(axes.flat, keys):
        for name, curves in sorted(panels[key].items()):
            for c in curves:
                ax.plot([s for s, *_ in c], [v for _, v, *_ in c], color=COLORS[name], lw=0.6, alpha=0.4)
            n = min(len(c) for c in curves)
            med = np.median(np.array([[v for _, v, *_ in c[:n]] for c in curves]), axis=0)
            ax.plot([s for s, *_ in curves[0][:n]], med, color=COLORS[name], lw=2,
                    label=f"{name} ({len(curves)} seed{'s' if len(curves) > 1 else ''})")
        ax.axhline(0.8, color="grey", lw=0.5, ls=":")
        task, T, cell = key
        ax.set_title(f"{task}, T = {T}, {cell.upper()} (nn.GRU reset-after)" if cell == "gru"
                     else f"{task}, T = {T}, {cell.upper()}", fontsize=10)
        ax.set_xlabel("training step (batch 32)")
        ax.set_ylabel("validation accuracy")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="lower right")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(f"Critical init v2 against chrono and critical-v1, Adam lr {a.lr:g}, N = 64 "
                 "(thin: each seed; thick: median; dotted: 80 %)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.985))  # room for the title above the top panels
    fig.savefig(a.out, dpi=110)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
