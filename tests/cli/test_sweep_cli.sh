#!/usr/bin/env bash
# End-to-end checks of `rnnmft sweep` and `rnnmft report` on real MNIST (tiny networks): the
# results lines, resume after a killed sweep (finished runs not rerun, the interrupted one
# continued from its checkpoint to the uninterrupted result), a changed spec refused, bad specs
# named, and the report on a synthetic results file whose answer is known.
# Usage: test_sweep_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

base='"task": "mnist-padded", "unit": "row", "seq_len": 40, "hidden": 8, "batch": 16, "lr": 0.01,
      "eval_every": 10, "eval_limit": 100, "test_limit": 100, "checkpoint_every": 10'
cat >"$tmp/tiny.json" <<JSON
{"name": "tiny", "base": {$base, "steps": 20, "cell": "gru", "gru_variant": "reset-before"},
 "grid": {"init": ["pytorch", "critical-v1"], "seed": [0, 1]}}
JSON

# 1. A tiny sweep end to end: one line per run, with the fields the report reads.
expect_ok "tiny sweep" "" "$BIN" sweep "$tmp/tiny.json" --out "$tmp/s1" --jobs 2 --quiet
$py - "$tmp/s1/results.jsonl" <<'PY' && ok || bad "results lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 4, len(lines)
assert len({l["run"] for l in lines}) == 4
for l in lines:
    for k in ("run", "params", "spec", "xi", "chi", "m1", "final_test_acc", "final_val_acc",
              "final_train_loss", "diverged", "curve", "seconds", "git"):
        assert k in l, k
    assert l["diverged"] is False
    assert [c[0] for c in l["curve"]] == [10, 20], l["curve"]
    assert 0 <= l["final_test_acc"] <= 1
    # The theory's verdict on the init: the critical spec is designed for xi >= T = 40.
    if l["params"]["init"] == "critical-v1":
        assert l["xi_infinite"] or l["xi"] >= 30, l["xi"]
        assert l["spec"]["designed_for"]["seq_len"] == 40
    else:
        assert l["xi"] < 10, l["xi"]
PY
# Runs that differ only in their seed share one critical-v1 solve.
[ "$(grep -l "critical spec from" "$tmp"/s1/runs/*/output.log | wc -l)" = 1 ] && ok || bad "critical spec not shared"
# A second run of the same command does nothing.
expect_ok "rerun is a no-op" "4 already finished, 0 to do" "$BIN" sweep "$tmp/tiny.json" --out "$tmp/s1"
# --list prints the runs without running them.
[ "$("$BIN" sweep "$tmp/tiny.json" --list | wc -l)" = 4 ] && ok || bad "--list"

# The report of a grid with an init axis: tables, learning curves; 20 steps leave the training
# loss at chance (ln 10), so no generalization at equal training loss.
expect_ok "report of the tiny sweep" "wrote" "$BIN" report "$tmp/s1"
for f in report.md runs.csv summary.csv curves.png; do
  [ -s "$tmp/s1/report/$f" ] && ok || bad "tiny report: missing $f"
done
grep -qF "is at chance" "$tmp/s1/report/report.md" && [ ! -e "$tmp/s1/report/generalization.csv" ] && ok || bad "tiny report: equal training loss at chance"
[ "$(($(wc -l <"$tmp/s1/report/runs.csv") - 1))" = 4 ] && ok || bad "tiny report: runs.csv rows"
[ -e "$tmp/s1/report/heatmap.png" ] && bad "tiny report: a heatmap without two spec axes" || ok

# 2. A changed spec in an existing directory is refused.
sed 's/"steps": 20/"steps": 30/' "$tmp/tiny.json" >"$tmp/tiny2.json"
expect_fail "changed spec" "made from a different spec" "$BIN" sweep "$tmp/tiny2.json" --out "$tmp/s1"

# 3. Resume after a kill. Uninterrupted reference first.
cat >"$tmp/long.json" <<JSON
{"name": "long", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 100, "hidden": 16, "cell": "gru",
  "batch": 16, "lr": 0.01, "steps": 4000, "eval_every": 1000, "eval_limit": 100,
  "test_limit": 100, "checkpoint_every": 50, "log_every": 10},
 "grid": {"seed": [0, 1]}}
JSON
"$BIN" sweep "$tmp/long.json" --out "$tmp/ref" --jobs 1 --quiet || bad "reference sweep"
"$BIN" sweep "$tmp/long.json" --out "$tmp/cut" --jobs 1 --quiet &
pid=$!
second=$("$BIN" sweep "$tmp/long.json" --list | sed -n 2p | cut -d' ' -f1)
# Polled, not timed: a sanitizer build runs 20× slower than a release build.
for _ in $(seq 1 60000); do
  if [ -s "$tmp/cut/results.jsonl" ] && [ -s "$tmp/cut/runs/$second/checkpoint.safetensors" ]; then break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.02
