#!/usr/bin/env bash
# Sweeps across processes (docs/cluster.md): job-array shards and their merge, MPI ranks handing
# out runs (with an MPI build and mpirun), a killed job re-launched, and bad input named. Every
# way of running the grid gives the same results lines, bit for bit but for the time taken.
# Usage: test_cluster_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"
# mpirun refuses root unless told; a test machine's container often is root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

cat >"$tmp/grid.json" <<'JSON'
{"name": "grid", "base": {"task": "mnist-padded", "unit": "row", "seq_len": 40, "hidden": 8, "batch": 16,
  "lr": 0.01, "steps": 20, "eval_every": 10, "eval_limit": 100, "test_limit": 100,
  "checkpoint_every": 10, "cell": "gru", "threads": 1},
 "grid": {"init": ["pytorch", "critical-v1"], "seed": [0, 1, 2]}}
JSON
same() {  # same runs, same lines but for "seconds" and "git"
  $py - "$@" <<'PY'
import json, sys
def load(p):
    d = {}
    for l in open(p):
        j = json.loads(l)
        assert j["run"] not in d, ("two lines for", j["run"], p)
        j.pop("seconds"); j.pop("git", None)
        d[j["run"]] = j
    return d
ref = load(sys.argv[1])
assert len(ref) == 6, len(ref)
for p in sys.argv[2:]:
    assert load(p) == ref, p
PY
}

# 1. The reference: a local sweep, one run at a time.
expect_ok "local sweep" "" "$BIN" sweep "$tmp/grid.json" --out "$tmp/local" --jobs 1 --quiet

# 2. Job arrays: two shards, then the merge; the parts are disjoint and complete.
expect_ok "shard 0/2" "shard 0/2" "$BIN" sweep "$tmp/grid.json" --out "$tmp/sh" --shard 0/2
expect_fail "merge of an incomplete sweep" "3 of 6 runs have no results line yet" "$BIN" sweep --merge "$tmp/sh"
[ ! -e "$tmp/sh/results.jsonl" ] && ok || bad "a refused merge wrote results.jsonl"
expect_ok "shard 1/2" "shard 1/2" "$BIN" sweep "$tmp/grid.json" --out "$tmp/sh" --shard 1/2
[ "$(cat "$tmp"/sh/parts/results-*-of-2.jsonl | wc -l)" = 6 ] && ok || bad "the shards' parts do not hold 6 lines"
expect_ok "merge" "merged 6 lines from 2 parts: 6 runs" "$BIN" sweep --merge "$tmp/sh"
same "$tmp/local/results.jsonl" "$tmp/sh/results.jsonl" && ok || bad "shards + merge differ from the local sweep"
expect_ok "merge again" "6 runs" "$BIN" sweep --merge "$tmp/sh"
same "$tmp/local/results.jsonl" "$tmp/sh/results.jsonl" && ok || bad "a second merge changed results.jsonl"
# Re-sharded after the merge: nothing left to do.
expect_ok "re-sharded rerun" "2 runs, 2 already finished, 0 to do" "$BIN" sweep "$tmp/grid.json" --out "$tmp/sh" --shard 1/3

# A run whose lock another sweep process holds (another sharding still training it) is left to
# it, not trained twice; a merge waits for running shards.
first=$("$BIN" sweep "$tmp/grid.json" --list | sed -n 1p | cut -d' ' -f1)
mkdir -p "$tmp/busy/runs/$first"
flock "$tmp/busy/runs/$first/.lock" sleep 30 >/dev/null 2>&1 &
holder=$!
sleep 0.3
expect_ok "a locked run is left alone" "left to another sweep process" "$BIN" sweep "$tmp/grid.json" --out "$tmp/busy" --shard 0/2
[ ! -e "$tmp/busy/runs/$first/result.json" ] && ok || bad "a run locked by another process was trained"
mkdir -p "$tmp/busy/parts"
flock "$tmp/busy/parts/.lock-1-of-2" sleep 30 >/dev/null 2>&1 &
holder2=$!
sleep 0.3
expect_fail "merge while a shard runs" "shard 1-of-2 is still running" "$BIN" sweep --merge "$tmp/busy"
pkill -P $holder; pkill -P $holder2; kill $holder $holder2 2>/dev/null; wait $holder $holder2 2>/dev/null

# 3. Bad input.
expect_fail "shard 3/2" "need 0 ≤ i < n" "$BIN" sweep "$tmp/grid.json" --out "$tmp/x" --shard 3/2
expect_fail "shard a/b" "is not i/n" "$BIN" sweep "$tmp/grid.json" --out "$tmp/x" --shard a/b
expect_fail "shard 1/0" "need 0 ≤ i < n" "$BIN" sweep "$tmp/grid.json" --out "$tmp/x" --shard 1/0
expect_fail "merge with a spec" "--merge DIR takes no spec" "$BIN" sweep "$tmp/grid.json" --merge "$tmp/sh"
expect_fail "merge of no sweep" "no sweep.json" "$BIN" sweep --merge "$tmp"
cp -r "$tmp/sh" "$tmp/foreign"
sed 's/"seed": \[0, 1, 2\]/"seed": [5, 6, 7]/' "$tmp/grid.json" >"$tmp/other.json"
"$BIN" sweep "$tmp/other.json" --out "$tmp/other" --shard 0/3 --quiet || bad "other sweep"
cp "$tmp/other/parts/results-0-of-3.jsonl" "$tmp/foreign/parts/"
expect_fail "merge of a foreign part" "is not a run of this sweep" "$BIN" sweep --merge "$tmp/foreign"
cp -r "$tmp/sh" "$tmp/clash"
$py - "$tmp/clash/parts/results-0-of-2.jsonl" <<'PY' || bad "editing a part"
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
ls[0]["final_test_acc"] = 0.999
open(sys.argv[1], "w").write("".join(json.dumps(l) + "\n" for l in ls))
PY
expect_fail "merge of two different lines for one run" "has two different results lines" "$BIN" sweep --merge "$tmp/clash"
touch "$tmp/clash/parts/results-2-of-2.jsonl"
expect_fail "a part name out of range" "not a part this program writes" "$BIN" sweep --merge "$tmp/clash"

