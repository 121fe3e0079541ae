#!/usr/bin/env bash
# The CUDA engine's tests and benchmarks on a GPU machine, with its peers side by side in the same
# run (docs/gpu.md). Usage: bench/gpu_bench.sh BUNDLE OUT [quick]
#   BUNDLE: rnnmft, test_gpu and the shared libraries they need that the machine lacks
#           (scripts/gpu_bundle.sh makes it); OUT: where the JSON lines and logs go.
set -uo pipefail
OUT=$2; MODE=${3:-full}
mkdir -p "$OUT"
source "$(dirname "$0")/gpu_env.sh" "$1"
{ nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
  echo "cublas: ${CUBLAS_DIR:-not found}"; "$BUNDLE/rnnmft" --version; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

echo "== GPU tests"
timeout 300 "$BUNDLE/test_gpu" --gtest_brief=0 > "$OUT/test_gpu.txt" 2>&1
echo "test_gpu exit $?" | tee -a "$OUT/test_gpu.txt"
grep -E "PASSED|FAILED|SKIPPED|curves" "$OUT/test_gpu.txt" | head -40

ours() {  # cell T I K precision [extra]
  timeout 120 "$BUNDLE/rnnmft" bench --device cuda --cell "$1" --seq-len "$2" --hidden 128 \
    --batch 64 --input-dim "$3" --models "$4" --precision "$5" --steps 3 --warmup 1 --json "${@:6}" \
    >> "$OUT/ours.jsonl" 2>> "$OUT/ours.err" || echo "{\"error\": \"rnnmft bench $*\"}" >> "$OUT/ours.jsonl"
  tail -1 "$OUT/ours.jsonl"
}
peer() {
  timeout 180 python3 "$(dirname "$0")/gpu_peers.py" "$@" >> "$OUT/peers.jsonl" 2>> "$OUT/peers.err"
  tail -1 "$OUT/peers.jsonl"
}
echo "== rnnmft --device cuda"
for K in 1 16 64 256; do ours lstm 1000 28 $K tf32; done
ours lstm 1000 28 256 fp32
ours gru 1000 28 256 tf32
ours gru 1000 28 256 fp32
ours lstm 784 1 1 fp32
ours lstm 784 1 1 tf32
ours lstm 784 1 1 tf32 --direct
ours lstm 1000 28 256 tf32 --direct
for K in 128 512; do ours lstm 1000 28 $K tf32; done
ours gru 1000 28 64 tf32
ours gru 1000 28 512 tf32
ours lstm 1000 28 256 tf32 --chunk 16
ours lstm 1000 28 256 tf32 --chunk 200
ours gru 1000 28 256 tf32 --gru-variant reset-before
[ "$MODE" = quick ] && exit 0
echo "== peers"
peer torch lstm 1000 128 64 28 10 tf32
peer torch lstm 1000 128 64 28 10 fp32
peer torch gru 1000 128 64 28 10 tf32
peer torch lstm 784 128 64 1 10 tf32
peer jax lstm 1000 128 64 28 3 64
peer jax gru 1000 128 64 28 3 64
peer jax lstm 1000 128 64 28 3 16
peer jax lstm 1000 128 64 28 3 128
peer jax gru 1000 128 64 28 3 128
echo "== per-step products alone"
timeout 120 python3 "$(dirname "$0")/gpu_gemm_shapes.py" 256 128 64 4 | tee "$OUT/products.jsonl"
timeout 60 python3 "$(dirname "$0")/gpu_gemm_shapes.py" 64 128 64 4 | tee -a "$OUT/products.jsonl"
