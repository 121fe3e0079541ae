#!/usr/bin/env bash
# Packed sweeps (docs/gpu.md §Sweeps): runs of one shape trained together as one ensemble give
# the results lines they give alone, on the ensemble engine's CPU reference backend
# (cpu-ensemble; the GPU tests do the same on cuda). Runs that diverge or stop early leave the
# ensemble while the others go on; a killed pack resumes its runs from their checkpoints, at
# different steps; shapes that differ go to different ensembles; bad input is named.
# Usage: test_pack_cli.sh PATH/TO/rnnmft [DEVICE]   (DEVICE: cpu-ensemble, the default, or cuda:
# on a GPU the products of K models at once may round differently from those of one, so the
# lines agree to 1e-4 rather than bit for bit)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"
DEVICE=${2:-cpu-ensemble}

# The lines of two sweeps agree: training and evaluation bit for bit, the theory to rounding.
# With a third argument "resumed": a resumed run's log averages the loss of the interval cut by
# the kill over the steps after the resume only, so its train_curve is not compared.
same_lines() {
  $py - "$1" "$2" "${3:-}" "$DEVICE" <<'PY'
import json, sys
def load(p):
    return {l["run"]: l for l in map(json.loads, open(p))}
a, b = load(sys.argv[1]), load(sys.argv[2])
def close(x, y, where):
    if isinstance(x, list):
        assert isinstance(y, list) and len(x) == len(y), where
        for u, v in zip(x, y):
            close(u, v, where)
    elif isinstance(x, float) and isinstance(y, (int, float)):
        assert abs(x - y) <= 1e-4 * max(1.0, abs(x)), (where, x, y)
    else:
        assert x == y, (where, x, y)
skip = {"seconds", "git"} | ({"train_curve"} if sys.argv[3] == "resumed" else set())
assert a.keys() == b.keys(), (len(a), len(b))
for k in a:
    for f in a[k]:
        if f in skip:
            continue
        if f in ("xi", "chi", "m1") and a[k][f] is not None:
            assert abs(a[k][f] - b[k][f]) <= 1e-9 * abs(a[k][f]), (k, f, a[k][f], b[k][f])
        elif sys.argv[4] == "cuda":
            close(a[k][f], b[k][f], (k, f))
        else:
            assert a[k][f] == b[k][f], (k, f, a[k][f], b[k][f])
PY
}

# 1. Eight GRU runs: two seeds, a learning rate that diverges, two lengths of training.
cat >"$tmp/grid.json" <<JSON
{"name": "packs", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 40, "cell": "gru",
  "hidden": 8, "batch": 8, "eval_every": 10, "eval_limit": 50, "test_limit": 37, "log_every": 5,
  "checkpoint_every": 10, "device": "$DEVICE"},
 "grid": {"seed": [0, 1], "lr": [0.01, 100000], "steps": [20, 30]}}
JSON
expect_ok "runs one by one" "8 runs finished now (4 diverged)" \
  "$BIN" sweep "$tmp/grid.json" --out "$tmp/alone" --jobs 1 --pack 1
expect_ok "runs as one ensemble" "8 runs finished now (4 diverged)" \
  "$BIN" sweep "$tmp/grid.json" --out "$tmp/packed" --pack 8
same_lines "$tmp/alone/results.jsonl" "$tmp/packed/results.jsonl" && ok || bad "packed lines differ from the runs alone"
[ "$(ls "$tmp/packed/packs"/*.json | wc -l)" = 1 ] && ok || bad "not one pack"
grep -q "ensemble of 8 runs on ${DEVICE%-ensemble}" "$tmp/packed/packs"/*.log && ok || bad "the pack's log does not say what it trained"
# Each run's directory is what a run alone leaves: config, log, checkpoint, metrics.
for d in "$tmp/packed/runs"/*/; do
  [ -s "$d/config.json" ] && [ -s "$d/log.jsonl" ] && [ -s "$d/result.json" ] || bad "run directory $d incomplete"
done
ok

# 2. An LSTM grid over a spec parameter, packs of 6, against the runs alone. The runs of a pack
#    validate every 7, 10 and 11 steps, on 7 batches (50 examples, batch 8): evaluations, updates
#    and gradients of different runs meet in the same rounds.
cat >"$tmp/lstm.json" <<JSON
{"name": "lstm", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 40, "cell": "lstm",
  "hidden": 8, "batch": 8, "lr": 0.01, "clip": 1.0, "steps": 30,
  "eval_limit": 50, "test_limit": 37, "log_every": 5, "checkpoint_every": 15,
  "device": "$DEVICE"},
 "grid": {"seed": [0, 1], "forget.bias_mean": [0, 2, 40], "eval_every": [7, 10, 11]}}
JSON
"$BIN" sweep "$tmp/lstm.json" --out "$tmp/l1" --jobs 1 --pack 1 --quiet || bad "LSTM runs alone"
expect_ok "LSTM packs of 6" "(3 ensembles of up to 6)" "$BIN" sweep "$tmp/lstm.json" --out "$tmp/l3" --pack 6
same_lines "$tmp/l1/results.jsonl" "$tmp/l3/results.jsonl" && ok || bad "LSTM packs differ from the runs alone"

