"""Parity of rnnmft's forward and backward pass with PyTorch's nn.LSTM / nn.GRU / nn.RNN.

For each cell: PyTorch draws weights, rnnmft loads them (--init / --weights), computes loss and
gradients on the first examples of a real task; PyTorch computes the same from the same inputs;
loss and every parameter gradient must agree to a relative error ≤ 1e-4 (float32). Then a short
rnnmft training run is exported and loaded into PyTorch with load_state_dict(strict=True), and
both evaluate it on the same examples.

Usage: pytorch_parity.py RNNMFT_BINARY WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

torch.set_num_threads(1)
BIN, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
failures = 0
checks = 0


class Net(torch.nn.Module):
    def __init__(self, cell, I, N, C):
        super().__init__()
        kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "vanilla": torch.nn.RNN}[cell]
        self.rnn = kind(I, N)
        self.head = torch.nn.Linear(N, C)

    def forward(self, x):  # x: T × B × I
        out, _ = self.rnn(x)
        return self.head(out[-1])


def run(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"rnnmft {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def check(what, err, tol=1e-4):
    global failures, checks
    checks += 1
    ok = err <= tol
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}: relative error {err:.2e} (tolerance {tol:.0e})")


def parity(cell, task_args, label):
    I = 28
    net = Net(cell, I, 64, 10)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-0.3, 0.3)
    tag = label.replace("/", "_")
    wpath = os.path.join(WORK, f"{tag}_w.safetensors")
    st_io.write(wpath, {k: v.detach().numpy() for k, v in net.state_dict().items()},
                {"cell": cell, "gru_variant": "reset-after"})
    gpath = os.path.join(WORK, f"{tag}_g.safetensors")
    run("grads", "--weights", wpath, *task_args, "--split", "test", "--limit", "32", "-o", gpath)
    g, meta = st_io.read(gpath)
    x = torch.from_numpy(g["x"])
    y = torch.from_numpy(g["labels"])
    loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    check(f"{label} loss", abs(float(meta["loss"]) - loss.item()) / abs(loss.item()))
    for name, p in net.named_parameters():
        check(f"{label} d{name}", rel(g[name], p.grad.numpy()))


for cell in ["lstm", "gru", "vanilla"]:
    parity(cell, ["--task", "mnist-row"], f"{cell}/mnist-row")
    parity(cell, ["--task", "mnist-padded", "--unit", "row", "--seq-len", "120"],
           f"{cell}/padded-T120")

# Export of a trained run into torch modules with load_state_dict(strict=True).
for cell in ["lstm", "gru"]:
    run_dir = os.path.join(WORK, f"run_{cell}")
    subprocess.run(["rm", "-rf", run_dir])
    run("train", "--task", "mnist-row", "--cell", cell, "--hidden", "32", "--steps", "60", "--lr", "0.005",
        "--batch", "32", "--eval-every", "1000", "--out", run_dir)
    wpath = os.path.join(WORK, f"export_{cell}.safetensors")
    run("export", run_dir, "-o", wpath)
    w, _ = st_io.read(wpath)
    net = Net(cell, 28, 32, 10)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()}, strict=True)
    gpath = os.path.join(WORK, f"export_{cell}_g.safetensors")
    run("grads", "--weights", wpath, "--task", "mnist-row", "--split", "test", "--limit", "200",
        "-o", gpath)
    g, _ = st_io.read(gpath)
    with torch.no_grad():
        logits = net(torch.from_numpy(g["x"]))
        y = torch.from_numpy(g["labels"])
        tl = torch.nn.functional.cross_entropy(logits, y).item()
        ta = (logits.argmax(1) == y).float().mean().item()
    import json
    ev = json.loads(run("eval", "--weights", wpath, "--task", "mnist-row", "--split", "test",
                        "--limit", "200", "--json"))
    check(f"export {cell}: eval loss vs torch", abs(ev["loss"] - tl) / tl)
    print(f"     rnnmft eval: loss {ev['loss']:.8f} accuracy {ev['accuracy']:.4f}; "
          f"torch: loss {tl:.8f} accuracy {ta:.4f}")
    # Accuracies over 200 examples agree when they count the same hits (1 hit = 5e-3).
    check(f"export {cell}: eval accuracy vs torch", abs(ev["accuracy"] - ta), tol=1e-3)

print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
