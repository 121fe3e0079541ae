"""The Python module against the CLI it shares its library with (docs/python.md): theory,
critical, compare, phase and simulate give the CLI's numbers; every bad argument is a ValueError
with a clear message and the interpreter survives it."""
import csv
import json
import math
import os
import struct
import tempfile
import unittest

import numpy as np

from common import cli, cli_json

import rnnmft


def close(a, b, rtol=1e-9):
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12)


class CliParity(unittest.TestCase):
    def test_theory_matches_cli(self):
        for cell, init in [("lstm", "pytorch"), ("gru", "keras"), ("vanilla", "orthogonal:1.0")]:
            py = rnnmft.theory(cell, init, seq_len=500, width=64, input_dim=3, tied_check=False)
            c = cli_json("theory", "--cell", cell, "--init", init, "--seq-len", 500, "--hidden", 64,
                         "--input-dim", 3, "--no-tied-check")
            self.assertEqual(set(py), set(c), cell)
            for sec in ("fixed_point", "timescale", "jacobian"):
                for k, v in c[sec].items():
                    if isinstance(v, float):
                        self.assertTrue(close(py[sec][k], v), f"{cell} {sec}.{k}: {py[sec][k]} vs {v}")
            self.assertEqual(py["verdict"], c["verdict"])
            self.assertEqual(py["spec"], c["spec"])

    def test_trainability_matches_cli(self):
        # The same probe (networks, sequences, seed) from Python and the CLI: the same numbers.
        for cell, init, variant in [("lstm", "chrono", "reset-before"),
                                    ("gru", "pytorch", "reset-after")]:
            py = rnnmft.trainability(cell, init, "mnist-padded", seq_len=200, unit="row",
                                     hidden=16, gru_variant=variant)
            c = cli_json("trainability", "--cell", cell, "--init", init, "--task", "mnist-padded",
                         "--unit", "row", "--seq-len", 200, "--hidden", 16, "--gru-variant",
                         variant, "--json")
            self.assertEqual(py, c, cell)
        self.assertTrue(rnnmft.trainability("lstm", "chrono", seq_len=200, unit="row",
                                            hidden=16)["trainable"])
        # The task's own length without seq_len, and train's GRU (reset-after) by default.
        px = rnnmft.trainability("gru", "pytorch", "mnist-pixel", hidden=8, sequences=2,
                                 networks=1)
        self.assertEqual((px["steps"], px["gru_variant"]), (784, "reset-after"))
        bad = rnnmft.trainability("gru", "pytorch", seq_len=400, unit="row", hidden=16)
        self.assertFalse(bad["trainable"])
        self.assertIn("memory too short", bad["reasons"][0])

    def test_trainability_bad_arguments(self):
        for kw, frag in [({"task": 3}, "task must be a string"), ({"hidden": 1}, "hidden"),
                         ({"directions": 0}, "directions"),
                         ({"networks": 0}, "networks"), ({"task": "mnist-nothing"}, "nothing"),
                         ({"delta": 2.0}, "must be in (0, 1]"), ({"unit": "a\0b"}, "NUL")]:
            args = {"seq_len": 100, "unit": "row", "hidden": 8, **kw}
            with self.assertRaises(ValueError, msg=str(kw)) as e:
                rnnmft.trainability("lstm", "pytorch", **args)
            self.assertIn(frag, str(e.exception), kw)

    def test_critical_matches_cli_and_feeds_theory(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "gru.json")
            cli("critical", "--cell", "gru", "--seq-len", 1000, "--fix", "reset.recurrent_std=0.5",
                "--no-tied-check", "-o", path)
            with open(path) as f:
                c = json.load(f)
        py = rnnmft.critical("gru", seq_len=1000, fix={"reset.recurrent_std": 0.5},
                             tied_check=False)
        self.assertEqual(py["designed_for"], c["designed_for"])
        for g, v in c["gates"].items():
            for k, x in v.items():
                self.assertTrue(close(py["gates"][g][k], x) if isinstance(x, float)
                                else py["gates"][g][k] == x, f"{g}.{k}")
        self.assertEqual(py["gates"]["reset"]["recurrent_std"], 0.5)
        self.assertTrue(py["diagnostics"]["reached"])
        # The spec dict goes straight back into the theory: the same m1 as its diagnostics.
        th = rnnmft.theory("gru", py, seq_len=1000, tied_check=False)
        self.assertTrue(close(th["jacobian"]["m1"], py["diagnostics"]["jacobian"]["m1"], 1e-9))
        # ... and into a file that the CLI reads.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.json")
            with open(path, "w") as f:
                json.dump(py, f)
            c2 = cli_json("theory", "--init", path, "--seq-len", 1000, "--no-tied-check")
            self.assertTrue(close(c2["jacobian"]["m1"], th["jacobian"]["m1"]))
            self.assertEqual(rnnmft.load_spec(path)["gates"], rnnmft.check_spec(py)["gates"])

    def test_compare(self):
        py = rnnmft.compare(["gru"], ["critical-v1", "pytorch", "chrono"], seq_len=300,
                            tied_check=False)
        c = cli_json("compare", "--cells", "gru", "--inits", "critical-v1", "pytorch", "chrono",
                     "--seq-len", 300, "--no-tied-check")
        self.assertEqual([a["init"] for a in py[0]["inits"]], ["critical-v1", "pytorch", "chrono"])
        # critical (v2 for the gated cells) is a spread of timescales, not a point of the table.
        with self.assertRaisesRegex(ValueError, "the mean-field table cannot describe"):
            rnnmft.compare(["gru"], ["critical"], seq_len=300, tied_check=False)
        self.assertEqual(len(py), 1)
        for a, b in zip(py[0]["inits"], c[0]["inits"]):
            self.assertEqual(a["init"], b["init"])
            self.assertTrue(close(a["jacobian"]["m1"], b["jacobian"]["m1"]))
            self.assertEqual(a["verdict"], b["verdict"])

    def test_phase_matches_cli_csv(self):
        x, y = "update.bias_mean=0:6:4", "candidate.recurrent_std=0.5:3:3"
        g = rnnmft.phase("gru", x=x, y=y, init="pytorch", seq_len=200)
        self.assertEqual(g["x"].shape, (4,))
        self.assertEqual(g["y"].shape, (3,))
        for k in ("Q_h", "chi", "xi", "m1", "m2", "variance", "log_tied_gain", "chaotic"):
            self.assertEqual(g[k].shape, (3, 4), k)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "grid.csv")
            cli("phase", "--cell", "gru", "--init", "pytorch", "--x", x, "--y", y, "--seq-len", 200,
                "-o", path)
            with open(path) as f:
                rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 12)
        for n, r in enumerate(rows):  # row-major over y then x
            j, i = divmod(n, 4)
            self.assertAlmostEqual(float(r["update.bias_mean"]), g["x"][i])
            self.assertAlmostEqual(float(r["candidate.recurrent_std"]), g["y"][j])
            for k in ("m1", "chi", "Q_h"):
                self.assertTrue(close(float(r[k]), g[k][j, i], 1e-8), k)
            self.assertTrue(close(float(r["xi"]), float(g["xi"][j, i]), 1e-8)
                            or (r["xi"] == "inf" and math.isinf(g["xi"][j, i])))

    def test_simulate_matches_cli(self):
        py = rnnmft.simulate("lstm", "pytorch", width=48, steps=120, t0=60, trials=2, seed=3)
        c = cli_json("simulate", "--cell", "lstm", "--init", "pytorch", "--width", 48, "--steps",
                     120, "--t0", 60, "--trials", 2, "--seed", 3)
        self.assertTrue(close(py["jacobian"]["m1"], c["jacobian"]["m1"]))
        self.assertTrue(close(py["stationary"]["Q_h"], c["stationary"]["Q_h"]))
        self.assertEqual(py["trajectories"]["Q_h"].shape, (120,))

    def test_draw(self):
        spec = rnnmft.preset("pytorch", "gru", width=100, input_dim=5)
        spec["gates"]["update"]["bias_mean"] = 2.0
        w = rnnmft.draw(spec, 5, 100, seed=1)
        self.assertEqual(w["weight_ih"].shape, (300, 5))
        self.assertEqual(w["weight_hh"].shape, (300, 100))
        self.assertEqual(w["weight_ih"].dtype, np.float32)
        self.assertFalse(np.any(w["bias_hh"]))
        self.assertAlmostEqual(float(w["bias_ih"][100:200].mean()), 2.0, delta=0.02)
        self.assertTrue(np.array_equal(w["weight_hh"], rnnmft.draw(spec, 5, 100, seed=1)["weight_hh"]))
        self.assertEqual(rnnmft.gate_names("gru"), ["reset", "update", "candidate"])


