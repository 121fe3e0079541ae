"""The GPU peers of `rnnmft bench --device cuda`, timed the same way (one training step: forward,
backward through time, Adam), one JSON line per configuration:
  torch: PyTorch's nn.LSTM / nn.GRU (cuDNN), one model at a time;
  jax:   K independent models as a jax.vmap over a lax.scan cell (default matmul precision).
Usage: gpu_peers.py torch CELL T N B I STEPS [fp32|tf32]
       gpu_peers.py jax CELL T N B I STEPS K"""
import json
import sys
import time


def stats(times):
    times = sorted(times)
    return times[len(times) // 2], times[0]


def run_torch(cell, T, N, B, I, steps, precision):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.manual_seed(0)
    dev = torch.device("cuda")
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, N).to(dev)
    head = torch.nn.Linear(N, 10).to(dev)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
    x = torch.rand(T, B, I, device=dev)
    y = torch.randint(0, 10, (B,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(x)
        loss = torch.nn.functional.cross_entropy(head(out[-1]), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(rnn.parameters()) + list(head.parameters()), 1.0)
        opt.step()

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    med, best = stats(times)
    return {"peer": "torch-cudnn", "models": 1, "ms_per_step": med, "ms_per_step_min": best,
            "ms_per_model_step": med, "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20,
            "precision": precision, "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name()}


def run_jax(cell, T, N, B, I, steps, K):
    import jax
    import jax.numpy as jnp
    G = {"lstm": 4, "gru": 3}[cell]

    def init(key):
        k = jax.random.split(key, 4)
        s = 1.0 / N ** 0.5
        u = lambda kk, shape: jax.random.uniform(kk, shape, minval=-s, maxval=s)
        return {"wi": u(k[0], (I, G * N)), "wh": u(k[1], (N, G * N)), "b": jnp.zeros(G * N),
                "bh": jnp.zeros(G * N), "wo": u(k[2], (N, 10)), "bo": jnp.zeros(10)}

    def loss_fn(p, x, y):
        xi = jnp.einsum("tbi,ig->tbg", x, p["wi"]) + p["b"]

        def lstm(carry, a):
            h, c = carry
            z = a + h @ p["wh"] + p["bh"]
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), None

        def gru(carry, a):
            h, c = carry
            hh = h @ p["wh"] + p["bh"]
            ar, az, an = jnp.split(a, 3, axis=-1)
            hr, hz, hn = jnp.split(hh, 3, axis=-1)
            r, z = jax.nn.sigmoid(ar + hr), jax.nn.sigmoid(az + hz)
            n = jnp.tanh(an + r * hn)
            return ((1 - z) * n + z * h, c), None

        h0 = jnp.zeros((B, N))
        (h, _), _ = jax.lax.scan(lstm if cell == "lstm" else gru, (h0, h0), xi)
        logits = h @ p["wo"] + p["bo"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

    def step(p, m, v, t, x, y):
        g = jax.grad(loss_fn)(p, x, y)
        norm = jnp.sqrt(sum(jnp.sum(q * q) for q in jax.tree_util.tree_leaves(g)))
        scale = jnp.minimum(1.0, 1.0 / (norm + 1e-12))
        g = jax.tree_util.tree_map(lambda q: q * scale, g)
        m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        p = jax.tree_util.tree_map(
            lambda a, mm, vv: a - 1e-3 * (mm / c1) / (jnp.sqrt(vv / c2) + 1e-8), p, m, v)
        return p, m, v

    vstep = jax.jit(jax.vmap(step, in_axes=(0, 0, 0, None, 0, 0)))
    keys = jax.random.split(jax.random.PRNGKey(0), K)
    p = jax.vmap(init)(keys)
    m = jax.tree_util.tree_map(jnp.zeros_like, p)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    x = jax.random.uniform(jax.random.PRNGKey(1), (K, T, B, I))
    y = jax.random.randint(jax.random.PRNGKey(2), (K, B), 0, 10)
    t = 1.0
    for _ in range(2):
        p, m, v = vstep(p, m, v, t, x, y)
        jax.block_until_ready(p)
        t += 1
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        p, m, v = vstep(p, m, v, t, x, y)
        jax.block_until_ready(p)
        times.append((time.perf_counter() - t0) * 1e3)
        t += 1
    med, best = stats(times)
    stats_mem = jax.devices()[0].memory_stats() or {}
    return {"peer": "jax-vmap", "models": K, "ms_per_step": med, "ms_per_step_min": best,
            "ms_per_model_step": med / K,
            "peak_gpu_mb": stats_mem.get("peak_bytes_in_use", 0) / 2**20,
            "precision": "default", "jax": jax.__version__, "gpu": str(jax.devices()[0])}


def main():
    peer, cell = sys.argv[1], sys.argv[2]
    T, N, B, I, steps = map(int, sys.argv[3:8])
    rec = {"cell": cell, "seq_len": T, "hidden": N, "batch": B, "input_dim": I, "steps": steps}
    try:
        if peer == "torch":
            rec.update(run_torch(cell, T, N, B, I, steps, sys.argv[8] if len(sys.argv) > 8 else "fp32"))
        else:
            rec.update(run_jax(cell, T, N, B, I, steps, int(sys.argv[8])))
    except Exception as e:  # noqa: BLE001 - an out-of-memory peer is a result, not a crash
        rec.update({"peer": peer, "error": f"{type(e).__name__}: {str(e)[:300]}"})
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