# 3. A pack killed mid-way resumes every run from its own checkpoint (checkpoints every 7 and
#    every 10 steps: the runs come back at different steps) and ends where the uninterrupted
#    sweep ends.
steps=600
[ "$DEVICE" = cuda ] && steps=4000  # a GPU finishes 600 steps before the poll sees step 30
cat >"$tmp/long.json" <<JSON
{"name": "long", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 60, "cell": "lstm",
  "hidden": 8, "batch": 8, "lr": 0.01, "steps": $steps, "eval_every": 200, "eval_limit": 40,
  "test_limit": 40, "log_every": 10, "device": "$DEVICE"},
 "grid": {"seed": [0, 1], "checkpoint_every": [7, 10]}}
JSON
"$BIN" sweep "$tmp/long.json" --out "$tmp/ref" --pack 4 --quiet || bad "reference pack"
"$BIN" sweep "$tmp/long.json" --out "$tmp/cut" --pack 4 --quiet &
pid=$!
# Polled, not timed: a sanitizer build runs 20× slower than a release build.
for _ in $(seq 1 60000); do
  n=$(ls "$tmp"/cut/runs/*/checkpoint.safetensors 2>/dev/null | wc -l)
  if [ "$n" = 4 ] && grep -q '"step": *30\b\|"step":30,' "$tmp"/cut/runs/*/log.jsonl 2>/dev/null; then break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.02
done
kill -9 $pid; wait $pid 2>/dev/null
sleep 0.5  # the pack process follows its parent (PR_SET_PDEATHSIG)
if [ -s "$tmp/cut/results.jsonl" ]; then bad "the pack finished before the kill: resume not tested"; else ok; fi
expect_ok "resume of a killed pack" "0 already finished, 4 to do" "$BIN" sweep "$tmp/long.json" --out "$tmp/cut" --pack 4
[ "$(grep -c "resuming from its checkpoint" "$tmp"/cut/packs/*.log)" = 4 ] && ok || bad "not every run resumed from its checkpoint"
same_lines "$tmp/ref/results.jsonl" "$tmp/cut/results.jsonl" resumed && ok || bad "resumed pack differs from the uninterrupted one"

# 4. Shapes that differ go to different ensembles; a run on the CPU engine runs alone.
cat >"$tmp/mixed.json" <<JSON
{"name": "mixed", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 30, "cell": "gru",
  "batch": 8, "lr": 0.01, "steps": 10, "eval_every": 10, "eval_limit": 20, "test_limit": 20},
 "grid": {"hidden": [4, 6], "device": ["cpu", "$DEVICE"], "seed": [0, 1]}}
JSON
expect_ok "mixed shapes" "(2 ensembles of up to 2)" "$BIN" sweep "$tmp/mixed.json" --out "$tmp/mixed" --pack 8
[ "$(wc -l <"$tmp/mixed/results.jsonl")" = 8 ] && ok || bad "mixed grid: not 8 lines"

# 5. A run that fails (weights whose header is right and whose first value is NaN: only reading
#    them finds it, so the sweep's up-front checks pass) fails alone, with its own reason in its
#    own output.log; the other runs of its pack finish (a run that never reached the ensemble
#    must not hold the others up: the sweep would hang).
"$BIN" train --task mnist-padded --unit row --seq-len 40 --cell lstm --hidden 8 --steps 1 \
  --eval-limit 10 --test-limit 10 --out "$tmp/w" >/dev/null 2>&1 &&
  "$BIN" export "$tmp/w" -o "$tmp/nan.safetensors" >/dev/null 2>&1 || bad "weights for the failing run"
nan_first_value "$tmp/nan.safetensors"
cat >"$tmp/fail.json" <<JSON
{"name": "fail", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 40, "cell": "lstm",
  "hidden": 8, "batch": 8, "lr": 0.01, "steps": 20, "eval_every": 10, "eval_limit": 20,
  "test_limit": 20, "device": "$DEVICE"},
 "grid": {"init": ["pytorch", "$tmp/nan.safetensors"], "seed": [0, 1]}}
JSON
expect_fail "a failing run in a pack" "2 of 4 runs failed" timeout 300 "$BIN" sweep "$tmp/fail.json" --out "$tmp/fail" --pack 4
[ "$(wc -l <"$tmp/fail/results.jsonl")" = 2 ] && ok || bad "the pack's other runs did not finish"
[ "$(grep -l "nan.safetensors: tensor '[a-z_.0-9]*' holds a non-finite value" "$tmp"/fail/runs/*/output.log | wc -l)" = 2 ] && ok || bad "the failed runs' own output does not say why"

# 6. Bad input.
expect_fail "negative pack" "--pack must be between 1 and 4096" "$BIN" sweep "$tmp/grid.json" --out "$tmp/x" --pack -1
echo '{"units": []}' >"$tmp/empty.json"
expect_fail "empty pack file" "at least one unit" "$BIN" sweep-run-pack "$tmp/empty.json"
echo '{"units": ["'"$tmp"'/nothing.json"]}' >"$tmp/missing.json"
expect_fail "pack of a missing unit" "nothing.json: cannot open" "$BIN" sweep-run-pack "$tmp/missing.json"
# Units of different shapes are refused before anything runs.
read -r u1 u2 < <($py - "$tmp"/mixed/runs/*/unit.json <<'PY'
import json, sys
by_hidden = {}
for f in sys.argv[1:]:
    c = json.load(open(f))["config"]
    if c["device"] != "cpu":
        by_hidden.setdefault(c["hidden"], f)
print(*by_hidden.values())
PY
)
echo "{\"units\": [\"$u1\", \"$u2\"]}" >"$tmp/two.json"
expect_fail "pack of two shapes" "cannot share an ensemble" "$BIN" sweep-run-pack "$tmp/two.json"

finish
