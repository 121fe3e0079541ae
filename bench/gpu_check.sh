#!/usr/bin/env bash
# On a GPU machine, in one go (docs/gpu.md §Checks on a GPU): the GPU tests; `rnnmft train
# --device cuda` end to end beside the CPU engine (LSTM and GRU, 300 steps of row MNIST); the
# packed-sweep checks on cuda (tests/cli/test_pack_cli.sh); and one ensemble step of each heatmap's
# shape timed on this card. Usage: bench/gpu_check.sh BUNDLE OUT [PART]
#   PART: all (default), tests (the GPU tests and the packed sweeps) or train (the rest)
set -uo pipefail
OUT=$2; PART=${3:-all}
mkdir -p "$OUT"
source "$(dirname "$0")/gpu_env.sh" "$1"
W=$(mktemp -d)
# Everything also as one archive beside OUT, at any exit: a machine that hands back few files
# returns it.
trap 'tar czf "${OUT%/}.tgz" -C "$(dirname "$OUT")" "$(basename "$OUT")"' EXIT
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
  echo "cublas: ${CUBLAS_DIR:-not found}"; nproc; "$BUNDLE/rnnmft" --version; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

if [ "$PART" != train ]; then
echo "== GPU tests"
timeout 300 "$BUNDLE/test_gpu" > "$OUT/test_gpu.txt" 2>&1
echo "test_gpu exit $?" | tee -a "$OUT/test_gpu.txt"
grep -E "^\[  (PASSED|FAILED|SKIPPED)|tests? ran|FAILED" "$OUT/test_gpu.txt" | head -30

echo "== packed sweeps on cuda"
RNNMFT_PY=python3 timeout 300 bash "$ROOT/tests/cli/test_pack_cli.sh" "$BUNDLE/rnnmft" cuda > "$OUT/pack_cuda.txt" 2>&1
echo "test_pack_cli cuda exit $?" | tee -a "$OUT/pack_cuda.txt"
tail -3 "$OUT/pack_cuda.txt"
fi
[ "$PART" = tests ] && exit 0

echo "== train --device cuda against the CPU engine"
for cell in lstm gru; do
  for dev in cuda cpu; do
    timeout 200 "$BUNDLE/rnnmft" train --task mnist-row --cell "$cell" --hidden 64 --batch 64 \
      --steps 300 --lr 0.002 --log-every 10 --eval-every 100 --eval-limit 1000 --test-limit 2000 \
      --checkpoint-every 150 --threads 4 --device "$dev" --out "$W/$cell-$dev" > "$OUT/train_$cell-$dev.txt" 2>&1
    echo "train $cell $dev exit $?"
    cp "$W/$cell-$dev/log.jsonl" "$OUT/train_$cell-$dev.log.jsonl" 2>/dev/null
    cp "$W/$cell-$dev/metrics.json" "$OUT/train_$cell-$dev.metrics.json" 2>/dev/null
  done
  python3 - "$W/$cell-cuda/log.jsonl" "$W/$cell-cpu/log.jsonl" <<'PY' | tee -a "$OUT/train_compare.txt"
import json, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:3])
la, lb = ([l for l in x if "loss" in l] for x in (a, b))
d = max(abs(x["loss"] - y["loss"]) / abs(y["loss"]) for x, y in zip(la, lb))
va, vb = ([l for l in x if "test_accuracy" in l][-1] for x in (a, b))
print(f"{sys.argv[1].split('/')[-2]}: {len(la)} log points, largest relative loss difference "
      f"{d:.2e}; test accuracy cuda {va['test_accuracy']:.4f} cpu {vb['test_accuracy']:.4f}; "
      f"cuda ms/step {json.load(open(sys.argv[1].replace('log.jsonl', 'metrics.json')))['ms_per_step']:.2f}, "
      f"cpu {json.load(open(sys.argv[2].replace('log.jsonl', 'metrics.json')))['ms_per_step']:.2f}")
PY
done
# Resume a GPU checkpoint on the CPU engine and the other way round.
cp -r "$W/lstm-cuda" "$W/moved" && rm -f "$W/moved/metrics.json"
timeout 100 "$BUNDLE/rnnmft" train --resume "$W/moved" --steps 320 --device cpu > "$OUT/resume_cpu.txt" 2>&1
echo "resume of a cuda run on cpu exit $?"
timeout 100 "$BUNDLE/rnnmft" train --resume "$W/lstm-cpu" --steps 320 --device cuda > "$OUT/resume_cuda.txt" 2>&1
echo "resume of a cpu run on cuda exit $?"

echo "== one ensemble step of each heatmap's shape"
for cell in lstm gru; do
  timeout 120 "$BUNDLE/rnnmft" bench --device cuda --cell $cell --seq-len 1000 --hidden 128 \
    --batch 64 --input-dim 28 --models 256 --precision tf32 --steps 3 --warmup 1 --json \
    --gru-variant reset-before >> "$OUT/ours.jsonl" 2>> "$OUT/ours.err"
  tail -1 "$OUT/ours.jsonl"
done
rm -rf "$W"
