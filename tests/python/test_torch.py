"""rnnmft.torch (docs/python.md): the critical init drawn into torch.nn modules, read back by
diagnose (moments and theory round-trip), PyTorch's default init diagnosed as the CLI's "pytorch"
preset, the weights equal to those of `rnnmft train --init spec.json`, and the refusals."""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from common import BIN, HERE, ROOT, cli, cli_json

import rnnmft
import rnnmft.torch as rt

torch.set_num_threads(2)


class RoundTrip(unittest.TestCase):
    def check_moments(self, est, spec, N, I):
        for name, g in spec["gates"].items():
            e = est["gates"][name]
            # RMS of N² (N·I) Gaussian entries: relative error ≈ 1/√(2·count).
            self.assertLess(abs(e["recurrent_std"] - g["recurrent_std"]),
                            5 * g["recurrent_std"] / math.sqrt(2 * N * N) + 1e-6, name)
            self.assertLess(abs(e["input_std"] - g["input_std"]),
                            5 * g["input_std"] / math.sqrt(2 * N * I) + 1e-6, name)
            self.assertLess(abs(e["bias_mean"] - g["bias_mean"]),
                            5 * g["bias_std"] / math.sqrt(N) + 1e-5, name)
            self.assertLess(abs(e["bias_std"] - g["bias_std"]),
                            5 * g["bias_std"] / math.sqrt(2 * N) + 1e-5, name)
            self.assertEqual(e["recurrent_dist"], g.get("recurrent_dist", "gaussian"), name)

    def test_lstm_roundtrip(self):
        N, I, T = 256, 28, 1000
        lstm = torch.nn.LSTM(I, N, batch_first=True)
        out = rt.critical_init_(lstm, seq_len=T, seed=5, design="v1")
        spec = out[0]["spec"]
        self.assertFalse(lstm.bias_hh_l0.detach().any())
        d = rt.diagnose(lstm, seq_len=T)
        self.assertEqual(len(d), 1)
        self.check_moments(d[0], spec, N, I)
        th = spec["diagnostics"]
        # m1 and ξ of the measured moments equal the spec's (T·ln m1 = −1 at the tied criterion).
        self.assertLess(abs(T * math.log(d[0]["m1"]) - T * math.log(th["jacobian"]["m1"])), 0.05)
        self.assertLess(abs(d[0]["xi"] / th["timescale"]["xi"] - 1), 0.05)
        self.assertIn("verdict", d[0])
        print(d)

    def test_gru_two_layers_fix(self):
        N, I, T = 128, 28, 5000
        gru = torch.nn.GRU(I, N, num_layers=2)
        out = rt.critical_init_(gru, seq_len=T, fix={"reset.recurrent_std": 0.5}, seed=0)
        self.assertEqual([(o["layer"], o["direction"]) for o in out], [(0, "forward"), (1, "forward")])
        self.assertEqual([o["design"] for o in out], ["v1", "v1"])  # two layers and a fix: v1
        # Layer 2 is designed for the input second moment the theory predicts for layer 1's h.
        q1 = out[0]["spec"]["diagnostics"]["fixed_point"]["Q_h"]
        self.assertAlmostEqual(out[1]["input_var"], q1)
        self.assertAlmostEqual(out[1]["spec"]["designed_for"]["input_var"], q1)
        self.assertEqual(out[0]["spec"]["designed_for"]["gru_variant"], "reset-after")
        d = rt.diagnose(gru, seq_len=T)
        for k in range(2):
            spec = out[k]["spec"]
            self.assertEqual(spec["gates"]["reset"]["recurrent_std"], 0.5)
            self.check_moments(d[k], spec, N, I if k == 0 else N)
            self.assertEqual(d[k]["gru_variant"], "reset-after")
            self.assertLess(abs(T * math.log(d[k]["m1"])
                                - T * math.log(spec["diagnostics"]["jacobian"]["m1"])), 0.1)
        self.assertAlmostEqual(d[1]["input_var"], d[0]["Q_h"])
        print(d)

    def test_rnn_bidirectional_and_cells(self):
        rnn = torch.nn.RNN(10, 64, num_layers=2, bidirectional=True)
        out = rt.critical_init_(rnn, seq_len=200, seed=1)
        self.assertEqual(len(out), 4)
        self.assertFalse(torch.equal(rnn.weight_hh_l0, rnn.weight_hh_l0_reverse))
        self.assertEqual(rnn.weight_ih_l1.shape, (64, 128))
        d = rt.diagnose(rnn, seq_len=200)
        self.assertEqual([x["direction"] for x in d], ["forward", "reverse"] * 2)
        self.assertEqual(d[0]["gates"]["hidden"]["recurrent_dist"], "orthogonal")
        self.assertAlmostEqual(d[0]["m1"], out[0]["spec"]["diagnostics"]["jacobian"]["m1"], delta=1e-3)
        for cls, cell in [(torch.nn.LSTMCell, "lstm"), (torch.nn.GRUCell, "gru"),
                          (torch.nn.RNNCell, "vanilla")]:
            m = cls(8, 32)
            o = rt.critical_init_(m, seq_len=100, seed=2)
            self.assertEqual(o[0]["spec"]["cell"], cell)
            # What `train --init critical` draws: v2 for the gated cells, v1 for the vanilla one.
            self.assertEqual(o[0]["design"], "v1" if cell == "vanilla" else "v2", cell)
            self.assertEqual("timescales" in o[0]["spec"], cell != "vanilla", cell)
            self.assertEqual(len(rt.diagnose(m, seq_len=100)), 1)


