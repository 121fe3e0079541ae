"""Stacked 3-layer nn.LSTM at T = 2000 (docs/theory.md §11): the stacked critical init keeps every
layer's mean square within 10× of layer 0's and diagnose predicts each within 20 %; with layer 1's
cell input scale put back to the first-layer design's (ν = 0.5), activity rises with depth, and
diagnose predicts that too. (Apart from test_stacked.py: the LSTM's critical solve takes about a
minute.)"""
import unittest

import torch

from test_stacked import check_prediction, check_stacked_critical


class StackedLstm(unittest.TestCase):
    def test_lstm(self):
        m, out, d, ms = check_stacked_critical(self, "lstm", check_one_layer=False)
        nu = out[1]["spec"]["gates"]["cell"]["input_std"]
        N = m.hidden_size
        with torch.no_grad():  # PyTorch's gate order i f g o: the cell gate is block 2
            m.weight_ih_l1[2 * N:3 * N] *= 0.5 / nu
        d, ms = check_prediction(self, m, "lstm with layer 1 at ν = 0.5")
        self.assertGreater(ms[1] / ms[0], 3)
        self.assertIn("rises with depth", d[1]["verdict"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
