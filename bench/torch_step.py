"""Times PyTorch training steps (nn.LSTM/nn.GRU + Linear, cross-entropy, Adam) on CPU, and a
plain sgemm of one step's recurrent shape.  Prints JSON.
Usage: torch_step.py CELL T N B I THREADS STEPS"""
import json
import sys
import time

import torch

cell, T, N, B, I, threads, steps = sys.argv[1], *map(int, sys.argv[2:8])
torch.set_num_threads(threads)
torch.manual_seed(0)
G = {"lstm": 4, "gru": 3, "vanilla": 1}[cell]
rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "vanilla": torch.nn.RNN}[cell](I, N)
head = torch.nn.Linear(N, 10)
opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
x = torch.rand(T, B, I)
y = torch.randint(0, 10, (B,))


def step():
    opt.zero_grad()
    out, _ = rnn(x)
    loss = torch.nn.functional.cross_entropy(head(out[-1]), y)
    loss.backward()
    opt.step()


step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1e3)
times.sort()
ms = times[len(times) // 2]
# sgemm of the per-step shape: (B × N) · (N × G·N), the recurrent product of one step.
a, w = torch.rand(B, N), torch.rand(N, G * N)
reps = max(10, int(2e9 / (2 * B * N * G * N)))
torch.mm(a, w)
t0 = time.perf_counter()
for _ in range(reps):
    torch.mm(a, w)
sgemm = 2 * B * N * G * N * reps / (time.perf_counter() - t0) / 1e9
flops = 3 * 2 * T * B * N * G * (N + I)
print(json.dumps({"ms_per_step": ms, "gflops": flops / (ms * 1e-3) / 1e9, "threads": threads,
                  "sgemm_gflops": sgemm, "torch": torch.__version__}))