done
# A second sweep on the same directory is refused while the first runs.
expect_fail "concurrent sweep" "another rnnmft sweep is running" "$BIN" sweep "$tmp/long.json" --out "$tmp/cut" --quiet
kill -9 $pid; wait $pid 2>/dev/null
sleep 0.5  # the run process follows its parent (PR_SET_PDEATHSIG)
if [ -e "$tmp/cut/runs/$second/result.json" ]; then
  bad "the second run finished before the kill: the resume check did not test anything"
else ok; fi
[ "$(wc -l <"$tmp/cut/results.jsonl")" = 1 ] && ok || bad "after the kill: not exactly one finished line"
first=$("$BIN" sweep "$tmp/long.json" --list | sed -n 1p | cut -d' ' -f1)
before=$(stat -c %Y.%s "$tmp/cut/runs/$first/result.json")
expect_ok "resume" "1 already finished, 1 to do" "$BIN" sweep "$tmp/long.json" --out "$tmp/cut" --jobs 1
[ "$(stat -c %Y.%s "$tmp/cut/runs/$first/result.json")" = "$before" ] && ok || bad "the finished run was rerun"
grep -q "resuming from its checkpoint" "$tmp/cut/runs/$second/output.log" && ok || bad "the interrupted run did not resume from its checkpoint"
$py - "$tmp/ref/results.jsonl" "$tmp/cut/results.jsonl" <<'PY' && ok || bad "resumed sweep differs from the uninterrupted one"
import json, sys
def load(p):
    return {l["run"]: l for l in map(json.loads, open(p))}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys() and len(a) == 2
for k in a:
    for f in ("final_test_acc", "final_val_acc", "final_train_loss", "curve", "params"):
        assert a[k][f] == b[k][f], (k, f, a[k][f], b[k][f])
    # The theory's LSTM sums run in parallel: equal to rounding.
    assert abs(a[k]["xi"] - b[k]["xi"]) <= 1e-9 * abs(a[k]["xi"]), (a[k]["xi"], b[k]["xi"])
PY

# 3b. A spec-parameter axis overrides that moment of the init: the results carry the moment, and
#     the theory's ξ grows with the keep bias.
cat >"$tmp/param.json" <<JSON
{"name": "param", "base": {$base, "steps": 10, "cell": "gru", "init": "pytorch"},
 "grid": {"update.bias_mean": [0, 4]}}
JSON
expect_ok "spec-parameter sweep" "" "$BIN" sweep "$tmp/param.json" --out "$tmp/param" --quiet
$py - "$tmp/param/results.jsonl" <<'PY' && ok || bad "spec-parameter override"
import json, sys
ls = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda l: l["params"]["update.bias_mean"])
assert [l["spec"]["gates"]["update"]["bias_mean"] for l in ls] == [0.0, 4.0], ls
assert ls[1]["xi"] > 5 * ls[0]["xi"], [l["xi"] for l in ls]
PY
# A gate the cell does not have is named before anything runs.
echo '{"base": {"task": "mnist-row", "cell": "gru"}, "grid": {"forget.bias_mean": [1]}}' >"$tmp/bad7.json"
expect_fail "gate of another cell" "gru has no gate 'forget'" "$BIN" sweep "$tmp/bad7.json" --list

# 4. A crash mid-append leaves an incomplete last line: it is dropped, never merged.
cp -r "$tmp/s1" "$tmp/s3"
printf '{"run": "r00' >>"$tmp/s3/results.jsonl"
expect_ok "partial line dropped" "dropped an incomplete last line" "$BIN" sweep "$tmp/tiny.json" --out "$tmp/s3"
[ "$(wc -l <"$tmp/s3/results.jsonl")" = 4 ] && ok || bad "partial line handling"
# A whole line (newline and all) that is not a results line is no crash's: named, not dropped.
cp -r "$tmp/s1" "$tmp/s4"
printf '{"run": "r00\n' >>"$tmp/s4/results.jsonl"
expect_fail "corrupt whole line" "results.jsonl:5: not a results line" "$BIN" sweep "$tmp/tiny.json" --out "$tmp/s4"
expect_fail "corrupt whole line in report" "results.jsonl:5: not a results line" "$BIN" report "$tmp/s4"
[ "$(wc -l <"$tmp/s4/results.jsonl")" = 5 ] && ok || bad "a refused results file was changed"

