#!/usr/bin/env bash
# Sets everything up (Debian packages, data, build) and runs the main job: the critical
# initialization for the LSTM and the GRU at T = 1000, side by side with the usual inits.
source "$(dirname "${BASH_SOURCE[0]}")/scripts/common.sh"
setup_deps
"$ROOT/scripts/fetch_data.sh"
build build
"$ROOT/build/rnnmft" compare --cells lstm gru --seq-len "${T:-1000}" --out-dir "$ROOT/out/critical" "$@"