class PyTorchDefault(unittest.TestCase):
    def test_default_init_is_the_pytorch_preset(self):
        """diagnose on PyTorch's own init agrees with `rnnmft theory --init pytorch` (σ² = 1/3,
        ν² = I/(3N), μ = 0, ρ² = 2/(3N); docs/cells.md §Presets)."""
        N, I, T = 256, 28, 1000
        torch.manual_seed(0)
        for cls, cell, variant in [(torch.nn.LSTM, "lstm", []), (torch.nn.GRU, "gru",
                                                                  ["reset-after"])]:
            m = cls(I, N)
            d = rt.diagnose(m, seq_len=T)[0]
            preset = rnnmft.preset("pytorch", cell, width=N, input_dim=I)
            self.check_preset(d, preset, N, I)
            c = cli_json("theory", "--cell", cell, "--init", "pytorch", "--hidden", N,
                         "--input-dim", I, "--seq-len", T, "--no-tied-check")
            py = rnnmft.theory(cell, "pytorch", T, width=N, input_dim=I, tied_check=False,
                               gru_variant=variant[0] if variant else "reset-before")
            if not variant:  # the CLI's GRU default is reset-before; nn.GRU is reset-after
                self.assertAlmostEqual(py["jacobian"]["m1"], c["jacobian"]["m1"], places=12)
            self.assertLess(abs(d["m1"] / py["jacobian"]["m1"] - 1), 0.01, cell)
            self.assertLess(abs(d["xi"] / py["timescale"]["xi"] - 1), 0.05, cell)
            self.assertLess(abs(d["Q_h"] / py["fixed_point"]["Q_h"] - 1), 0.05, cell)
            print(cell, "diagnose", d["m1"], d["xi"], "preset", py["jacobian"]["m1"],
                  py["timescale"]["xi"])

    def check_preset(self, d, preset, N, I):
        for name, g in preset["gates"].items():
            e = d["gates"][name]
            self.assertAlmostEqual(e["recurrent_std"], g["recurrent_std"], delta=0.01)
            self.assertAlmostEqual(e["input_std"], g["input_std"], delta=0.02 * g["input_std"])
            self.assertAlmostEqual(e["bias_mean"], 0.0, delta=5 * g["bias_std"] / math.sqrt(N))
            self.assertAlmostEqual(e["bias_std"], g["bias_std"], delta=0.15 * g["bias_std"])


