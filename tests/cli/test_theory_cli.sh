#!/usr/bin/env bash
# End-to-end checks of rnnmft theory / critical / compare: the JSON contract, the spec that
# critical writes being usable by train, and clear errors. Usage: test_theory_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

# JSON contract of theory (GRU: exact; LSTM: with Monte Carlo errors).
"$BIN" theory --cell gru --init pytorch --hidden 64 --no-tied-check --json > "$tmp/gru.json" || bad "theory gru"
"$BIN" theory --cell lstm --init keras --samples 8000 --no-tied-check --json > "$tmp/lstm.json" || bad "theory lstm"
$py - "$tmp/gru.json" "$tmp/lstm.json" <<'PY' && ok || bad "theory JSON contract"
import json, sys
g, l = (json.load(open(p)) for p in sys.argv[1:3])
for j in (g, l):
    assert {"cell", "fixed_point", "timescale", "jacobian", "jacobian_state"} <= set(j), j.keys()
    assert {"chi", "xi"} <= set(j["timescale"])
    for k in ("jacobian", "jacobian_state"):
        assert {"m1", "m2", "variance"} <= set(j[k])
assert g["cell"] == "gru" and "Q_h" in g["fixed_point"]
assert l["cell"] == "lstm" and {"Q_h", "Q_c", "Q_h_err", "Q_c_err"} <= set(l["fixed_point"])
assert l["jacobian"]["m1_err"] > 0 and "chi_err" in l["timescale"]
# PyTorch's init at T = 1000: gradients vanish (m1 well below 1), signals last a few steps.
assert g["jacobian"]["m1"] < 0.5 and g["timescale"]["xi"] < 10
PY

# critical writes a spec that train accepts; its diagnostics are in the JSON output.
"$BIN" critical --cell gru --seq-len 500 --hidden 64 --input-dim 8 -o "$tmp/gru_crit.json" --json > "$tmp/crit.json" || bad "critical gru"
$py - "$tmp/crit.json" <<'PY' && ok || bad "critical JSON"
import json, math, sys
j = json.load(open(sys.argv[1]))
assert j["reached"] and j["criterion"] == "tied"
assert set(j["knobs"]) == {"update.bias_mean", "candidate.recurrent_std"}
# ξ = T in the mean field and a tied gain of 1 over T.
assert abs(500 * math.log(j["jacobian"]["m1"]) + 1) < 0.01 and abs(j["log_gain_T"]) < 0.01
assert abs(j["tied_gain"]["log_gain"]) < 0.01 and j["tied_gain"]["steps"] == 500
assert j["spec"]["cell"] == "gru" and set(j["spec"]["gates"]) == {"update", "reset", "candidate"}
tc = j["tied_check"]
assert tc["width"] == 64 and tc["steps"] == 500 and tc["holds"], tc
assert tc["chi"] <= 1.005 and 1 / 3 < tc["Q_h_ratio"] < 3 and abs(tc["spectral_radius_end"] - 1) < 0.02
PY
"$BIN" train --task mnist-row --cell gru --gru-variant reset-before --hidden 16 --steps 2 --init "$tmp/gru_crit.json" --out "$tmp/run" >/dev/null 2>&1 && ok || bad "train --init critical spec"
"$BIN" theory --init "$tmp/gru_crit.json" --seq-len 500 --no-tied-check > "$tmp/t.txt" 2>&1 && grep -q "tied gain G_T = 1.00" "$tmp/t.txt" && ok || bad "theory on the written spec"

# The reset-after GRU (docs/theory.md §3.4): --gru-variant, a spec's designed_for, and the
# variants apart where the reset gate varies.
cat > "$tmp/gru_ra.json" <<'JSON'
{"cell": "gru", "gates": {"update": {"recurrent_std": 1, "input_std": 0.5, "bias_mean": 0, "bias_std": 0.1},
 "reset": {"recurrent_std": 3, "input_std": 0.5, "bias_mean": 0, "bias_std": 0.1},
 "candidate": {"recurrent_std": 3, "input_std": 1, "bias_mean": 0, "bias_std": 0.1}}}
