#!/usr/bin/env bash
# Builds the CUDA engine and gathers what a GPU machine without the project's Debian libraries
# needs to run it: rnnmft, the GPU tests, and the shared libraries they link that are neither the
# C library nor CUDA's own (cuBLAS comes from the GPU machine's CUDA or PyTorch).
# Usage: scripts/gpu_bundle.sh [DIR]   (default: gpu_bundle/, ignored by git)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-$ROOT/gpu_bundle}
cmake -S "$ROOT" -B "$ROOT/build-gpu" -DCMAKE_BUILD_TYPE=Release -DRNNMFT_NATIVE=OFF >/dev/null
cmake --build "$ROOT/build-gpu" -j "$(nproc)" --target rnnmft test_gpu >/dev/null
mkdir -p "$DIR"
cp "$ROOT/build-gpu/rnnmft" "$ROOT/build-gpu/tests/test_gpu" "$DIR/"
for lib in $(ldd "$ROOT/build-gpu/rnnmft" "$ROOT/build-gpu/tests/test_gpu" | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libcublas*|libcuda*) ;;
    *) cp -L "$lib" "$DIR/" ;;
  esac
done
# MNIST for the sweeps and train checks, gzipped (12 MB instead of 53), in gpu_data/mnist/ beside
# the bundle (bench/gpu_env.sh points RNNMFT_DATA_DIR there).
SRC=${RNNMFT_DATA_DIR:-$ROOT/.data}/mnist
if [ -d "$SRC" ]; then
  mkdir -p "$ROOT/gpu_data/mnist"
  for f in "$SRC"/*-ubyte; do gzip -c "$f" > "$ROOT/gpu_data/mnist/$(basename "$f").gz"; done
  du -sh "$ROOT/gpu_data"
fi
du -sh "$DIR"
