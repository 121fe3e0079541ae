#!/usr/bin/env bash
# The full-scale trainability heatmaps on a GPU (docs/experiments.md §E10, §E11): each sweep
# packs its 256 runs into ensembles. What comes back in OUT/<name>/: results.jsonl, sweep.json and
# the ensembles' logs; the run directories (checkpoints) stay on the machine.
# Usage: bench/gpu_heatmaps.sh BUNDLE OUT SECONDS NAME...   (SECONDS: the limit for each sweep)
set -uo pipefail
OUT=$2; LIMIT=$3
source "$(dirname "$0")/gpu_env.sh" "$1"
shift 3
mkdir -p "$OUT"
W=${RNNMFT_SWEEP_DIR:-/tmp/rnnmft_heatmaps}
for name in "$@"; do
  echo "== $name"
  start=$(date +%s)
  timeout "$LIMIT" "$BUNDLE/rnnmft" sweep "$ROOT/experiments/$name.json" --out "$W/$name" \
    > "$OUT/$name.txt" 2>&1
  echo "sweep exit $? after $(( $(date +%s) - start )) s" | tee -a "$OUT/$name.txt"
  mkdir -p "$OUT/$name"
  cp "$W/$name/results.jsonl" "$W/$name/sweep.json" "$OUT/$name/" 2>/dev/null
  mkdir -p "$OUT/$name/packs"
  for f in "$W/$name"/packs/*.log; do grep -v "^step" "$f" > "$OUT/$name/packs/$(basename "$f")"; done
  tail -2 "$OUT/$name.txt"
  [ -f "$OUT/$name/results.jsonl" ] && wc -l < "$OUT/$name/results.jsonl"
done
# Everything above also as one archive beside OUT: a machine that hands back few files returns it.
tar czf "${OUT%/}.tgz" -C "$(dirname "$OUT")" "$(basename "$OUT")"
