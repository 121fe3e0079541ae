"""Report of a sweep (rnnmft report DIR -o OUT; docs/experiments.md §Reports).

Reads DIR/results.jsonl and DIR/sweep.json, and OUT/phase_index.json with the theory's ξ on
fine grids (written by `rnnmft report` before it runs this script). Writes into OUT:
  runs.csv        one row per run (pandas: pd.read_csv), steps to 50/80/90 % validation accuracy,
                  the best validation accuracy and whether the run fell back to chance
  summary.csv     per setting (all parameters but the seed): seeds, medians, min, max
  report.md       the tables and the figures below
  curves.png      validation accuracy vs step, mean and min-max over seeds (runs with curves)
  heatmap*.png    accuracy over two spec parameters with the ξ = T and ξ = T/4 contours
  agreement.png   fraction of cells where "trained" equals "ξ ≥ T/c", against c
Run with Debian's /usr/bin/python3 (matplotlib, numpy).
"""
import contextlib
import csv
import json
import math
import os
import statistics
import sys
import tempfile

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: E402
    import numpy as np  # noqa: E402
except ImportError as e:  # exit status 3: rnnmft report names what python needs
    print(f"rnnmft report: {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)

THRESHOLDS = (0.5, 0.8, 0.9)
# Every task has 10 classes: a network that learned nothing has cross-entropy ln 10. A common
# training loss within CHANCE_NOISE of it (the spread of a loss averaged over log_every batches)
# is no basis for comparing generalization.
CHANCE_LOSS = math.log(10)
CHANCE_NOISE = 0.05
# The range of c searched for the agreement of "trained" with "ξ ≥ T/c".
C_RANGE = (0.1, 1000.0)


def die(msg):
    print(f"rnnmft report: error: {msg}", file=sys.stderr)
    sys.exit(1)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()


@contextlib.contextmanager
def replacing(path, mode="w", **kw):
    """Opens a temporary file beside `path` that replaces it once written whole: a failed write
    (a full disk) leaves the file that was there, never a truncated one, and ends the report with
    one message naming the file and the OS error."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".",
                                   prefix=f".{os.path.basename(path)}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp's 0600 is not what open() would have made
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())  # ENOSPC may only show when the data reach the disk
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        die(f"cannot write {path}: {e.strerror or e}")
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def save_fig(fig, path):
    with replacing(path, "wb") as fh:
        fig.savefig(fh, format=os.path.splitext(path)[1][1:], dpi=110)
    plt.close(fig)


def load(sweep_dir):
    spec_path = os.path.join(sweep_dir, "sweep.json")
    res_path = os.path.join(sweep_dir, "results.jsonl")
    with open(spec_path) as f:
        spec = json.load(f)
    runs = []
    with open(res_path) as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError as e:
            if n == len(lines):  # cut off by a crash: the next sweep start drops it
                continue
            die(f"{res_path}:{n}: not JSON ({e})")
    return spec, runs


def load_predictions(sweep_dir):
    """`rnnmft trainability --sweep DIR` writes DIR/trainability.jsonl: run id → its probe and
    prediction (docs/theory.md §12). None when it has not been run."""
    path = os.path.join(sweep_dir, "trainability.jsonl")
    if not os.path.exists(path):
        return None
    pred = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                j = json.loads(line)
                pred[j["run"]] = j["probe"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                die(f"{path}:{n}: not a trainability line ({e})")
    return pred


def steps_to(curve, thr):
    for step, acc, _ in curve:
        if acc is not None and acc >= thr:
            return step
    return None


def fmt_num(x, digits=4):
    if x is None:
        return "—"
    if isinstance(x, float):
        if math.isinf(x):
            return "∞"
        return f"{x:.{digits}g}"
    return str(x)


def key_of(params, drop):
    return tuple((k, json.dumps(v)) for k, v in params.items() if k not in drop)


def label_of(key):
    return ", ".join(f"{k}={json.loads(v)}" for k, v in key) or "all runs"


# A run "fell back to chance" when its validation accuracy left chance (reached LEFT_CHANCE)
# and its last validation is back below BACK_AT_CHANCE (10 classes: chance is 0.10–0.13).
LEFT_CHANCE, BACK_AT_CHANCE = 0.3, 0.2


def fell_back(curve):
    accs = [a for _, a, _ in curve if a is not None]
    return bool(accs) and max(accs) >= LEFT_CHANCE and accs[-1] < BACK_AT_CHANCE


def median_steps(values):
    """Median of steps-to-threshold, a run that never reached it counting as beyond every
    step; None when the median run did not reach it."""
    xs = sorted(v if v is not None else math.inf for v in values)
    m = xs[(len(xs) - 1) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])
    return None if math.isinf(m) else m


def write_tables(out, axes, runs, seed_axis):
    cols = ["run"] + axes + ["cell", "seq_len", "xi", "chi", "m1", "final_test_acc",
                             "final_val_acc", "final_train_loss", "diverged", "steps",
                             "seconds"] + [f"steps_to_{int(t * 100)}" for t in THRESHOLDS] + [
                                 "best_val_acc", "fell_back"]
    rows = []
    for r in runs:
        row = {"run": r["run"]}
        for a in axes:
            v = r["params"].get(a)
            row[a] = json.dumps(v) if isinstance(v, dict) else v
        for c in ("cell", "seq_len", "chi", "m1", "final_test_acc", "final_val_acc",
                  "final_train_loss", "diverged", "steps", "seconds"):
            row[c] = r.get(c)
        row["xi"] = math.inf if r.get("xi_infinite") else r.get("xi")
        for t in THRESHOLDS:
            row[f"steps_to_{int(t * 100)}"] = steps_to(r.get("curve", []), t)
        accs = [a for _, a, _ in r.get("curve", []) if a is not None]
        row["best_val_acc"] = max(accs) if accs else None
        row["fell_back"] = fell_back(r.get("curve", []))
        rows.append(row)
    with replacing(os.path.join(out, "runs.csv"), newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})

    # Per setting: every parameter but the seed.
    groups = {}
    for r, row in zip(runs, rows):
        groups.setdefault(key_of(r["params"], {seed_axis}), []).append(row)
    summary = []
    for key, rs in groups.items():
        accs = [x["final_test_acc"] for x in rs if x["final_test_acc"] is not None]
        s = {"setting": label_of(key), "seeds": len(rs),
             "diverged": sum(1 for x in rs if x["diverged"]),
             "median_test_acc": statistics.median(accs) if accs else None,
             "min_test_acc": min(accs) if accs else None,
             "max_test_acc": max(accs) if accs else None,
             "xi": rs[0]["xi"], "seq_len": rs[0]["seq_len"],
             "steps": rs[0]["steps"], "fell_back": sum(1 for x in rs if x["fell_back"])}
        for t in THRESHOLDS:
            k = int(t * 100)
            s[f"median_steps_to_{k}"] = median_steps([x[f"steps_to_{k}"] for x in rs])
            s[f"reached_{k}"] = sum(1 for x in rs if x[f"steps_to_{k}"] is not None)
        summary.append(s)
    with replacing(os.path.join(out, "summary.csv"), newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(summary[0].keys()))
        w.writeheader()
        for s in summary:
            w.writerow({k: ("" if v is None else v) for k, v in s.items()})
    return rows, summary


def task_of(spec, r):
    """The run's task and length, as a title names them: "mnist-padded, T = 1000"."""
    task = r["params"].get("task", spec.get("base", {}).get("task", "?"))
    return f"{task}, T = {r.get('seq_len', '?')}"


def plot_curves(out, runs, seed_axis, curve_axis, spec):
    """One panel per setting of the axes other than `curve_axis` and the seed; one line per
    value of `curve_axis`, the mean over seeds with the min-max band."""
    panels, titles = {}, {}
    for r in runs:
        if not r.get("curve"):
            continue
        pk = key_of(r["params"], {seed_axis, curve_axis})
        lk = json.dumps(r["params"].get(curve_axis))
        panels.setdefault(pk, {}).setdefault(lk, []).append(r["curve"])
        titles.setdefault(pk, set()).add(task_of(spec, r))
    if not panels:
        return None
    n = len(panels)
    ncol = min(n, 3)
    nrow = (n + ncol - 1) // ncol
    fig, axs = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.6 * nrow), squeeze=False)
    for ax, (pk, lines) in zip(axs.flat, panels.items()):
        for lk, curves in lines.items():
            steps = sorted({c[0] for cv in curves for c in cv})
            m = np.full((len(curves), len(steps)), np.nan)
            for i, cv in enumerate(curves):
                d = {c[0]: c[1] for c in cv}
                for j, s in enumerate(steps):
                    if s in d and d[s] is not None:
                        m[i, j] = d[s]
            mean = np.nanmean(m, axis=0)
            line, = ax.plot(steps, mean, label=f"{json.loads(lk)} ({len(curves)})")
            if len(curves) > 1:
                ax.fill_between(steps, np.nanmin(m, axis=0), np.nanmax(m, axis=0),
                                color=line.get_color(), alpha=0.2)
        ax.set_title(f"{'; '.join(sorted(titles[pk]))}\n{label_of(pk)}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("validation accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title=curve_axis, title_fontsize=8)
    for ax in list(axs.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    save_fig(fig, os.path.join(out, "curves.png"))
    return "curves.png"


def heatmaps(out, runs, xa, ya, seed_axis, threshold, metric, spec, pred=None):
    """Accuracy over the two spec axes (mean over seeds), one figure per setting of the other
    axes, with the theory's ξ = T and ξ = T/4 contours; returns figures and agreement data."""
    index_path = os.path.join(out, "phase_index.json")
    phase = json.load(open(index_path)) if os.path.exists(index_path) else []
    groups = {}
    for r in runs:
        groups.setdefault(key_of(r["params"], {seed_axis, xa, ya}), []).append(r)
    figs, cells = [], []
    for gi, (gk, rs) in enumerate(groups.items()):
        xs = sorted({r["params"][xa] for r in rs})
        ys = sorted({r["params"][ya] for r in rs})
        acc = np.full((len(ys), len(xs)), np.nan)
        for iy, y in enumerate(ys):
            for ix, x in enumerate(xs):
                vals = [r[metric] if r[metric] is not None else 0.0 for r in rs
                        if r["params"][xa] == x and r["params"][ya] == y]
                if vals:
                    acc[iy, ix] = float(np.mean(vals))
                    one = next(r for r in rs if r["params"][xa] == x and r["params"][ya] == y)
                    xi = math.inf if one.get("xi_infinite") else one.get("xi")
                    cells.append({"xi": xi, "T": one["seq_len"], "acc": acc[iy, ix]})
        fig, ax = plt.subplots(figsize=(6, 5))

        def edges(v, param):
            """Cell edges around the grid values: halfway between neighbours, half a step
            beyond the ends, but never below 0 for a standard deviation."""
            v = np.asarray(v, float)
            if len(v) == 1:
                e = np.array([v[0] - 0.5, v[0] + 0.5])
            else:
                mid = 0.5 * (v[1:] + v[:-1])
                e = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
            if param.endswith("_std"):
                e[0] = max(e[0], 0.0)
            return e

        ex, ey = edges(xs, xa), edges(ys, ya)
        pm = ax.pcolormesh(ex, ey, acc, cmap="viridis", vmin=0, vmax=1, shading="flat")
        marks = []
        if pred:  # the frozen rule's prediction per run: ○ trainable, × not (majority of seeds)
            for iy, y in enumerate(ys):
                for ix, x in enumerate(xs):
                    ps = [pred[r["run"]]["trainable"] for r in rs if r["run"] in pred
                          and r["params"][xa] == x and r["params"][ya] == y]
                    if ps:
                        marks.append((x, y, sum(ps) * 2 >= len(ps)))
            for ok, m, col in ((True, "o", "white"), (False, "x", "red")):
                pts = [(x, y) for x, y, o in marks if o == ok]
                if pts:
                    ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=m,
                               facecolors="none" if m == "o" else col, edgecolors=col,
                               s=28 if len(xs) * len(ys) <= 100 else 10, linewidths=1.2)
        fig.colorbar(pm, ax=ax, label=metric.replace("_", " ") + " (mean over seeds)")
        if len(xs) <= 12:
            ax.set_xticks(xs)
        if len(ys) <= 12:
            ax.set_yticks(ys)
        ax.set_xlim(ex[0], ex[-1])
        ax.set_ylim(ey[0], ey[-1])
        T = rs[0]["seq_len"]
        ph = next((p for p in phase if p["group"] == dict((k, json.loads(v)) for k, v in gk)),
                  None)
        if ph and len(xs) > 1 and len(ys) > 1:
            data = np.genfromtxt(os.path.join(out, ph["file"]), delimiter=",", names=True)
            px = np.unique(data["x"])
            py = np.unique(data["y"])
            xi = np.where(np.isnan(data["xi"]), 1e12, data["xi"]).reshape(len(py), len(px))
            lxi = np.log10(np.maximum(xi, 1e-3))
            # The side where ξ ≥ T is hatched, the lines are named in a legend (not written on
            # them, where a label in the line's own colour cannot be read).
            from matplotlib.lines import Line2D
            from matplotlib.patches import Patch
            if np.nanmax(lxi) >= math.log10(T):
                ax.contourf(px, py, lxi, levels=[math.log10(T), np.inf], colors="none",
                            hatches=["///"])
            lmin, lmax = np.nanmin(lxi), np.nanmax(lxi)
            if lmin < math.log10(T / 4) < lmax:
                ax.contour(px, py, lxi, levels=[math.log10(T / 4)], colors=["orange"],
                           linestyles=["--"], linewidths=1.6)
            if lmin < math.log10(T) < lmax:
                ax.contour(px, py, lxi, levels=[math.log10(T)], colors=["red"], linestyles=["-"],
                           linewidths=1.8)
            extra = [Line2D([], [], color="black", marker="o", ls="", mfc="none",
                            label="○ / × predicted trainable / not")] \
                if marks else []
            ax.legend(handles=[
                Line2D([], [], color="red", lw=1.8, label="ξ = T (theory)"),
                Line2D([], [], color="orange", lw=1.6, ls="--", label="ξ = T/4"),
                Patch(facecolor="white", edgecolor="black", hatch="///",
                      label="hatched: ξ ≥ T")] + extra,
                fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.13), ncol=2 if extra else 3,
                frameon=False)
        ax.set_xlabel(xa)
        ax.set_ylabel(ya)
        ax.set_title(f"{task_of(spec, rs[0])}: {label_of(gk)}", fontsize=9)
        fig.tight_layout()
        name = f"heatmap{'' if len(groups) == 1 else '_' + str(gi)}.png"
        save_fig(fig, os.path.join(out, name))
        figs.append((label_of(gk), name))
    # Agreement of "trained" with "ξ ≥ T/c" for c on a log grid.
    cs = np.logspace(math.log10(C_RANGE[0]), math.log10(C_RANGE[1]), 81)
    # Without differences in ξ/T across the cells the prediction is a constant: no agreement.
    ratios = {round(math.log(cl["xi"] / cl["T"]), 6) if cl["xi"] else None for cl in cells}
    if len(ratios) < 2:
        return figs, None, cells
    agree = []
    for c in cs:
        ok = [(cl["acc"] >= threshold) == ((cl["xi"] or 0) >= cl["T"] / c) for cl in cells
              if cl["acc"] == cl["acc"]]
        agree.append(float(np.mean(ok)) if ok else float("nan"))
    best = int(np.nanargmax(agree))
    # At either end of the searched range the best c is wherever the search stopped: c = 0.1
    # predicts that nothing trains (ξ ≥ 10 T), c = 1000 that everything does.
    edge = best in (0, len(cs) - 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.semilogx(cs, agree)
    ax.axvline(cs[best], color="gray", ls=":")
    ax.set_xlabel("c  (predicted trainable: ξ ≥ T/c)")
    ax.set_ylabel("agreement with 'trained'")
    ax.set_title(f"trained: {metric.replace('_', ' ')} ≥ {threshold}; best c = {cs[best]:.3g} "
                 f"({agree[best]:.0%} of {len(cells)} cells)"
                 + ("\nat the edge of the search range: uninformative" if edge else ""),
                 fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_fig(fig, os.path.join(out, "agreement.png"))
    return figs, {"best_c": float(cs[best]), "agreement": agree[best], "cells": len(cells),
                  "agreement_at_c1": agree[int(np.argmin(abs(cs - 1)))],
                  "best_c_at_edge": edge, "c_range": list(C_RANGE)}, cells


def train_curve(sweep_dir, r):
    """[step, train loss, train acc] every log_every steps: from the results line, else from the
    run's log."""
    if r.get("train_curve"):
        return r["train_curve"]
    path = os.path.join(sweep_dir, "runs", r["run"], "log.jsonl")
    out = []
    if os.path.exists(path):
        for line in open(path):
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "loss" in e:
                out.append([e["step"], e["loss"], e["accuracy"]])
    return out


def generalization(sweep_dir, runs, seed_axis, curve_axis):
    """Validation loss and accuracy at equal training loss: for each group of runs (all axes but
    the seed and `curve_axis`), L* is the highest of the runs' lowest training losses, so every
    run reaches it; each run is read at its first validation at or after the step where its
    training loss (mean over log_every steps) fell to L*."""
    groups = {}
    for r in runs:
        groups.setdefault(key_of(r["params"], {seed_axis, curve_axis}), []).append(r)
    rows, at_chance = [], []
    for gk, rs in groups.items():
        tcs = {r["run"]: train_curve(sweep_dir, r) for r in rs}
        if any(not tc for tc in tcs.values()) or any(r.get("diverged") for r in rs):
            continue
        target = max(min(c[1] for c in tc) for tc in tcs.values())
        if target >= CHANCE_LOSS - CHANCE_NOISE:
            # Some run never learned: "equal training loss" would compare untrained networks.
            at_chance.append((label_of(gk), target))
            continue
        per = {}
        for r in rs:
            step = next(c[0] for c in tcs[r["run"]] if c[1] <= target)
            v = next((c for c in r["curve"] if c[0] >= step), None)
            if v is None or v[1] is None or v[2] is None:
                continue
            per.setdefault(json.dumps(r["params"].get(curve_axis)), []).append(
                (step, v[1], v[2] - target))
        for lk, vals in per.items():
            rows.append({"setting": label_of(gk), curve_axis: json.loads(lk),
                         "train_loss": target, "seeds": len(vals),
                         "median_step": statistics.median(v[0] for v in vals),
                         "median_val_acc": statistics.median(v[1] for v in vals),
                         "median_gap": statistics.median(v[2] for v in vals)})
    return rows, at_chance


def prediction_section(runs, pred, threshold, metric, out):
    """Agreement of the frozen trainability rule with "trained", run by run, and where it fails."""
    rows = []
    for r in runs:
        p = pred.get(r["run"])
        if p is None:
            continue
        trained = (r[metric] if r[metric] is not None else 0.0) >= threshold
        rows.append({"run": r["run"], "trained": trained, "predicted": bool(p["trainable"]),
                     "reasons": "; ".join(p.get("reasons", []))})
    if not rows:
        return []
    agree = sum(x["trained"] == x["predicted"] for x in rows)
    fp = sum(x["predicted"] and not x["trained"] for x in rows)
    fn = sum(x["trained"] and not x["predicted"] for x in rows)
    n_trained = sum(x["trained"] for x in rows)
    res = {"runs": len(rows), "agree": agree, "agreement": agree / len(rows), "trained": n_trained,
           "predicted_trainable_not_trained": fp, "trained_predicted_not": fn}
    with replacing(os.path.join(out, "prediction.json")) as fh:
        json.dump(res, fh, indent=2)
    print(f"prediction: trained ({metric} ≥ {threshold}) = predicted trainable (rnnmft "
          f"trainability) in {agree} of {len(rows)} runs ({agree / len(rows):.1%}); "
          f"{fp} predicted trainable did not train, {fn} trained against the prediction")
    note = ("" if 0 < n_trained < len(rows) else
            f" **{'No' if n_trained == 0 else 'Every'} run trained: the agreement cannot tell "
            f"the rule from a constant guess.**")
    return ["## Predicted trainability (`rnnmft trainability`, docs/theory.md §12)", "",
            f"The frozen rule agrees with \"trained\" ({metric} ≥ {threshold}) in {agree} of "
            f"{len(rows)} runs ({agree / len(rows):.1%}): {fp} predicted trainable did not "
            f"train, {fn} trained although predicted not.{note} On the heatmap: ○ predicted "
            f"trainable, × not.", ""]


def md_table(rows, cols):
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(fmt_num(r.get(c)) for c in cols) + " |")
    return "\n".join(out)


def main():
    if len(sys.argv) != 5:
        die("usage: report.py SWEEP_DIR OUT THRESHOLD METRIC")
    sweep_dir, out, threshold, metric = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    spec, runs = load(sweep_dir)
    if not runs:
        die(f"{sweep_dir}/results.jsonl has no finished runs yet")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        die(f"cannot create {out}: {e.strerror or e}")
    axes = list(spec["grid"].keys())

    def grid_order(r):  # the sweep's order (first axis slowest), not the finishing order
        idx = []
        for a in axes:
            vals = [json.dumps(v, sort_keys=True) for v in spec["grid"][a]]
            v = json.dumps(r["params"].get(a), sort_keys=True)
            idx.append(vals.index(v) if v in vals else len(vals))
        return idx

    runs = list({r["run"]: r for r in runs}.values())  # one line per run
    runs.sort(key=grid_order)
    seed_axis = "seed"
    spec_axes = [a for a in axes if "." in a]
    rows, summary = write_tables(out, axes, runs, seed_axis)
    pred = load_predictions(sweep_dir)
    md = [f"# Sweep report: {spec.get('name') or os.path.basename(os.path.abspath(sweep_dir))}",
          ""]
    if spec.get("description"):
        md += [spec["description"], ""]
    total = 1
    for a in axes:
        total *= len(spec["grid"][a])
    md += [f"{len(runs)} of {total} runs finished. Steps to a threshold are the first validation "
           f"at or above it (validation every `eval_every` steps); — means the median seed did "
           f"not reach it within the run's steps; reached_X counts the seeds that did; fell_back "
           f"counts the seeds whose validation accuracy left chance (≥ {LEFT_CHANCE}) and ended "
           f"below {BACK_AT_CHANCE}. Tables: `runs.csv`, `summary.csv`.", ""]
    scol = ["setting", "seeds", "diverged", "median_test_acc", "min_test_acc", "max_test_acc",
            "xi", "steps"] + [f"median_steps_to_{int(t * 100)}" for t in THRESHOLDS] + [
                f"reached_{int(t * 100)}" for t in THRESHOLDS] + ["fell_back"]
    md += ["## Per setting (median over seeds)", "", md_table(summary, scol), ""]
    other = [a for a in axes if a != seed_axis and a not in spec_axes]
    curve_axis = "init" if "init" in axes else (other[0] if other else None)
    if curve_axis and any(r.get("curve") for r in runs):
        f = plot_curves(out, runs, seed_axis, curve_axis, spec)
        if f:
            md += ["## Learning curves", "", f"![learning curves]({f})", ""]
        gen, at_chance = generalization(sweep_dir, runs, seed_axis, curve_axis)
        if at_chance:
            md += ["## Generalization at equal training loss", "",
                   "Skipped for " + "; ".join(
                       f"{label} (the common training loss {loss:.4g} is at chance, ln 10 = "
                       f"{CHANCE_LOSS:.4g}: a run of the group never learned)"
                       for label, loss in at_chance) + ".", ""]
            print("generalization at equal training loss: skipped for "
                  f"{len(at_chance)} group(s) whose common training loss is at chance "
                  f"(ln 10 = {CHANCE_LOSS:.4g})")
        if gen:
            with replacing(os.path.join(out, "generalization.csv"), newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(gen[0].keys()))
                w.writeheader()
                w.writerows(gen)
            md += ["## Generalization at equal training loss" + (" (other groups)" if at_chance else ""), "",
                   "Each run read at its first validation after its training loss (mean over "
                   "`log_every` steps) fell to `train_loss`, the highest of the group's lowest "
                   "training losses; gap = validation loss − training loss. Table: "
                   "`generalization.csv`.", "",
                   md_table(gen, ["setting", curve_axis, "train_loss", "seeds", "median_step",
                                  "median_val_acc", "median_gap"]), ""]
    if len(spec_axes) == 2:
        figs, ag, ag_cells = heatmaps(out, runs, spec_axes[0], spec_axes[1], seed_axis, threshold,
                                      metric, spec, pred)
        md += ["## Trainability and the timescale ξ", ""]
        for label, f in figs:
            md += [f"![{label}]({f})", ""]
        trained = sum(1 for c in ag_cells if c["acc"] >= threshold)
        if ag is None:
            md += ["No agreement of \"trained\" with \"ξ ≥ T/c\": the theory's ξ is the same "
                   "in every cell of the grid (neither axis changes it), so the prediction is a "
                   "constant.", ""]
            print("agreement: none (the theory's ξ does not change across the grid)")
        elif trained in (0, len(ag_cells)):
            md += [f"**{'No' if trained == 0 else 'Every'} run reached {metric} ≥ {threshold}: "
                   f"the agreement below cannot tell the theory's boundary from a constant "
                   f"guess.**", ""]
        if ag is not None:
            edge = (f" — at the edge of the search range ({C_RANGE[0]:g} to {C_RANGE[1]:g}): "
                    f"uninformative" if ag["best_c_at_edge"] else "")
            md += [f"Trained: {metric} ≥ {threshold}. Predicted trainable: ξ ≥ T/c. Agreement "
                   f"at c = 1: {ag['agreement_at_c1']:.0%}; best c = {ag['best_c']:.3g} with "
                   f"{ag['agreement']:.0%} of {ag['cells']} cells{edge}.", "",
                   "![agreement](agreement.png)", ""]
            with replacing(os.path.join(out, "agreement.json")) as fh:
                json.dump(ag, fh, indent=2)
            print(f"agreement: trained ({metric} ≥ {threshold}) = (ξ ≥ T/c) in "
                  f"{ag['agreement']:.0%} of {ag['cells']} cells at the best c = "
                  f"{ag['best_c']:.3g}{edge} ({ag['agreement_at_c1']:.0%} at c = 1)")
    if pred is not None:
        md += prediction_section(runs, pred, threshold, metric, out)
    rcol = ["run"] + axes + ["xi", "final_test_acc", "final_val_acc", "final_train_loss",
                             "diverged"] + [f"steps_to_{int(t * 100)}" for t in THRESHOLDS]
    md += ["## Runs", "", md_table(rows, rcol), ""]
    with replacing(os.path.join(out, "report.md")) as fh:
        fh.write("\n".join(md))
    print(f"wrote {os.path.join(out, 'report.md')} ({len(runs)} runs)")


if __name__ == "__main__":
    main()