# 4. MPI.
if "$BIN" --version | grep -q "MPI sweeps built in"; then
  command -v mpirun >/dev/null || { bad "this rnnmft has MPI sweeps but mpirun is not installed (openmpi-bin)"; finish; }
  expect_ok "mpirun -np 3" "on 3 MPI ranks: 6 runs" mpirun --oversubscribe -np 3 "$BIN" sweep "$tmp/grid.json" --out "$tmp/mpi"
  same "$tmp/local/results.jsonl" "$tmp/mpi/results.jsonl" && ok || bad "the MPI sweep differs from the local sweep"
  # With an ensemble device each rank trains packs (docs/gpu.md §Sweeps): 6 runs in packs of 4
  # and 2 on the CPU reference backend give the lines of the same runs one by one.
  sed 's/"steps": 20/"steps": 20, "device": "cpu-ensemble"/' "$tmp/grid.json" >"$tmp/ens.json"
  grep -q cpu-ensemble "$tmp/ens.json" && ok || bad "the ensemble grid was not made"
  "$BIN" sweep "$tmp/ens.json" --out "$tmp/ens1" --jobs 1 --pack 1 --quiet || bad "ensemble grid one by one"
  expect_ok "mpirun -np 3 with packs" "as 2 jobs" mpirun --oversubscribe -np 3 "$BIN" sweep "$tmp/ens.json" --out "$tmp/ensmpi" --pack 4
  same "$tmp/ens1/results.jsonl" "$tmp/ensmpi/results.jsonl" && ok || bad "packs on MPI ranks differ from the runs one by one"
  # A rank killed mid-sweep: the job ends, no partial line is left, a re-launch (another K)
  # completes the grid with exactly one line per run.
  sed 's/"steps": 20/"steps": 400/; s/"checkpoint_every": 10/"checkpoint_every": 20/' "$tmp/grid.json" >"$tmp/long.json"
  mpirun --oversubscribe -np 3 "$BIN" sweep "$tmp/long.json" --out "$tmp/kill" --quiet >"$tmp/kill.log" 2>&1 &
  job=$!
  for _ in $(seq 1 60000); do  # polled: a run's first checkpoint, then a worker rank killed
    ls "$tmp"/kill/runs/*/checkpoint.safetensors >/dev/null 2>&1 && break
    kill -0 $job 2>/dev/null || break
    sleep 0.02
  done
  worker=$(pgrep -f "sweep $tmp/long.json" | while read -r p; do
             [ "$(tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -c '^OMPI_COMM_WORLD_RANK=[12]$')" = 1 ] && echo "$p"; done | head -1)
  [ -n "$worker" ] && kill -9 "$worker" && ok || bad "no worker rank to kill"
  wait $job 2>/dev/null
  sleep 0.5
  $py - "$tmp/kill/results.jsonl" <<'PY' && ok || bad "a partial line after the kill"
import json, os, sys
p = sys.argv[1]
if os.path.exists(p):
    for l in open(p):
        json.loads(l)
PY
  [ ! -e "$tmp/kill/results.jsonl" ] || [ "$(wc -l <"$tmp/kill/results.jsonl")" -lt 6 ] && ok || bad "the kill came after the whole grid: nothing was tested"
  expect_ok "re-launch on 2 ranks" "6 runs" mpirun --oversubscribe -np 2 "$BIN" sweep "$tmp/long.json" --out "$tmp/kill"
  $py - "$tmp/kill/results.jsonl" <<'PY' && ok || bad "the re-launched sweep does not have one line per run"
import json, sys
runs = [json.loads(l)["run"] for l in open(sys.argv[1])]
assert len(runs) == 6 and len(set(runs)) == 6, runs
PY
  # Launched as several processes, but MPI sees one (a foreign launcher's environment).
  expect_ok "foreign launcher" "MPI sees one" env OMPI_COMM_WORLD_SIZE=3 "$BIN" sweep "$tmp/grid.json" --out "$tmp/one" --quiet
else
  # Without MPI, an mpirun launch would run the whole grid K times: refused.
  expect_fail "mpirun without MPI" "built without MPI" env OMPI_COMM_WORLD_SIZE=3 "$BIN" sweep "$tmp/grid.json" --out "$tmp/nompi"
  expect_fail "srun without MPI" "built without MPI" env SLURM_STEP_NUM_TASKS=2 "$BIN" sweep "$tmp/grid.json" --out "$tmp/nompi"
fi
finish
