#!/usr/bin/env bash
# The routes through a run's stages (src/train/run_stages.h) agree bit for bit within one build:
# a run trained by `train`, the same run as a sweep's run, and as one run of a packed sweep; a run
# resumed from its checkpoint and one trained without a stop, down to the optimizer state. Also
# what a run says on the way: the critical solve announced before it starts and timed after it,
# and a padded length too short for pixels hints at --unit row.
# Usage: test_train_stages_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

# Checkpoints equal but for the wall time: parameters and optimizer state byte for byte, and the
# same metadata otherwise.
same_checkpoint() {
  $py - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h["__metadata__"].pop("wall_time_s")
    return h, b[8 + n:]
(ha, da), (hb, db) = load(sys.argv[1]), load(sys.argv[2])
assert ha == hb, (ha["__metadata__"], hb["__metadata__"])
assert len(da) > 0 and da == db, "tensor data differ"
PY
}
# Logs equal line for line but for the training time.
notime() { sed 's/,"time_s":[^,}]*//' "$1"; }
same_log() { [ -s "$1" ] && [ "$(notime "$1")" = "$(notime "$2")" ]; }

shape=(--task mnist-padded --seq-len 40 --unit row --cell gru --hidden 8 --batch 8 --eval-every 10
       --eval-limit 50 --test-limit 37 --log-every 5 --checkpoint-every 10)
opts=("${shape[@]}" --lr 0.01)

# 1. `train` alone and the same run in a sweep (run_unit): the same files.
"$BIN" train "${opts[@]}" --steps 20 --seed 1 --out "$tmp/alone" >/dev/null 2>&1 || bad "train alone"
cat >"$tmp/one.json" <<'JSON'
{"name": "one", "base": {"task": "mnist-padded", "seq_len": 40, "unit": "row", "cell": "gru",
  "hidden": 8, "batch": 8, "lr": 0.01, "eval_every": 10, "eval_limit": 50, "test_limit": 37,
  "log_every": 5, "checkpoint_every": 10, "steps": 20, "seed": 1},
 "grid": {"init": ["pytorch"]}}
