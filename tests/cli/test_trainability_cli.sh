#!/usr/bin/env bash
# `rnnmft trainability` and `theory --task` (docs/theory.md §12): predictions that differ where
# the networks differ, the same numbers from every entry point (trainability, theory --task, the
# sweep mode), the sweep mode's lines and agreement, `report`'s use of them, and bad input.
# Usage: test_trainability_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

task=(--task mnist-padded --unit row --seq-len 300)
field() { "$py" -c "import json,sys; j=json.load(sys.stdin); print(j$1)"; }

# 1. Chrono keeps a perturbation over the 272 padding steps; PyTorch's GRU forgets it.
chrono="$("$BIN" trainability --cell lstm --init chrono "${task[@]}" --hidden 32 --json)" ||
  bad "chrono probe"
[ "$(field "['trainable']" <<<"$chrono")" = True ] && ok || bad "chrono LSTM predicted not trainable"
[ "$(field "['span']" <<<"$chrono")" = 272 ] && ok || bad "span is not T − 28 rows"
gru="$("$BIN" trainability --cell gru --gru-variant reset-before --init pytorch "${task[@]}" \
  --hidden 32 --json)" ||
  bad "gru probe"
[ "$(field "['trainable']" <<<"$gru")" = False ] && ok || bad "PyTorch GRU at T = 300 predicted trainable"
grep -q 'memory too short' <<<"$gru" && ok || bad "no memory reason for the PyTorch GRU"
expect_ok "text output names the prediction" "prediction    NOT trainable: memory too short" \
  "$BIN" trainability --cell gru --init pytorch "${task[@]}" --hidden 32
[ "$("$BIN" trainability --cell gru --init pytorch "${task[@]}" --hidden 8 --json |
  field "['gru_variant']")" = reset-after ] && ok || bad "the GRU is not train's reset-after by default"

# A preset is probed as train draws it: chrono's input bias is minus its forget bias unit by
# unit, so each unit's cell state integrates with a gain i/(1 − f) ≈ 1; a spec of the same
# moments draws the two independently, and the cell state is several times more sensitive.
"$BIN" theory --cell lstm --init chrono --seq-len 300 --no-tied-check --json | field "['spec']" |
  "$py" -c "import ast,json,sys; json.dump(ast.literal_eval(sys.stdin.read()), open('$tmp/chrono_moments.json','w'))" ||
  bad "chrono's moments"
moments="$("$BIN" trainability --init "$tmp/chrono_moments.json" "${task[@]}" --hidden 32 --json)" ||
  bad "chrono moments probe"
"$py" - "$(field "['max_dc']" <<<"$chrono")" "$(field "['max_dc']" <<<"$moments")" <<'PY' && ok ||
import sys
drawn, moments = float(sys.argv[1]), float(sys.argv[2])
assert drawn < moments / 1.5, (drawn, moments)
PY
  bad "chrono probed from its moments, not as drawn"

# The frozen rule is the one the fit wrote (experiments/fit_trainability.py).
printf '%s' "$chrono" >"$tmp/chrono.json"
"$py" - "$CLI_TESTS/../../experiments/trainability_rule.json" "$tmp/chrono.json" <<'PY' && ok ||
import json, sys
rule = json.load(open(sys.argv[2]))["rule"]
fitted = json.load(open(sys.argv[1]))["constants"]
assert rule == {k: float(v) for k, v in fitted.items()}, (rule, fitted)
PY
  bad "the rule differs from experiments/trainability_rule.json"

# 2. theory --task carries the same probe (same seed, width and task).
th="$("$BIN" theory --cell gru --init pytorch "${task[@]}" --hidden 32 --no-tied-check --json)" ||
  bad "theory --task"
a="$(field "['trainability']['log_gain']" <<<"$th")"
b="$(field "['log_gain']" <<<"$gru")"
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "theory --task ln gain $a differs from trainability's $b"
expect_fail "--input-var with --task" "the task sets R" \
  "$BIN" theory --cell gru "${task[@]}" --input-var 0.5 --no-tied-check

# 3. The sweep mode: one line per run, the runs' own specs, the agreement printed; report uses it.
cat >"$tmp/sw.json" <<'EOF'
{"name": "probe", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 60, "cell": "gru",
  "hidden": 8, "batch": 8, "lr": 0.01, "steps": 3, "eval_every": 3, "eval_limit": 40,
  "test_limit": 40, "log_every": 1, "checkpoint_every": 3, "threads": 1},
 "grid": {"update.bias_mean": [0, 6], "candidate.recurrent_std": [0.5, 1.5]},
 "report": {"threshold": 0.5}}
