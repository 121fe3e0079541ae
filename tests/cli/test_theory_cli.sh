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
"$BIN" theory --init "$tmp/chaos.json" --no-tied-check > "$tmp/c.txt" 2>&1 && grep -q "verdict      chaotic" "$tmp/c.txt" && grep -q "gradients explode" "$tmp/c.txt" && ok || bad "chaotic LSTM verdict"
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
"$BIN" compare --cells gru --inits critical pytorch --seq-len 300 --hidden 32 --json > "$tmp/cmp.json" || bad "compare --json"
$py - "$tmp/cmp.json" <<'PY' && ok || bad "compare JSON"
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j) == 1 and j[0]["cell"] == "gru" and j[0]["seq_len"] == 300
names = [r["init"] for r in j[0]["inits"]]
assert names == ["critical", "pytorch"]
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

finish
