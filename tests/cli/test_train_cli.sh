#!/usr/bin/env bash
# End-to-end checks of train / resume / export / eval on real MNIST (small models, few steps):
# exact resumption, the NaN guard, clear errors for bad flags and specs, --init critical and the
# warnings for a spec designed for another run.
# Usage: test_train_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

common=(--task mnist-row --cell gru --hidden 16 --batch 16 --eval-every 1000 --eval-limit 100 --log-every 5)
run=("${common[@]}" --lr 0.01 --seed 3)

# 1. Exact resumption: 30 steps in one go == 20 steps, then resume to 30.
"$BIN" train "${run[@]}" --steps 30 --checkpoint-every 10 --out "$tmp/full" >/dev/null 2>&1 || bad "full run"
"$BIN" train "${run[@]}" --steps 20 --checkpoint-every 10 --out "$tmp/part" >/dev/null 2>&1 || bad "first half"
"$BIN" train --resume "$tmp/part" --steps 30 >/dev/null 2>&1 || bad "resume"
"$BIN" export "$tmp/full" -o "$tmp/full.safetensors" >/dev/null || bad "export full"
"$BIN" export "$tmp/part" -o "$tmp/part.safetensors" >/dev/null || bad "export part"
if cmp -s "$tmp/full.safetensors" "$tmp/part.safetensors"; then ok; else bad "resumed weights differ from the uninterrupted run"; fi
# The logs agree line for line on the training entries (times aside).
strip() { grep '"loss"' "$1" | sed 's/,"time_s":[^}]*//'; }
if [ "$(strip "$tmp/full/log.jsonl")" = "$(strip "$tmp/part/log.jsonl")" ] && [ -n "$(strip "$tmp/full/log.jsonl")" ]; then ok; else bad "logs differ after resume"; fi
for f in config.json log.jsonl metrics.json checkpoint.safetensors; do
  [ -s "$tmp/full/$f" ] && ok || bad "missing $f"
done
grep -q '"test"' "$tmp/full/metrics.json" && ok || bad "metrics.json has no test evaluation"

# 2. A different seed gives a different run.
"$BIN" train "${common[@]}" --lr 0.01 --steps 10 --seed 4 --out "$tmp/other" >/dev/null 2>&1
"$BIN" export "$tmp/other" -o "$tmp/other.safetensors" >/dev/null
cmp -s "$tmp/other.safetensors" "$tmp/full.safetensors" && bad "seed has no effect" || ok

