#!/usr/bin/env bash
# Builds the libFuzzer targets into build-fuzz/ (clang, -DRNNMFT_FUZZ=ON) and runs each for
# SECONDS seconds (default 20) on a copy of its seed corpus in fuzz/corpus/, two at a time.
# Exits non-zero when any target finds a crash, a sanitizer report, a leak, an exception other
# than rnnmft::Error or a slow input; the input is kept in build-fuzz/artifacts/.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (targets: idx cifar safetensors init_spec
#        run_config checkpoint sweep_spec results; default all).
# Extra libFuzzer flags: FUZZ_FLAGS="...".
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
SECONDS_EACH="${1:-20}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] ||
  TARGETS=(idx cifar safetensors init_spec run_config checkpoint sweep_spec results)
B="$ROOT/build-fuzz"

command -v clang++ >/dev/null ||
  { log "fuzz: clang++ not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
CC=clang CXX=clang++ build build-fuzz -DRNNMFT_FUZZ=ON -DCMAKE_BUILD_TYPE=None

rm -rf "$B/artifacts" && mkdir -p "$B/artifacts" "$B/logs"
# One target: a fresh copy of its corpus (the seeds stay as committed), then libFuzzer.
run_one() {
  local t="$1" work="$B/corpus-run/$1"
  rm -rf "$work" && mkdir -p "$work" && cp "$ROOT/fuzz/corpus/$t/"* "$work/"
  # shellcheck disable=SC2086
  "$B/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" ${FUZZ_FLAGS:-} "$work" \
    >"$B/logs/$t.log" 2>&1
}

log "fuzzing ${TARGETS[*]}: ${SECONDS_EACH} s each, 2 at a time"
failed=()
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
  pids=() names=()
  for t in "${TARGETS[@]:i:2}"; do
    [ -x "$B/fuzz/fuzz_$t" ] || { log "fuzz: unknown target '$t'"; exit 1; }
    run_one "$t" & pids+=($!) names+=("$t")
  done
  for k in "${!pids[@]}"; do
    t="${names[$k]}"
    if wait "${pids[$k]}"; then
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/logs/$t.log")
      size=$(ls "$B/corpus-run/$t" | wc -l)
      printf '  %-12s ok: %s runs, corpus %s -> %s files\n' "$t" "${runs:-?}" \
        "$(ls "$ROOT/fuzz/corpus/$t" | wc -l)" "$size" >&2
    else
      failed+=("$t")
      printf '  %-12s FAILED (log: %s)\n' "$t" "$B/logs/$t.log" >&2
      grep -E 'ERROR|runtime error|SUMMARY|terminate|what\(\)|Test unit written' "$B/logs/$t.log" |
        head -20 >&2 || true
    fi
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  log "fuzz: findings in ${failed[*]}; reproduce with build-fuzz/fuzz/fuzz_TARGET build-fuzz/artifacts/TARGET-*"
  exit 1
fi
