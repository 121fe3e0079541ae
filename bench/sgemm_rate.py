"""GFLOP/s of torch.mm on one step's recurrent shape, (B × N)·(N × G·N), at one thread, timed for
about a second. compare_pytorch.sh runs two at once, one per core: their sum is the 2-core rate
that an engine whose threads each own a slice of the batch can at best reach.
Usage: sgemm_rate.py B N G"""
import json
import sys
import time

import torch

B, N, G = map(int, sys.argv[1:4])
torch.set_num_threads(1)
a, w = torch.rand(B, N), torch.rand(N, G * N)
for _ in range(10):
    torch.mm(a, w)
reps, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < 1.0:
    for _ in range(50):
        torch.mm(a, w)
    reps += 50
print(json.dumps({"gflops": 2 * B * N * G * N * reps / (time.perf_counter() - t0) / 1e9}))
