#!/usr/bin/env bash
# End-to-end checks of the rnnmft program: bad input gives a clear message and a non-zero exit,
# good input gives the promised outputs. Usage: test_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

expect_fail "missing data dir" "dataset mnist not found" "$BIN" data info --dataset mnist --data-dir "$tmp/none"
expect_fail "unknown dataset" "unknown dataset 'svhn'" "$BIN" data info --dataset svhn
expect_fail "no subcommand" "subcommand" "$BIN"

# A tiny valid MNIST-like directory and a CIFAR-10 directory the test writes.
mkdir -p "$tmp/ok/mnist" "$tmp/ok/cifar10"
for split in train t10k; do
  printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c' > "$tmp/ok/mnist/$split-images-idx3-ubyte"
  head -c 1568 /dev/urandom >> "$tmp/ok/mnist/$split-images-idx3-ubyte"
  printf '\x00\x00\x08\x01\x00\x00\x00\x02\x03\x04' > "$tmp/ok/mnist/$split-labels-idx1-ubyte"
done
for b in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  { printf '\x06'; head -c 3072 /dev/urandom; printf '\x02'; head -c 3072 /dev/urandom; } > "$tmp/ok/cifar10/$b.bin"
done
export RNNMFT_DATA_DIR="$tmp/ok"
# A corrupt copy: a label file with the wrong magic number, then a truncated image file.
cp -r "$tmp/ok" "$tmp/bad"
printf 'garbage!' > "$tmp/bad/mnist/train-labels-idx1-ubyte"
expect_fail "corrupt label file" "train-labels-idx1-ubyte: wrong magic number 0x67617262" "$BIN" data info --data-dir "$tmp/bad"
cp "$tmp/ok/mnist/train-labels-idx1-ubyte" "$tmp/bad/mnist/"; head -c 100 "$tmp/ok/mnist/t10k-images-idx3-ubyte" > "$tmp/bad/mnist/t10k-images-idx3-ubyte"
expect_fail "truncated image file" "t10k-images-idx3-ubyte: truncated: header announces 1568 data bytes, file holds 84" "$BIN" data info --dataset mnist --data-dir "$tmp/bad"

expect_ok "info via env data dir" "\"count\": 10" "$BIN" data info --dataset cifar10 --json
expect_ok "info lists files" "$tmp/ok/mnist/train-images-idx3-ubyte" "$BIN" data info --dataset mnist
expect_ok "show writes png" "label 3" "$BIN" data show --task mnist-padded --seq-len 900 --val-size 1 --index 0 --split test -o "$tmp/x.png"
[ "$(head -c 4 "$tmp/x.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ] && ok || bad "x.png is not a PNG"
expect_ok "show cifar" "sequence 1024 steps × 3 inputs" "$BIN" data show --task cifar10-pixel --val-size 1 -o "$tmp/c.png"
expect_fail "index out of range" "example 5 is out of range" "$BIN" data show --task mnist-row --val-size 1 --index 5 --split test -o "$tmp/y.png"
expect_fail "seq-len too short" "shorter than the 784 steps" "$BIN" data show --task mnist-padded --seq-len 100 --val-size 1 -o "$tmp/y.png"
expect_fail "unknown task" "unknown kind 'spiral'" "$BIN" data show --task mnist-spiral -o "$tmp/y.png"
[ ! -e "$tmp/y.png" ] && ok || bad "y.png written on error"

# data show draws labelled axes: a title above the image (white with text, not the image's
# black background), a legend below, the line labels left of the sequence.
$py - "$tmp/x.png" <<'PY' && ok || bad "data show: title, labels and legend drawn"
import sys
import numpy as np
import matplotlib.image as mpimg
a = np.asarray(mpimg.imread(sys.argv[1]))[..., :3]
dark = a.mean(axis=2) < 0.5
h, w = dark.shape
title = dark[10:25, 10:230]
assert 0.02 < title.mean() < 0.5, f"title strip: {title.mean():.3f} dark"
assert dark[h - 40:h - 10, :].mean() > 0.005, "no legend at the bottom"
assert h > 300 and w > 1100, (h, w)
PY

