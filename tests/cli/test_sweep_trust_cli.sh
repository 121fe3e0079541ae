#!/usr/bin/env bash
# A sweep trusts nothing it did not write (docs/cluster.md §What a sweep trusts): two sweeps
# started at once on one fresh directory, results lines and run directories that are not the
# sweep's own, and values every run would refuse, each refused with its place before anything is
# adopted or created.
# Usage: test_sweep_trust_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

spec() {  # spec FILE LR: a two-run sweep of tiny networks on MNIST rows
  cat >"$1" <<JSON
{"base": {"task": "mnist-row", "hidden": 4, "batch": 8, "steps": 2, "eval_limit": 20,
          "test_limit": 20, "lr": $2},
 "grid": {"seed": [0, 1]}}
JSON
}
spec "$tmp/a.json" 0.01
spec "$tmp/b.json" 0.02

# 1. Two sweeps of different specs started at once on a fresh --out: exactly one runs, and
#    sweep.json (and every results line) describes the spec that ran.
for trial in 1 2 3 4 5 6; do
  out="$tmp/race$trial"
  "$BIN" sweep "$tmp/a.json" --out "$out" --quiet >"$tmp/ra.log" 2>&1 &
  pa=$!
  "$BIN" sweep "$tmp/b.json" --out "$out" --quiet >"$tmp/rb.log" 2>&1 &
  pb=$!
  wait $pa; ra=$?
  wait $pb; rb=$?
  if [ $ra -eq 0 ] && [ $rb -ne 0 ]; then ran=0.01; elif [ $rb -eq 0 ] && [ $ra -ne 0 ]; then ran=0.02
  else bad "race $trial: exits $ra and $rb (one sweep runs, the other is refused)"; continue; fi
  $py - "$out" "$ran" <<'PY' && ok || bad "race $trial: sweep.json is not the spec that ran ($ran)"
import json, sys
d, lr = sys.argv[1], float(sys.argv[2])
assert json.load(open(d + "/sweep.json"))["base"]["lr"] == lr
lines = [json.loads(l) for l in open(d + "/results.jsonl")]
assert len(lines) == 2
units = [json.load(open(f"{d}/runs/{l['run']}/unit.json")) for l in lines]
assert all(u["config"]["lr"] == lr for u in units), [u["config"]["lr"] for u in units]
assert len({l["sweep"] for l in lines}) == 1
PY
  # The refused one says why, naming the directory.
  grep -qE "another rnnmft sweep|different spec" "$tmp/ra.log" "$tmp/rb.log" && ok || bad "race $trial: no reason given"
done

# A finished sweep to tamper with.
expect_ok "sweep a" "" "$BIN" sweep "$tmp/a.json" --out "$tmp/a" --quiet
ids=($("$BIN" sweep "$tmp/a.json" --list | awk '{print $1}'))
good="$tmp/a.results.good"
cp "$tmp/a/results.jsonl" "$good"
# ids[0]: the run of the first line (lines are in the order runs finished).
first=$($py -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["run"])' "$good")
[ "${ids[1]}" = "$first" ] && ids=("${ids[1]}" "${ids[0]}")
[ "${ids[0]}" = "$first" ] && ok || bad "the first line is not of a run of the grid"

# 2. Results lines are checked against the run they name: a bare {"run": ID} line.
cp -r "$tmp/a" "$tmp/bare"
printf '{"run": "%s"}\n' "${ids[0]}" >"$tmp/bare/results.jsonl"
expect_fail "a bare results line in sweep" "results.jsonl:1: not a whole results line: 'params' is missing" \
  "$BIN" sweep "$tmp/a.json" --out "$tmp/bare"
expect_fail "a bare results line in report" "results.jsonl:1: not a whole results line" \
  "$BIN" report "$tmp/bare"
mkdir -p "$tmp/bare/parts"
mv "$tmp/bare/results.jsonl" "$tmp/bare/parts/results-0-of-1.jsonl"
expect_fail "a bare results line in merge" "results-0-of-1.jsonl:1: not a whole results line" \
  "$BIN" sweep --merge "$tmp/bare"