# 5. Bad input: each a clear error, nothing run.
echo '{"base": {"task": "mnist-row"}, "grid": {"sede": [1]}}' >"$tmp/bad1.json"
expect_fail "unknown axis" "unknown axis 'sede'" "$BIN" sweep "$tmp/bad1.json" --out "$tmp/b1"
[ -e "$tmp/b1" ] && bad "a refused spec created its directory" || ok
# A run's own settings are checked before the directory exists, so the corrected spec then runs.
echo '{"base": {"task": "mnist-row", "hidden": 0}, "grid": {"seed": [0]}}' >"$tmp/bad9.json"
expect_fail "a run's bad setting" "--hidden must be between 1 and" "$BIN" sweep "$tmp/bad9.json" --out "$tmp/b9"
[ -e "$tmp/b9" ] && bad "a spec refused for a run's setting created its directory" || ok
echo '{"base": {"task": "mnist-row"}, "grid": {"lr": {"lo": 1, "hi": "x", "n": 2}}}' >"$tmp/bad2.json"
expect_fail "non-numeric range" "lo and hi must be numbers" "$BIN" sweep "$tmp/bad2.json" --out "$tmp/b2"
echo '{"base": {"task": "mnist-row"}, "grid": {}}' >"$tmp/bad3.json"
expect_fail "empty grid" "grid must be a non-empty object" "$BIN" sweep "$tmp/bad3.json" --out "$tmp/b3"
echo '{"base": {"task": "mnist-row"' >"$tmp/bad4.json"
expect_fail "not JSON" "not valid JSON" "$BIN" sweep "$tmp/bad4.json" --out "$tmp/b4"
expect_fail "missing spec" "cannot open the sweep spec" "$BIN" sweep "$tmp/nope.json" --out "$tmp/b5"
# Data every run would miss: refused before the directory exists.
echo '{"base": {"task": "mnist-row", "data_dir": "/nonexistent"}, "grid": {"seed": [0]}}' >"$tmp/bad6.json"
expect_fail "missing data refused up front" "dataset mnist not found" "$BIN" sweep "$tmp/bad6.json" --out "$tmp/b6" --quiet
[ -e "$tmp/b6" ] && bad "a sweep refused for its data created its directory" || ok
# An init file every run would refuse: refused before the directory exists.
head -c 64 /dev/urandom >"$tmp/junk.safetensors"
echo "{\"base\": {\"task\": \"mnist-row\", \"init\": \"$tmp/junk.safetensors\"}, \"grid\": {\"seed\": [0]}}" >"$tmp/bad7.json"
expect_fail "junk weights refused up front" "junk.safetensors" "$BIN" sweep "$tmp/bad7.json" --out "$tmp/b7" --quiet
[ -e "$tmp/b7" ] && bad "a sweep refused for its weights file created its directory" || ok
# A run that fails on its own (weights whose header is right and whose first value is NaN: only
# reading them finds it): reported, the sweep exits 1.
"$BIN" train --task mnist-row --hidden 4 --steps 1 --eval-limit 10 --test-limit 10 --out "$tmp/w" >/dev/null 2>&1 &&
  "$BIN" export "$tmp/w" -o "$tmp/nan.safetensors" >/dev/null 2>&1 && ok || bad "weights for the failing run"
nan_first_value "$tmp/nan.safetensors"
echo "{\"base\": {\"task\": \"mnist-row\", \"hidden\": 4, \"steps\": 1, \"init\": \"$tmp/nan.safetensors\"}, \"grid\": {\"seed\": [0]}}" >"$tmp/bad8.json"
expect_fail "failed run reported" "1 of 1 runs failed" "$BIN" sweep "$tmp/bad8.json" --out "$tmp/b8" --quiet
expect_fail "report of a non-sweep" "no sweep.json" "$BIN" report "$tmp"

# 6. The report on synthetic results whose answer is known: accuracy 0.9 where ξ ≥ T/2, else
#    0.1, on a 6 × 5 grid; the agreement must be 100 % at c = 2 (and less at c = 1/4).
mkdir -p "$tmp/syn"
$py - "$tmp/syn" <<'PY'
import json, math, os, sys
d = sys.argv[1]
sys.path.insert(0, os.environ["CLI_TESTS"])
from run_ids import run_id  # noqa: E402
xs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
ys = [0.5, 1.0, 1.5, 2.0, 2.5]
spec = {"name": "syn", "description": "synthetic", "base": {"task": "mnist-padded", "seq_len": 100},
        "grid": {"update.bias_mean": xs, "candidate.recurrent_std": ys, "seed": [0, 1]}}