JSON
"$BIN" theory --init "$tmp/gru_ra.json" --gru-variant reset-after --no-tied-check --json > "$tmp/ra.json" || bad "theory --gru-variant reset-after"
"$BIN" theory --init "$tmp/gru_ra.json" --no-tied-check --json > "$tmp/rb.json" || bad "theory reset-before"
"$BIN" critical --cell gru --gru-variant reset-after --seq-len 300 --no-tied-check -o "$tmp/gru_ra_crit.json" > /dev/null || bad "critical --gru-variant reset-after"
"$BIN" theory --init "$tmp/gru_ra_crit.json" --seq-len 300 --no-tied-check --json > "$tmp/ra_crit.json" || bad "theory on a reset-after spec"
$py - "$tmp/ra.json" "$tmp/rb.json" "$tmp/gru_ra_crit.json" "$tmp/ra_crit.json" <<'PY' && ok || bad "reset-after theory"
import json, sys
ra, rb, spec, rc = (json.load(open(p)) for p in sys.argv[1:5])
assert ra["gru_variant"] == "reset-after" and rb["gru_variant"] == "reset-before"
assert abs(ra["timescale"]["xi"] - rb["timescale"]["xi"]) > 0.1 * rb["timescale"]["xi"], (ra, rb)
assert spec["designed_for"]["gru_variant"] == "reset-after"
assert rc["gru_variant"] == "reset-after"  # taken from designed_for
PY
expect_fail "theory --gru-variant bogus" "unknown GRU variant 'sideways'" "$BIN" theory --cell gru --gru-variant sideways --no-tied-check
expect_fail "theory --tied-trials 0" "--tied-trials: Value 0 not in range 1 to 1048576" "$BIN" theory --cell gru --tied-trials 0
expect_fail "theory --tied-seed -1" "--tied-seed: takes an integer ≥ 0, got -1" "$BIN" theory --cell gru --tied-seed -1

# Task-aware: a padded task is designed for its zero stretch (R = 0) and its length; the spec
# records it; the tied check feeds the task's data steps, then zeros.
"$BIN" critical --cell lstm --task mnist-padded --unit row --seq-len 200 --hidden 32 -o "$tmp/pad.json" --json > "$tmp/padj.json" || bad "critical --task"
$py - "$tmp/pad.json" "$tmp/padj.json" <<'PY' && ok || bad "critical --task provenance"
import json, sys
spec, j = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
d = spec["designed_for"]
assert d["seq_len"] == 200 and d["input_var"] == 0 and d["task"] == "mnist-padded", d
assert d["width"] == 32 and d["criterion"] == "tied" and d["cell"] == "lstm", d
assert "28 data steps" in j["task_inputs"] and j["tied_check"]["Q_h_theory"] > 0
PY
expect_fail "task and input-var" "the task sets R" "$BIN" critical --cell gru --task mnist-pixel --input-var 1

# The untied criterion: m1 = 1, and the tied check says that tied networks leave the theory.
"$BIN" critical --cell gru --criterion untied --hidden 64 --input-dim 8 --seq-len 500 --json > "$tmp/u.json" || bad "critical untied"
$py - "$tmp/u.json" <<'PY' && ok || bad "critical untied JSON"
import json, math, sys
j = json.load(open(sys.argv[1]))
assert j["reached"] and j["criterion"] == "untied" and list(j["knobs"]) == ["candidate.recurrent_std"]
assert abs(500 * math.log(j["jacobian"]["m1"])) < 0.01
assert not j["tied_check"]["holds"] and j["tied_check"]["spectral_radius_init"] > 1.02
PY

# The LSTM's chaotic phase: verdict and JSON (null for an infinite ξ is checked on the critical line).
cat > "$tmp/chaos.json" <<'J'
{"cell": "lstm", "gates": {
 "input": {"recurrent_std": 0.3, "input_std": 0.3, "bias_mean": -3.454, "bias_std": 0},
 "forget": {"recurrent_std": 0.3, "input_std": 0.3, "bias_mean": 6.67, "bias_std": 0},
 "output": {"recurrent_std": 0.3, "input_std": 0.3, "bias_mean": 4, "bias_std": 0},
 "cell": {"recurrent_std": 20, "input_std": 0.5, "bias_mean": 0, "bias_std": 0}}}
