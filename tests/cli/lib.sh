# Shared by the end-to-end CLI checks: a temporary directory, counters and assertions.
# Source it with the rnnmft binary as $1; finish with `finish`.
set -u
BIN="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
export CLI_TESTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"  # run_ids.py
py=${RNNMFT_PY:-/usr/bin/python3}  # Debian's, with numpy (another where it is not there)

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_fail "description" "message fragment" command...: non-zero exit (not a crash) and the
# fragment in the output.
expect_fail() {
  local what="$1" frag="$2"; shift 2
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qF -- "$frag" <<<"$out"; then ok; else
    bad "$what (exit $rc)"; echo "$out" | tail -5; fi
}

# expect_ok "description" "output fragment" command...
expect_ok() {
  local what="$1" frag="$2"; shift 2
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if [ $rc -eq 0 ] && grep -qF -- "$frag" <<<"$out"; then ok; else
    bad "$what (exit $rc)"; echo "$out" | tail -5; fi
}

# nan_first_value FILE.safetensors: the first value of its data made NaN, its header left whole (a
# file only reading the tensors finds wrong).
nan_first_value() {
  "$py" - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    f.seek(8 + n)
    f.write(struct.pack("<f", float("nan")))
PY
}

finish() {
  echo "$passed passed, $failed failed"
  [ $failed -eq 0 ]
}
