"""Critical init learns where PyTorch's default does not (docs/python.md): nn.LSTM and nn.GRU of
N = 64 on padded MNIST rows (28 rows of 28 pixels, then zeros up to T = 300, classified at the
last step), 150 Adam steps (lr 5e-3, batch 32, clip 1) on two CPU threads, seeded. Accuracy on a
balanced held-out set of 500 test images (chance 0.10); critical must exceed 0.2, PyTorch's
default must stay below 0.14. Measured: critical LSTM 0.312, GRU 0.340 after 150 steps (0.224,
0.264 after 100); default 0.100 for both."""
import gzip
import os
import time
import unittest

import numpy as np
import torch

from common import DATA

import rnnmft.torch as rt

T, N, B, STEPS, LR = 300, 64, 32, 150, 5e-3


def read_idx(name):
    """An IDX file of unsigned bytes (docs/tasks.md), plain or gzipped, as an array."""
    base = os.path.join(DATA, "mnist", name)
    path = base if os.path.exists(base) else base + ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        b = f.read()
    if b[0] != 0 or b[1] != 0 or b[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


class Net(torch.nn.Module):
    def __init__(self, cls):
        super().__init__()
        self.rnn = cls(28, N)
        self.head = torch.nn.Linear(N, 10)

    def forward(self, x):  # T × B × 28
        out, _ = self.rnn(x)
        return self.head(out[-1])


class PaddedRows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.X = read_idx("train-images-idx3-ubyte")
        cls.Y = read_idx("train-labels-idx1-ubyte").astype(np.int64)
        # Held out: the first 50 test images of each class, so that a constant guess scores 0.1.
        yt = read_idx("t10k-labels-idx1-ubyte").astype(np.int64)
        k = np.concatenate([np.flatnonzero(yt == c)[:50] for c in range(10)])
        cls.xv = cls.batch(read_idx("t10k-images-idx3-ubyte")[k])
        cls.yv = torch.from_numpy(yt[k])

    @staticmethod
    def batch(images):
        x = np.zeros((T, len(images), 28), np.float32)
        x[:28] = (images / 255.0).transpose(1, 0, 2)  # row t of every image at step t
        return torch.from_numpy(x)

    def train(self, cls, critical):
        torch.manual_seed(0)
        net = Net(cls)
        if critical:
            # The default design (v2 for a one-layer module) reads R over the steps that carry
            # data, the 28 rows, as `rnnmft train --init critical` does (docs/theory.md §13.3).
            R = float(np.mean((self.X[:2000] / 255.0) ** 2))
            out = rt.critical_init_(net.rnn, seq_len=T, seed=0, input_var=R)
            self.assertEqual(out[0]["design"], "v2")
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        rng = np.random.default_rng(0)
        t0 = time.time()
        for _ in range(STEPS):
            k = rng.integers(0, len(self.X), B)
            loss = torch.nn.functional.cross_entropy(net(self.batch(self.X[k])),
                                                     torch.from_numpy(self.Y[k]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        with torch.no_grad():
            acc = (net(self.xv).argmax(1) == self.yv).float().mean().item()
        print(f"{cls.__name__} {'critical' if critical else 'default'}: held-out accuracy "
              f"{acc:.3f} after {STEPS} steps ({time.time() - t0:.1f} s)", flush=True)
        return acc

    def test_lstm(self):
        self.assertGreater(self.train(torch.nn.LSTM, True), 0.2)
        self.assertLess(self.train(torch.nn.LSTM, False), 0.14)

    def test_gru(self):
        self.assertGreater(self.train(torch.nn.GRU, True), 0.2)
        self.assertLess(self.train(torch.nn.GRU, False), 0.14)


if __name__ == "__main__":
    unittest.main(verbosity=2)
