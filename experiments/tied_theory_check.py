#!/usr/bin/env python3
"""The mean-field theory of the tied network on the task's inputs (docs/theory.md §12.6) against
the tied network itself (the probe: 4 networks of width 512), at the critical specs `rnnmft critical` solves
for padded rows at T = 1000 and at three points of each grid (its first, middle and last run).

    python3 experiments/tied_theory_check.py [--rnnmft build/rnnmft] [--out DIR]

Writes DIR/tied_theory_check.csv (one row per point and part) and prints, per point, how many
parts are within 10 % and which are not. Reads experiments/results/*/results.jsonl (the specs
the runs trained with) and needs the MNIST data (RNNMFT_DATA_DIR)."""
import argparse, csv, json, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
GRIDS = ["e1_lstm_heatmap_t100", "e2_gru_heatmap", "e11_gru_heatmap_gpu", "e12_lstm_input_forget",
         "e13_gru_reset_after", "e14_lstm_pixel"]


def task_flags(base, line):
    f = ["--task", base["task"], "--seq-len", str(line["seq_len"])]
    if "unit" in base:
        f += ["--unit", base["unit"]]
    return f


def run(rnnmft, spec_path, flags, width, networks, units):
    cmd = [rnnmft, "trainability", "--init", spec_path, "--width", str(width), "--networks",
           str(networks), "--theory", "--units", str(units), "--json"] + flags
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rnnmft", default=os.path.join(HERE, "..", "build", "rnnmft"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--networks", type=int, default=4)
    ap.add_argument("--units", type=int, default=8192)
    a = ap.parse_args()
    points = []  # (name, spec json, task flags, gru variant)
    tmp = tempfile.mkdtemp()
    for cell, extra in (("lstm", []), ("gru", ["--gru-variant", "reset-after"])):
        path = os.path.join(tmp, f"critical_{cell}.json")
        subprocess.run([a.rnnmft, "critical", "--cell", cell, "--task", "mnist-padded", "--unit", "row",
                        "--seq-len", "1000", "--hidden", "64", "-o", path] + extra,
                       check=True, capture_output=True)
        points.append((f"critical {cell} T=1000", path,
                       ["--task", "mnist-padded", "--unit", "row", "--seq-len", "1000"] + extra))
    for g in GRIDS:
        d = os.path.join(HERE, "results", g)
        sweep = json.load(open(os.path.join(d, "sweep.json")))
        base = sweep["base"]
        lines = [json.loads(l) for l in open(os.path.join(d, "results.jsonl")) if l.strip()]
        lines.sort(key=lambda l: json.dumps(l["params"], sort_keys=True))
        for l in (lines[0], lines[len(lines) // 2], lines[-1]):
            path = os.path.join(tmp, f"{g}_{l['run']}.json")
            json.dump(l["spec"], open(path, "w"))
            flags = task_flags(base, l)
            if l["spec"]["cell"] == "gru":
                flags += ["--gru-variant", base.get("gru_variant", "reset-after")]
            points.append((f"{g} {json.dumps(l['params'], sort_keys=True)}", path, flags))
    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, "tied_theory_check.csv")
    rows, t0 = [], time.time()
    for name, path, flags in points:
        j = run(a.rnnmft, path, flags, a.width, a.networks, a.units)
        th = j["theory"]
        def say(p):
            return f"{p['part']} {100 * p['error']:.0f} %" if p["error"] is not None else p["part"]
        off = [say(p) for p in th["parts"] if p["verdict"] == "off"]
        unsure = [say(p) for p in th["parts"] if p["verdict"] == "inconclusive"]
        print(f"{name}: {th['within']} of {th['of']} parts within 10 %"
              + (f"; inconclusive: {', '.join(unsure)}" if unsure else "")
              + (f"; off: {', '.join(off)}" if off else ""), flush=True)
        for p in th["parts"]:
            rows.append({"point": name, "part": p["part"], "theory": p["theory"],
                         "network": p["network"], "error": p["error"], "noise": p["noise"],
                         "verdict": p["verdict"]})
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    n_in = sum(r["verdict"] == "within" for r in rows)
    n_unsure = sum(r["verdict"] == "inconclusive" for r in rows)
    print(f"{n_in} of {len(rows)} parts within 10 %, {n_unsure} inconclusive, "
          f"{len(rows) - n_in - n_unsure} off, at {len(points)} points ({a.networks} networks of "
          f"width {a.width}, {a.units} units; {time.time() - t0:.0f} s); wrote {out}")


if __name__ == "__main__":
    main()