def trained_draw(d, cell, N, spec_path, seed):
    """The weights `rnnmft train --init spec_path --seed seed` starts from: one SGD step at
    lr 1e-30 (which leaves them unchanged), exported and loaded."""
    run = os.path.join(d, "run")
    cli("train", "--task", "mnist-row", "--cell", cell, "--hidden", N, "--init", spec_path,
        "--seed", seed, "--steps", 1, "--optimizer", "sgd", "--lr", "1e-30", "--batch", 8,
        "--eval-every", 1000, "--out", run)
    w_path = os.path.join(d, "w.safetensors")
    cli("export", run, "-o", w_path)
    return rnnmft.load_weights(w_path)


class SameDrawAsTrain(unittest.TestCase):
    def test_critical_init_equals_rnnmft_train(self):
        """critical_init_ and `rnnmft train --init spec.json --seed S` draw the same weights (one
        C++ draw); the training step is SGD with lr 1e-30, which leaves them unchanged."""
        N, I, seed = 32, 28, 7
        for cell, cls in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
            m = cls(I, N)
            spec = rt.critical_init_(m, seq_len=300, seed=seed, input_var=0.0,
                                     design="v1")[0]["spec"]
            with tempfile.TemporaryDirectory() as d:
                sp = os.path.join(d, "spec.json")
                with open(sp, "w") as f:
                    json.dump(spec, f)
                w = trained_draw(d, cell, N, sp, seed)
            self.assertEqual(w.metadata["cell"], cell)
            for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"):
                a, b = getattr(m, k).detach().numpy(), w[f"rnn.{k}"]
                self.assertEqual(a.shape, b.shape, k)
                self.assertLess(float(np.max(np.abs(a - b))), 1e-6, f"{cell} {k}")
            self.assertLess(float(np.max(np.abs(w["rnn.bias_hh_l0"]))), 1e-20)
            # And so the moments: the spec's within sampling error.
            RoundTrip.check_moments(self, rt.diagnose(m, seq_len=300, input_var=0.0)[0], spec, N, I)