J
"$BIN" theory --init "$tmp/chaos.json" --no-tied-check > "$tmp/c.txt" 2>&1 && grep -q "verdict .*chaotic: nearby" "$tmp/c.txt" && grep -q "gradients explode" "$tmp/c.txt" && ok || bad "chaotic LSTM verdict"
# The theory's own numerical error (docs/theory.md §1.1): a cell scale of 25 makes the candidate's
# tanh' narrower than the rule resolves (m1 0.72 / 1.75 / 3.07 at orders 100 / 200 / 400); the
# order is raised to 400 and the verdict and JSON say it did not converge.
cat > "$tmp/narrow.json" <<'J'
{"cell": "gru", "gates": {
 "update": {"recurrent_std": 0, "input_std": 0, "bias_mean": 0.5, "bias_std": 0},
 "reset": {"recurrent_std": 0, "input_std": 0, "bias_mean": 2, "bias_std": 0},
 "candidate": {"recurrent_std": 25, "input_std": 0.5, "bias_mean": 0, "bias_std": 0}}}
J
"$BIN" theory --init "$tmp/narrow.json" --no-tied-check > "$tmp/n.txt" 2>&1 && grep -q "verdict      NOT CONVERGED" "$tmp/n.txt" && ok || bad "unconverged theory warns"
"$BIN" theory --init "$tmp/narrow.json" --no-tied-check --json > "$tmp/n.json" && $py - "$tmp/n.json" <<'PY' && ok || bad "unconverged theory JSON"
import json, sys
q = json.load(open(sys.argv[1]))["quadrature"]
assert not q["converged"] and q["order"] == 400 and q["compared_order"] == 200 and q["relative_error"] > 0.1, q
PY
"$BIN" phase --cell gru --init "$tmp/narrow.json" --x candidate.recurrent_std=1:25:3 --y update.bias_mean=0.5:0.5:1 -o "$tmp/narrow.csv" > /dev/null 2> "$tmp/np.txt" && grep -q "did not converge" "$tmp/np.txt" && $py - "$tmp/narrow.csv" <<'PY' && ok || bad "phase marks unconverged points"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
conv = {float(r["candidate.recurrent_std"]): r["converged"] for r in rows}
assert conv[1.0] == "1" and conv[25.0] == "0", conv
PY
"$BIN" theory --cell vanilla --init orthogonal:1 --input-var 0 --no-tied-check --json > "$tmp/v.json" || bad "theory vanilla"
$py - "$tmp/v.json" <<'PY' && ok || bad "JSON infinity convention"
import json, sys
j = json.load(open(sys.argv[1]))  # Python's json accepts NaN/Infinity; the file must not need it
txt = open(sys.argv[1]).read()
assert "Infinity" not in txt and "NaN" not in txt and '"inf"' not in txt
ts = j["timescale"]
assert (ts["xi"] is None) == ts["xi_infinite"]
PY

# compare --json: one object per cell, every init with its theory, verdict and tied check.
"$BIN" compare --cells gru --inits critical-v1 pytorch --seq-len 300 --hidden 32 --json > "$tmp/cmp.json" || bad "compare --json"
$py - "$tmp/cmp.json" <<'PY' && ok || bad "compare JSON"
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j) == 1 and j[0]["cell"] == "gru" and j[0]["seq_len"] == 300
names = [r["init"] for r in j[0]["inits"]]
assert names == ["critical-v1", "pytorch"]
for r in j[0]["inits"]:
    assert {"timescale", "jacobian", "verdict", "tied_check", "spec", "tied_gain"} <= set(r)
assert j[0]["inits"][0]["tied_check"]["holds"]
PY