JSON
"$BIN" sweep "$tmp/one.json" --out "$tmp/sw" --quiet || bad "sweep of one run"
swrun=$(ls -d "$tmp"/sw/runs/*/ | head -1)
same_checkpoint "$tmp/alone/checkpoint.safetensors" "$swrun/checkpoint.safetensors" && ok || bad "a sweep's run ends elsewhere than train"
same_log "$tmp/alone/log.jsonl" "$swrun/log.jsonl" && ok || bad "a sweep's run logs otherwise than train"
$py - "$tmp/alone/metrics.json" "$swrun/metrics.json" "$tmp/sw/results.jsonl" <<'PY' && ok || bad "a sweep's metrics differ from train's"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
line = json.loads(open(sys.argv[3]).readline())
for m in (a, b):
    m.pop("train_time_s"); m.pop("ms_per_step")
assert a == b, (a, b)
assert line["final_test_acc"] == a["test"]["accuracy"] and line["final_val_acc"] == a["val"]["accuracy"]
PY

# 2. Two runs packed into one ensemble (cpu-ensemble), against each trained alone on the same
#    engine: the same checkpoints and logs; the run that diverges stops at the same step.
for s in 0 1; do
  "$BIN" train "${opts[@]}" --steps 20 --seed $s --device cpu-ensemble --out "$tmp/e$s" >/dev/null 2>&1 || bad "cpu-ensemble run $s"
done
expect_fail "lr 1e5 alone" "training diverged at step" "$BIN" train "${shape[@]}" --steps 20 --seed 0 --lr 100000 --device cpu-ensemble --out "$tmp/ediv"
cat >"$tmp/pack.json" <<'JSON'
{"name": "pack", "base": {"task": "mnist-padded", "seq_len": 40, "unit": "row", "cell": "gru",
  "hidden": 8, "batch": 8, "eval_every": 10, "eval_limit": 50, "test_limit": 37, "log_every": 5,
  "checkpoint_every": 10, "steps": 20, "device": "cpu-ensemble"},
 "grid": {"lr": [0.01, 100000], "seed": [0, 1]}}
JSON
expect_ok "packed sweep" "(1 ensemble of up to 4)" "$BIN" sweep "$tmp/pack.json" --out "$tmp/pk" --pack 4
rundir() {  # the run of pack.json with lr $1 and seed $2
  $py - "$tmp/pk/results.jsonl" "$1" "$2" <<'PY'
import json, sys
for l in map(json.loads, open(sys.argv[1])):
    if l["params"] == {"lr": float(sys.argv[2]), "seed": int(sys.argv[3])}:
        print(l["run"])
PY
}
for s in 0 1; do
  d="$tmp/pk/runs/$(rundir 0.01 $s)"
  same_checkpoint "$tmp/e$s/checkpoint.safetensors" "$d/checkpoint.safetensors" && ok || bad "packed run $s ends elsewhere than alone"
  same_log "$tmp/e$s/log.jsonl" "$d/log.jsonl" && ok || bad "packed run $s logs otherwise than alone"
done
d="$tmp/pk/runs/$(rundir 100000 0)"
same_log "$tmp/ediv/log.jsonl" "$d/log.jsonl" && grep -q '"error":"diverged: ' "$d/log.jsonl" && ok || bad "the diverging packed run differs from the one alone"

# 3. Extended twice past its end (10 steps, then --steps 20 and --steps 30 on --resume: the
#    validations due at 10 and 20 redone), against 30 steps without a stop: the same checkpoint,
#    optimizer state included, and the same log.
"$BIN" train "${opts[@]}" --steps 30 --out "$tmp/whole" >/dev/null 2>&1 || bad "uninterrupted run"
"$BIN" train "${opts[@]}" --steps 10 --out "$tmp/ext" >/dev/null 2>&1 || bad "run to extend"
"$BIN" train --resume "$tmp/ext" --steps 20 >/dev/null 2>&1 || bad "extend to 20"
"$BIN" train --resume "$tmp/ext" --steps 30 >/dev/null 2>&1 || bad "extend to 30"
same_checkpoint "$tmp/whole/checkpoint.safetensors" "$tmp/ext/checkpoint.safetensors" && ok || bad "the extended run's checkpoint differs"
same_log "$tmp/whole/log.jsonl" "$tmp/ext/log.jsonl" && ok || { bad "the extended run's log differs"; diff <(notime "$tmp/whole/log.jsonl") <(notime "$tmp/ext/log.jsonl") | head -5; }

# 4. --init critical-v1 says what it solves for before the solve, and how long it took after.
crit=(--task mnist-padded --seq-len 60 --unit row --hidden 8 --steps 1 --batch 8 --eval-limit 16 --test-limit 16)
out="$("$BIN" train "${crit[@]}" --cell gru --init critical-v1 --out "$tmp/crit" 2>&1)" || bad "train --init critical-v1: $out"
$py - "$out" <<'PY' && ok || { bad "no progress line around the critical solve"; echo "$out" | head -5; }
import re, sys
lines = sys.argv[1].splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("solving the critical init for gru at T = 60, R = 0 (mnist-padded: "))
end = next(i for i, l in enumerate(lines) if re.fullmatch(r"critical init solved in \d+\.\d s", l))
done = next(i for i, l in enumerate(lines) if l.startswith("init critical-v1 (tied criterion): solved"))
assert start < end < done, (start, end, done)
PY
out="$("$BIN" train --resume "$tmp/crit" --steps 2 2>&1)" || bad "resume of the critical run: $out"
grep -q "solving the critical init" <<<"$out" && bad "a resumed run announced a solve" || ok

# 5. A padded length shorter than the pixels of an image hints at --unit row (28 steps).
expect_fail "padded T below 784 pixels" "--seq-len 300 is shorter than the 784 steps of the image (with --unit row an image takes 28 steps, one per row)" \
  "$BIN" train --task mnist-padded --seq-len 300 --steps 1 --out "$tmp/short"
out="$("$BIN" train --task mnist-padded --unit row --seq-len 20 --steps 1 --out "$tmp/short" 2>&1)"
grep -q "shorter than the 28 steps" <<<"$out" && ! grep -q "with --unit row" <<<"$out" && ok || bad "row unit too short: $out"
[ ! -e "$tmp/short" ] && ok || bad "a refused run left its directory"

finish