# 3. Divergence: an absurd SGD step explodes the loss; the run stops naming the step, the log says
#    why (a sweep reads it), and the last checkpoint stays loadable and finite.
expect_fail "divergence guard" "training diverged at step" "$BIN" train "${common[@]}" --optimizer sgd --lr 1e38 --steps 50 --checkpoint-every 1 --out "$tmp/nan"
grep -q '"error":"diverged: ' "$tmp/nan/log.jsonl" && ok || bad "the log does not say why the run stopped"
expect_fail "exploding loss" "exploding loss" "$BIN" train "${common[@]}" --lr 100 --steps 50 --out "$tmp/explode"
$py - "$tmp/nan/checkpoint.safetensors" <<'PY' && ok || bad "the kept checkpoint is not finite"
import json, math, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); o = h["params"]["data_offsets"]
v = struct.unpack("<%df" % ((o[1] - o[0]) // 4), b[8 + n + o[0]:8 + n + o[1]])
assert all(math.isfinite(x) for x in v)
PY
# A checkpoint with a non-finite parameter is not resumed.
rm -rf "$tmp/nanck"; cp -r "$tmp/nan" "$tmp/nanck"
$py - "$tmp/nanck/checkpoint.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); n = struct.unpack("<Q", b[:8])[0]
o = json.loads(b[8:8 + n])["params"]["data_offsets"]
b[8 + n + o[0]:8 + n + o[0] + 4] = struct.pack("<f", float("nan")); open(p, "wb").write(b)
PY
expect_fail "non-finite checkpoint" "holds non-finite parameters" "$BIN" train --resume "$tmp/nanck" --steps 60
if [ -s "$tmp/nan/checkpoint.safetensors" ]; then
  "$BIN" export "$tmp/nan" -o "$tmp/nan.safetensors" >/dev/null 2>&1 && ok || bad "last checkpoint unreadable"
  "$BIN" eval --weights "$tmp/nan.safetensors" --task mnist-row --limit 10 --json >/dev/null 2>&1 && ok || bad "last checkpoint gives non-finite eval"
else
  bad "no checkpoint kept by the NaN run"
fi

# 4. Bad input is rejected before any work, with the reason.
expect_fail "existing run" "already holds a run" "$BIN" train "${run[@]}" --steps 5 --out "$tmp/full"
expect_fail "bad cell" "unknown cell 'lstmx'" "$BIN" train --task mnist-row --cell lstmx --out "$tmp/x"
expect_fail "bad lr" "--lr must be a positive" "$BIN" train --task mnist-row --lr -1 --out "$tmp/x"
expect_fail "bad optimizer" "unknown optimizer 'adamw'" "$BIN" train --task mnist-row --optimizer adamw --out "$tmp/x"
expect_fail "bad init" "neither a preset" "$BIN" train --task mnist-row --init nosuch --out "$tmp/x"
expect_fail "bad init lists critical" "chrono[:T_max], critical, critical-v1, critical-v2)" "$BIN" train --task mnist-row --init nosuch --out "$tmp/x"
echo '{"cell": "lstm", "gates": {"input": {"recurrent_std": -1}}}' > "$tmp/neg.json"
expect_fail "negative std" "input.recurrent_std = -1 is negative" "$BIN" train --task mnist-row --init "$tmp/neg.json" --out "$tmp/x"
echo '{"cell": "gru", "gates": {}}' > "$tmp/gru.json"
expect_fail "missing gates" "gate 'reset' of gru is missing" "$BIN" train --task mnist-row --cell gru --init "$tmp/gru.json" --out "$tmp/x"
echo '{"cell": "lstm", "gates": ' > "$tmp/broken.json"
expect_fail "broken json" "not valid JSON" "$BIN" train --task mnist-row --init "$tmp/broken.json" --out "$tmp/x"
expect_fail "weights for another model" "weights are for gru" "$BIN" train --task mnist-row --cell lstm --hidden 16 --init "$tmp/full.safetensors" --out "$tmp/x"
[ ! -e "$tmp/x" ] && ok || bad "a rejected run left a directory behind"
expect_fail "resume nothing" "nothing to resume" "$BIN" train --resume "$tmp/none"
head -c 100 "$tmp/full.safetensors" > "$tmp/trunc.safetensors"
expect_fail "truncated weights" "trunc.safetensors" "$BIN" eval --weights "$tmp/trunc.safetensors" --task mnist-row

# 5. eval --json on the exported weights; init from weights continues from them.
out="$("$BIN" eval --weights "$tmp/full.safetensors" --task mnist-row --split test --limit 50 --json)"
grep -q '"accuracy"' <<<"$out" && grep -q '"loss"' <<<"$out" && ok || bad "eval --json: $out"
"$BIN" train --task mnist-row --cell gru --hidden 16 --steps 1 --init "$tmp/full.safetensors" --out "$tmp/init" >/dev/null 2>&1 && ok || bad "init from weights"

# 6. --init critical-v1: solved for the task's T and R, saved as DIR/init_spec.json with what it
#    was designed for; a resumed run does not solve it again.
tiny=(--task mnist-padded --seq-len 60 --unit row --hidden 8 --steps 2 --batch 8 --eval-limit 16 --test-limit 16)
expect_ok "train --init critical-v1" "init critical-v1 (tied criterion): solved forget.bias_mean" "$BIN" train "${tiny[@]}" --init critical-v1 --out "$tmp/crit"
$py - "$tmp/crit/init_spec.json" <<'PY' && ok || bad "init_spec.json of --init critical-v1"
import json, sys
s = json.load(open(sys.argv[1]))
d = s["designed_for"]
assert s["cell"] == "lstm" and d["cell"] == "lstm", s
assert d["seq_len"] == 60 and d["input_var"] == 0 and d["width"] == 8, d
assert d["task"] == "mnist-padded" and "gru_variant" not in d, d
assert s["diagnostics"]["reached"] is True and s["diagnostics"]["design"] == "v1", s["diagnostics"]
PY
[ ! -e "$tmp/crit/init_spec.json.tmp" ] && ok || bad "init_spec.json.tmp left behind"
cp "$tmp/crit/init_spec.json" "$tmp/crit_spec_before.json"
out="$("$BIN" train --resume "$tmp/crit" --steps 3 2>&1)" && ok || bad "resume a critical run: $out"
grep -q "init critical" <<<"$out" && bad "resume solved the critical init again" || ok
cmp -s "$tmp/crit/init_spec.json" "$tmp/crit_spec_before.json" && ok || bad "resume rewrote init_spec.json"
# The saved spec used again for the same run shape: nothing to warn about.
out="$("$BIN" train "${tiny[@]}" --init "$tmp/crit/init_spec.json" --out "$tmp/crit_again" 2>&1)" || bad "train from init_spec.json: $out"
grep -q "warning:" <<<"$out" && bad "a matching spec warned: $out" || ok
# --init critical is critical-v2 for a gated cell (the same spec, said so), and v1's solve for the
# vanilla cell, which has no keep gate (theory::critical_design).
expect_ok "train --init critical on the lstm" "init critical (v2): lstm with timescales log-uniform on [2, 60]" "$BIN" train "${tiny[@]}" --init critical --out "$tmp/crit_named"
"$BIN" train "${tiny[@]}" --init critical-v2 --out "$tmp/crit_v2" >/dev/null 2>&1 || bad "train --init critical-v2"
$py - "$tmp/crit_named/init_spec.json" "$tmp/crit_v2/init_spec.json" <<'PY' && ok || bad "--init critical = critical-v2 on the lstm"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a == b and a["diagnostics"]["design"] == "v2" and a["timescales"]["dist"] == "log-uniform", (a, b)
PY
# The same spec and seed: the same weights, so the same losses step by step.
$py - "$tmp/crit_named/log.jsonl" "$tmp/crit_v2/log.jsonl" <<'PY' && ok || bad "--init critical and critical-v2 trained alike"
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p) if '"loss"' in l] for p in sys.argv[1:3])
assert a and a == b, (a, b)
PY
expect_ok "train --init critical on the vanilla cell" "init critical (v1: the vanilla cell has no keep gate whose timescales v2 spreads; " "$BIN" train "${tiny[@]}" --cell vanilla --init critical --out "$tmp/crit_vanilla"
grep -q '"design": "v1"' "$tmp/crit_vanilla/init_spec.json" && ok || bad "vanilla --init critical: init_spec.json says v1"
# GRU: the critical init is solved for the run's variant (reset-after: docs/theory.md §3.4) and
# says so in designed_for; a spec solved for the other variant warns.
out="$("$BIN" train "${tiny[@]}" --cell gru --init critical --out "$tmp/crit_gru" 2>&1)" || bad "critical gru reset-after: $out"
grep -q "warning:" <<<"$out" && bad "critical gru reset-after warned: $out" || ok
grep -q '"gru_variant": "reset-after"' "$tmp/crit_gru/init_spec.json" && ok || bad "designed_for.gru_variant reset-after missing"
out="$("$BIN" train "${tiny[@]}" --cell gru --gru-variant reset-before --init critical --out "$tmp/crit_grub" 2>&1)" || bad "critical gru reset-before: $out"
grep -q "warning:" <<<"$out" && bad "critical gru reset-before warned: $out" || ok
grep -q '"gru_variant": "reset-before"' "$tmp/crit_grub/init_spec.json" && ok || bad "designed_for.gru_variant missing"
expect_ok "a reset-before spec on a reset-after run warns" "warning:" \
  "$BIN" train "${tiny[@]}" --cell gru --init "$tmp/crit_grub/init_spec.json" --out "$tmp/crit_gru_mismatch"