expect_fail "spec/cell mismatch" "is a spec for the gru cell" "$BIN" theory --cell lstm --init "$tmp/gru_crit.json"
expect_fail "bad preset" "neither a preset" "$BIN" theory --init xavier
expect_fail "bad overlap" "--input-overlap must satisfy" "$BIN" theory --cell gru --init pytorch --input-overlap 3
# Numerical options out of range are refused before any work (no NaN moments with a verdict,
# no allocation beyond the machine's memory).
expect_fail "theory --average 0" "--average must be ≥ 1" "$BIN" theory --cell lstm --average 0 --no-tied-check
expect_fail "theory --burn-in 0" "--burn-in must be ≥ 2" "$BIN" theory --cell lstm --burn-in 0 --no-tied-check
expect_fail "theory --order 0" "--order must be between 4 and 1000" "$BIN" theory --cell gru --order 0 --no-tied-check
expect_fail "theory --samples 1e12" "needs" "$BIN" theory --cell lstm --samples 1000000000000 --no-tied-check
expect_fail "bad fix" "is not a number" "$BIN" critical --cell gru --fix update.bias_mean=abc
expect_fail "fix the knob" "a parameter the search solves for" "$BIN" critical --cell gru --fix candidate.recurrent_std=2
expect_fail "bad criterion" "expected tied or untied" "$BIN" critical --cell gru --criterion loose
expect_fail "unreachable" "does not change sign for forget.bias_mean in [" "$BIN" critical --cell lstm --criterion untied --fix cell.recurrent_std=80 --no-tied-check
expect_fail "few samples" "--samples must be at least 1000" "$BIN" theory --cell lstm --init pytorch --samples 10

# critical --design v2 (docs/theory.md §13): a timescales spec designed at the data steps' R of a
# padded task, which train accepts without a design warning and theory shows with its timescales.
"$BIN" critical --design v2 --cell lstm --task mnist-padded --unit row --seq-len 200 --hidden 16 -o "$tmp/v2.json" --json > "$tmp/v2j.json" || bad "critical --design v2"
$py - "$tmp/v2.json" "$tmp/v2j.json" <<'PY' && ok || bad "critical --design v2 spec"
import json, math, sys
s, j = (json.load(open(p)) for p in sys.argv[1:3])
assert s["timescales"] == {"dist": "log-uniform", "min": 2.0, "max": 200.0}, s
R = float(j["task_inputs"].split("(R = ")[1].split(")")[0])  # the data steps' R
nu = s["gates"]["cell"]["input_std"]
assert abs(nu * nu * R - 0.5) < 0.01, (nu, R)  # ν²R = 1/2 up to the printed R's precision
assert s["gates"]["forget"]["bias_mean"] == 0 and s["designed_for"]["seq_len"] == 200
assert j["design"] == "v2" and j["spec"] == s and len(j["notes"]) == 2
PY
out="$("$BIN" train --task mnist-padded --unit row --seq-len 200 --cell lstm --hidden 16 --steps 2 --init "$tmp/v2.json" --out "$tmp/v2run" 2>&1)" && ! grep -qi "warning" <<<"$out" && ok || { bad "train --init v2 spec"; echo "$out" | tail -3; }
"$BIN" theory --init "$tmp/v2.json" --seq-len 200 --no-tied-check | grep -qF "timescales   τ log-uniform on [2, 200] per unit: forget bias ln(τ − 1), input bias −ln(τ − 1)" && ok || bad "theory shows timescales"
# --timescales uniform: chrono's spread, the same gates.
"$BIN" critical --design v2 --timescales uniform --cell lstm --task mnist-padded --unit row --seq-len 200 --hidden 16 -o "$tmp/v2u.json" > /dev/null || bad "critical --design v2 --timescales uniform"
$py - "$tmp/v2.json" "$tmp/v2u.json" <<'PY' && ok || bad "--timescales uniform"
import json, sys
s, u = (json.load(open(p)) for p in sys.argv[1:3])
assert u["timescales"] == {"dist": "uniform", "min": 2.0, "max": 200.0}, u
assert u["gates"] == s["gates"]
PY
# train --init critical-v2 designs the same spec for the task as critical --design v2 --task, and
# a sweep's critical-v2 and critical runs write it too (critical is v2 for a gated cell).
"$BIN" train --task mnist-padded --unit row --seq-len 200 --cell lstm --hidden 16 --steps 2 --init critical-v2 --out "$tmp/v2named" > "$tmp/v2named.txt" 2>&1 || { bad "train --init critical-v2"; tail -3 "$tmp/v2named.txt"; }
grep -qF "init critical-v2: lstm with timescales log-uniform on [2, 200] and writes coupled to keeps" "$tmp/v2named.txt" && ! grep -qi "warning" "$tmp/v2named.txt" && ok || { bad "train --init critical-v2 says what it drew"; tail -3 "$tmp/v2named.txt"; }
$py - "$tmp/v2.json" "$tmp/v2named/init_spec.json" <<'PY' && ok || bad "train --init critical-v2 = critical --design v2 --task"
import json, sys
s, t = (json.load(open(p)) for p in sys.argv[1:3])
assert t["gates"] == s["gates"] and t["timescales"] == s["timescales"], (s, t)
assert t["designed_for"] == s["designed_for"], (s["designed_for"], t["designed_for"])
assert t["diagnostics"]["design"] == "v2"
PY
cat > "$tmp/v2sweep.json" <<'JSON'
{"name": "v2named", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 200, "cell": "lstm",
 "hidden": 16, "steps": 2, "batch": 4, "eval_every": 2, "eval_limit": 8, "test_limit": 8,
 "seed": 0}, "grid": {"init": ["critical-v2", "critical"]}}