EOF
"$BIN" sweep "$tmp/sw.json" --out "$tmp/sw" --quiet >/dev/null 2>&1 || bad "tiny sweep"
expect_ok "sweep mode prints the agreement" "of 4 runs (" \
  "$BIN" trainability --sweep "$tmp/sw" --jobs 2
"$py" - "$tmp/sw" <<'PY' && ok || bad "trainability.jsonl does not hold the sweep's runs"
import json, sys
d = sys.argv[1]
runs = {json.loads(l)["run"]: json.loads(l) for l in open(d + "/results.jsonl")}
lines = [json.loads(l) for l in open(d + "/trainability.jsonl")]
assert sorted(l["run"] for l in lines) == sorted(runs), "runs"
for l in lines:
    assert l["params"] == runs[l["run"]]["params"]
    p = l["probe"]
    assert p["width"] == 8 and p["span"] == 32, p
    # b_z = 6 keeps more over the padding than b_z = 0 at the same candidate σ.
byp = {(l["params"]["update.bias_mean"], l["params"]["candidate.recurrent_std"]): l["probe"] for l in lines}
assert byp[(6, 0.5)]["log_gain"] > byp[(0, 0.5)]["log_gain"] + 10, byp
PY
# The sweep mode's probe of a run is the single probe of that run's spec.
"$py" - "$tmp/sw" > "$tmp/spec.json" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl")][0]
json.dump(r["spec"], sys.stdout)
PY
"$BIN" trainability --init "$tmp/spec.json" --gru-variant reset-after --task mnist-padded \
  --unit row --seq-len 60 --hidden 8 --json >"$tmp/one.json" || bad "single probe of the run's spec"
first="$(head -1 "$tmp/sw/results.jsonl" | "$py" -c "import json,sys; print(json.load(sys.stdin)['run'])")"
"$py" - "$tmp/sw/trainability.jsonl" "$first" "$tmp/one.json" <<'PY' && ok || bad "sweep line ≠ single probe"
import json, sys
single = json.load(open(sys.argv[3]))
line = next(json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["run"] == sys.argv[2])
assert line["probe"]["log_gain"] == single["log_gain"], (line["probe"]["log_gain"], single["log_gain"])
assert line["probe"]["sensitivity"] == single["sensitivity"]
PY
if ! "$py" -c "import matplotlib" 2>/dev/null; then
  echo "SKIP: report's prediction section (no matplotlib for $py)"
else
  expect_ok "report prints the prediction's agreement" "predicted trainable (rnnmft trainability) in" \
    "$BIN" report "$tmp/sw"
  [ -f "$tmp/sw/report/prediction.json" ] && ok || bad "no prediction.json"
  grep -q "Predicted trainability" "$tmp/sw/report/report.md" && ok || bad "no section in report.md"
fi

# phase --task: the prediction's columns at every point of the grid.
"$BIN" phase --cell gru --gru-variant reset-after --x update.bias_mean=0:6:2 \
  --y candidate.recurrent_std=1:1.5:2 --task mnist-padded --unit row --seq-len 60 --hidden 8 \
  -o "$tmp/grid.csv" >/dev/null 2>&1 || bad "phase --task"
"$py" - "$tmp/grid.csv" <<'PY' && ok || bad "phase --task columns"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4 and {"trainable", "log_gain", "log_gain_sd", "slope", "reasons"} <= set(rows[0])
g = {(float(r["update.bias_mean"]), float(r["candidate.recurrent_std"])): r for r in rows}
assert float(g[(6, 1)]["log_gain"]) > float(g[(0, 1)]["log_gain"]) + 2, g
assert all(r["trainable"] in ("0", "1") and (r["trainable"] == "1") == (r["reasons"] == "") for r in rows)
PY

# 4. Bad input: a clear error, nothing written.
expect_fail "no task" "--task is required" "$BIN" trainability --cell lstm
expect_fail "no results" "no results.jsonl" "$BIN" trainability --sweep "$tmp/none"
expect_fail "networks 0" "networks" "$BIN" trainability --cell lstm "${task[@]}" --networks 0
expect_fail "delta 0" "δ (--delta) must be in (0, 1]" "$BIN" trainability --cell lstm "${task[@]}" --delta 0
cp -r "$tmp/sw" "$tmp/sw2"
rm "$tmp/sw2/trainability.jsonl"
echo '{"run": "r0000000000000000", "spec": {}}' >>"$tmp/sw2/results.jsonl"
expect_fail "a line that is not a whole results line" "not a whole results line" \
  "$BIN" trainability --sweep "$tmp/sw2"
