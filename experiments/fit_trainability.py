#!/usr/bin/env python3
"""Fit the trainability rule's constants (docs/theory.md §12.5) on the fitting grids, once.

usage: fit_trainability.py THRESHOLDS_JSON FIT_DIR... [--holdout DIR...]

Each DIR is a sweep directory holding results.jsonl and trainability.jsonl (`rnnmft trainability
--sweep DIR`). The rule: trainable ⇔ L_min ≤ ln G ≤ L_max, the standard deviation of the per-sequence
ln G ≤ σ_max, slope ≥ s_min and (LSTM) max |Δc_T|/δ ≤ d_max. The constants maximise the mean over the fitting grids of each grid's agreement with
"trained" (final_test_acc ≥ the grid's report.threshold), ties broken towards the middle of the
interval of equally good values; they are written to THRESHOLDS_JSON and the agreement on every
grid is printed.
"""
import json
import math
import os
import sys


def load(d):
    spec = json.load(open(os.path.join(d, "sweep.json")))
    thr = (spec.get("report") or {}).get("threshold", 0.5)
    rows = []
    for line in open(os.path.join(d, "trainability.jsonl")):
        if not line.strip():
            continue
        j = json.loads(line)
        p = j["probe"]
        lg = p["log_gain"]
        if lg is None:
            lg = math.inf if p.get("log_gain_infinite", 0) > 0 else -math.inf
        rows.append({"run": j["run"], "acc": j["final_test_acc"] or 0.0, "thr": thr,
                     "trained": (j["final_test_acc"] or 0.0) >= thr, "lg": lg,
                     "slope": p["slope"], "dc": p.get("max_dc"),
                     "sd": p["log_gain_sd"] if p["log_gain_sd"] is not None else math.inf,
                     "pred": p["trainable"]})
    # The untied theory's ξ/T, for comparison (the results lines carry ξ and T).
    xi = {}
    for line in open(os.path.join(d, "results.jsonl")):
        if line.strip():
            r = json.loads(line)
            xi[r["run"]] = (math.inf if r.get("xi_infinite") else (r.get("xi") or 0.0)) / r["seq_len"]
    for r in rows:
        r["xi_over_T"] = xi[r["run"]]
    return rows


def xi_agreement(rows, c):
    """Agreement of "trained" with the untied theory's "ξ ≥ T/c"."""
    return sum((r["xi_over_T"] >= 1 / c) == r["trained"] for r in rows) / len(rows)


def predict(r, c):
    ok = (c["min_log_gain"] <= r["lg"] <= c["max_log_gain"] and r["slope"] >= c["min_slope"]
          and r["sd"] <= c["max_log_gain_sd"])
    if r["dc"] is not None:
        ok = ok and r["dc"] <= c["max_dc"]
    return ok


def agreement(rows, c):
    return sum(predict(r, c) == r["trained"] for r in rows) / len(rows)


def middle(values, score):
    """The value in the middle of the longest run of best scores."""
    best = max(score)
    runs, cur = [], []
    for v, s in zip(values, score):
        if s == best:
            cur.append(v)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    run = max(runs, key=len)
    return run[len(run) // 2], best


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    out = args[0]
    hold = args.index("--holdout") if "--holdout" in args else len(args)
    fit_dirs, hold_dirs = args[1:hold], args[hold + 1:]
    fit = {d: load(d) for d in fit_dirs}
    grids = {
        "min_log_gain": [-x for x in range(0, 61)],
        "max_log_gain": [round(x * 0.5, 10) for x in range(0, 41)],
        "min_slope": [round(x * 0.005, 10) for x in range(0, 61)],
        "max_dc": [round(10 ** (x / 10), 6) for x in range(0, 41)],
        "max_log_gain_sd": [round(x * 0.1, 10) for x in range(0, 101)],
    }
    c = {"min_log_gain": -20.0, "max_log_gain": 10.0, "min_slope": 0.0, "max_dc": 1e4,
         "max_log_gain_sd": 10.0}
    # Coordinate ascent from a permissive start, three sweeps (the score is a step function).
    for _ in range(3):
        for k, vals in grids.items():
            score = []
            for v in vals:
                c2 = dict(c, **{k: v})
                score.append(sum(agreement(rows, c2) for rows in fit.values()) / len(fit))
            c[k], _ = middle(vals, score)
    # The baseline held to the same standard: "ξ ≥ T/c" with c fitted on the same grids.
    cs = [10 ** (k / 40) for k in range(-40, 121)]
    c_xi, best_xi = middle(cs, [sum(xi_agreement(rows, cc) for rows in fit.values()) / len(fit)
                                for cc in cs])
    with open(out, "w") as fh:
        json.dump({"constants": c, "fitted_on": [os.path.basename(os.path.normpath(d)) for d in fit_dirs],
                   "baseline_xi_c": c_xi}, fh, indent=2)
        fh.write("\n")
    print("constants:", json.dumps(c))
    print(f"baseline: trained ⇔ ξ ≥ T/c, c = {c_xi:.3g} fitted on the same grids "
          f"(mean agreement {best_xi:.1%})")
    for name, dirs in (("fitting", fit_dirs), ("held out", hold_dirs)):
        for d in dirs:
            rows = load(d)
            n_tr = sum(r["trained"] for r in rows)
            miss = [r for r in rows if predict(r, c) != r["trained"]]
            near = sum(abs(r["acc"] - r["thr"]) < 0.05 for r in miss)
            print(f"{name:9} {os.path.basename(os.path.normpath(d)):28} runs {len(rows):3d} trained "
                  f"{n_tr:3d}  agreement {agreement(rows, c):.1%} (ξ ≥ T: "
                  f"{xi_agreement(rows, 1):.1%}, ξ ≥ T/{c_xi:.3g}: {xi_agreement(rows, c_xi):.1%}); "
                  f"{len(miss)} wrong, {near} of them within 0.05 of the threshold")


if __name__ == "__main__":
    main()