JSON
"$BIN" sweep "$tmp/v2sweep.json" --out "$tmp/v2sweep" > "$tmp/v2sweep.txt" 2>&1 || { bad "sweep init critical-v2"; tail -3 "$tmp/v2sweep.txt"; }
$py - "$tmp/v2.json" "$tmp/v2sweep" <<'PY' && ok || bad "sweep critical-v2 and critical spec"
import glob, json, sys
s = json.load(open(sys.argv[1]))
ps = glob.glob(sys.argv[2] + "/runs/*/init_spec.json")
assert len(ps) == 2, ps
for p in ps:
    t = json.load(open(p))
    assert t["gates"] == s["gates"] and t["timescales"] == s["timescales"], (p, s, t)
    assert t["diagnostics"]["design"] == "v2", t["diagnostics"]
PY
# critical_criterion (a knob of v1's solve) makes "critical" v1's solve, and the spec says so.
cat > "$tmp/v1knob.json" <<'JSON'
{"base": {"task": "mnist-padded", "unit": "row", "seq_len": 60, "cell": "gru", "hidden": 4,
 "steps": 1, "batch": 4, "eval_every": 1, "eval_limit": 8, "test_limit": 8, "init": "critical",
 "critical_criterion": "tied"}, "grid": {"seed": [0]}}
JSON
"$BIN" sweep "$tmp/v1knob.json" --out "$tmp/v1knob" > "$tmp/v1knob.txt" 2>&1 || { bad "sweep critical with critical_criterion"; tail -3 "$tmp/v1knob.txt"; }
$py - "$tmp/v1knob" <<'PY' && ok || bad "sweep critical with a v1 knob solved v1"
import glob, json, sys
[p] = glob.glob(sys.argv[1] + "/runs/*/init_spec.json")
t = json.load(open(p))
assert "timescales" not in t and t["diagnostics"]["design"] == "v1", t
assert t["diagnostics"]["reached"] is True, t["diagnostics"]
PY
# rnnmft critical solves v1 unless --design v2, and for a gated cell says that train's critical is v2.
expect_ok "critical says it is v1" "this is critical-v1, the mean-field critical point; train --init critical draws critical init v2 for the gru cell" \
  "$BIN" critical --cell gru --seq-len 200 --no-tied-check
out="$("$BIN" critical --cell vanilla --seq-len 200 --no-tied-check 2>&1)" || bad "critical vanilla: $out"
grep -q "this is critical-v1" <<<"$out" && bad "critical vanilla: no v2 for this cell to point to" || ok
"$BIN" critical --cell gru --seq-len 200 --no-tied-check --json | $py -c 'import json, sys; assert json.load(sys.stdin)["design"] == "v1"' && ok || bad "critical --json: design v1"
expect_fail "timescales on v1" "--timescales is for --design v2" "$BIN" critical --cell gru --timescales uniform --no-tied-check
expect_fail "v2 vanilla" "the vanilla cell has no gate" "$BIN" critical --design v2 --cell vanilla --input-var 1
expect_fail "v2 criterion" "--criterion and --fix are for v1" "$BIN" critical --design v2 --cell gru --input-var 1 --criterion tied
expect_fail "v2 no R" "R > 0 over the steps that carry data" "$BIN" critical --design v2 --cell gru --input-var 0
expect_fail "v2 design name" "--design" "$BIN" critical --design v3 --cell gru

