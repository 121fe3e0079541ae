"""`rnnmft report` (scripts/report.py) when a write fails, as on a full disk: one message naming
the file and the OS error, a non-zero exit, and the files written before left whole (each file
is written to a temporary file beside it and renamed, never truncated in place)."""
import contextlib
import csv
import errno
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import unittest

from common import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import matplotlib.figure  # noqa: E402
import report  # noqa: E402

ENOSPC = os.strerror(errno.ENOSPC)  # "No space left on device"


def make_sweep(d):
    """A 2 × 2 GRU sweep over two spec axes (as tests/cli/test_cli.sh makes them): report
    writes runs.csv, summary.csv, heatmap.png, agreement.png, agreement.json, report.md."""
    gates = {g: {"recurrent_std": 1.0, "input_std": 1.0, "bias_mean": 0.0, "bias_std": 0.0}
             for g in ("update", "reset", "candidate")}
    xs, ys = [0.0, 5.0], [0.5, 3.0]
    lines = []
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            g = json.loads(json.dumps(gates))
            g["update"]["bias_mean"], g["candidate"]["recurrent_std"] = x, y
            acc = 0.9 if x else 0.1
            lines.append(json.dumps({
                "run": f"r{i}{j}", "params": {"update.bias_mean": x, "candidate.recurrent_std": y},
                "spec": {"cell": "gru", "gates": g}, "xi": math.exp(x), "xi_infinite": False,
                "chi": math.exp(-1 / math.exp(x)), "m1": 1.0, "cell": "gru", "seq_len": 100,
                "input_var": 0.0, "final_test_acc": acc, "final_val_acc": acc,
                "final_train_loss": 1.0, "diverged": False,
                "curve": [[50, acc / 2, 2.0], [100, acc, 1.5]],
                "train_curve": [[50, 2.0, acc / 2], [100, 1.0, acc]], "steps": 100, "seconds": 1.0,
                "git": "x"}) + "\n")
    os.makedirs(d)
    with open(os.path.join(d, "sweep.json"), "w") as f:
        json.dump({"name": "full", "base": {"task": "mnist-padded", "seq_len": 100, "cell": "gru"},
                   "grid": {"update.bias_mean": xs, "candidate.recurrent_std": ys}}, f)
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        f.writelines(lines)


def snapshot(d):
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


class ReportOnAFullDisk(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.sweep = os.path.join(self.tmp.name, "sweep")
        self.out = os.path.join(self.sweep, "report")
        make_sweep(self.sweep)

    def tearDown(self):
        self.tmp.cleanup()

    def run_main(self):
        """report.main() in-process; returns (exit status, stderr)."""
        err = io.StringIO()
        argv = sys.argv
        sys.argv = ["report.py", self.sweep, self.out, "0.5", "final_test_acc"]
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                report.main()
            code = 0
        except SystemExit as e:
            code = e.code
        finally:
            sys.argv = argv
        return code, err.getvalue()

    def assert_failed_cleanly(self, code, err, name, before):
        self.assertNotEqual(code, 0)
        self.assertIn(f"cannot write {os.path.join(self.out, name)}: {ENOSPC}", err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        # Every file as it was (none truncated) and no temporary file left behind.
        self.assertEqual(snapshot(self.out), before)

    def test_figure_write_fails(self):
        code, err = self.run_main()
        self.assertEqual(code, 0, err)
        before = snapshot(self.out)
        self.assertIn("heatmap.png", before)

        # savefig writes half the figure, then the disk is full (what PIL meets on ENOSPC).
        orig = matplotlib.figure.Figure.savefig

        def full_disk(fig, fname, *a, **kw):
            if not any(ax.get_xlabel() == "update.bias_mean" for ax in fig.axes):  # a heatmap
                return orig(fig, fname, *a, **kw)
            buf = io.BytesIO()
            kw.setdefault("format", "png")
            orig(fig, buf, *a, **kw)
            with contextlib.ExitStack() as stack:
                fh = stack.enter_context(open(fname, "wb")) if isinstance(fname, str) else fname
                fh.write(buf.getvalue()[:len(buf.getvalue()) // 2])
            raise OSError(errno.ENOSPC, ENOSPC)

        matplotlib.figure.Figure.savefig = full_disk
        try:
            code, err = self.run_main()
        finally:
            matplotlib.figure.Figure.savefig = orig
        self.assert_failed_cleanly(code, err, "heatmap.png", before)

    def test_table_write_fails(self):
        code, err = self.run_main()
        self.assertEqual(code, 0, err)
        before = snapshot(self.out)

        # The disk fills after runs.csv's header.
        orig = csv.DictWriter.writerow

        def full_disk(self, row):
            raise OSError(errno.ENOSPC, ENOSPC)

        csv.DictWriter.writerow = full_disk
        try:
            code, err = self.run_main()
        finally:
            csv.DictWriter.writerow = orig
        self.assert_failed_cleanly(code, err, "runs.csv", before)

    def test_script_with_a_file_size_limit(self):
        # A real OS error, no monkeypatching: RLIMIT_FSIZE lets the tables through and stops the
        # first figure with EFBIG (python ignores SIGXFSZ). The script runs as `rnnmft report`
        # runs it (which passes its stderr on and fails on its exit status).
        cmd = [sys.executable, os.path.join(ROOT, "scripts", "report.py"), self.sweep, self.out,
               "0.5", "final_test_acc"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        before = snapshot(self.out)
        largest_table = max(len(v) for k, v in before.items() if not k.endswith(".png"))
        limit = largest_table + 1024
        self.assertLess(limit, len(before["heatmap.png"]))

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=small_files)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"cannot write {os.path.join(self.out, 'heatmap.png')}: "
                      f"{os.strerror(errno.EFBIG)}", r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertEqual(snapshot(self.out), before)


class FellBack(unittest.TestCase):
    """A run that learnt and then lost it (the critical LSTM at T = 3000, docs/experiments.md
    E3) is counted in runs.csv and summary.csv; one that never left chance, or ended learnt, is
    not."""

    def test_fell_back(self):
        up_down = [[100, 0.2, 2.0], [200, 0.45, 1.5], [300, 0.12, 2.3]]
        never = [[100, 0.11, 2.3], [200, 0.12, 2.3]]
        learnt = [[100, 0.2, 2.0], [200, 0.9, 0.3]]
        dip = [[100, 0.5, 1.0], [200, 0.15, 2.2], [300, 0.6, 0.9]]
        self.assertTrue(report.fell_back(up_down))
        self.assertFalse(report.fell_back(never))
        self.assertFalse(report.fell_back(learnt))
        self.assertFalse(report.fell_back(dip), "a dip it recovered from is not a fall back")
        with tempfile.TemporaryDirectory() as out:
            runs = [{"run": f"r{i}", "params": {"init": "a", "seed": i}, "curve": c,
                     "final_test_acc": c[-1][1], "diverged": False}
                    for i, c in enumerate((up_down, never, learnt))]
            rows, summary = report.write_tables(out, ["init", "seed"], runs, "seed")
            self.assertEqual([r["fell_back"] for r in rows], [True, False, False])
            self.assertEqual(summary[0]["fell_back"], 1)
            got = list(csv.DictReader(open(os.path.join(out, "runs.csv"))))
            self.assertEqual([g["fell_back"] for g in got], ["True", "False", "False"])
            self.assertEqual([float(g["best_val_acc"]) for g in got], [0.45, 0.12, 0.9])


if __name__ == "__main__":
    unittest.main()
