#!/usr/bin/env bash
# End-to-end checks of rnnmft theory / critical / compare: the JSON contract, the spec that
# critical writes being usable by train, and clear errors. Usage: test_theory_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

# JSON contract of theory (GRU: exact; LSTM: with Monte Carlo errors).
"$BIN" theory --cell gru --init pytorch --hidden 64 --json > "$tmp/gru.json" || bad "theory gru"
"$BIN" theory --cell lstm --init keras --samples 8000 --json > "$tmp/lstm.json" || bad "theory lstm"
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
"$BIN" critical --cell gru --seq-len 500 -o "$tmp/gru_crit.json" --json > "$tmp/crit.json" || bad "critical gru"
$py - "$tmp/crit.json" <<'PY' && ok || bad "critical JSON"
import json, sys
j = json.load(open(sys.argv[1]))
assert abs(j["jacobian"]["m1"] - 1) < 1e-3 and j["reached"]
assert j["spec"]["cell"] == "gru" and set(j["spec"]["gates"]) == {"update", "reset", "candidate"}
PY
"$BIN" train --task mnist-row --cell gru --gru-variant reset-before --hidden 16 --steps 2 --init "$tmp/gru_crit.json" --out "$tmp/run" >/dev/null 2>&1 && ok || bad "train --init critical spec"
"$BIN" theory --init "$tmp/gru_crit.json" > "$tmp/t.txt" 2>&1 && grep -q "m1 = 1.0000" "$tmp/t.txt" && ok || bad "theory on the written spec"

expect_fail "spec/cell mismatch" "is a spec for the gru cell" "$BIN" theory --cell lstm --init "$tmp/gru_crit.json"
expect_fail "bad preset" "neither a preset" "$BIN" theory --init xavier
expect_fail "bad overlap" "--input-overlap must satisfy" "$BIN" theory --cell gru --init pytorch --input-overlap 3
expect_fail "bad fix" "is not a number" "$BIN" critical --cell gru --fix update.bias_mean=abc
expect_fail "fix the knob" "the parameter the search solves for" "$BIN" critical --cell gru --fix candidate.recurrent_std=2
expect_fail "few samples" "--samples must be at least 1000" "$BIN" theory --cell lstm --init pytorch --samples 10

finish
