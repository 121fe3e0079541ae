#!/usr/bin/env bash
# A resumed run's training curve is the uninterrupted run's when --checkpoint-every is not a
# multiple of --log-every: the checkpoint carries the open log window (the loss and accuracy of
# the steps since the last line), both for a run stopped between two lines and for a finished run
# extended with --resume past a last step off the --log-every grid. A checkpoint without the
# window (older ones) resumes with a warning.
# Usage: test_resume_log_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

run=(--task mnist-row --cell gru --hidden 8 --batch 8 --eval-every 1000 --eval-limit 50
     --test-limit 50 --lr 0.01 --seed 3 --log-every 2 --checkpoint-every 3)
# The training lines (the run's train_curve), times aside.
curve() { grep '"loss"' "$1" | sed 's/,"time_s":[^,}]*//'; }
same_curve() {
  if [ -n "$(curve "$2")" ] && [ "$(curve "$1")" = "$(curve "$2")" ]; then ok; else
    bad "$3"; diff <(curve "$1") <(curve "$2") | head -6; fi
}

"$BIN" train "${run[@]}" --steps 10 --out "$tmp/full" >/dev/null 2>&1 || bad "uninterrupted run"
"$BIN" export "$tmp/full" -o "$tmp/full.safetensors" >/dev/null || bad "export full"

# 1. Stopped between two lines: the last checkpoint at step 3, the log already at step 4 (the
#    state a crash after step 4 leaves). The checkpoint is that of a run to 3 steps, which equals
#    the uninterrupted run's at step 3; the log is the uninterrupted run's up to step 4.
"$BIN" train "${run[@]}" --steps 3 --out "$tmp/crash" >/dev/null 2>&1 || bad "run to step 3"
$py - "$tmp/full/log.jsonl" "$tmp/crash/log.jsonl" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if json.loads(l).get("step", 0) <= 4 and "test_loss" not in l]
open(sys.argv[2], "w").write("".join(lines))
PY
rm -f "$tmp/crash/metrics.json"
"$BIN" train --resume "$tmp/crash" --steps 10 >/dev/null 2>&1 || bad "resume after the stop"
same_curve "$tmp/full/log.jsonl" "$tmp/crash/log.jsonl" \
  "a run resumed between two log lines left the uninterrupted run's training curve"
"$BIN" export "$tmp/crash" -o "$tmp/crash.safetensors" >/dev/null || bad "export crash"
cmp -s "$tmp/full.safetensors" "$tmp/crash.safetensors" && ok || bad "resumed weights differ"

# 2. A finished run extended past a last step off the grid (5 with --log-every 2): its line at
#    step 5 gives way to the uninterrupted run's line at 6, which averages steps 5 and 6.
"$BIN" train "${run[@]}" --steps 5 --out "$tmp/ext" >/dev/null 2>&1 || bad "run to step 5"
grep '"loss"' "$tmp/ext/log.jsonl" | grep -q '"step":5[,}]' && ok || bad "a run's last step has no training line"
"$BIN" train --resume "$tmp/ext" --steps 10 >/dev/null 2>&1 || bad "extend to 10 steps"
same_curve "$tmp/full/log.jsonl" "$tmp/ext/log.jsonl" \
  "an extended run left the uninterrupted run's training curve"
notime() { sed 's/,"time_s":[^,}]*//' "$1"; }
[ "$(notime "$tmp/full/log.jsonl")" = "$(notime "$tmp/ext/log.jsonl")" ] && ok ||
  bad "an extended run's log differs from the uninterrupted one"

# 3. A checkpoint without the window (as written before it was kept) still resumes, and says that
#    the next line averages fewer steps.
"$BIN" train "${run[@]}" --steps 3 --out "$tmp/old" >/dev/null 2>&1 || bad "run to step 3 (old)"
$py - "$tmp/old/checkpoint.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]
b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for k in ("log_window_steps", "log_window_loss", "log_window_accuracy"):
    h["__metadata__"].pop(k, None)
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY
expect_ok "resume from a checkpoint without the log window" "has no log window" \
  "$BIN" train --resume "$tmp/old" --steps 6

finish