class Safetensors(unittest.TestCase):
    """rnnmft.load_weights reads safetensors without the safetensors package (no torch needed)
    and refuses a bad file with the reason."""

    @staticmethod
    def write(path, tensors, meta=None, pad=b""):
        header, blobs, off = {}, [], 0
        for name, (dtype, a) in tensors.items():
            b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
            header[name] = {"dtype": dtype, "shape": list(a.shape),
                            "data_offsets": [off, off + len(b)]}
            blobs.append(b)
            off += len(b)
        if meta:
            header["__metadata__"] = meta
        h = json.dumps(header).encode() + pad
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

    def test_read(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
        b = np.linspace(-1, 1, 5)
        c = np.array([3, -2], dtype=np.int64)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "t.safetensors")
            self.write(p, {"a": ("F32", a), "b": ("F64", b), "c": ("I64", c)}, {"cell": "lstm"},
                       pad=b"   ")
            w = rnnmft.load_weights(p)
        self.assertEqual(sorted(w), ["a", "b", "c"])
        self.assertTrue(np.array_equal(w["a"], a) and w["a"].dtype == np.float32)
        self.assertTrue(np.array_equal(w["b"], b) and w["b"].dtype == np.float64)
        self.assertTrue(np.array_equal(w["c"], c))
        self.assertEqual(w.metadata, {"cell": "lstm"})
        w["a"][0, 0] = 5.0  # a writable copy

    def test_bad_files(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "t.safetensors")
            good = os.path.join(d, "good.safetensors")
            self.write(good, {"a": ("F32", np.ones((4, 4), np.float32))})
            with open(good, "rb") as f:
                raw = f.read()

            def bad(pattern, content):
                with open(p, "wb") as f:
                    f.write(content)
                with self.assertRaisesRegex(ValueError, pattern):
                    rnnmft.load_weights(p)

            bad("only 3 bytes", b"abc")
            bad("it is JSON text", json.dumps({"cell": "lstm", "gates": {}}).encode())
            bad("header length 1099511627776 is above the", struct.pack("<Q", 1 << 40) + b"{}")
            bad("truncated: the header announces", raw[:20])
            bad("truncated: tensor 'a' ends at byte 64", raw[:-8])
            bad("header does not start with", struct.pack("<Q", 2) + b"[]")
            bad("header is not valid JSON", struct.pack("<Q", 3) + b"{x}")
            n = len(raw) - 8 - 64
            bad("dtype Q8", raw[:8 + n].replace(b"F32", b"Q8 ") + raw[8 + n:])
            with self.assertRaisesRegex(ValueError, "cannot read"):
                rnnmft.load_weights(os.path.join(d, "missing.safetensors"))