# A line of a run outside the grid (its id changed): refused, not reported as a seventh row.
cp -r "$tmp/a" "$tmp/outside"
sed -n 1p "$good" | sed "s/${ids[0]}/r0123456789abcdef/" >>"$tmp/outside/results.jsonl"
expect_fail "a run outside the grid in sweep" "results.jsonl:3: run r0123456789abcdef is not a run of this sweep" \
  "$BIN" sweep "$tmp/a.json" --out "$tmp/outside"
expect_fail "a run outside the grid in report" "results.jsonl:3: run r0123456789abcdef is not a run of this directory's sweep.json" \
  "$BIN" report "$tmp/outside"
# A line whose parameters are not its run's.
cp -r "$tmp/a" "$tmp/params"
sed -i '1s/"seed":[01]/"seed":7/' "$tmp/params/results.jsonl"
expect_fail "a line with another run's parameters" "results.jsonl:1: run ${ids[0]} has parameters" \
  "$BIN" sweep "$tmp/a.json" --out "$tmp/params"
# Two lines of one run: report draws one row per run.
cp -r "$tmp/a" "$tmp/twice"
sed -n 1p "$good" >>"$tmp/twice/results.jsonl"
expect_fail "two lines of one run in report" "results.jsonl:3: a second line of run ${ids[0]}" \
  "$BIN" report "$tmp/twice"
# Refusals change nothing.
cmp -s "$tmp/outside/results.jsonl" <(cat "$good"; sed -n 1p "$good" | sed "s/${ids[0]}/r0123456789abcdef/") && ok || bad "a refused results file was changed"

# 3. Run directories are checked before they are adopted. Another sweep's runs/ (lr 0.01) under a
#    sweep with lr 0.02: same grid, same ids, different runs.
mkdir -p "$tmp/b"
cp -r "$tmp/a/runs" "$tmp/b/runs"
expect_fail "another sweep's runs/" "this run in another sweep" "$BIN" sweep "$tmp/b.json" --out "$tmp/b"
[ ! -e "$tmp/b/results.jsonl" ] && ok || bad "another sweep's run adopted into results.jsonl"
# Run A's result.json in run B's directory (one sweep): B is not reported as A.
cp -r "$tmp/a" "$tmp/swap"
rm "$tmp/swap/results.jsonl"
cp "$tmp/swap/runs/${ids[0]}/result.json" "$tmp/swap/runs/${ids[1]}/result.json"
expect_fail "run A's result in run B's directory" "runs/${ids[1]}/result.json: the line of run \"${ids[0]}\", not of run ${ids[1]}" \
  "$BIN" sweep "$tmp/a.json" --out "$tmp/swap"
# Run A's whole directory (config, checkpoint) as run B's: not resumed as B.
cp -r "$tmp/a" "$tmp/dirswap"
rm -r "$tmp/dirswap/results.jsonl" "$tmp/dirswap/runs/${ids[1]}"
cp -r "$tmp/dirswap/runs/${ids[0]}" "$tmp/dirswap/runs/${ids[1]}"
expect_fail "run A's directory as run B's" "runs/${ids[1]}/unit.json: the directory of another run" \
  "$BIN" sweep "$tmp/a.json" --out "$tmp/dirswap"
# Files without a unit.json: not a run directory of this sweep.
cp -r "$tmp/a" "$tmp/nounit"
rm "$tmp/nounit/results.jsonl" "$tmp/nounit/runs/${ids[1]}/unit.json"
expect_fail "a run directory without unit.json" "runs/${ids[1]}: holds files but no unit.json" \
  "$BIN" sweep "$tmp/a.json" --out "$tmp/nounit"
# The sweep's own directories are still adopted: results.jsonl lost, run directories kept.
cp -r "$tmp/a" "$tmp/own"
rm "$tmp/own/results.jsonl"
expect_ok "own run directories adopted" "2 already finished, 0 to do" "$BIN" sweep "$tmp/a.json" --out "$tmp/own"
cmp -s <(sort "$tmp/own/results.jsonl") <(sort "$good") && ok || bad "adopted lines differ from the sweep's own"

# Refusals add nothing: the run directories before the bad one were not adopted into a new
# results.jsonl.
[ ! -s "$tmp/swap/results.jsonl" ] && [ ! -s "$tmp/dirswap/results.jsonl" ] && ok || bad "a refused sweep adopted runs"
# A directory from before lines and units carried the spec hash resumes and merges as before;
# such a unit.json with another lr is still refused.
cp -r "$tmp/a" "$tmp/legacy"
$py - "$tmp/legacy" <<'PY'
import glob, json, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/results.jsonl")]
for l in lines:
    del l["sweep"]
