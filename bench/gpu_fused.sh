#!/usr/bin/env bash
# The GPU check in one call that ends by its own deadline (docs/gpu.md §Fused sweeps): a GPU lent
# for minutes gets the most important measurements first, and whatever time is left the rest.
#   1. the fused sweep's GPU tests;
#   2. the LSTM (T = 1000, N = 128, B = 64, I = 28) step by step in tf32, fused in tf32 and fused
#      with bf16 tiles at K = 256, 16 and 1 models; the pixel LSTM (T = 784, I = 1) at K = 1;
#   3. cuDNN (PyTorch, one model) on the same card at the same shapes;
#   4. then, while time remains: the GRUs, the other GPU tests, training fused against step by
#      step, JAX's vmap, CUDA's sanitizer on the fused kernels, the packed-sweep checks on cuda.
# Every step runs under `timeout`, cut to the time left before the deadline less RESERVE seconds
# for the summary; a step with less than 5 s left is skipped. Everything goes under OUT (and into
# OUT.tgz at the end): steps.tsv (step, exit status — 124: cut — or "skipped", seconds),
# ours.jsonl, peers.jsonl, one .txt per step, summary.txt (also printed: one screen).
# Usage: bench/gpu_fused.sh BUNDLE OUT [SECONDS]   (SECONDS: the deadline, default 420)
set -uo pipefail
START=$(date +%s)
OUT=$2
BUDGET=${3:-420}
DEADLINE=$((START + BUDGET))
RESERVE=${RESERVE:-15}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
source "$HERE/gpu_env.sh" "$1"
trap 'tar czf "${OUT%/}.tgz" -C "$(dirname "$OUT")" "$(basename "$OUT")" 2>/dev/null' EXIT
: >"$OUT/steps.tsv"

left() { echo $((DEADLINE - $(date +%s))); }
# step NAME LIMIT COMMAND...: COMMAND's output in OUT/NAME.txt, at most LIMIT seconds and never
# past the deadline less RESERVE.
step() {
  local name=$1 limit=$2 t0 rc
  shift 2
  local room=$(($(left) - RESERVE))
  if ((room < 5)); then
    printf '%s\tskipped\t0\n' "$name" >>"$OUT/steps.tsv"
    echo "  $name: skipped (the deadline)"
    return 0
  fi
  ((limit > room)) && limit=$room
  t0=$(date +%s)
  timeout -k 3 "$limit" "$@" >"$OUT/$name.txt" 2>&1
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" >>"$OUT/steps.tsv"
  echo "  $name: exit $rc in $(($(date +%s) - t0)) s"
}
# keep_json NAME FILE: the last JSON line of step NAME's output, tagged with the step, into OUT/FILE.
keep_json() {
  grep -h '^{' "$OUT/$1.txt" 2>/dev/null | tail -1 | sed "s/^{/{\"name\": \"$1\", /" >>"$OUT/$2"
}
# ours NAME K CELL T I PRECISION [bench flags]: one `rnnmft bench --device cuda` line into ours.jsonl.
ours() {
  local name=$1 K=$2 cell=$3 T=$4 I=$5 prec=$6
  shift 6
  step "$name" 60 "$BUNDLE/rnnmft" bench --device cuda --cell "$cell" --seq-len "$T" --hidden 128 \
    --batch 64 --input-dim "$I" --models "$K" --precision "$prec" --steps 3 --warmup 1 --json "$@"
  keep_json "$name" ours.jsonl
}
peer() {  # NAME gpu_peers.py arguments...
  local name=$1
  shift
  step "$name" 90 python3 "$HERE/gpu_peers.py" "$@"
  keep_json "$name" peers.jsonl
}

{
  timeout 20 nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
  echo "cublas: ${CUBLAS_DIR:-not found; looked in:}"
  [ -z "$CUBLAS_DIR" ] && echo "$CUBLAS_CANDIDATES" | sed 's/^/  /'
  echo "cores: $(nproc)"
  timeout 10 "$BUNDLE/rnnmft" --version 2>&1 | head -1
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

echo "== 1. the fused sweep's GPU tests"
step fused_tests 120 "$BUNDLE/test_gpu" --gtest_filter='*Fused*:*fused*'
echo "== 2. LSTM T=1000 I=28 and T=784 I=1: step by step (tf32), fused (tf32), fused (bf16)"
for K in 256 16 1; do
  ours "lstm_K${K}_step" "$K" lstm 1000 28 tf32
  ours "lstm_K${K}_fused" "$K" lstm 1000 28 tf32 --fused
  ours "lstm_K${K}_bf16" "$K" lstm 1000 28 bf16
done
ours pixel_K1_step 1 lstm 784 1 tf32
ours pixel_K1_fused 1 lstm 784 1 tf32 --fused
ours pixel_K1_bf16 1 lstm 784 1 bf16
echo "== 3. cuDNN on the same card (PyTorch, one model at a time)"
peer cudnn_lstm torch lstm 1000 128 64 28 10 tf32
peer cudnn_pixel torch lstm 784 128 64 1 10 tf32
echo "== 4. the rest, while time remains"
ours gru_K256_step 256 gru 1000 28 tf32
ours gru_K256_fused 256 gru 1000 28 tf32 --fused
ours grub_K256_fused 256 gru 1000 28 tf32 --fused --gru-variant reset-before
ours grub_K256_bf16 256 gru 1000 28 bf16 --gru-variant reset-before
ours lstm_K512_fused 512 lstm 1000 28 tf32 --fused
peer cudnn_gru torch gru 1000 128 64 28 10 tf32
step gpu_tests 240 "$BUNDLE/test_gpu"
W=$(mktemp -d)
for cell in lstm gru; do
  for fused in 0 1; do
    step "train_${cell}_fused$fused" 120 env RNNMFT_FUSED=$fused "$BUNDLE/rnnmft" train \
      --task mnist-row --cell "$cell" --hidden 64 --batch 64 --steps 300 --lr 0.002 --log-every 10 \
      --eval-every 300 --eval-limit 1000 --test-limit 2000 --device cuda --precision tf32 \
      --out "$W/$cell-$fused"
    cp "$W/$cell-$fused/log.jsonl" "$OUT/train_${cell}_fused$fused.log.jsonl" 2>/dev/null
  done
done
rm -rf "$W"
peer jax_lstm_K64 jax lstm 1000 128 64 28 3 64
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$SAN" ]; then
  for tool in racecheck memcheck; do
    step "sanitizer_$tool" 90 "$SAN" --tool "$tool" --error-exitcode 9 "$BUNDLE/test_gpu" \
      --gtest_filter='AllCells/CudaCells.FusedSweepMatchesTheCpuEngine/gru_reset_before:AllCells/CudaCells.FusedSweepMatchesTheCpuEngine/lstm'
  done
fi
step pack_cuda 240 env RNNMFT_PY=python3 bash "$HERE/../tests/cli/test_pack_cli.sh" "$BUNDLE/rnnmft" cuda

# One screen: what ran, the fused sweep against step by step and cuDNN, the tests' verdicts.
python3 "$HERE/gpu_summary.py" "$OUT" "$BUDGET" "$(($(date +%s) - START))" | tee "$OUT/summary.txt"
