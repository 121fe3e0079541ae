#!/usr/bin/env bash
# Runs one set of small training runs with two builds of rnnmft and compares every file they
# write, byte for byte, except the fields documented as varying between runs: "time_s" (log),
# "train_time_s" and "ms_per_step" (metrics.json), "wall_time_s" (checkpoint metadata),
# "seconds" and "git" (results lines, result.json, unit.json) — docs/training.md, docs/cluster.md.
# The runs: new, resumed, extended past their end with --steps on --resume, --init critical-v1
# (and resumed), a spec designed for another run (warnings), diverging (a huge lr; an exploding
# loss), other devices and optimizers, a sweep with the critical-v1 solve, critical (v2) and spec
# parameters, and a packed sweep (cpu-ensemble) with diverging runs; exported weights and eval
# output of every run.
# Progress text (stderr, output.log, pack logs) is compared with its times and rates masked (a
# pack's log as a set of lines: its runs print from their own threads);
# IGNORE_STDERR_RE (an extended regex) drops lines that only one build is meant to print.
#
# Usage: scripts/compare_outputs.sh OLD_BIN NEW_BIN   (data: RNNMFT_DATA_DIR or .data)
set -u
OLD=$(realpath "$1")
NEW=$(realpath "$2")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RNNMFT_DATA_DIR=${RNNMFT_DATA_DIR:-$here/.data}
py=${RNNMFT_PY:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The scenarios, run in $work/run (the same absolute paths for both builds).
scenarios() {
  local B="$1"
  local row=(--task mnist-row --cell gru --hidden 16 --batch 16 --eval-every 10 --eval-limit 100
             --test-limit 100 --log-every 5 --lr 0.01 --seed 3)
  local pad=(--task mnist-padded --seq-len 60 --unit row --hidden 8 --batch 8 --eval-limit 16
             --test-limit 16 --log-every 2 --eval-every 4)
  {
    "$B" train "${row[@]}" --steps 30 --checkpoint-every 10 --out new
    "$B" train "${row[@]}" --steps 20 --checkpoint-every 10 --out resumed
    "$B" train --resume resumed --steps 30
    "$B" train "${row[@]}" --steps 20 --out extended
    "$B" train --resume extended --steps 30
    "$B" train "${pad[@]}" --cell gru --init critical-v1 --steps 8 --checkpoint-every 4 --out critical
    "$B" train --resume critical --steps 12
    "$B" train "${pad[@]}" --cell gru --seq-len 100 --init critical/init_spec.json --steps 4 \
      --out warned
    "$B" train "${row[@]}" --optimizer sgd --lr 1e38 --steps 20 --checkpoint-every 1 --out nan
    "$B" train "${row[@]}" --cell lstm --lr 100 --steps 20 --checkpoint-every 5 --out exploding
    "$B" train "${row[@]}" --cell lstm --optimizer rmsprop --schedule cosine --clip 1 --steps 12 \
      --init chrono:28 --out cosine
    "$B" train "${row[@]}" --cell minimal --optimizer sgd --steps 10 --init keras --out minimal
    "$B" train "${pad[@]}" --cell vanilla --init orthogonal --steps 6 --out vanilla
    "$B" train "${row[@]}" --steps 20 --checkpoint-every 10 --device cpu-ensemble --out ensemble
    "$B" train "${row[@]}" --steps 10 --device cpu-ensemble --out moved
    "$B" train --resume moved --steps 15 --device cpu
  } >stderr.txt 2>&1
  cat >grid.json <<'JSON'
{"name": "cmp", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 40, "hidden": 8,
  "batch": 8, "steps": 12, "eval_every": 5, "eval_limit": 30, "test_limit": 30, "log_every": 3,
  "checkpoint_every": 6, "lr": 0.01},
 "grid": {"cell": ["gru", "minimal"], "init": ["critical-v1", "critical", "pytorch"], "seed": [0, 1]}}
JSON
  cat >spec.json <<'JSON'
{"name": "specs", "base": {"task": "mnist-row", "cell": "lstm", "hidden": 8, "batch": 8,
  "steps": 10, "eval_every": 5, "eval_limit": 30, "test_limit": 30, "log_every": 5, "init": "keras"},
 "grid": {"forget.bias_mean": [0, 3], "lr": [0.01, 1e5]}}
JSON
  cat >pack.json <<'JSON'
{"name": "packs", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 40, "cell": "gru",
  "hidden": 8, "batch": 8, "eval_every": 10, "eval_limit": 50, "test_limit": 37, "log_every": 5,
  "checkpoint_every": 10, "device": "cpu-ensemble"},
 "grid": {"seed": [0, 1], "lr": [0.01, 100000], "steps": [20, 30]}}