class Errors(unittest.TestCase):
    def bad(self, pattern, f, *a, **kw):
        with self.assertRaisesRegex(ValueError, pattern):
            f(*a, **kw)

    def test_error_paths(self):
        spec = rnnmft.preset("pytorch", "lstm")
        self.bad("seq_len must be at least 2", rnnmft.theory, "lstm", seq_len=0)
        self.bad("seq_len must be at least 2", rnnmft.critical, "lstm", seq_len=-5)
        self.bad("seq_len must be an integer", rnnmft.critical, "lstm", seq_len=10.5)
        self.bad("cell must be one of", rnnmft.theory, "lstmx")
        self.bad("gru_variant must be", rnnmft.theory, "gru", gru_variant="after")
        self.bad("input_var must be finite", rnnmft.theory, "lstm", input_var=float("nan"))
        self.bad("input_var must be ≥ 0", rnnmft.critical, "lstm", input_var=-1.0)
        self.bad("width must be at least 2", rnnmft.theory, "lstm", width=1)
        self.bad("neither a preset", rnnmft.theory, "lstm", "no-such-init")
        self.bad("unknown option 'sample'", rnnmft.theory, "lstm", sample=5000)
        self.bad("samples must be at least 1000", rnnmft.theory, "lstm", samples=10)
        # fix
        self.bad("lstm has no gate 'reset'", rnnmft.critical, "lstm", fix={"reset.recurrent_std": 1})
        self.bad("unknown parameter 'std'", rnnmft.critical, "gru", fix={"reset.std": 1})
        self.bad("not 'gate.param'", rnnmft.critical, "gru", fix={"reset": 1})
        self.bad("must be finite", rnnmft.critical, "gru", fix={"reset.recurrent_std": math.inf})
        self.bad("standard deviations are ≥ 0", rnnmft.critical, "gru",
                 fix={"reset.recurrent_std": -1})
        self.bad("parameter the search solves for", rnnmft.critical, "lstm",
                 fix={"forget.bias_mean": 3.0}, tied_check=False)
        # spec dicts
        bad = json.loads(json.dumps(spec))
        bad["gates"]["forget"]["bias_mean"] = float("nan")
        self.bad(r"spec\.gates\.forget\.bias_mean is nan: not finite", rnnmft.theory, "lstm", bad)
        bad = json.loads(json.dumps(spec))
        bad["colour"] = "blue"
        self.bad("unknown key 'colour'", rnnmft.theory, "lstm", bad)
        bad = json.loads(json.dumps(spec))
        bad["gates"]["forget"]["bias_men"] = 1.0
        self.bad("bias_men", rnnmft.theory, "lstm", bad, tied_check=False)
        bad = json.loads(json.dumps(spec))
        bad["gates"]["forget"]["recurrent_std"] = -0.5
        self.bad("negative", rnnmft.theory, "lstm", bad, tied_check=False)
        del bad["gates"]["forget"]
        self.bad("missing", rnnmft.theory, "lstm", bad, tied_check=False)
        self.bad("spec for the lstm cell, but cell 'gru'", rnnmft.theory, "gru", spec)
        self.bad("a spec must be a dict", rnnmft.draw, "spec", 3, 4)
        # phase axes, including a range that turns a standard deviation negative inside the grid
        self.bad("not gate.param=lo:hi:n", rnnmft.phase, "gru", x="update.bias_mean=0:8",
                 y="candidate.recurrent_std=0.5:4:3")
        self.bad("range must be ≥ 0", rnnmft.phase, "gru", x="update.bias_mean=0:8:3",
                 y="candidate.recurrent_std=1:-1:3")
        self.bad("gru has no gate 'forget'", rnnmft.phase, "gru", x="forget.bias_mean=0:8:3",
                 y="candidate.recurrent_std=0.5:4:3")
        self.bad("must be finite", rnnmft.phase, "gru", x=("update.bias_mean", 0, math.nan, 3),
                 y="candidate.recurrent_std=0.5:4:3")
        # C++'s own checks come through as ValueError with the CLI's message
        self.bad("t0", rnnmft.simulate, "lstm", steps=20, t0=50)
        self.bad("chrono", rnnmft.theory, "lstm", "chrono:abc")
        # still alive
        self.assertEqual(rnnmft.gate_names("lstm"), ["input", "forget", "cell", "output"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