# compare (the main job) as a new user reads it. Every cell and init is checked before the first
# solve: a bad cell after a good one fails before any of the good one's output.
out="$("$BIN" compare --cells lstm rnn --seq-len 300 --no-tied-check 2>&1)"; rc=$?
if [ $rc -eq 1 ] && grep -qF "init chrono needs a gated cell" <<<"$out" && ! grep -qF "== lstm" <<<"$out"; then ok; else
  bad "compare --cells lstm rnn: validated up front (exit $rc)"; echo "$out" | tail -3; fi
expect_fail "compare: bad init" "--inits 'xavier' is neither critical-v1, a preset" "$BIN" compare --cells gru --inits critical-v1 xavier --no-tied-check
# critical (v2 for the gated cells) is a spread of timescales, not a point of the mean-field table.
expect_fail "compare: critical" "--inits critical: the table holds each init's mean field" "$BIN" compare --cells gru --inits critical --no-tied-check
expect_fail "compare: critical-v2" "is a spread of timescales it cannot describe" "$BIN" compare --cells lstm --inits pytorch critical-v2 --no-tied-check
# The GRU: a legend for the columns, --init critical (v2) recommended with what was measured
# (docs/experiments.md E30–E37), and a train command that trains as suggested without a warning.
"$BIN" compare --cells gru --seq-len 300 --hidden 32 --tied-trials 1 --out-dir "$tmp/cmpdir" > "$tmp/cmp_gru.txt" 2>&1 || bad "compare gru"
$py - "$tmp/cmp_gru.txt" "$tmp/cmp_cmds.txt" <<'PY' && ok || bad "compare text: legend, GRU advice, train commands"
import re, sys
t = open(sys.argv[1]).read()
for col in ("χ ", "ξ ", "c* ", "m1, m2", "m1^T", "tied G_T", "tied ρ", "tied χ", "tied Q×"):
    assert re.search(r"^  " + re.escape(col), t, re.M), f"no legend line for {col!r}:\n{t}"
assert "for training a GRU, --init critical is the recommendation" in t and "E30–E37" in t, t
assert re.search(r"^    critical v2 +400 +300 +400 +500$", t, re.M), t
assert re.search(r"^    chrono +500 +600 +500 +2100$", t, re.M), t
assert "--init out" not in t and "use: rnnmft train --init" not in t, t
assert re.search(r"^  critical-v1 +\d", t, re.M), t  # the table's mean-field critical point
cmds = re.findall(r"^  train it:\s+(rnnmft train .*)$", t, re.M)
assert len(cmds) == 1, cmds
assert cmds[0].endswith("--init critical"), cmds
assert all("--gru-variant reset-before" in c and "--task mnist-padded --unit row --seq-len 300" in c for c in cmds), cmds
open(sys.argv[2], "w").write("\n".join(c.replace("rnnmft train ", "", 1) for c in cmds) + "\n")
PY
n=0
while read -r line; do
  n=$((n + 1))
  # shellcheck disable=SC2086  # the suggested command's own words
  out="$("$BIN" train $line --hidden 16 --steps 2 --batch 8 --eval-every 1000 --val-size 100 --eval-limit 50 --test-limit 50 --out "$tmp/suggested$n" 2>&1)"; rc=$?
  if [ $rc -eq 0 ] && ! grep -qi "warning" <<<"$out"; then ok; else
    bad "suggested command 'train $line' (exit $rc)"; echo "$out" | grep -i -m3 "warning\|error"; fi