class CriticalV2(unittest.TestCase):
    """design='v2' (docs/theory.md §13): the spec `rnnmft critical --design v2` writes, drawn as
    `rnnmft train --init spec.json` draws it, with each unit's input bias minus its forget bias."""

    def test_same_spec_as_cli_and_same_draw_as_train(self):
        N, I, T, seed, R = 32, 28, 300, 5, 0.112
        for cell, cls in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
            m = cls(I, N)
            spec = rt.critical_init_(m, seq_len=T, seed=seed, input_var=R, design="v2")[0]["spec"]
            with tempfile.TemporaryDirectory() as d:
                sp = os.path.join(d, "cli.json")
                cli("critical", "--design", "v2", "--cell", cell, "--seq-len", T, "--input-var", R,
                    "--hidden", N, "--input-dim", I, "--gru-variant", "reset-after", "-o", sp)
                with open(sp) as f:
                    from_cli = json.load(f)
                self.assertEqual(spec["gates"], from_cli["gates"], cell)
                self.assertEqual(spec["timescales"],
                                 {"dist": "log-uniform", "min": 2.0, "max": float(T)})
                self.assertEqual(spec["timescales"], from_cli["timescales"])
                w = trained_draw(d, cell, N, sp, seed)
            for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"):
                a, b = getattr(m, k).detach().numpy(), w[f"rnn.{k}"]
                self.assertLess(float(np.max(np.abs(a - b))), 1e-6, f"{cell} {k}")
            b = m.bias_ih_l0.detach().numpy().astype(np.float64)
            keep = b[N:2 * N]  # LSTM forget (i f g o), GRU update (r z n)
            tau = 1 + np.exp(keep)
            self.assertTrue(np.all(tau >= 2 - 1e-4) and np.all(tau <= T * (1 + 1e-5)), cell)
            # A spread: ln τ is uniform on [ln 2, ln T] (std ln(T/2)/√12).
            self.assertGreater(float(np.std(np.log(tau))), 0.5 * math.log(T / 2) / math.sqrt(12),
                               cell)
            if cell == "lstm":
                np.testing.assert_array_equal(b[:N], -b[N:2 * N])

    def test_uniform_timescales(self):
        m = torch.nn.GRU(4, 16)
        spec = rt.critical_init_(m, 200, seed=1, input_var=0.5, design="v2",
                                 timescales="uniform")[0]["spec"]
        self.assertEqual(spec["timescales"], {"dist": "uniform", "min": 2.0, "max": 200.0})
        self.assertEqual(spec["gates"], rnnmft.critical_v2("gru", 200, input_var=0.5, width=16,
                                                           input_dim=4)["gates"])
        with self.assertRaisesRegex(ValueError, "timescales must be 'log-uniform' or 'uniform'"):
            rnnmft.critical_v2("gru", 200, input_var=0.5, timescales="linear")
        with self.assertRaisesRegex(ValueError, "timescales is for design='v2'"):
            rt.critical_init_(m, 200, timescales="uniform", design="v1")
        with self.assertRaisesRegex(ValueError, "timescales is for design v2, and this module gets v1"):
            rt.critical_init_(torch.nn.RNN(4, 16), 200, timescales="uniform")
        # The default design with timescales: v2 for a one-layer GRU.
        spec_u = rt.critical_init_(m, 200, seed=1, input_var=0.5, timescales="uniform")[0]["spec"]
        self.assertEqual(spec_u, spec)

    def test_default_is_train_init_critical(self):
        """The default design draws the weights `rnnmft train --init critical --seed S` starts
        from (v2 for a one-layer LSTM or GRU), designed for the task's R (mnist-row: every step
        carries data, so R over the data steps is the task's R)."""
        N, I, T, seed = 16, 28, 28, 4
        for cell, cls in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
            with tempfile.TemporaryDirectory() as d:
                run = os.path.join(d, "run")
                cli("train", "--task", "mnist-row", "--cell", cell, "--hidden", N, "--init",
                    "critical", "--seed", seed, "--steps", 1, "--optimizer", "sgd", "--lr",
                    "1e-30", "--batch", 8, "--eval-every", 1000, "--out", run)
                with open(os.path.join(run, "init_spec.json")) as f:
                    run_spec = json.load(f)
                wp = os.path.join(d, "w.safetensors")
                cli("export", run, "-o", wp)
                w = rnnmft.load_weights(wp)
            self.assertEqual(run_spec["diagnostics"]["design"], "v2", cell)
            m = cls(I, N)
            out = rt.critical_init_(m, seq_len=T, seed=seed,
                                    input_var=run_spec["designed_for"]["input_var"])
            self.assertEqual(out[0]["design"], "v2", cell)
            self.assertEqual(out[0]["spec"]["gates"], run_spec["gates"], cell)
            self.assertEqual(out[0]["spec"]["timescales"], run_spec["timescales"], cell)
            for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"):
                a, b = getattr(m, k).detach().numpy(), w[f"rnn.{k}"]
                self.assertLess(float(np.max(np.abs(a - b))), 1e-6, f"{cell} {k}")

    def test_refusals(self):
        with self.assertRaisesRegex(ValueError, "design='v2' designs one layer"):
            rt.critical_init_(torch.nn.LSTM(3, 8, num_layers=2), 100, input_var=1.0, design="v2")
        with self.assertRaisesRegex(ValueError, "design must be None, 'v1' or 'v2'"):
            rt.critical_init_(torch.nn.LSTM(3, 8), 100, design="v3")
        with self.assertRaisesRegex(ValueError, "fix and criterion are for design='v1'"):
            rt.critical_init_(torch.nn.GRU(3, 8), 100, design="v2", criterion="tied")
        with self.assertRaisesRegex(ValueError, "the vanilla cell has no gate"):
            rt.critical_init_(torch.nn.RNN(3, 8), 100, design="v2")
        with self.assertRaisesRegex(ValueError, "R > 0"):
            rnnmft.critical_v2("lstm", 100, input_var=0.0)
        # The default is v2 for one layer: R = 0 (a padded task's v1 design) is refused, saying
        # which design was chosen and how to get v1.
        with self.assertRaisesRegex(ValueError, "draws critical init v2 for a one-layer lstm .*"
                                                "design='v1'"):
            rt.critical_init_(torch.nn.LSTM(3, 8), 100, input_var=0.0)
        self.assertEqual(rt.critical_init_(torch.nn.LSTM(3, 8), 100, input_var=0.0,
                                           design="v1")[0]["design"], "v1")
        # An empty fix asks for nothing: v2, as a sweep's empty critical_fix.
        self.assertEqual(rt.critical_init_(torch.nn.GRU(3, 8), 100, fix={})[0]["design"], "v2")