# 7. A spec designed for T = 300 on a padded task of T = 100 warns (stderr and log.jsonl); one
#    designed for this run does not; a spec without designed_for never does.
gates='"gates": {"input": {"recurrent_std": 0.5, "input_std": 1, "bias_mean": 0, "bias_std": 0},
  "forget": {"recurrent_std": 0.5, "input_std": 1, "bias_mean": 2, "bias_std": 0},
  "cell": {"recurrent_std": 1, "input_std": 1, "bias_mean": 0, "bias_std": 0},
  "output": {"recurrent_std": 0.5, "input_std": 1, "bias_mean": 0, "bias_std": 0}}'
echo "{\"cell\": \"lstm\", $gates, \"designed_for\": {\"seq_len\": 300, \"input_var\": 0, \"width\": 8}}" > "$tmp/t300.json"
echo "{\"cell\": \"lstm\", $gates, \"designed_for\": {\"seq_len\": 100, \"input_var\": 0, \"width\": 8, \"task\": \"mnist-padded\"}}" > "$tmp/t100.json"
echo "{\"cell\": \"lstm\", $gates}" > "$tmp/plain.json"
padded=(--task mnist-padded --seq-len 100 --unit row --hidden 8 --steps 1 --batch 8 --eval-limit 16 --test-limit 16)
expect_ok "T mismatch warns" "warning: init spec $tmp/t300.json was designed for T = 300, but task mnist-padded has T = 100" \
  "$BIN" train "${padded[@]}" --init "$tmp/t300.json" --out "$tmp/w300"
