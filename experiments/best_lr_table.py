#!/usr/bin/env python3
"""The inits at their own best learning rate (docs/experiments.md, E15–E17): one Markdown table
from the results of several sweeps, grouped by (task length, cell, init, lr) with the seeds
pooled. Steps to 50 / 80 / 90 % validation accuracy are medians over seeds (a seed that never
reached a threshold counts as beyond the run; "—" when the median seed did not reach it), each
seed's value in brackets; "fell back": seeds whose validation accuracy left chance (≥ 0.3) and
ended below 0.2.

    python3 experiments/best_lr_table.py experiments/results/e15_best_lr_t1000 \\
        experiments/results/e15_seeds experiments/results/e16_chrono_tmax [--csv OUT.csv]
"""
import argparse, csv, json, math, os, statistics, sys


def steps_to(curve, t):
    return next((s for s, a, _ in curve if a is not None and a >= t), None)


def init_name(init, spec=None):
    """An init by what it is: critical_v2_lstm_t1000.json → "critical v2, uniform τ" (E20–E29's
    v2; critical_v2_loguniform_* is today's v2). The critical names by the spec the run drew
    (`spec`, the results line's), so that one design gets one name: "critical" was v1's solved
    point before it named v2 for the gated cells."""
    if init in ("critical", "critical-v1", "critical-v2") and spec is not None:
        ts = spec.get("timescales")
        if ts is None:
            return "critical (v1)"
        return "critical v2, log-uniform τ" if ts.get("dist") == "log-uniform" \
            else "critical v2, uniform τ"
    b = os.path.basename(init)
    if not b.endswith(".json"):
        return init
    if b.startswith("critical_v2_loguniform"):
        return "critical v2, log-uniform τ"
    if b.endswith("_glorot_content_input.json"):
        return "critical v2, content ν at Glorot scale"
    if b.endswith("_shared_content_recurrent.json"):
        return "critical v2, content σ at the gates' share"
    if b.startswith("critical_v2"):
        return "critical v2, uniform τ"
    return b


def task_name(p):
    t = p.get("task", "")
    return t + (f" (permuted {p['permute']})" if p.get("permute") is not None else "")


def runs(dirs):
    """(parameters, result) of every run of the sweeps in `dirs` (sweep.json's base under each
    run's grid point)."""
    for d in dirs:
        base = json.load(open(os.path.join(d, "sweep.json")))["base"]
        path = os.path.join(d, "results.jsonl")
        if not os.path.exists(path):
            sys.exit(f"{d}: no results.jsonl")
        for line in open(path):
            if line.strip():
                r = json.loads(line)
                yield dict(base, **r["params"]), r


def median_steps(xs):
    ys = sorted(math.inf if x is None else x for x in xs)
    n = len(ys)
    m = ys[(n - 1) // 2] if n % 2 else 0.5 * (ys[n // 2 - 1] + ys[n // 2])
    return None if math.isinf(m) else m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--csv")
    a = ap.parse_args()
    groups = {}
    for p, r in runs(a.dirs):
        key = (task_name(p), r["seq_len"], p["cell"], init_name(p["init"], r.get("spec")), p["lr"])
        groups.setdefault(key, []).append((p.get("seed", 0), r))
    rows = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda x: x[0])
        row = {"task": key[0], "T": key[1], "cell": key[2], "init": key[3], "lr": key[4],
               "seeds": " ".join(str(s) for s, _ in members)}
        for t in (0.5, 0.8, 0.9):
            each = [steps_to(r["curve"], t) for _, r in members]
            m = median_steps(each)
            row[f"to_{int(t * 100)}"] = ("—" if m is None else f"{m:.0f}") + (
                " (" + ", ".join("—" if e is None else str(e) for e in each) + ")" if len(each) > 1 else "")
        tests = [r["final_test_acc"] for _, r in members if r.get("final_test_acc") is not None]
        row["test"] = f"{100 * statistics.median(tests):.1f} %" if tests else "—"
        row["fell_back"] = sum(1 for _, r in members
                               if max(a for _, a, _ in r["curve"]) >= 0.3 and r["curve"][-1][1] < 0.2)
        row["minutes"] = f"{statistics.median(r['seconds'] for _, r in members) / 60:.1f}"
        rows.append(row)
    cols = ["task", "T", "cell", "init", "lr", "seeds", "to_50", "to_80", "to_90", "test", "fell_back", "minutes"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
