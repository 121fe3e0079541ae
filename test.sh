#!/usr/bin/env bash
# Sets everything up (Debian packages, data, build) and runs the tests: once on the Release
# build, once under AddressSanitizer + UndefinedBehaviorSanitizer.
source "$(dirname "${BASH_SOURCE[0]}")/scripts/common.sh"
setup_deps python3-torch python3-numpy python3-matplotlib
"$ROOT/scripts/fetch_data.sh"

build build
log "tests (Release)"
(cd "$ROOT/build" && ctest --output-on-failure -j "$JOBS")

if [ "${RNNMFT_SKIP_SANITIZERS:-0}" != 1 ]; then
  build build-asan -DRNNMFT_SANITIZE=ON -DRNNMFT_LONG_TESTS=OFF -DRNNMFT_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
  log "tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
  (cd "$ROOT/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$JOBS")
fi
