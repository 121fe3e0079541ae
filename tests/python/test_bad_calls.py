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

    def test_a_good_call_still_works(self):
        spec = rnnmft.check_spec(rnnmft.preset("pytorch", "vanilla", width=16))
        self.assertEqual(set(spec["gates"]["hidden"]),
                         {"recurrent_std", "input_std", "bias_mean", "bias_std", "recurrent_dist"})
        w = rnnmft.draw(spec, 2, 8)
        self.assertEqual(w["weight_hh"].shape, (8, 8))
        json.dumps(rnnmft.theory("vanilla", spec, seq_len=100, tied_check=False))


if __name__ == "__main__":
    unittest.main()
