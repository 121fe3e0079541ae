"""Bad calls into the Python module: each must raise ValueError with a message saying what is
wrong, never MemoryError, RecursionError or a crash, and never return as if it were fine."""
import json
import os
import tempfile
import unittest

from common import cli  # noqa: F401  (sets up sys.path for the built package)

import rnnmft


def nested(depth):
    d = {}
    for _ in range(depth):
        d = {"x": d}
    return d


class BadCalls(unittest.TestCase):
    def assert_value_error(self, fragment, f, *args, **kw):
        with self.assertRaises(ValueError) as cm:
            f(*args, **kw)
        self.assertIn(fragment, str(cm.exception))

    # Sizes beyond memory: refused by the memory estimate, not a MemoryError from an allocation.
    def test_huge_draw_is_a_value_error(self):
        spec = rnnmft.preset("pytorch", "lstm", width=16)
        self.assert_value_error("memory", rnnmft.draw, spec, 1000000, 20000)

    def test_huge_simulation_is_a_value_error(self):
        self.assert_value_error("memory", rnnmft.simulate, "lstm", "pytorch", width=20000,
                                steps=2**31 - 1, trials=1000000, t0=100)

    # Nesting beyond 64 levels: a ValueError, not a RecursionError.
    def test_deeply_nested_spec_dict_is_a_value_error(self):
        for f in (rnnmft.check_spec, lambda s: rnnmft.theory("lstm", s, tied_check=False),
                  lambda s: rnnmft.draw(s, 1, 8)):
            self.assert_value_error("nested deeper than 64 levels", f, nested(100000))

    def test_deeply_nested_spec_file_is_a_value_error(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "deep.json")
            with open(path, "w") as f:
                f.write('{"cell": "lstm", "gates": ' + "[" * 100000 + "]" * 100000 + "}")
            self.assert_value_error("nested deeper than 64 levels", rnnmft.load_spec, path)

    # What returned normally before: arguments to presets that take none, a missing gate field.
    def test_preset_arguments_are_refused(self):
        self.assert_value_error("keras takes no argument", rnnmft.preset, "keras:5", "lstm")
        self.assert_value_error("pytorch takes no argument", rnnmft.theory, "lstm", "pytorch:xyz",
                                tied_check=False)
        self.assert_value_error("keras takes no argument", rnnmft.simulate, "gru", "keras:1",
                                width=16, steps=20, t0=5)
        self.assert_value_error("pytorch takes no argument", rnnmft.compare, cells=["lstm"],
                                inits=["pytorch:2"], tied_check=False)

    def test_missing_gate_field_is_refused(self):
        spec = rnnmft.preset("pytorch", "vanilla", width=16)
        del spec["gates"]["hidden"]["bias_std"]
        self.assert_value_error("gates.hidden.bias_std is missing", rnnmft.check_spec, spec)
        self.assert_value_error("gates.hidden.bias_std is missing", rnnmft.draw, spec, 1, 8)
        self.assert_value_error("gates.hidden.bias_std is missing", rnnmft.theory, "vanilla",
                                spec, tied_check=False)

    # Found by a probe of every public function with hostile arguments (sizes past 32 bits,
    # nesting, wrong types, NUL bytes, malformed files).

    # A deeply nested or self-referencing argument where a number or a name belongs: a
    # ValueError naming it, not a RecursionError from repr() in the message.
    def test_deeply_nested_argument_is_a_value_error(self):
        deep_list = []
        for _ in range(100000):
            deep_list = [deep_list]
        self.assert_value_error("seq_len must be an integer", rnnmft.theory, "lstm",
                                seq_len=nested(100000), tied_check=False)
        self.assert_value_error("width must be an integer", rnnmft.simulate, "lstm",
                                width=deep_list)
        self.assert_value_error("cell must be one of", rnnmft.gate_names, nested(100000))
        self.assert_value_error("criterion must be", rnnmft.critical, "lstm",
                                criterion=nested(100000))
        with self.assertRaises(ValueError) as cm:  # a message of bounded length
            rnnmft.preset("x" * 10**6, "lstm")
        self.assertLess(len(str(cm.exception)), 300)

    # Counts past 32 bits wrapped in C++ (2^32 + 5 read as 5) and the call returned normally.
    def test_counts_beyond_32_bits_are_refused(self):
        kw = dict(width=16, steps=20, t0=5)
        for arg, v in (("t0", 2**32 + 5), ("steps", 2**32 + 20), ("trials", 2**32 + 1),
                       ("jacobians", 2**32 + 1), ("input_steps", 2**64),
                       ("input_dim", 2**32 + 1)):
            self.assert_value_error(f"{arg} must be at most", rnnmft.simulate, "vanilla",
                                    **{**kw, arg: v})
        self.assert_value_error("tied_trials must be at most", rnnmft.theory, "vanilla",
                                seq_len=50, width=16, tied_trials=2**32 + 1)
        self.assert_value_error("input_dim must be at most", rnnmft.critical, "vanilla",
                                seq_len=50, width=16, tied_check=False, input_dim=2**64)
        self.assert_value_error("burn_in must be at most", rnnmft.theory, "lstm", seq_len=50,
                                width=16, tied_check=False, burn_in=10**12)
        # pybind11's TypeError ("incompatible function arguments") named no argument.
        spec = rnnmft.preset("pytorch", "vanilla", width=16)
        self.assert_value_error("input_size must be at most", rnnmft.draw, spec, 10**12, 8)
        self.assert_value_error("input_dim must be at most", rnnmft.preset, "keras", "lstm",
                                input_dim=2**32 + 3)

    # The C++ request reader itself refuses what it would narrow (nlohmann's get<int> wraps).
    def test_request_integers_out_of_range_are_refused(self):
        from rnnmft import _rnnmft
        req = {"cell": "vanilla", "init": {"preset": "pytorch"}, "width": 16, "steps": 20,
               "t0": 5}
        for key, v in (("t0", 2**32 + 5), ("trials", -2**40), ("seed", -1)):
            self.assert_value_error(f"{key} = {v} is out of range", _rnnmft.simulate,
                                    json.dumps({**req, key: v}))
        self.assert_value_error("steps must be an integer", _rnnmft.simulate,
                                json.dumps({**req, "steps": 2**64}))

    # bool("no") is True: these ran with the check on, or the network tied.
    def test_flags_must_be_booleans(self):
        self.assert_value_error("tied_check must be True or False", rnnmft.theory, "vanilla",
                                seq_len=50, width=16, tied_check="no")
        self.assert_value_error("check must be True or False", rnnmft.critical, "vanilla",
                                seq_len=50, width=16, tied_check=False, check="no")
        self.assert_value_error("tied must be True or False", rnnmft.simulate, "vanilla",
                                width=16, steps=20, t0=5, tied="false")
        self.assert_value_error("spectral_radius must be True or False", rnnmft.simulate,
                                "vanilla", width=16, steps=20, t0=5, spectral_radius="no")

    # Nothing to compare returned [] (or cells with no inits); bytes were iterated as numbers.
    def test_compare_needs_cells_and_inits(self):
        self.assert_value_error("cells is empty", rnnmft.compare, cells=[], tied_check=False)
        self.assert_value_error("inits is empty", rnnmft.compare, cells=["lstm"], inits=[],
                                tied_check=False)
        self.assert_value_error("cells must be a list", rnnmft.compare, cells=b"lstm",
                                tied_check=False)
        self.assert_value_error("cells must be a list", rnnmft.compare, cells={"lstm": 1},
                                tied_check=False)

    # C++ opened "spec.json\0junk" as "spec.json" and returned its spec.
    def test_path_with_nul_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "spec.json")
            with open(path, "w") as f:
                json.dump(rnnmft.preset("pytorch", "vanilla", width=16), f)
            self.assertEqual(rnnmft.load_spec(path)["cell"], "vanilla")
            self.assert_value_error("contains a NUL character", rnnmft.load_spec,
                                    path + "\0junk")

    # Malformed safetensors headers: an OverflowError, a RecursionError, a TypeError from a
    # dict lookup, and shapes of 1.5, true or "1" read as 1.
    def test_malformed_weight_headers(self):
        import struct

        def st(d, header, data=b"\0" * 4):
            h = header if isinstance(header, bytes) else json.dumps(header).encode()
            path = os.path.join(d, "w.safetensors")
            with open(path, "wb") as f:
                f.write(struct.pack("<Q", len(h)) + h + data)
            return path

        def tensor(**kw):
            return {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], **kw}}

        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(rnnmft.load_weights(st(d, tensor()))["a"].shape, (1,))
            for shape in ([1.5], [True], ["1"]):
                self.assert_value_error("not a list of integers", rnnmft.load_weights,
                                        st(d, tensor(shape=shape)))
            self.assert_value_error("need", rnnmft.load_weights,
                                    st(d, tensor(shape=[2**64], data_offsets=[0, 0])))
            self.assert_value_error("need", rnnmft.load_weights,
                                    st(d, tensor(shape=[2**62, 4], data_offsets=[0, 0])))
            self.assert_value_error("has dtype", rnnmft.load_weights,
                                    st(d, tensor(dtype=["F32"])))
            deep = b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"
            self.assert_value_error("nested too deeply", rnnmft.load_weights, st(d, deep))

    # rnnmft.torch: stacked="no" ran the stacked theory; a nested layer was a RecursionError.
    def test_torch_bad_calls(self):
        try:
            import torch
        except ImportError:
            self.skipTest("no torch")
        import rnnmft.torch as rt
        gru = torch.nn.GRU(2, 8, num_layers=2)
        self.assert_value_error("stacked must be True or False", rt.diagnose, gru, 50,
                                stacked="no")
        self.assert_value_error("stacked must be True or False", rt.critical_init_, gru, 50,
                                stacked="no")
        self.assert_value_error("has no layer", rt.estimate_spec, gru, layer=nested(100000))
        self.assert_value_error("has no layer", rt.estimate_spec, gru,
                                direction=nested(100000))

    def test_a_good_call_still_works(self):
        spec = rnnmft.check_spec(rnnmft.preset("pytorch", "vanilla", width=16))
        self.assertEqual(set(spec["gates"]["hidden"]),
                         {"recurrent_std", "input_std", "bias_mean", "bias_std", "recurrent_dist"})
        w = rnnmft.draw(spec, 2, 8)
        self.assertEqual(w["weight_hh"].shape, (8, 8))
        json.dumps(rnnmft.theory("vanilla", spec, seq_len=100, tied_check=False))


if __name__ == "__main__":
    unittest.main()
