#!/usr/bin/env bash
# The fused sweep on a GPU machine in one go (docs/gpu.md §Fused sweeps): its GPU tests, then one
# ensemble step timed step by step and fused side by side at the issue's shapes, a call-by-call
# profile of the fused step, cuDNN (one model) and JAX (vmap) in the same run, CUDA's sanitizer on
# the fused kernels, and last the packed-sweep checks on cuda (tests/cli/test_pack_cli.sh).
# Usage: bench/gpu_fused.sh BUNDLE OUT [nopeers]
set -uo pipefail
OUT=$2; MODE=${3:-all}
mkdir -p "$OUT"
source "$(dirname "$0")/gpu_env.sh" "$1"
trap 'tar czf "${OUT%/}.tgz" -C "$(dirname "$OUT")" "$(basename "$OUT")"' EXIT
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
  echo "cublas: ${CUBLAS_DIR:-not found}"; "$BUNDLE/rnnmft" --version; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

echo "== GPU tests"
timeout 240 "$BUNDLE/test_gpu" > "$OUT/test_gpu.txt" 2>&1
echo "test_gpu exit $?" | tee -a "$OUT/test_gpu.txt"
grep -E "^\[  (PASSED|FAILED|SKIPPED)|tests? ran|Expected|actual|what|Failure" "$OUT/test_gpu.txt" | head -60

ours() {  # cell T I K [extra]; PREC=bf16 for bf16 tiles (tf32 otherwise)
  timeout 120 "$BUNDLE/rnnmft" bench --device cuda --cell "$1" --seq-len "$2" --hidden 128 \
    --batch 64 --input-dim "$3" --models "$4" --precision "${PREC:-tf32}" --steps 3 --warmup 1 --json "${@:5}" \
    >> "$OUT/ours.jsonl" 2>> "$OUT/ours.err" || echo "{\"error\": \"rnnmft bench $*\"}" >> "$OUT/ours.jsonl"
  tail -1 "$OUT/ours.jsonl" | cut -c1-260
}
echo "== step by step and fused, side by side (tf32)"
for K in 256 64; do
  ours lstm 1000 28 $K
  ours lstm 1000 28 $K --fused
done
ours gru 1000 28 256
ours gru 1000 28 256 --fused
ours gru 1000 28 256 --gru-variant reset-before
ours gru 1000 28 256 --gru-variant reset-before --fused
ours lstm 784 1 1
ours lstm 784 1 1 --fused
ours lstm 784 1 1 --fused --fused-cluster 8
ours lstm 1000 28 256 --fused --fused-cluster 4
ours lstm 1000 28 256 --fused --chunk 200
ours lstm 1000 28 512 --fused
echo "== bf16 tiles (always fused): LSTM in 1 block forward and 4 backward, reset-before GRU 2 and 4"
PREC=bf16 ours lstm 1000 28 256
PREC=bf16 ours gru 1000 28 256 --gru-variant reset-before
PREC=bf16 ours gru 1000 28 256
PREC=bf16 ours lstm 784 1 1
PREC=bf16 ours lstm 784 1 1 --fused-cluster 4
PREC=bf16 ours lstm 1000 28 64
echo "== train --device cuda --precision tf32 on row MNIST, step by step and fused (RNNMFT_FUSED=1)"
W=$(mktemp -d)
compare() {  # log A, log B, label: the training losses and test accuracies of two runs
  python3 - "$@" <<'PY' | tee -a "$OUT/train_compare.txt"
import json, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:3])
la, lb = ([l for l in x if "loss" in l] for x in (a, b))
d = [abs(x["loss"] - y["loss"]) / abs(x["loss"]) for x, y in zip(la, lb)]
ta, tb = ([l for l in x if "test_accuracy" in l][-1]["test_accuracy"] for x in (a, b))
print(f"{sys.argv[3]}: {len(la)} log points; relative loss difference at the first {d[0]:.1e}, "
      f"largest {max(d):.1e}, at the last {d[-1]:.1e}; test accuracy {ta:.4f} against {tb:.4f}")
