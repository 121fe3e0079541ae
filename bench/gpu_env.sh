# Sourced by the GPU scripts: LD_LIBRARY_PATH for a bundle (scripts/gpu_bundle.sh) with cuBLAS 13,
# and the data directory. Usage: source bench/gpu_env.sh BUNDLE
# Sets CUBLAS_DIR (empty when no libcublas.so.13 was found) and CUBLAS_CANDIDATES (every place
# looked in, one per line).
BUNDLE=$(cd "$1" && pwd)

# Where a CUDA 13 install puts cuBLAS, in order: $CUBLAS_DIR if set; the toolkit ($CUDA_HOME, or
# /usr/local/cuda and /usr/local/cuda-13*; lib64 and targets/<arch>/lib); the wheels pip installs
# (site-packages/nvidia/cu13/lib for CUDA 13, nvidia/cublas/lib before; `nvidia` is a namespace
# package, so its __file__ is None and its __path__ lists the directories); PyTorch's own lib
# directory; the loader's cache.
cublas_candidates() {
  [ -n "${CUBLAS_DIR:-}" ] && echo "$CUBLAS_DIR"
  local roots
  if [ -n "${CUDA_HOME:-}" ]; then roots=("$CUDA_HOME"); else roots=(/usr/local/cuda /usr/local/cuda-13*); fi
  for r in "${roots[@]}"; do
    echo "$r/lib64"
    for t in "$r"/targets/*/lib; do [ -d "$t" ] && echo "$t"; done
  done
  "${PYTHON:-python3}" - <<'PY' 2>/dev/null
import importlib.util, os, site, sys
roots = []
try:
    import nvidia
    roots += list(getattr(nvidia, "__path__", []))
except Exception:
    pass
places = list(getattr(site, "getsitepackages", lambda: [])()) + [site.getusersitepackages()]
roots += [os.path.join(p, "nvidia") for p in places + sys.path if p]
for r in dict.fromkeys(os.path.abspath(r) for r in roots):
    for sub in ("cu13/lib", "cu13/lib64", "cublas/lib"):
        print(os.path.join(r, sub))
try:
    spec = importlib.util.find_spec("torch")
    if spec and spec.origin:
        print(os.path.join(os.path.dirname(spec.origin), "lib"))
except Exception:
    pass
PY
  ldconfig -p 2>/dev/null | awk '/libcublas\.so\.13 / {print $NF}' | xargs -r -n1 dirname
}
CUBLAS_CANDIDATES=$(cublas_candidates)
CUBLAS_DIR=
while IFS= read -r d; do
  if [ -n "$d" ] && [ -e "$d/libcublas.so.13" ]; then CUBLAS_DIR=$d; break; fi
done <<<"$CUBLAS_CANDIDATES"
export LD_LIBRARY_PATH="$BUNDLE${CUBLAS_DIR:+:$CUBLAS_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# MNIST as gzipped IDX files beside the bundle (gpu_data/mnist), unless a data directory is set.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export RNNMFT_DATA_DIR=${RNNMFT_DATA_DIR:-$ROOT/gpu_data}
