"""The per-time-step products of a K-model ensemble timed alone with PyTorch's batched GEMM
(cuBLAS), to split `rnnmft bench --device cuda` time into products and the rest (docs/gpu.md).
Usage: gpu_gemm_shapes.py K N B G   (prints JSON lines)"""
import json
import sys
import time

import torch

K, N, B, G = map(int, sys.argv[1:5])
dev = torch.device("cuda")
for tf32 in (True, False):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    h = torch.rand(K, B, N, device=dev)
    w = torch.rand(K, N, G * N, device=dev)
    z = torch.rand(K, B, G * N, device=dev)
    dz = torch.rand(K, B, G * N, device=dev)
    wt = torch.rand(K, G * N, N, device=dev)
    cases = {
        "forward z += h W_hhT": lambda: torch.baddbmm(z, h, w, out=z),
        "forward z = h W_hhT": lambda: torch.bmm(h, w, out=z),
        "backward dh = dz W_hh": lambda: torch.bmm(dz, wt, out=h),
    }
    for name, f in cases.items():
        for _ in range(3):
            f()
        torch.cuda.synchronize()
        reps = 200
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        torch.cuda.synchronize()
        us = (time.perf_counter() - t0) / reps * 1e6
        flops = 2 * K * B * N * G * N
        # The least traffic: W once, h or dz once, z read and written (or written).
        print(json.dumps({"product": name, "tf32": tf32, "models": K, "us": us,
                          "tflops": flops / us / 1e6, "weights_mb": K * N * G * N * 4 / 2**20}),
              flush=True)