JSON
  {
    "$B" sweep grid.json --out sweep --jobs 1
    "$B" sweep spec.json --out specs --jobs 1
    "$B" sweep pack.json --out packed --pack 8
    "$B" sweep pack.json --out packed4 --pack 4 --jobs 1
  } >sweeps_stderr.txt 2>&1
  for d in new resumed extended critical warned nan exploding cosine minimal vanilla ensemble moved; do
    "$B" export "$d" -o "$d.weights.safetensors" >/dev/null 2>&1
    "$B" eval --weights "$d.weights.safetensors" --task "$(sed -n 's/.*"name": *"\([^"]*\)".*/\1/p' "$d/config.json" | head -1)" \
      --limit 50 --json >"$d.eval.json" 2>&1
  done
}

for side in old new; do
  bin=$OLD; [ $side = new ] && bin=$NEW
  mkdir "$work/run" && (cd "$work/run" && scenarios "$bin")
  mv "$work/run" "$work/$side"
done

"$py" - "$work/old" "$work/new" "${IGNORE_STDERR_RE:-}" <<'PY'
import json, os, re, struct, sys
old, new, ignore = sys.argv[1], sys.argv[2], sys.argv[3]
varying = re.compile(rb'("(?:time_s|train_time_s|ms_per_step|wall_time_s|seconds)": ?)(-?[0-9][0-9.eE+-]*|null)')
git = re.compile(rb'("git": ?)"[^"]*"')
def mask_json_text(b):
    return git.sub(rb'\1"*"', varying.sub(rb'\1*', b))
def safetensors(b):
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.get("__metadata__", {}).pop("wall_time_s", None)
    return json.dumps(h, sort_keys=True).encode() + b"|" + b[8 + n:]
timing = [(re.compile(p), r) for p, r in [
    (r"[0-9.]+ steps/s", "* steps/s"), (r"ETA \S+", "ETA *"),
    (r"\b\d+(h\d\dm|m\d\ds|s)\b", "*s"), (r"in [0-9.]+ s\b", "in * s")]]
def text(b, path):
    b = mask_json_text(b)  # a sweep run's output ends with its results line
    out = []
    for line in b.decode(errors="replace").replace("\r", "\n").split("\n"):
        if ignore and re.search(ignore, line):
            continue
        for p, r in timing:
            line = p.sub(r, line)
        out.append(line)
    if "packs/" in path:  # the runs of a pack print from their own threads, in any order
        out.sort()
    return "\n".join(out).encode()
def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)
a, b = files(old), files(new)
bad = 0
if a != b:
    print("file lists differ: only old:", sorted(set(a) - set(b)), "only new:", sorted(set(b) - set(a)))
    bad += 1
same = masked = 0
for f in sorted(set(a) & set(b)):
    x, y = open(os.path.join(old, f), "rb").read(), open(os.path.join(new, f), "rb").read()
    if x == y:
        same += 1
        continue
    if f.endswith(".safetensors"):
        x, y = safetensors(x), safetensors(y)
    elif f.endswith((".json", ".jsonl")):
        x, y = mask_json_text(x), mask_json_text(y)
    else:  # progress text: stderr, output.log, packs/*.log
        x, y = text(x, f), text(y, f)
    if x == y:
        masked += 1
    else:
        bad += 1
        xl, yl = x.split(b"\n"), y.split(b"\n")
        k = next((i for i in range(min(len(xl), len(yl))) if xl[i] != yl[i]), min(len(xl), len(yl)))
        print(f"DIFFERS: {f} (line {k + 1})\n  old: {xl[k][:300] if k < len(xl) else b'<end>'}\n"
              f"  new: {yl[k][:300] if k < len(yl) else b'<end>'}")
print(f"{len(set(a) & set(b))} files compared: {same} identical, {masked} identical but for the "
      f"varying fields (times, rates, git), {bad} different")
sys.exit(1 if bad else 0)
PY