grep -qF '{"warning":"init spec '"$tmp"'/t300.json was designed for T = 300' "$tmp/w300/log.jsonl" && ok || bad "T warning not in log.jsonl"
[ "$(grep -c warning "$tmp/w300/log.jsonl")" = 1 ] && ok || bad "expected exactly one warning in $tmp/w300/log.jsonl"
for spec in t100 plain; do
  out="$("$BIN" train "${padded[@]}" --init "$tmp/$spec.json" --out "$tmp/w_$spec" 2>&1)" || bad "train --init $spec.json: $out"
  grep -q "warning" <<<"$out" && bad "$spec.json warned: $out" || ok
  grep -q "warning" "$tmp/w_$spec/log.jsonl" && bad "$spec.json: warning in log.jsonl" || ok
done
# Width and R: the T = 100 spec on a 16-unit mnist-row run (T = 28, R ≈ 0.11).
out="$("$BIN" train --task mnist-row --hidden 16 --steps 1 --batch 8 --eval-limit 16 --test-limit 16 --init "$tmp/t100.json" --out "$tmp/w_row" 2>&1)" || bad "t100 on mnist-row: $out"
for frag in "designed for T = 100, but task mnist-row has T = 28" "designed for width 8, but this run has --hidden 16" \
            "designed for input second moment R = 0, but task mnist-row has R = 0.112"; do
  grep -qF "warning: init spec $tmp/t100.json was $frag" <<<"$out" && ok || { bad "missing warning: $frag"; echo "$out"; }
done
echo "{\"cell\": \"lstm\", $gates, \"designed_for\": {\"seq_len\": 0}}" > "$tmp/bad_design.json"
expect_fail "bad designed_for" "bad_design.json: designed_for.seq_len = 0 must be at least 1" \
  "$BIN" train "${padded[@]}" --init "$tmp/bad_design.json" --out "$tmp/x"
[ ! -e "$tmp/x" ] && ok || bad "a rejected run left a directory behind"

# Devices. The GPU engine's CPU reference backend follows the CPU engine's training log, and a
# checkpoint moves between devices: cpu-ensemble for 20 steps, then resumed on the CPU engine.
"$BIN" train "${run[@]}" --steps 30 --checkpoint-every 10 --device cpu-ensemble --out "$tmp/dev" >/dev/null 2>&1 || bad "cpu-ensemble run"
$py - "$tmp/full/log.jsonl" "$tmp/dev/log.jsonl" <<'PY' && ok || bad "cpu-ensemble log differs from the CPU engine's"
import json, sys
a, b = ([json.loads(l) for l in open(f) if '"loss"' in l] for f in sys.argv[1:3])
assert len(a) == len(b) == 6, (len(a), len(b))
for x, y in zip(a, b):
    assert abs(x["loss"] - y["loss"]) < 1e-4 * abs(x["loss"]), (x, y)
    assert abs(x["grad_norm"] - y["grad_norm"]) < 1e-3 * x["grad_norm"], (x, y)
