#!/usr/bin/env bash
# End-to-end checks of train / resume / export / eval on real MNIST (small models, few steps):
# exact resumption, the NaN guard, and clear errors for bad flags and specs.
# Usage: test_train_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

common=(--task mnist-row --cell gru --hidden 16 --batch 16 --eval-every 1000 --eval-limit 100 --log-every 5)
run=("${common[@]}" --lr 0.01 --seed 3)

# 1. Exact resumption: 30 steps in one go == 20 steps, then resume to 30.
"$BIN" train "${run[@]}" --steps 30 --checkpoint-every 10 --out "$tmp/full" >/dev/null 2>&1 || bad "full run"
"$BIN" train "${run[@]}" --steps 20 --checkpoint-every 10 --out "$tmp/part" >/dev/null 2>&1 || bad "first half"
"$BIN" train --resume "$tmp/part" --steps 30 >/dev/null 2>&1 || bad "resume"
"$BIN" export "$tmp/full" -o "$tmp/full.safetensors" >/dev/null || bad "export full"
"$BIN" export "$tmp/part" -o "$tmp/part.safetensors" >/dev/null || bad "export part"
if cmp -s "$tmp/full.safetensors" "$tmp/part.safetensors"; then ok; else bad "resumed weights differ from the uninterrupted run"; fi
# The logs agree line for line on the training entries (times aside).
strip() { grep '"loss"' "$1" | sed 's/,"time_s":[^}]*//'; }
if [ "$(strip "$tmp/full/log.jsonl")" = "$(strip "$tmp/part/log.jsonl")" ] && [ -n "$(strip "$tmp/full/log.jsonl")" ]; then ok; else bad "logs differ after resume"; fi
for f in config.json log.jsonl metrics.json checkpoint.safetensors; do
  [ -s "$tmp/full/$f" ] && ok || bad "missing $f"
done
grep -q '"test"' "$tmp/full/metrics.json" && ok || bad "metrics.json has no test evaluation"

# 2. A different seed gives a different run.
"$BIN" train "${common[@]}" --lr 0.01 --steps 10 --seed 4 --out "$tmp/other" >/dev/null 2>&1
"$BIN" export "$tmp/other" -o "$tmp/other.safetensors" >/dev/null
cmp -s "$tmp/other.safetensors" "$tmp/full.safetensors" && bad "seed has no effect" || ok

# 3. NaN guard: an absurd SGD step overflows; the run stops naming the step and the last good
#    checkpoint stays loadable.
expect_fail "nan guard" "non-finite" "$BIN" train "${common[@]}" --optimizer sgd --lr 1e38 --steps 50 --checkpoint-every 1 --out "$tmp/nan"
if [ -s "$tmp/nan/checkpoint.safetensors" ]; then
  "$BIN" export "$tmp/nan" -o "$tmp/nan.safetensors" >/dev/null 2>&1 && ok || bad "last checkpoint unreadable"
  "$BIN" eval --weights "$tmp/nan.safetensors" --task mnist-row --limit 10 --json >/dev/null 2>&1 && ok || bad "last checkpoint gives non-finite eval"
else
  bad "no checkpoint kept by the NaN run"
fi

# 4. Bad input is rejected before any work, with the reason.
expect_fail "existing run" "already holds a run" "$BIN" train "${run[@]}" --steps 5 --out "$tmp/full"
expect_fail "bad cell" "unknown cell 'lstmx'" "$BIN" train --task mnist-row --cell lstmx --out "$tmp/x"
expect_fail "bad lr" "--lr must be a positive" "$BIN" train --task mnist-row --lr -1 --out "$tmp/x"
expect_fail "bad optimizer" "unknown optimizer 'adamw'" "$BIN" train --task mnist-row --optimizer adamw --out "$tmp/x"
expect_fail "bad init" "neither a preset" "$BIN" train --task mnist-row --init nosuch --out "$tmp/x"
echo '{"cell": "lstm", "gates": {"input": {"recurrent_std": -1}}}' > "$tmp/neg.json"
expect_fail "negative std" "input.recurrent_std = -1 is negative" "$BIN" train --task mnist-row --init "$tmp/neg.json" --out "$tmp/x"
echo '{"cell": "gru", "gates": {}}' > "$tmp/gru.json"
expect_fail "missing gates" "gate 'reset' of gru is missing" "$BIN" train --task mnist-row --cell gru --init "$tmp/gru.json" --out "$tmp/x"
echo '{"cell": "lstm", "gates": ' > "$tmp/broken.json"
expect_fail "broken json" "not valid JSON" "$BIN" train --task mnist-row --init "$tmp/broken.json" --out "$tmp/x"
expect_fail "weights for another model" "weights are for gru" "$BIN" train --task mnist-row --cell lstm --hidden 16 --init "$tmp/full.safetensors" --out "$tmp/x"
[ ! -e "$tmp/x" ] && ok || bad "a rejected run left a directory behind"
expect_fail "resume nothing" "nothing to resume" "$BIN" train --resume "$tmp/none"
head -c 100 "$tmp/full.safetensors" > "$tmp/trunc.safetensors"
expect_fail "truncated weights" "trunc.safetensors" "$BIN" eval --weights "$tmp/trunc.safetensors" --task mnist-row

# 5. eval --json on the exported weights; init from weights continues from them.
out="$("$BIN" eval --weights "$tmp/full.safetensors" --task mnist-row --split test --limit 50 --json)"
grep -q '"accuracy"' <<<"$out" && grep -q '"loss"' <<<"$out" && ok || bad "eval --json: $out"
"$BIN" train --task mnist-row --cell gru --hidden 16 --steps 1 --init "$tmp/full.safetensors" --out "$tmp/init" >/dev/null 2>&1 && ok || bad "init from weights"

finish