open(d + "/results.jsonl", "w").write("".join(json.dumps(l) + "\n" for l in lines[:1]))
for f in glob.glob(d + "/runs/*/unit.json") + glob.glob(d + "/runs/*/result.json"):
    j = json.load(open(f))
    del j["sweep"]
    json.dump(j, open(f, "w"))
PY
expect_ok "an older sweep's directory resumes" "2 already finished, 0 to do" "$BIN" sweep "$tmp/a.json" --out "$tmp/legacy"
mkdir -p "$tmp/legacy_b"
cp -r "$tmp/legacy/runs" "$tmp/legacy_b/runs"
expect_fail "an older sweep's runs/ with another lr" "a run of an older sweep with other settings" \
  "$BIN" sweep "$tmp/b.json" --out "$tmp/legacy_b"
# A finished sweep needs no data to be rerun (its runs are not trained again).
expect_ok "a finished sweep without its data" "2 already finished, 0 to do" \
  env RNNMFT_DATA_DIR=/nonexistent "$BIN" sweep "$tmp/a.json" --out "$tmp/a"

# 4. Values every run would refuse are refused before the sweep creates anything.
cat >"$tmp/big.json" <<'JSON'
{"base": {"task": "mnist-row", "hidden": 4, "steps": 2, "init": "critical"},
 "grid": {"critical_fix": [{"forget.bias_mean": 2e6}]}}
JSON
expect_fail "critical_fix beyond 1e6 in --list" "is beyond ±1e6" "$BIN" sweep "$tmp/big.json" --list
cat >"$tmp/big2.json" <<'JSON'
{"base": {"task": "mnist-row", "hidden": 4, "steps": 2, "init": "pytorch"},
 "grid": {"forget.bias_mean": [1, -3e6]}}
JSON
expect_fail "a spec parameter beyond 1e6" "is beyond ±1e6" "$BIN" sweep "$tmp/big2.json" --out "$tmp/big2"
[ ! -e "$tmp/big2" ] && ok || bad "a refused sweep created its directory"
cat >"$tmp/batch.json" <<'JSON'
{"base": {"task": "mnist-row", "hidden": 4, "steps": 2, "val_size": 59990},
 "grid": {"batch": [8, 64]}}
JSON
expect_fail "a batch larger than the data" "batch 64 is larger than the 10 training examples" \
  "$BIN" sweep "$tmp/batch.json" --out "$tmp/batch"
[ ! -e "$tmp/batch" ] && ok || bad "a sweep refused for its batch created its directory"
# An init spec file for another cell (each run would refuse it when it draws its weights).
cat >"$tmp/gru_spec.json" <<'JSON'
{"cell": "gru", "gates": {"update": {"recurrent_std": 1, "input_std": 1, "bias_mean": 0, "bias_std": 0},
 "reset": {"recurrent_std": 1, "input_std": 1, "bias_mean": 0, "bias_std": 0},
 "candidate": {"recurrent_std": 1, "input_std": 1, "bias_mean": 0, "bias_std": 0}}}
JSON
echo "{\"base\": {\"task\": \"mnist-row\", \"cell\": \"lstm\", \"init\": \"$tmp/gru_spec.json\"}, \"grid\": {\"seed\": [0]}}" >"$tmp/cellspec.json"
expect_fail "an init spec of another cell" "gru_spec.json is for gru, but the run's cell is lstm" \
  "$BIN" sweep "$tmp/cellspec.json" --out "$tmp/cellspec"
[ ! -e "$tmp/cellspec" ] && ok || bad "a sweep refused for its init spec created its directory"
$py - "$tmp/huge.json" <<'PY'
import json, sys
grid = {f"{g}.bias_mean": [i / 256 for i in range(256)] for g in ("input", "forget", "cell", "output")}
grid.update({f"{g}.bias_std": [i / 256 for i in range(256)] for g in ("input", "forget", "cell", "output")})
json.dump({"base": {"task": "mnist-row"}, "grid": grid}, open(sys.argv[1], "w"))
PY
expect_fail "2^64 runs" "the grid has 2^64 or more runs" "$BIN" sweep "$tmp/huge.json" --list

finish