PY
"$BIN" train "${run[@]}" --steps 20 --checkpoint-every 10 --device cpu-ensemble --out "$tmp/dev2" >/dev/null 2>&1 || bad "cpu-ensemble first half"
grep -qE '"device": ?"cpu-ensemble"' "$tmp/dev2/config.json" && ok || bad "config.json does not record the device"
"$BIN" train --resume "$tmp/dev2" --steps 30 --device cpu >/dev/null 2>&1 || bad "resume on another device"
$py - "$tmp/full/log.jsonl" "$tmp/dev2/log.jsonl" <<'PY' && ok || bad "a run resumed on the CPU engine left the CPU engine's curve"
import json, sys
a, b = ([json.loads(l) for l in open(f) if '"loss"' in l] for f in sys.argv[1:3])
assert len(a) == len(b) == 6, (len(a), len(b))
assert all(abs(x["loss"] - y["loss"]) < 1e-4 * abs(x["loss"]) for x, y in zip(a, b))
PY
# A run saved as a tf32 GPU run resumes on the CPU (precision back to fp32), and config.json
# records the move, so that a plain --resume stays on the CPU.
"$BIN" train "${run[@]}" --steps 10 --checkpoint-every 10 --out "$tmp/moved" >/dev/null 2>&1 || bad "run to move"
$py -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c.update(device='cuda', precision='tf32'); json.dump(c, open(p, 'w'))" "$tmp/moved/config.json"
"$BIN" train --resume "$tmp/moved" --steps 20 --device cpu >/dev/null 2>&1 && ok || bad "resume of a tf32 GPU run on the CPU"
grep -qE '"device": ?"cpu"' "$tmp/moved/config.json" && grep -qE '"precision": ?"fp32"' "$tmp/moved/config.json" && ok || bad "config.json does not record the move"
"$BIN" train --resume "$tmp/moved" --steps 25 >/dev/null 2>&1 && ok || bad "plain resume after the move"
# Values read back from a run directory are parsed whole and range-checked.
set_meta() {  # DIR VALUE: checkpoint metadata 'step' = VALUE (header rewritten, data unchanged)
  $py - "$1/checkpoint.safetensors" "$2" <<'PY'
import json, struct, sys
p, v = sys.argv[1], sys.argv[2]
b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); h["__metadata__"]["step"] = v
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY
}
for v in 12abc 1e3 -5 abc; do
  rm -rf "$tmp/meta"; cp -r "$tmp/moved" "$tmp/meta"; set_meta "$tmp/meta" "$v"
  expect_fail "checkpoint step '$v'" "metadata 'step'" "$BIN" train --resume "$tmp/meta" --steps 40
done
rm -rf "$tmp/meta"; cp -r "$tmp/moved" "$tmp/meta"
sed -i 's/"lr": [0-9.e-]*/"lr": 1e400/' "$tmp/meta/config.json"
expect_fail "config.json number beyond a double" "meta/config.json: not valid JSON" "$BIN" train --resume "$tmp/meta"
rm -rf "$tmp/meta"; cp -r "$tmp/moved" "$tmp/meta"
sed -i 's/"hidden": 16/"hidden": 4294967312/' "$tmp/meta/config.json"
expect_fail "config.json hidden beyond an int" "hidden: 4294967312 is out of range" "$BIN" train --resume "$tmp/meta"
echo '{"cell": "gru", "gates": {"reset": {"recurrent_std": 1, "bias_mean": 1e300}}}' > "$tmp/huge.json"
expect_fail "init spec value beyond a float" "reset.bias_mean = 1e+300 is beyond ±1e6" "$BIN" train "${run[@]}" --init "$tmp/huge.json" --out "$tmp/x"
# A head with 20 classes does not evaluate on a 10-class task.
"$BIN" export "$tmp/moved" -o "$tmp/h10.safetensors" >/dev/null || bad "export for the head check"
$py - "$tmp/h10.safetensors" "$tmp/h20.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
out, blobs, off = {"__metadata__": dict(h["__metadata__"], classes="20")}, [], 0
for k, v in sorted((k, v) for k, v in h.items() if k != "__metadata__"):
    raw = data[v["data_offsets"][0]:v["data_offsets"][1]]
    if k.startswith("head."):
        raw, v = raw * 2, dict(v, shape=[v["shape"][0] * 2] + v["shape"][1:])
    out[k] = dict(v, data_offsets=[off, off + len(raw)]); blobs.append(raw); off += len(raw)