# --help: the descriptions start in one column (CLI11 pads by bytes, so a type name with a
# non-ASCII character shifts its row), and the tied check's flag reads as on by default.
for sub in "data info" "data show" train export eval grads theory critical compare simulate phase bench sweep report; do
  # shellcheck disable=SC2086
  "$BIN" $sub --help >"$tmp/help.txt" 2>&1 || { bad "$sub --help"; continue; }
  $py - "$tmp/help.txt" "$sub" <<'PY' && ok || bad "$sub --help: columns"
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"^  (\S.*?)( {2,})(\S.*)$", line.rstrip("\n"))
    if m and len(m.group(1)) < 28:
        col = len(m.group(1)) + len(m.group(2)) + 2
        assert col == 30, f"{sys.argv[2]} --help: description at column {col}, not 30:\n{line}"
PY
done
"$BIN" theory --help >"$tmp/help.txt" 2>&1
grep -qF "{false}" "$tmp/help.txt" && bad "theory --help: a flag shown as {false}" || ok
grep -q "^  --tied-check .*on by default" "$tmp/help.txt" && grep -q "^  --no-tied-check " "$tmp/help.txt" && ok || bad "theory --help: --tied-check on by default, --no-tied-check"
expect_fail "tied-check flags exclude each other" "--tied-check and --no-tied-check: give one of them" "$BIN" theory --tied-check --no-tied-check

# report on synthetic sweeps whose answers are known (scripts/report.py).
$py - "$tmp" <<'PY'
import json, math, os, sys
tmp = sys.argv[1]
sys.path.insert(0, os.environ["CLI_TESTS"])
from run_ids import run_id  # noqa: E402
gates = {g: {"recurrent_std": 1.0, "input_std": 1.0, "bias_mean": 0.0, "bias_std": 0.0}
         for g in ("update", "reset", "candidate")}
def line(run, params, xi, acc, loss=1.0, curve=None, train_curve=None):
    g = json.loads(json.dumps(gates))
    for k, v in params.items():
        if "." in k:
            gate, p = k.split(".")
            g[gate][p] = v
    r = {"run": run_id(params), "params": params, "spec": {"cell": "gru", "gates": g}, "xi": xi,
         "xi_infinite": False, "chi": math.exp(-1 / xi), "m1": 1.0, "cell": "gru", "seq_len": 100,
         "input_var": 0.0, "final_test_acc": acc, "final_val_acc": acc, "final_train_loss": loss,
         "diverged": False, "curve": curve or [[50, acc / 2, 2.0], [100, acc, 1.5]], "steps": 100,
         "seconds": 1.0, "git": "x", "train_curve": train_curve or []}
    return json.dumps(r) + "\n"
def sweep(name, grid, lines):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    json.dump({"name": name, "base": {"task": "mnist-padded", "seq_len": 100, "cell": "gru"},
               "grid": grid}, open(os.path.join(d, "sweep.json"), "w"))
    open(os.path.join(d, "results.jsonl"), "w").writelines(lines)
# 1. Nothing trains on a 2 × 2 grid (a standard deviation at 0.5 and 3): the best c is the end
#    of the searched range.
xs, ys = [0.0, 5.0], [0.5, 3.0]
sweep("edge", {"update.bias_mean": xs, "candidate.recurrent_std": ys},
      [line(f"r{i}{j}", {"update.bias_mean": x, "candidate.recurrent_std": y}, math.exp(x), 0.1)
       for i, x in enumerate(xs) for j, y in enumerate(ys)])
# 2. Two spec axes along which the theory's ξ does not change: no agreement to speak of.
sweep("flat", {"update.bias_std": [0.0, 0.1], "reset.bias_mean": [0.0, 1.0]},
      [line(f"f{i}{j}", {"update.bias_std": x, "reset.bias_mean": y}, 7.0, 0.9 if j else 0.1)
       for i, x in enumerate([0.0, 0.1]) for j, y in enumerate([0.0, 1.0])])
