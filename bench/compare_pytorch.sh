#!/usr/bin/env bash
# rnnmft against PyTorch's CPU nn.LSTM / nn.GRU, side by side in one run on this machine, for the
# same shape and the same training step (forward, backward through time, Adam). PyTorch is timed
# at 1 and 2 threads and the better is the reference. The 2-core sgemm rate of one step's
# recurrent shape is the larger of torch.mm at 2 threads and two 1-thread torch.mm processes run
# at once (their summed rate: what threads owning batch slices can at best reach).
# Usage: bench/compare_pytorch.sh [STEPS]   (writes a markdown table to stdout)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/build/rnnmft"
STEPS="${1:-5}"
py=/usr/bin/python3
[ -x "$BIN" ] || { echo "build first (./test.sh or ./run.sh)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), torch $($py -c 'import torch; print(torch.__version__)')"
echo
echo "| cell | T | N | B | I | PyTorch 1 thr (ms) | PyTorch 2 thr (ms) | rnnmft 1 thr (ms) | rnnmft 2 thr (ms) | speed-up vs best PyTorch | rnnmft GFLOP/s | 2-core sgemm GFLOP/s | share of sgemm | rnnmft peak MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
run_case() {
  local cell=$1 T=$2 N=$3 B=$4 I=$5
  local p1 p2 r1 r2
  p1=$($py "$ROOT/bench/torch_step.py" "$cell" "$T" "$N" "$B" "$I" 1 "$STEPS")
  p2=$($py "$ROOT/bench/torch_step.py" "$cell" "$T" "$N" "$B" "$I" 2 "$STEPS")
  r1=$("$BIN" bench --cell "$cell" --seq-len "$T" --hidden "$N" --batch "$B" --input-dim "$I" --threads 1 --steps "$STEPS" --json)
  r2=$("$BIN" bench --cell "$cell" --seq-len "$T" --hidden "$N" --batch "$B" --input-dim "$I" --threads 2 --steps "$STEPS" --json)
  local G=4 s1 s2
  case $cell in gru) G=3 ;; vanilla) G=1 ;; esac
  $py "$ROOT/bench/sgemm_rate.py" "$B" "$N" "$G" > "$tmp/s1" &
  $py "$ROOT/bench/sgemm_rate.py" "$B" "$N" "$G" > "$tmp/s2"
  wait
  s1=$(cat "$tmp/s1")
  s2=$(cat "$tmp/s2")
  $py - "$cell" "$T" "$N" "$B" "$I" "$p1" "$p2" "$r1" "$r2" "$s1" "$s2" <<'PY'
import json, sys
cell, T, N, B, I = sys.argv[1:6]
p1, p2, r1, r2, s1, s2 = (json.loads(s) for s in sys.argv[6:12])
best_p = min(p1["ms_per_step"], p2["ms_per_step"])
best_r = min(r1, r2, key=lambda r: r["ms_per_step"])
sg = max(p2["sgemm_gflops"], s1["gflops"] + s2["gflops"])
print(f"| {cell} | {T} | {N} | {B} | {I} | {p1['ms_per_step']:.0f} | {p2['ms_per_step']:.0f} | "
      f"{r1['ms_per_step']:.0f} | {r2['ms_per_step']:.0f} | {best_p / best_r['ms_per_step']:.2f}× | "
      f"{best_r['gflops']:.1f} | {sg:.1f} | {100 * best_r['gflops'] / sg:.0f} % | {max(r1['peak_rss_mb'], r2['peak_rss_mb']):.0f} |")
PY
}
run_case lstm 784 128 64 1
run_case gru 784 128 64 1
if [ "${FULL:-0}" = 1 ]; then
  run_case lstm 784 256 128 1
  run_case gru 784 256 128 1
  run_case lstm 3136 128 64 1
  run_case vanilla 784 128 64 1
fi