PY
}
for cell in lstm gru; do
  for fused in 0 1; do
    RNNMFT_FUSED=$fused timeout 120 "$BUNDLE/rnnmft" train --task mnist-row --cell "$cell" --hidden 64 \
      --batch 64 --steps 300 --lr 0.002 --log-every 10 --eval-every 300 --eval-limit 1000 \
      --test-limit 2000 --device cuda --precision tf32 --out "$W/$cell-$fused" > "$OUT/train_$cell-$fused.txt" 2>&1
    echo "train $cell fused=$fused exit $?"
    cp "$W/$cell-$fused/log.jsonl" "$OUT/train_$cell-$fused.log.jsonl" 2>/dev/null
  done
  compare "$W/$cell-0/log.jsonl" "$W/$cell-1/log.jsonl" "$cell step by step against fused"
done
echo "== train LSTM with bf16 tiles against step by step in tf32"
timeout 120 "$BUNDLE/rnnmft" train --task mnist-row --cell lstm --hidden 64 --batch 64 --steps 300 \
  --lr 0.002 --log-every 10 --eval-every 300 --eval-limit 1000 --test-limit 2000 --device cuda \
  --precision bf16 --out "$W/lstm-bf16" > "$OUT/train_lstm-bf16.txt" 2>&1
echo "train lstm bf16 exit $?"
cp "$W/lstm-bf16/log.jsonl" "$OUT/train_lstm-bf16.log.jsonl" 2>/dev/null
compare "$W/lstm-0/log.jsonl" "$W/lstm-bf16/log.jsonl" "lstm tf32 step by step against bf16 fused"
rm -rf "$W"
echo "== the fused step call by call (K = 256, LSTM; every call waited for)"
RNNMFT_CUDA_PROFILE=1 timeout 120 "$BUNDLE/rnnmft" bench --device cuda --cell lstm --seq-len 1000 \
  --hidden 128 --batch 64 --input-dim 28 --models 256 --precision tf32 --steps 1 --warmup 0 \
  --fused --direct > "$OUT/profile.txt" 2>&1
grep -E "fused|product|step|total|all" "$OUT/profile.txt" | head -20
if [ "$MODE" != nopeers ]; then
echo "== peers"
peer() {
  timeout 150 python3 "$(dirname "$0")/gpu_peers.py" "$@" >> "$OUT/peers.jsonl" 2>> "$OUT/peers.err"
  tail -1 "$OUT/peers.jsonl" | cut -c1-200
}
peer torch lstm 1000 128 64 28 10 tf32
peer torch gru 1000 128 64 28 10 tf32
peer torch lstm 784 128 64 1 10 tf32
peer jax lstm 1000 128 64 28 3 64
fi
# Shared-memory hazards of the fused kernels, where the machine has CUDA's sanitizer (slow, so
# one small case per cell kind that has a two-phase step, and last).
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$SAN" ]; then
  echo "== compute-sanitizer racecheck and memcheck (fused sweep, reset-before GRU and LSTM)"
  for tool in racecheck memcheck; do
    timeout 90 "$SAN" --tool "$tool" --error-exitcode 9 "$BUNDLE/test_gpu" \
      --gtest_filter='AllCells/CudaCells.FusedSweepMatchesTheCpuEngine/gru_reset_before:AllCells/CudaCells.FusedSweepMatchesTheCpuEngine/lstm' \
      > "$OUT/sanitizer_$tool.txt" 2>&1
    echo "$tool exit $?"; grep -E "ERROR SUMMARY|Race|hazard|Invalid" "$OUT/sanitizer_$tool.txt" | head -5
  done
else
  echo "== no compute-sanitizer on this machine"
fi
echo "== packed sweeps on cuda"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RNNMFT_PY=python3 timeout 240 bash "$ROOT/tests/cli/test_pack_cli.sh" "$BUNDLE/rnnmft" cuda > "$OUT/pack_cuda.txt" 2>&1
echo "test_pack_cli cuda exit $?" | tee -a "$OUT/pack_cuda.txt"
tail -3 "$OUT/pack_cuda.txt"
