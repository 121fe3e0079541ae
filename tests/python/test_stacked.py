"""Stacked networks (docs/theory.md §11): the two-time theory of layer k driven by layer k−1
against tied torch networks (3-layer nn.GRU and nn.LSTM at T = 2000, N = 256, N(0, 1) inputs of
dimension 40; a 2-layer bidirectional nn.GRU): diagnose's per-layer mean square over steps
[T/2, T) within 20 % of the measured one, its verdicts, and the GRU's stacked critical init
keeping every layer's mean square within 10× of layer 0's (the LSTM's, whose layer-0 solve takes
about a minute: test_stacked_lstm.py); and its untied form against 2-layer untied networks
simulated in NumPy."""
import math
import time
import unittest

import numpy as np
import torch

import common  # noqa: F401  (puts the built package on sys.path)
import rnnmft.torch as rt

torch.set_num_threads(2)
T, N, I, BATCH = 2000, 256, 40, 8


def measure(module, T, batch=BATCH, seed=0):
    """Each layer's state mean square over steps [T/2, T), averaged over units and sequences,
    for N(0, 1) inputs: the layers run one by one (nn.LSTM / nn.GRU return the last layer's)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, T, module.input_size, generator=g)
    out = []
    with torch.no_grad():
        for k in range(module.num_layers):
            sub = type(module)(x.shape[-1], module.hidden_size, batch_first=True)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(sub, f"{name}_l0").copy_(getattr(module, f"{name}_l{k}"))
            x = sub(x)[0]
            out.append(float(x[:, T // 2:].double().pow(2).mean()))
    return out


def make(cell, layers=3):
    cls = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    return cls(I, N, num_layers=layers, batch_first=True)


def check_prediction(test, module, label, tol=0.2):
    """diagnose's mean square per layer against the torch module's; returns both."""
    t0 = time.time()
    d = rt.diagnose(module, seq_len=T)
    t1 = time.time()
    ms = measure(module, T)
    t2 = time.time()
    pred = [x["mean_square"] for x in d]
    print(f"{label}: measured {['%.4g' % m for m in ms]} predicted {['%.4g' % p for p in pred]}"
          f" ratio {['%.3f' % (p / m) for p, m in zip(pred, ms)]} (diagnose {t1 - t0:.1f} s, "
          f"torch {t2 - t1:.1f} s)", flush=True)
    for k, (m, p) in enumerate(zip(ms, pred)):
        test.assertLess(abs(p / m - 1), tol, f"{label} layer {k}: predicted {p:.4g}, "
                                             f"measured {m:.4g}")
    return d, ms


def check_stacked_critical(test, cell, seed=1, check_one_layer=True):
    m = make(cell)
    t0 = time.time()
    out = rt.critical_init_(m, seq_len=T, seed=seed)
    nus = [o["spec"]["gates"][rt._CONTENT[cell]]["input_std"] for o in out]
    print(f"{cell}: critical_init_ {time.time() - t0:.1f} s, content input_std per layer "
          f"{['%.4g' % v for v in nus]}", flush=True)
    d, ms = check_prediction(test, m, f"{cell} stacked critical init")
    ratios = [x / ms[0] for x in ms]
    print(f"{cell}: measured mean square / layer 0's: {['%.3g' % r for r in ratios]}")
    for k, r in enumerate(ratios):
        test.assertLess(abs(math.log10(r)), 1.0, f"{cell} layer {k}: {r:.3g}× layer 0's")
    for x in d[1:]:
        test.assertIn("activity holds with depth", x["verdict"])
    for o in out[1:]:
        test.assertEqual(o["spec"]["diagnostics"]["stacked"]["layer"], o["layer"])
    if not check_one_layer:
        return m, out, d, ms
    # Layer 0 is the one-layer v1 design, drawn as before (a stacked module gets v1).
    test.assertEqual({o["design"] for o in out}, {"v1"})
    one = make(cell, 1)
    rt.critical_init_(one, seq_len=T, seed=seed, design="v1")
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"):
        test.assertTrue(torch.equal(getattr(one, name), getattr(m, name)), name)
    return m, out, d, ms


def untied_sim(cell, gates, I, N, T, B, seed, layers):
    """Each layer's mean square over [T/2, T) of an untied network: every weight matrix and bias
    redrawn at every step (one draw shared by the B sequences), N(0, 1) inputs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, I))
    names = {"gru": ["reset", "update", "candidate"],
             "lstm": ["input", "forget", "cell", "output"]}[cell]

    def sig(u):
        return 0.5 * (1 + np.tanh(0.5 * u))

    out = []
    for _ in range(layers):
        Ik = x.shape[-1]
        h, c, y = np.zeros((B, N)), np.zeros((B, N)), np.zeros((B, T, N))
        for t in range(T):
            pre = {}
            for g in names:
                s, n, m, r = gates[g]
                rec = h @ (rng.standard_normal((N, N)) * (s / math.sqrt(N))).T if s else 0.0
                inp = x[:, t] @ (rng.standard_normal((N, Ik)) * (n / math.sqrt(Ik))).T if n else 0.0
                pre[g] = (inp + m + r * rng.standard_normal(N), rec)
            if cell == "gru":  # reset-after, as nn.GRU
                r, z = sig(sum(pre["reset"])), sig(sum(pre["update"]))
                h = z * h + (1 - z) * np.tanh(pre["candidate"][0] + r * pre["candidate"][1])
            else:
                i, f, o = sig(sum(pre["input"])), sig(sum(pre["forget"])), sig(sum(pre["output"]))
                c = f * c + i * np.tanh(sum(pre["cell"]))
                h = o * np.tanh(c)
            y[:, t] = h
        out.append(float(np.mean(y[:, T // 2:] ** 2)))
        x = y
    return out


class Stacked(unittest.TestCase):
    def test_untied_two_layers(self):
        # Weights redrawn at every step: the layer below's state reaches layer 1 only through
        # its second moment (no coherent drive), which the two-time theory with untied=True
        # predicts; the tied theory of the same moments is far off for layer 1.
        T2, N2 = 400, 200
        specs = {
            "gru": {"reset": (0, 0, 2, 0), "update": (0, 0, math.log(2 * T2), 0),
                    "candidate": (3.0, 0.5, 0, 0)},
            "lstm": {"input": (0, 0, -0.5 * math.log(T2), 0),
                     "forget": (0, 0, math.log(2 * T2), 0), "output": (0, 0, 4, 0),
                     "cell": (0.08, 0.5, 0, 0)}}
        for cell, g in specs.items():
            with self.subTest(cell=cell):
                ms = untied_sim(cell, g, I, N2, T2, 4, 0, 2)
                pu, pt, Cu, Ct = [], [], np.eye(T2), np.eye(T2)
                for _ in range(2):
                    Cu = rt._two_time(cell, g, Cu, untied=True)["C_h"]
                    Ct = rt._two_time(cell, g, Ct)["C_h"]
                    pu.append(float(np.mean(np.diag(Cu)[T2 // 2:])))
                    pt.append(float(np.mean(np.diag(Ct)[T2 // 2:])))
                print(f"untied {cell}: measured {['%.4g' % m for m in ms]} predicted "
                      f"{['%.4g' % p for p in pu]} (tied theory {['%.4g' % p for p in pt]})")
                for k in range(2):
                    self.assertLess(abs(pu[k] / ms[k] - 1), 0.2, f"{cell} layer {k}")
                self.assertGreater(abs(math.log(pt[1] / ms[1])), math.log(10))

    def test_gru_per_layer_design_collapses_and_says_so(self):
        # Each layer designed as a first layer (stacked=False, what critical_init_ did before):
        # activity falls ~100× per layer. diagnose predicts it, and no verdict says that signals
        # survive.
        gru = make("gru")
        rt.critical_init_(gru, seq_len=T, seed=3, stacked=False)
        d, ms = check_prediction(self, gru, "gru per-layer critical design")
        self.assertLess(ms[2] / ms[0], 1e-3)  # the collapse is real
        for k in (1, 2):
            self.assertNotIn("signals survive", d[k]["verdict"])
            self.assertIn(f"the drive reaching layer {k} vanishes", d[k]["verdict"])
        self.assertIn("signals survive", d[0]["verdict"])
        self.assertLess(d[2]["activity_vs_layer0"], 1e-3)

    def test_gru_stacked_critical_init(self):
        check_stacked_critical(self, "gru")

    def test_pytorch_default_init(self):
        for cell in ("gru", "lstm"):
            with self.subTest(cell=cell):
                torch.manual_seed(7)
                d, ms = check_prediction(self, make(cell), f"{cell} PyTorch default init")
                self.assertIn("activity falls with depth", d[1]["verdict"])

    def test_bidirectional_two_layers(self):
        # Layer 1 reads both directions of layer 0; the reverse direction runs backwards.
        torch.manual_seed(11)
        gru = torch.nn.GRU(I, 128, num_layers=2, batch_first=True, bidirectional=True)
        T2 = 300
        d = rt.diagnose(gru, seq_len=T2)
        x = torch.randn(8, T2, I)
        with torch.no_grad():
            y0 = torch.nn.GRU(I, 128, batch_first=True, bidirectional=True)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                for sfx in ("", "_reverse"):
                    getattr(y0, f"{name}_l0{sfx}").copy_(getattr(gru, f"{name}_l0{sfx}"))
            h0 = y0(x)[0]
            h1 = gru(x)[0]
        meas = [float(h[:, T2 // 2:, sl].double().pow(2).mean()) for h in (h0, h1)
                for sl in (slice(0, 128), slice(128, 256))]
        pred = [x["mean_square"] for x in d]
        print("bidirectional gru: measured", ["%.4g" % m for m in meas], "predicted",
              ["%.4g" % p for p in pred])
        for m, p in zip(meas, pred):
            self.assertLess(abs(p / m - 1), 0.2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