json.dump(spec, open(os.path.join(d, "sweep.json"), "w"))
gates = {g: {"recurrent_std": 1.0, "input_std": 1.0, "bias_mean": 0.0, "bias_std": 0.0}
         for g in ("update", "reset", "candidate")}
with open(os.path.join(d, "results.jsonl"), "w") as f:
    for x in xs:
        for y in ys:
            for s in (0, 1):
                xi = math.exp(x)  # 1 .. 148; T/2 = 50 lies between x = 3 and x = 4
                acc = 0.9 if xi >= 50 else 0.1
                g = json.loads(json.dumps(gates))
                g["update"]["bias_mean"] = x
                g["candidate"]["recurrent_std"] = y
                params = {"update.bias_mean": x, "candidate.recurrent_std": y, "seed": s}
                f.write(json.dumps({
                    "run": run_id(params), "params": params, "spec": {"cell": "gru", "gates": g},
                    "xi": xi, "xi_infinite": False, "chi": math.exp(-1 / xi), "m1": 1.0,
                    "cell": "gru", "seq_len": 100, "input_var": 0.0, "final_test_acc": acc,
                    "final_val_acc": acc, "final_train_loss": 1.0, "diverged": False,
                    "curve": [[50, acc / 2, 1.0], [100, acc, 0.5]], "steps": 100,
                    "seconds": 1.0, "git": "x", "train_curve": []}) + "\n")
PY
expect_ok "report" "wrote" "$BIN" report "$tmp/syn" -o "$tmp/rep" --threshold 0.5 --phase-n 9
expect_fail "report threshold nan" "--threshold must be in (0, 1] (got nan)" "$BIN" report "$tmp/syn" -o "$tmp/rep_nan" --threshold nan
# Paths are passed as they are (no shell): a space and a quote in both.
mkdir -p "$tmp/it's here"
cp -r "$tmp/syn" "$tmp/it's here/syn dir"
expect_ok "report with odd paths" "wrote" "$BIN" report "$tmp/it's here/syn dir" -o "$tmp/it's here/rep out" --phase-n 3
[ -s "$tmp/it's here/rep out/heatmap.png" ] && ok || bad "report with odd paths: no heatmap"
echo '{"base": {"task": "mnist-row"}, "grid": {"seed": [0]}, "report": {"threshold": "0.8"}}' >"$tmp/bad8.json"
expect_fail "report threshold type" "report.threshold must be a number" "$BIN" sweep "$tmp/bad8.json" --list
for f in report.md runs.csv summary.csv heatmap.png agreement.png agreement.json phase_0.csv; do
  [ -s "$tmp/rep/$f" ] && ok || bad "report: missing $f"
done
$py - "$tmp/rep" <<'PY' && ok || bad "report contents"
import csv, json, os, sys
d = sys.argv[1]
ag = json.load(open(os.path.join(d, "agreement.json")))
assert ag["agreement"] == 1.0 and ag["cells"] == 30, ag
assert 100 / 54.6 < ag["best_c"] < 100 / 20.1, ag  # ξ = e^x: c must put T/c between e^3 and e^4
rows = list(csv.DictReader(open(os.path.join(d, "runs.csv"))))
assert len(rows) == 60
# Steps to 50 %: 100 for the trained runs (0.45 at step 50), never for the others.
for r in rows:
    assert r["steps_to_50"] == ("100" if float(r["final_test_acc"]) > 0.5 else ""), r
summ = list(csv.DictReader(open(os.path.join(d, "summary.csv"))))
assert len(summ) == 30 and all(s["seeds"] == "2" for s in summ)
# The theory grid is laid out on the same axes: x = update bias, y = candidate scale, and ξ
# grows with the update bias along every row.
ph = list(csv.DictReader(open(os.path.join(d, "phase_0.csv"))))
assert len(ph) == 81 and min(float(p["x"]) for p in ph) == 0 and max(float(p["x"]) for p in ph) == 5
assert min(float(p["y"]) for p in ph) == 0.5 and max(float(p["y"]) for p in ph) == 2.5
for y in {p["y"] for p in ph}:
    row = sorted((float(p["x"]), float(p["xi"]) if p["xi"] != "nan" else 1e300) for p in ph if p["y"] == y)
    assert row[-1][1] > 10 * row[0][1], row
md = open(os.path.join(d, "report.md")).read()
assert "![" in md and "heatmap.png" in md and "Agreement" in md
PY
finish