class LoadWeights(unittest.TestCase):
    """rnnmft.load_weights: an `rnnmft export` loaded into nn.LSTM/nn.GRU + nn.Linear computes
    `rnnmft eval`'s loss and accuracy; bad files are refused with the reason."""

    def test_export_into_torch_gives_eval_loss(self):
        N, limit = 24, 200
        for cell, cls in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
            with tempfile.TemporaryDirectory() as d:
                run = os.path.join(d, "run")
                cli("train", "--task", "mnist-row", "--cell", cell, "--hidden", N, "--steps", 40,
                    "--lr", "0.005", "--batch", 32, "--eval-every", 1000, "--seed", 3,
                    "--gru-variant", "reset-after", "--out", run)
                wp, gp = os.path.join(d, "w.safetensors"), os.path.join(d, "g.safetensors")
                cli("export", run, "-o", wp)
                cli("grads", "--weights", wp, "--task", "mnist-row", "--split", "test",
                    "--limit", limit, "-o", gp)
                ev = cli_json("eval", "--weights", wp, "--task", "mnist-row", "--split", "test",
                              "--limit", limit)
                rnn, head = cls(28, N), torch.nn.Linear(N, 10)
                w = rnnmft.load_weights(wp, into=(rnn, head))
                g = rnnmft.load_weights(gp)
            self.assertEqual(w.metadata["cell"], cell)
            self.assertTrue(torch.equal(rnn.weight_hh_l0.detach(),
                                        torch.from_numpy(w["rnn.weight_hh_l0"])))
            self.assertEqual(g["x"].shape[1:], (limit, 28))  # T × B × I
            with torch.no_grad():
                logits = head(rnn(torch.from_numpy(g["x"]).float())[0][-1])
                y = torch.from_numpy(g["labels"]).long()
                loss = torch.nn.functional.cross_entropy(logits, y).item()
                acc = (logits.argmax(1) == y).float().mean().item()
            self.assertLess(abs(loss - ev["loss"]) / ev["loss"], 1e-4, (cell, loss, ev))
            self.assertLess(abs(acc - ev["accuracy"]), 1e-3, (cell, acc, ev))
            self.assertIn("rnn.weight_ih_l0 (", repr(w))

    def test_refusals(self):
        with tempfile.TemporaryDirectory() as d:
            run = os.path.join(d, "run")
            cli("train", "--task", "mnist-row", "--cell", "gru", "--hidden", 8, "--steps", 1,
                "--batch", 8, "--eval-every", 1000, "--gru-variant", "reset-before", "--out", run)
            wp = os.path.join(d, "w.safetensors")
            cli("export", run, "-o", wp)
            with self.assertRaisesRegex(ValueError, "reset-before GRU"):
                rnnmft.load_weights(wp, into=(torch.nn.GRU(28, 8), torch.nn.Linear(8, 10)))
            with self.assertRaisesRegex(ValueError, "weights of a gru cell, loaded into LSTM"):
                rnnmft.load_weights(wp, into=(torch.nn.LSTM(28, 8), torch.nn.Linear(8, 10)))
            with self.assertRaisesRegex(ValueError, "into= takes a pair"):
                rnnmft.load_weights(wp, into=torch.nn.GRU(28, 8))
            # A module of the wrong size: the message says which one to build.
            w = rnnmft.load_weights(wp)
            w.metadata["gru_variant"] = "reset-after"
            from rnnmft.weights import _module_hint
            self.assertEqual(_module_hint(w, "gru"),
                             "torch.nn.GRU(28, 8) and torch.nn.Linear(8, 10)")