done <"$tmp/cmp_cmds.txt"
[ $n -eq 1 ] && ok || bad "compare: $n suggested GRU commands"
grep -qF "init critical (v2): gru with timescales log-uniform" <<<"$out" && ok || bad "the suggested GRU command drew v2: $out"
# The LSTM, with a spec file whose long path does not break the table's columns.
mkdir -p "$tmp/a rather long directory name"
cp "$tmp/cmpdir/gru_critical-v1.json" "$tmp/g.json"
"$BIN" critical --cell lstm --seq-len 300 --no-tied-check -o "$tmp/a rather long directory name/lstm_spec.json" >/dev/null 2>&1 || bad "critical lstm"
"$BIN" compare --cells lstm --seq-len 300 --no-tied-check --inits critical-v1 pytorch "$tmp/a rather long directory name/lstm_spec.json" > "$tmp/cmp_lstm.txt" 2>&1 || bad "compare lstm with a spec path"
$py - "$tmp/cmp_lstm.txt" "$tmp/a rather long directory name/lstm_spec.json" <<'PY' && ok || bad "compare lstm: table alignment, train command"
import sys
t, path = open(sys.argv[1]).read(), sys.argv[2]
lines = t.split("\n")
names = ["critical-v1", "pytorch", path]
W = max(10, max(len(n) for n in names))
h = next(i for i, l in enumerate(lines) if l.startswith("  init "))
table = lines[h:h + 4]
assert len({len(l) for l in table}) == 1, "columns shift:\n" + "\n".join(table)
# Rows and verdicts: the name, padded to the longest, then the numbers or the verdict.
for name in names:
    rows = [l for l in lines if l.startswith("  " + name + " ")]
    assert len(rows) >= 2, (name, rows)
    for l in rows:
        assert l[2 + len(name):3 + W].strip() == "", (W, l)
    verdict = [l for l in rows if l not in table]
    assert len(verdict) == 1 and verdict[0][3 + W] != " ", (W, verdict)
assert "rnnmft train --task mnist-padded --unit row --seq-len 300 --cell lstm --init critical" in t, t
PY
expect_fail "compare: a spec of another cell" "is a spec for the gru cell, compared here with --cells lstm" "$BIN" compare --cells lstm --inits critical-v1 "$tmp/g.json" --no-tied-check

# docs/theory.md §3.4's worked example, as written, gives the numbers it prints.
$py - "$(dirname "${BASH_SOURCE[0]}")/../../docs/theory.md" "$BIN" "$tmp" <<'PY' && ok || bad "docs/theory.md §3.4 worked example"
import json, re, subprocess, sys
doc, binary, tmp = sys.argv[1:4]
text = " ".join(open(doc).read().split())
para = text[text.index("They part where r varies"):]
para = para[:para.index("Untied simulations")]
names = {"σ": "recurrent_std", "ν": "input_std", "μ": "bias_mean", "ρ": "bias_std"}
def point(s):
    gates = {}
    for gate, params in re.findall(r"(update|reset|candidate) \(([^)]*)\)", s):
        g = {v: 0.0 for v in names.values()}
        for sym, val in re.findall(r"([σνμρ]) (−?[\d.]+)", params):
            g[names[sym]] = float(val.replace("−", "-"))
        gates[gate] = g
    assert set(gates) == {"update", "reset", "candidate"}, s
    return {"cell": "gru", "gates": gates}
first, second = para.split("; at update", 1)
def theory(spec, variant):
    path = f"{tmp}/doc_point.json"
    json.dump(spec, open(path, "w"))
    out = subprocess.run([binary, "theory", "--init", path, "--gru-variant", variant,
                          "--no-tied-check", "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["timescale"]
xa, xb = map(float, re.search(r"ξ is ([\d.]+) after and ([\d.]+) before", first).groups())
P = point(first[first.index("at update"):])
assert round(theory(P, "reset-after")["xi"], 2) == xa, (theory(P, "reset-after"), xa)
assert round(theory(P, "reset-before")["xi"], 2) == xb, (theory(P, "reset-before"), xb)
ca, cb = map(float, re.search(r"c\* = ([\d.]+) after and ([\d.]+) before", second).groups())
C = point("update" + second)
for v, c in (("reset-after", ca), ("reset-before", cb)):
    ts = theory(C, v)
    assert ts["chaotic"] and round(ts["c_star"], 2) == c, (v, ts, c)
PY

finish
