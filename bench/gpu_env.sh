# Sourced by the GPU scripts: LD_LIBRARY_PATH for a bundle (scripts/gpu_bundle.sh) with cuBLAS 13
# from the toolkit or from the one PyTorch ships, and the data directory.
# Usage: source bench/gpu_env.sh BUNDLE
BUNDLE=$(cd "$1" && pwd)
for d in /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 \
         $(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__file__))' 2>/dev/null)/cu13/lib \
         $(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__file__))' 2>/dev/null)/cublas/lib; do
  if ls "$d"/libcublas.so.13 >/dev/null 2>&1; then CUBLAS_DIR=$d; break; fi
done
export LD_LIBRARY_PATH="$BUNDLE${CUBLAS_DIR:+:$CUBLAS_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# MNIST as gzipped IDX files beside the bundle (gpu_data/mnist), unless a data directory is set.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export RNNMFT_DATA_DIR=${RNNMFT_DATA_DIR:-$ROOT/gpu_data}