# 3. An init axis where chrono never leaves chance (loss ln 10): no "equal training loss".
chance = [[s, 2.3015, 0.11] for s in (10, 50, 100)]
learned = [[10, 2.2, 0.2], [50, 1.0, 0.7], [100, 0.4, 0.9]]
sweep("chance", {"init": ["critical", "chrono"], "seed": [0]},
      [line("c0", {"init": "critical", "seed": 0}, 100.0, 0.9, 0.4, train_curve=learned),
       line("c1", {"init": "chrono", "seed": 0}, 12.0, 0.11, 2.3015, train_curve=chance)])
PY
out="$("$BIN" report "$tmp/edge" --phase-n 5 2>&1)" && grep -qF "at the edge of the search range" <<<"$out" && ok || { bad "report: best c at the edge"; echo "$out" | tail -3; }
grep -qF "at the edge of the search range (0.1 to 1000): uninformative" "$tmp/edge/report/report.md" && ok || bad "report.md: best c at the edge"
$py -c "import json,sys; a=json.load(open(sys.argv[1])); assert a['best_c_at_edge'] is True, a" "$tmp/edge/report/agreement.json" && ok || bad "agreement.json: best_c_at_edge"
out="$("$BIN" report "$tmp/flat" --phase-n 3 2>&1)"; rc=$?
[ $rc -eq 0 ] && grep -qF "agreement: none" <<<"$out" && ! grep -qF "best c" <<<"$out" && [ ! -e "$tmp/flat/report/agreement.json" ] && ok || { bad "report: no agreement without a change in ξ (exit $rc)"; echo "$out" | tail -3; }
out="$("$BIN" report "$tmp/chance" 2>&1)"; rc=$?
[ $rc -eq 0 ] && grep -qF "at chance" <<<"$out" && [ ! -e "$tmp/chance/report/generalization.csv" ] && grep -qF "is at chance" "$tmp/chance/report/report.md" && ok || { bad "report: no equal-loss comparison at chance (exit $rc)"; echo "$out" | tail -3; }
# The figures: axes within the grid's range (no negative standard deviation), the contours named
# in a legend rather than by labels on the lines, the side with ξ ≥ T marked; curve titles with
# the task and T.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
$py - "$ROOT/scripts" "$tmp" <<'PY' && ok || bad "report figures"
import json, os, sys
sys.path.insert(0, sys.argv[1])
tmp = sys.argv[2]
import matplotlib.pyplot as plt
import report
figs = []
orig = plt.subplots
def capture(*a, **kw):
    fig, ax = orig(*a, **kw)
    figs.append((fig, ax))
    return fig, ax
plt.subplots = capture
plt.close = lambda fig=None: None
d = os.path.join(tmp, "edge")
spec, runs = report.load(d)
report.heatmaps(os.path.join(d, "report"), runs, "update.bias_mean", "candidate.recurrent_std",
                "seed", 0.5, "final_test_acc", spec)
fig, ax = figs[0]
lo, hi = ax.get_ylim()
assert 0 <= lo <= 0.5 and 3 <= hi <= 4.3, (lo, hi)          # candidate.recurrent_std 0.5, 3
assert sorted(ax.get_yticks()) == [0.5, 3.0], ax.get_yticks()
assert not [t.get_text() for t in ax.texts if "ξ" in t.get_text()], "labels on the lines"
labels = [t.get_text() for t in ax.get_legend().get_texts()]
assert any("ξ = T" in l for l in labels) and any("ξ ≥ T" in l for l in labels), labels
assert "mnist-padded" in ax.get_title() and "T = 100" in ax.get_title(), ax.get_title()
figs.clear()
d = os.path.join(tmp, "chance")
spec, runs = report.load(d)
report.plot_curves(os.path.join(d, "report"), runs, "seed", "init", spec)
title = figs[0][1][0][0].get_title()
assert "mnist-padded" in title and "T = 100" in title, title
PY

finish
