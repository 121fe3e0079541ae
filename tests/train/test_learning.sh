#!/usr/bin/env bash
# Learning works on real data (Release build only; minutes, not seconds):
#   1. mnist-row (T = 28), LSTM 128, batch 64, Adam, 3 epochs: test accuracy ≥ 97 %;
#   2. mnist-pixel (T = 784), LSTM 128, 200 steps: no NaN and a falling loss.
# Usage: test_learning.sh PATH/TO/rnnmft WORKDIR
set -u
BIN="$1"; WORK="$2"
rm -rf "$WORK"; mkdir -p "$WORK"
passed=0; failed=0
py=/usr/bin/python3

"$BIN" train --task mnist-row --cell lstm --hidden 128 --batch 64 --optimizer adam --lr 2e-3 \
  --schedule cosine --clip 1 --steps 2577 --eval-every 1000 --out "$WORK/row" 2>&1 | tail -1
if $py - "$WORK/row/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
acc = m["test"]["accuracy"]
print(f"mnist-row: test accuracy {acc:.4f} over {m['test']['examples']} examples, "
      f"{m['train_time_s']:.1f} s, {m['ms_per_step']:.1f} ms/step")
sys.exit(0 if acc >= 0.97 and m["test"]["examples"] == 10000 else 1)
PY
then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: mnist-row below 97 %"; fi

"$BIN" train --task mnist-pixel --cell lstm --hidden 128 --batch 64 --optimizer adam --lr 2e-3 \
  --clip 1 --init chrono --steps 200 --eval-every 1000 --eval-limit 500 --test-limit 500 \
  --out "$WORK/pixel" 2>&1 | tail -1
if $py - "$WORK/pixel/log.jsonl" "$WORK/pixel/metrics.json" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert not any("error" in r for r in rows), "the run logged an error"
losses = [r["loss"] for r in rows if "loss" in r]
assert len(losses) == 20 and all(math.isfinite(v) for v in losses), losses
first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
m = json.load(open(sys.argv[2]))
print(f"mnist-pixel: loss {first:.4f} (steps 1-50) -> {last:.4f} (steps 151-200), "
      f"{m['ms_per_step']:.0f} ms/step, test accuracy {m['test']['accuracy']:.3f} on 500")
sys.exit(0 if last < first - 0.05 else 1)
PY
then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: mnist-pixel loss did not fall"; fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