[ ! -e "$tmp/sw2/trainability.jsonl" ] && ok || bad "a refused sweep wrote trainability.jsonl"
# A run whose spec cannot be drawn: an error naming it (not an abort), nothing written.
cp -r "$tmp/sw" "$tmp/sw3"
rm "$tmp/sw3/trainability.jsonl"
"$py" - "$tmp/sw3/results.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
lines[1]["spec"]["gates"]["update"]["recurrent_std"] = -1
open(sys.argv[1], "w").write("".join(json.dumps(l) + "\n" for l in lines))
PY
expect_fail "a run's bad spec" "$(sed -n 2p "$tmp/sw3/results.jsonl" | "$py" -c "import json,sys; print(json.load(sys.stdin)['run'])")" \
  "$BIN" trainability --sweep "$tmp/sw3" --jobs 2
[ ! -e "$tmp/sw3/trainability.jsonl" ] && ok || bad "a sweep with a bad spec wrote trainability.jsonl"
expect_fail "--sweep with --hidden" "drop --hidden" "$BIN" trainability --sweep "$tmp/sw" --hidden 8
mkdir -p "$tmp/sw4" && cp "$tmp/sw/sweep.json" "$tmp/sw4/" && : >"$tmp/sw4/results.jsonl"
expect_fail "no finished runs" "no finished runs yet" "$BIN" trainability --sweep "$tmp/sw4"

# A run that drew a preset is probed as drawn, in the sweep mode as in the single one.
cat >"$tmp/swp.json" <<'EOF'
{"name": "preset", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 60, "cell": "lstm",
  "hidden": 8, "batch": 8, "lr": 0.01, "steps": 2, "eval_every": 2, "eval_limit": 40,
  "test_limit": 40, "log_every": 1, "checkpoint_every": 2, "threads": 1},
 "grid": {"init": ["chrono"]}}
EOF
"$BIN" sweep "$tmp/swp.json" --out "$tmp/swp" --quiet >/dev/null 2>&1 || bad "preset sweep"
"$BIN" trainability --sweep "$tmp/swp" >/dev/null 2>&1 || bad "preset sweep probe"
"$BIN" trainability --cell lstm --init chrono --task mnist-padded --unit row --seq-len 60 \
  --hidden 8 --json >"$tmp/chrono8.json" || bad "chrono single probe"
"$py" - "$tmp/swp/trainability.jsonl" "$tmp/chrono8.json" <<'PY' && ok || bad "a preset run's sweep probe ≠ its single probe"
import json, sys
line = json.loads(open(sys.argv[1]).readline())["probe"]
one = json.load(open(sys.argv[2]))
assert line["max_dc"] == one["max_dc"] and line["log_gain"] == one["log_gain"], (line, one)
PY

# 4. --theory: the mean-field theory of the tied network beside the networks, part by part, on the
# same sequences; every part has a verdict and the counts add up.
tt="$("$BIN" trainability --cell gru --init pytorch "${task[@]}" --hidden 64 --networks 2 \
  --theory --units 256 --json)" || bad "--theory"
printf '%s' "$tt" >"$tmp/theory.json"
"$py" - "$tmp/theory.json" <<'PY' && ok || bad "--theory's parts"
import json, sys
j = json.load(open(sys.argv[1]))
t = j["theory"]
parts = t["parts"]
names = [p["part"] for p in parts]
assert names[:4] == ["Q_h", "offset_h", "slope", "keep"], names
assert "log_gain" in names and "dh/candidate" in names, names
assert all(p["verdict"] in ("within", "inconclusive", "off") for p in parts)
assert t["of"] == len(parts) and t["within"] == sum(p["verdict"] == "within" for p in parts)
# the networks' side is the probe printed beside it
q = next(p for p in parts if p["part"] == "Q_h")
assert q["network"] == j["Q_h"], (q, j["Q_h"])
assert q["noise"] is not None and q["noise"] > 0
# PyTorch's GRU at T = 300 forgets: the theory says so too, within 10 % of the e-folds
g = next(p for p in parts if p["part"] == "log_gain")
assert g["theory"] < -25 and g["network"] < -25, g
assert t["prediction"]["trainable"] is False
PY
expect_ok "--theory text names the verdicts" "parts within 10 %" \
  "$BIN" trainability --cell lstm --init chrono "${task[@]}" --hidden 32 --theory --units 256
expect_fail "--sweep with --theory" "drop --theory" "$BIN" trainability --sweep "$tmp/sw" --theory
expect_fail "--units below the replicas' minimum" "units must be" \
  "$BIN" trainability --cell lstm --init chrono "${task[@]}" --hidden 8 --theory --units 32

finish
