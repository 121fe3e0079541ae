#!/usr/bin/env bash
# Sets everything up (Debian packages, data, build) and runs the main job.
source "$(dirname "${BASH_SOURCE[0]}")/scripts/common.sh"
setup_deps
"$ROOT/scripts/fetch_data.sh"
build build
"$ROOT/build/rnnmft" data info "$@"
