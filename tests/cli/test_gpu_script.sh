#!/usr/bin/env bash
# The GPU check's script without a GPU (bench/gpu_fused.sh, bench/gpu_env.sh): cuBLAS is found
# where a CUDA 13 wheel puts it (site-packages/nvidia/cu13/lib, `nvidia` a namespace package),
# and the script ends by its deadline with a summary even when every step hangs.
# Usage: test_gpu_script.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bench" && pwd)

# 1. cuBLAS from a wheel: nvidia/ without __init__.py (a namespace package: __file__ is None).
mkdir -p "$tmp/site/nvidia/cu13/lib" "$tmp/bundle"
: >"$tmp/site/nvidia/cu13/lib/libcublas.so.13"
got=$(cd "$tmp" && unset CUBLAS_DIR && CUDA_HOME=/nonexistent PYTHONPATH="$tmp/site" \
  bash -c "source '$BENCH/gpu_env.sh' '$tmp/bundle' && echo \"\$CUBLAS_DIR|\$LD_LIBRARY_PATH\"")
[ "${got%%|*}" = "$tmp/site/nvidia/cu13/lib" ] && ok || bad "cuBLAS in site-packages/nvidia/cu13/lib not found (got '${got%%|*}')"
[[ "${got#*|}" == "$tmp/bundle:$tmp/site/nvidia/cu13/lib"* ]] && ok || bad "LD_LIBRARY_PATH is '${got#*|}'"
# An explicit CUBLAS_DIR comes first.
mkdir -p "$tmp/mine" && : >"$tmp/mine/libcublas.so.13"
got=$(CUBLAS_DIR="$tmp/mine" PYTHONPATH="$tmp/site" bash -c "source '$BENCH/gpu_env.sh' '$tmp/bundle' && echo \"\$CUBLAS_DIR\"")
[ "$got" = "$tmp/mine" ] && ok || bad "CUBLAS_DIR not honoured (got '$got')"

# 2. The deadline: a bundle whose programs never end (a hung GPU) still gives a summary in time.
cat >"$tmp/bundle/rnnmft" <<'SH'
#!/bin/sh
exec sleep 1000
SH
cp "$tmp/bundle/rnnmft" "$tmp/bundle/test_gpu"
chmod +x "$tmp/bundle/rnnmft" "$tmp/bundle/test_gpu"
t0=$(date +%s)
RESERVE=10 CUDA_HOME=/nonexistent PYTHONPATH="$tmp/site" bash "$BENCH/gpu_fused.sh" "$tmp/bundle" "$tmp/out" 30 >"$tmp/run.txt" 2>&1
rc=$?
took=$(($(date +%s) - t0))
[ $rc -eq 0 ] && ok || { bad "gpu_fused.sh exit $rc"; tail -5 "$tmp/run.txt"; }
[ $took -le 45 ] && ok || bad "gpu_fused.sh took $took s with a 30 s deadline"
grep -q "^fused_tests	124	" "$tmp/out/steps.tsv" && ok || bad "the hung first step was not cut: $(head -2 "$tmp/out/steps.tsv")"
grep -q "skipped at the deadline: lstm_K256_step" "$tmp/out/summary.txt" && ok || bad "no summary of the skipped steps: $(cat "$tmp/out/summary.txt")"
grep -q "target 1, K = 256 LSTM ≤ 0.5 ms per model-step: not measured" "$tmp/out/summary.txt" && ok || bad "the summary does not say the target was not measured"
[ -s "$tmp/out.tgz" ] && ok || bad "no archive of OUT"
pgrep -f "$tmp/bundle" >/dev/null && bad "a step outlived the script" || ok

finish