hb = json.dumps(out).encode(); hb += b" " * (-len(hb) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
PY
expect_fail "head with 20 classes" "head has 20 classes, task mnist-row has 10" "$BIN" eval --weights "$tmp/h20.safetensors" --task mnist-row --limit 10
# A run stopped before its first checkpoint starts over on --resume; an impossible --out is a
# user error (exit 1) that names the path.
mkdir -p "$tmp/early"; cp "$tmp/moved/config.json" "$tmp/early/"; echo '{"step": 3, "loss": 9}' > "$tmp/early/log.jsonl"
out="$("$BIN" train --resume "$tmp/early" --steps 10 2>&1)" && grep -q "starts over" <<<"$out" && ok || bad "resume without a checkpoint: $out"
[ -s "$tmp/early/checkpoint.safetensors" ] && [ -s "$tmp/early/metrics.json" ] && ! grep -q '"loss": 9' "$tmp/early/log.jsonl" && ok || bad "the restarted run is incomplete"
expect_fail "already holds a run" "starts over" "$BIN" train "${run[@]}" --steps 5 --out "$tmp/early"
expect_fail "impossible --out" "/etc/passwd/run" "$BIN" train "${run[@]}" --steps 5 --out /etc/passwd/run
# A tiny weights file announcing 100000 hidden units through an empty tensor is refused before a
# model of that size is allocated.
$py - "$tmp/big.safetensors" <<'PY'
import json, struct, sys
e = lambda shape: {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}
h = {"__metadata__": {"cell": "lstm"}, "rnn.weight_ih_l0": e([0, 1]),
     "rnn.weight_hh_l0": e([0, 100000]), "head.weight": e([10, 0])}
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(hb)) + hb)
PY
expect_fail "weights announcing a huge model" "a lstm of 100000 hidden units needs" "$BIN" eval --weights "$tmp/big.safetensors" --task mnist-row
expect_fail "training beyond memory" "GiB more memory;" "$BIN" train --task mnist-padded --seq-len 200000000 --steps 1 --out "$tmp/x"
# Inputs and states of long sequences counted with the evaluation batch (a wide IDX image set once
# grew to 24 GB this way): refused before the run directory exists.
expect_fail "long repeated sequences beyond memory" "GiB more memory;" "$BIN" train --task mnist-repeat --repeat 1000 --steps 1 --out "$tmp/rep"
[ ! -e "$tmp/rep" ] && ok || bad "a refused run left its directory"
[ ! -e "$tmp/x" ] && ok || bad "a run refused for memory left a directory behind"
out="$("$BIN" train "${run[@]}" --steps 2 --threads 64 --test-limit 8 --out "$tmp/thr" 2>&1)"
grep -q "warning: --threads 64 on a machine with" <<<"$out" && ok || bad "no warning for more threads than cores: $out"
expect_fail "bad device" "--device must be cpu, cuda or cpu-ensemble" "$BIN" train "${run[@]}" --device tpu --out "$tmp/x"
expect_fail "precision on the CPU" "--precision tf32 needs --device cuda" "$BIN" train "${run[@]}" --precision tf32 --out "$tmp/x"
# Without a GPU, --device cuda refuses before anything is written (with one, it trains).
if out="$("$BIN" train "${run[@]}" --steps 10 --device cuda --out "$tmp/gpu" 2>&1)"; then
  grep -q '"test"' "$tmp/gpu/metrics.json" && ok || bad "cuda run without metrics"
