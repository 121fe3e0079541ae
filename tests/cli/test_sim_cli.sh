#!/usr/bin/env bash
# End-to-end checks of rnnmft simulate / phase / bench: JSON contracts, CSV outputs, errors.
# Usage: test_sim_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

"$BIN" simulate --cell lstm --init pytorch --width 64 --steps 60 --t0 30 --trials 2 --json -o "$tmp/sim" > "$tmp/sim.json" || bad "simulate"
$py - "$tmp/sim.json" <<'PY' && ok || bad "simulate JSON contract"
import json, sys
j = json.load(open(sys.argv[1]))
assert {"cell", "width", "untied", "stationary", "timescale", "jacobian", "jacobian_state"} <= set(j)
assert j["cell"] == "lstm" and j["width"] == 64 and j["untied"] is True
assert {"Q_h", "Q_c"} <= set(j["stationary"]) and {"xi", "xi_ci"} <= set(j["timescale"])
assert {"m1", "m2"} <= set(j["jacobian"]) and {"m1", "m2"} <= set(j["jacobian_state"])
PY
for f in trajectories.csv singular_values.csv product_singular_values.csv; do
  [ -s "$tmp/sim/$f" ] && ok || bad "simulate -o wrote no $f"
done
[ "$(wc -l < "$tmp/sim/trajectories.csv")" = 61 ] && ok || bad "trajectories.csv has not 60 rows"
"$BIN" simulate --cell gru --init keras --width 32 --steps 40 --t0 20 --tied --json > "$tmp/tied.json" && grep -q '"untied": false' "$tmp/tied.json" && ok || bad "tied"
expect_fail "t0 beyond steps" "--t0 90 must lie" "$BIN" simulate --cell gru --steps 50 --t0 90
expect_fail "width" "--hidden (--width) must be between" "$BIN" simulate --cell gru --width 1
expect_fail "too few steps" "--steps must be at least 8 (got 0)" "$BIN" simulate --cell gru --steps 0
expect_fail "negative seed" "--seed: takes an integer ≥ 0, got -3" "$BIN" simulate --cell gru --seed -3

"$BIN" phase --cell gru --x update.bias_mean=0:4:3 --y candidate.recurrent_std=1:5:2 -o "$tmp/p.csv" > /dev/null || bad "phase"
[ "$(wc -l < "$tmp/p.csv")" = 7 ] && head -1 "$tmp/p.csv" | grep -q "^update.bias_mean,candidate.recurrent_std,Q_h,Q_c,chi,xi,c_star,chi_coincident,chaotic,m1,m2,variance,log_tied_gain,seq_len,quad_error,converged$" && ok || bad "phase CSV"
$py "$(dirname "$0")/../../scripts/plot_phase.py" "$tmp/p.csv" -o "$tmp/p.png" >/dev/null && [ "$(head -c 4 "$tmp/p.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ] && ok || bad "plot_phase"
# An axis that turns a standard deviation negative at its far end: refused before the parallel
# loop (an error inside it would abort the process).
expect_fail "axis leaving the valid range" "--x 'update.recurrent_std=-1': standard deviations are ≥ 0" "$BIN" phase --cell gru --x update.recurrent_std=1:-1:3 --y reset.bias_mean=0:1:2 -o "$tmp/r.csv"
[ ! -e "$tmp/r.csv" ] && ok || bad "a refused phase wrote its CSV"
expect_fail "bad axis" "is not gate.param=lo:hi:n" "$BIN" phase --cell gru --x update.bias_mean=0:4 --y reset.bias_mean=0:1:2 -o "$tmp/q.csv"
expect_fail "bad gate" "gru has no gate 'forget'" "$BIN" phase --cell gru --x forget.bias_mean=0:4:2 --y reset.bias_mean=0:1:2 -o "$tmp/q.csv"
[ ! -e "$tmp/q.csv" ] && ok || bad "failed phase left a file"

"$BIN" bench --cell gru --seq-len 20 --hidden 16 --batch 4 --steps 2 --json > "$tmp/b.json" || bad "bench"
$py -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['ms_per_step'] > 0 and j['gflops'] > 0 and j['peak_rss_mb'] > 0" "$tmp/b.json" && ok || bad "bench JSON"
expect_fail "bench args" "must be ≥ 1" "$BIN" bench --hidden 0
expect_fail "bench beyond memory" "GiB more memory; " "$BIN" bench --seq-len 100000000
expect_fail "bench --models on the CPU" "--models needs --device cuda" "$BIN" bench --models 4
expect_ok "bench warns of more threads than cores" "warning: --threads $(( $(nproc) + 1 )) on a machine with" "$BIN" bench --seq-len 4 --hidden 8 --batch 8 --steps 1 --warmup 0 --threads $(( $(nproc) + 1 ))
expect_fail "bench --device" "--device must be cpu or cuda" "$BIN" bench --device tpu
# The CUDA engine: --version says whether it is built in; without a GPU --device cuda refuses
# clearly (on a GPU machine it runs, and the JSON has the ensemble's fields).
ver="$("$BIN" --version)"
if grep -qE "CUDA engine (built in|not built)" <<<"$ver"; then ok; else bad "--version: $ver"; fi
if out="$("$BIN" bench --device cuda --cell lstm --seq-len 10 --hidden 8 --batch 4 --models 3 --steps 1 --json 2>&1)"; then
  $py -c "import json,sys; j=json.loads(sys.argv[1]); assert j['models'] == 3 and j['ms_per_model_step'] > 0 and j['peak_gpu_mb'] > 0" "$out" && ok || bad "bench --device cuda JSON: $out"
else
  if grep -qE "no usable CUDA GPU|no CUDA GPU found|built without the CUDA engine" <<<"$out"; then ok; else
    bad "bench --device cuda without a GPU: $out"; fi
  echo "bench --device cuda: no GPU here (refused as expected)"
fi
expect_fail "bench --precision" "unknown precision" "$BIN" bench --device cuda --precision fp8

finish