class Readme(unittest.TestCase):
    def test_repl_lines_echo_little(self):
        """The README's Python session, typed into the interpreter, echoes a few lines at most
        (no result dict of several KB): each >>> line is run as the REPL runs it."""
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            lines = [l[4:] for l in f.read().split("\n") if l.startswith(">>> ")]
        self.assertGreaterEqual(len(lines), 4)
        echoed = []
        hook = sys.displayhook
        sys.displayhook = lambda v: echoed.append(repr(v)) if v is not None else None
        try:
            env = {}
            for line in lines:
                exec(compile(line, "<README>", "single"), env)
        finally:
            sys.displayhook = hook
        self.assertLess(sum(map(len, echoed)), 500, echoed)

    def test_venv_is_ignored(self):
        """docs/python.md's install makes .venv/ in the checkout; git ignores it."""
        if not os.path.isdir(os.path.join(ROOT, ".git")):
            self.skipTest("not a git checkout")
        for path in (".venv/", "build-pip/"):
            r = subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", path])
            self.assertEqual(r.returncode, 0, f"{path} is not in .gitignore")


class Refusals(unittest.TestCase):
    def bad(self, pattern, f, *a, **kw):
        with self.assertRaisesRegex(ValueError, pattern):
            f(*a, **kw)

    def test_refusals(self):
        self.bad("expected torch.nn.LSTM", rt.critical_init_, torch.nn.Linear(3, 4), seq_len=100)
        self.bad("expected torch.nn.LSTM", rt.diagnose, torch.nn.Transformer(), seq_len=100)
        self.bad("nonlinearity='relu'", rt.critical_init_,
                 torch.nn.RNN(3, 8, nonlinearity="relu"), seq_len=100)
        self.bad("nonlinearity='relu'", rt.diagnose, torch.nn.RNNCell(3, 8, nonlinearity="relu"),
                 seq_len=100)
        self.bad("proj_size", rt.critical_init_, torch.nn.LSTM(3, 8, proj_size=4), seq_len=100)
        self.bad("bias=False", rt.critical_init_, torch.nn.GRU(3, 8, bias=False), seq_len=100)
        lstm = torch.nn.LSTM(3, 8)
        before = lstm.weight_hh_l0.detach().clone()
        self.bad("seq_len must be at least 2", rt.critical_init_, lstm, seq_len=0)
        self.bad("seq_len must be at least 2", rt.diagnose, lstm, seq_len=-1)
        self.bad("lstm has no gate 'reset'", rt.critical_init_, lstm, 100,
                 fix={"reset.recurrent_std": 0.5})
        self.bad("unknown parameter 'mean'", rt.critical_init_, lstm, 100, fix={"input.mean": 0.5})
        self.bad("must be finite", rt.critical_init_, lstm, 100, fix={"input.bias_mean": math.nan})
        self.bad("input_var must be finite", rt.critical_init_, lstm, 100, input_var=math.inf)
        self.bad("gru_variant must be", rt.diagnose, torch.nn.GRU(3, 8), 100, gru_variant="x")
        self.bad("seed must be at least 0", rt.critical_init_, lstm, 100, seed=-1)
        self.bad("seq_len must be at most", rt.diagnose, lstm, 10**12)
        self.assertTrue(torch.equal(before, lstm.weight_hh_l0))  # nothing drawn on refusal
        with torch.no_grad():
            lstm.weight_hh_l0[0, 0] = math.nan
        self.bad("weight_hh_l0 has non-finite entries", rt.diagnose, lstm, 100)
        with torch.no_grad():
            lstm.weight_hh_l0[0, 0] = 0.0
            lstm.bias_ih_l0[3] = math.inf
        self.bad("bias_ih_l0 has non-finite entries", rt.diagnose, lstm, 100)
        # bias=False can still be diagnosed (biases are zero).
        self.assertEqual(rt.diagnose(torch.nn.GRU(3, 8, bias=False), 100)[0]["gates"]["update"]
                         ["bias_mean"], 0.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