else
  grep -qE "no usable CUDA GPU|no CUDA GPU found|built without the CUDA engine" <<<"$out" && ok || bad "train --device cuda: $out"
  [ ! -e "$tmp/gpu" ] && ok || bad "a refused cuda run left a directory behind"
fi

# 6. Flags that would be wrapped, ignored or overwrite: refused with the flag's name, nothing lost.
expect_fail "negative seed" "--seed: takes an integer ≥ 0, got -1" "$BIN" train "${common[@]}" --steps 2 --seed -1 --out "$tmp/neg"
expect_fail "negative permute" "--permute: takes an integer ≥ 0, got -2" "$BIN" train "${common[@]}" --steps 2 --permute -2 --out "$tmp/neg"
[ ! -e "$tmp/neg" ] && ok || bad "a refused flag left a run directory"
expect_fail "negative eval limit" "--limit: takes an integer ≥ 0, got -5" "$BIN" eval --weights "$tmp/full.safetensors" --task mnist-row --limit -5
cp "$tmp/part/config.json" "$tmp/part.config"
expect_fail "flags that change a resumed run" "--hidden, --lr cannot change on --resume" "$BIN" train --resume "$tmp/part" --steps 40 --lr 0.5 --hidden 4
cmp -s "$tmp/part/config.json" "$tmp/part.config" && ok || bad "a refused resume changed config.json"
mkdir -p "$tmp/mine" && echo '{"mine": 1}' > "$tmp/mine/metrics.json"
expect_fail "--out over another program's files" "already holds metrics.json" "$BIN" train "${run[@]}" --steps 2 --out "$tmp/mine"
[ "$(cat "$tmp/mine/metrics.json")" = '{"mine": 1}' ] && [ ! -e "$tmp/mine/config.json" ] && ok || bad "a refused --out lost a file"
# Weights are told from a spec by their content, whatever the file is called (export -o W.st).
cp "$tmp/full.safetensors" "$tmp/weights.st"
expect_ok "weights named .st" "done: test accuracy" "$BIN" train "${run[@]}" --steps 2 --init "$tmp/weights.st" --test-limit 8 --out "$tmp/st"
# ms_per_step counts the training steps, not the final evaluation (all 10000 test images here).
"$BIN" train "${run[@]}" --steps 4 --test-limit 0 --out "$tmp/mps" >/dev/null 2>&1
$py - "$tmp/mps/metrics.json" <<'PY' && ok || bad "ms_per_step includes the final evaluation"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["ms_per_step"] * m["steps"] <= 1000 * m["train_time_s"] * 1.0001 + 1e-6, m
PY
# A finished run extended with --resume logs the validation due at its old last step, as the
# uninterrupted run does: the two logs agree line for line (times aside).
ext=(--task mnist-row --cell gru --hidden 16 --batch 16 --eval-every 10 --eval-limit 100 --log-every 5 --lr 0.01 --seed 5 --test-limit 50)
"$BIN" train "${ext[@]}" --steps 20 --out "$tmp/ext" >/dev/null 2>&1 || bad "run to extend"
"$BIN" train --resume "$tmp/ext" --steps 30 >/dev/null 2>&1 || bad "extend a finished run"
"$BIN" train "${ext[@]}" --steps 30 --out "$tmp/ext_full" >/dev/null 2>&1 || bad "uninterrupted run"
notime() { sed 's/,"time_s":[^}]*//' "$1"; }
if [ "$(notime "$tmp/ext/log.jsonl")" = "$(notime "$tmp/ext_full/log.jsonl")" ] && grep -q '"step":20,"val_accuracy"' "$tmp/ext/log.jsonl"; then ok; else
  bad "an extended run's log differs from the uninterrupted one"; diff <(notime "$tmp/ext/log.jsonl") <(notime "$tmp/ext_full/log.jsonl") | head -5; fi

finish
