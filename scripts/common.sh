# Shared by run.sh and test.sh: install what is missing, fetch data, build. Safe to run again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RNNMFT_DATA_DIR="${RNNMFT_DATA_DIR:-$ROOT/.data}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '\033[1m[rnnmft]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; exit 1; fi
}

# install_packages PKG...: apt-get only the Debian packages not installed yet.
install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

BUILD_PACKAGES=(build-essential cmake pkg-config zlib1g-dev libpng-dev libeigen3-dev libopenblas-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libgtest-dev libbenchmark-dev ca-certificates
  python3-dev pybind11-dev python3-numpy libopenmpi-dev openmpi-bin
  clang libclang-rt-14-dev)  # clang and libFuzzer for fuzz/run.sh
DATA_PACKAGES=(dataset-fashion-mnist)

setup_deps() { install_packages "${BUILD_PACKAGES[@]}" "${DATA_PACKAGES[@]}" "$@"; }

# build DIR [cmake args...]: configure once, then an incremental build (no-op when unchanged).
build() {
  local dir="$1"; shift
  if [ ! -f "$ROOT/$dir/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  fi
  log "building $dir"
  cmake --build "$ROOT/$dir" -j "$JOBS" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^(Consolidate|Scanning|Built target)' || true
  cmake --build "$ROOT/$dir" -j "$JOBS" >/dev/null  # fails loudly if the build did
}
