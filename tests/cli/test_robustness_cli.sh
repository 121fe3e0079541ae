#!/usr/bin/env bash
# Hostile inputs end to end (docs/reliability.md): JSON nested 100 000 deep, sizes beyond memory,
# values that round to nothing, init names that are not what they look like, weights that are not
# weights or not finite, outputs that cannot be written. Each must stop with a clear message and a
# non-zero exit below 128 (no signal), before allocating.
# Usage: test_robustness_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

# 1. JSON nesting: a sweep spec, an init spec, a safetensors header.
$py - "$tmp" <<'PY'
import json, os, struct, sys
d = sys.argv[1]
deep = "[" * 100000 + "]" * 100000
open(os.path.join(d, "deep_sweep.json"), "w").write(
    '{"name": "deep", "base": {"task": "mnist-row"}, "grid": {"seed": ' + deep + '}}')
open(os.path.join(d, "deep_spec.json"), "w").write('{"cell": "lstm", "gates": ' + deep + '}')
h = ('{"a": ' + "[" * 5000 + "]" * 5000 + '}').encode()
h += b" " * (-len(h) % 8)
open(os.path.join(d, "deep.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h)
PY
expect_fail "sweep --list of a spec nested 100 000 deep" "nested deeper than 64 levels" \
  "$BIN" sweep "$tmp/deep_sweep.json" --list
expect_fail "init spec nested 100 000 deep" "nested deeper than 64 levels" \
  "$BIN" theory --cell lstm --init "$tmp/deep_spec.json" --no-tied-check
expect_fail "safetensors header nested 5000 deep" "nested deeper than 64 levels" \
  "$BIN" eval --weights "$tmp/deep.safetensors" --task mnist-row --limit 10

# 2. Memory: refused before allocating, not SIGABRT (134) or a kill.
expect_fail "simulate beyond memory" "GiB" "$BIN" simulate --cell lstm --init pytorch --width 12000 \
  --steps 2000000000 --trials 1000000 --json
expect_fail "simulate a width beyond memory" "needs" "$BIN" simulate --cell lstm --init pytorch \
  --width 20000 --trials 64 --json
expect_fail "bench beyond memory" "needs" "$BIN" bench --cell lstm --hidden 16384 --batch 4096 \
  --seq-len 100000
# train counts parameters, gradients and Adam's moments: with 4 GiB to use (RNNMFT_MAX_MEMORY, as
# under ulimit -v 4000000: tests/util/test_memory.cpp), 8192 hidden units (1.1 GB of parameters,
# 4 copies) are refused before the run directory exists, where an estimate of states and inputs
# alone let them through to std::bad_alloc.
expect_fail "train beyond RNNMFT_MAX_MEMORY" "(parameters, gradients, optimizer state, every step's states, and an evaluation batch of 256) needs 4.0 GiB more memory" \
  env RNNMFT_MAX_MEMORY=4G "$BIN" train --task mnist-row --hidden 8192 --batch 1 --steps 1 --out "$tmp/capped"
[ ! -e "$tmp/capped" ] && ok || bad "a run refused for memory created its directory"
expect_fail "a bad RNNMFT_MAX_MEMORY" "RNNMFT_MAX_MEMORY='lots' is not a size" \
  env RNNMFT_MAX_MEMORY=lots "$BIN" train --task mnist-row --hidden 4 --steps 1 --out "$tmp/lots"
# Weights whose header announces 16384 hidden units in a 544-byte file: refused from the header.
$py - "$tmp/big.safetensors" <<'PY'
import json, struct, sys
N, I, C = 16384, 1, 10
hdr = {"__metadata__": {"cell": "lstm", "hidden": str(N)}}
shapes = {"rnn.weight_ih_l0": [4 * N, I], "rnn.weight_hh_l0": [4 * N, N], "rnn.bias_ih_l0": [4 * N],
          "rnn.bias_hh_l0": [4 * N], "head.weight": [C, N], "head.bias": [C]}
off = 0
for k, s in shapes.items():
    n = 4
    for d in s: n *= d
    hdr[k] = {"dtype": "F32", "shape": s, "data_offsets": [off, off + n]}
    off += n
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b"\0" * max(0, 544 - 8 - len(h)))
PY
expect_fail "weights announcing 16384 units in a small file" "data offsets outside the file" \
  "$BIN" train --task mnist-row --cell lstm --hidden 16384 --init "$tmp/big.safetensors" \
  --steps 1 --out "$tmp/big"
[ ! -e "$tmp/big/checkpoint.safetensors" ] && ok || bad "a run was started from the 544-byte file"

# 3. Values that are refused instead of silently changed.
expect_fail "lr that is 0 as a float" "--lr must be a positive number that a float holds" \
  "$BIN" train --task mnist-row --hidden 4 --lr 1e-50 --steps 1 --out "$tmp/lr"
[ ! -e "$tmp/lr/checkpoint.safetensors" ] && ok || bad "--lr 1e-50 trained"
expect_fail "lr that is inf as a float" "--lr must be a positive number that a float holds" \
  "$BIN" train --task mnist-row --hidden 4 --lr 1e39 --steps 1 --out "$tmp/lr2"
expect_fail "keras takes no argument" "keras takes no argument" \
  "$BIN" theory --cell lstm --init keras:5 --no-tied-check
expect_fail "pytorch takes no argument" "pytorch takes no argument" \
  "$BIN" train --task mnist-row --hidden 4 --init pytorch:xyz --steps 1 --out "$tmp/px"
long=$(printf 'a%.0s' $(seq 10000))
expect_fail "a 10 000-character init" "its name is too long for a file" \
  "$BIN" train --task mnist-row --hidden 4 --init "$long" --steps 1 --out "$tmp/long"
expect_fail "a 10 000-character init (simulate)" "--init" \
  "$BIN" simulate --cell lstm --init "$long"
cat >"$tmp/nobias.json" <<'JSON'
{"cell": "vanilla", "gates": {"hidden": {"recurrent_std": 1.0, "input_std": 1.0, "bias_mean": 0.0}}}
JSON
expect_fail "a gate field left out" "gates.hidden.bias_std is missing" \
  "$BIN" theory --cell vanilla --init "$tmp/nobias.json" --no-tied-check

# 4. Weights: a spec given as weights, a NaN checkpoint, an output that cannot be written.
"$BIN" critical --cell gru --seq-len 50 --no-tied-check -o "$tmp/spec.json" >/dev/null 2>&1 ||
  bad "critical -o"
expect_fail "eval --weights spec.json" "not a safetensors file: it begins like JSON text" \
  "$BIN" eval --weights "$tmp/spec.json" --task mnist-row --limit 10
"$BIN" train --task mnist-row --cell gru --hidden 4 --batch 8 --steps 2 --checkpoint-every 1 \
  --eval-limit 10 --test-limit 10 --out "$tmp/run" >/dev/null 2>&1 || bad "tiny run"
expect_fail "export to a directory that does not exist" \
  "/nonexistent/x.safetensors: cannot write (No such file or directory)" \
  "$BIN" export "$tmp/run" -o /nonexistent/x.safetensors
$py - "$tmp/run/checkpoint.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); n = struct.unpack("<Q", b[:8])[0]
o = json.loads(b[8:8 + n])["params"]["data_offsets"]
b[8 + n + o[0]:8 + n + o[0] + 4] = struct.pack("<f", float("nan")); open(p, "wb").write(b)
PY
expect_fail "export of a checkpoint holding NaN" "tensor 'rnn.weight_ih_l0' holds nan" \
  "$BIN" export "$tmp/run" -o "$tmp/nan.safetensors"
[ ! -e "$tmp/nan.safetensors" ] && ok || bad "NaN weights were written"

finish
