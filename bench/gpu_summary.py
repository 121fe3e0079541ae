"""One screen from a bench/gpu_fused.sh folder: the steps (cut, skipped, failed), the fused sweep
against step by step and cuDNN at the shapes of the targets (docs/gpu.md §Fused sweeps), the
residency of the fused launches, and the tests' verdicts.
Usage: gpu_summary.py OUT BUDGET_S ELAPSED_S"""
import json
import os
import re
import sys


def lines(path):
    out = []
    if os.path.exists(path):
        for l in open(path, encoding="utf-8", errors="replace"):
            try:
                out.append(json.loads(l))
            except ValueError:
                pass
    return out


def gtest(path):
    """(passed, failed, skipped) from a gtest output, or None when it has no verdict."""
    if not os.path.exists(path):
        return None
    text = open(path, encoding="utf-8", errors="replace").read()
    # Each name once: a failed or skipped test is listed again at the end.
    names = [sorted(set(re.findall(rf"^\[ +{w} +\] (\S+\.\S+)", text, re.M)))
             for w in ("OK", "FAILED", "SKIPPED")]
    ok, failed, skipped = names
    return (len(ok), len(failed), len(skipped), failed) if any(names) else None


def ms(r):
    return r.get("ms_per_model_step") if r else None


def fmt(x, unit=""):
    return "-" if x is None else f"{x:.3f}{unit}"


def main():
    out, budget, elapsed = sys.argv[1], sys.argv[2], sys.argv[3]
    steps = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "steps.tsv"))
             if l.strip()]
    ours = {r["name"]: r for r in lines(os.path.join(out, "ours.jsonl")) if "name" in r}
    peers = {r["name"]: r for r in lines(os.path.join(out, "peers.jsonl")) if "name" in r}
    machine = open(os.path.join(out, "machine.txt")).read().splitlines()
    gpu = next((r["gpu"] for r in list(ours.values()) + list(peers.values()) if r.get("gpu")),
               "no GPU answered")
    print(f"GPU check: {gpu}; {elapsed} s of a {budget} s deadline; "
          f"{next((m for m in machine if m.startswith('cublas')), 'cublas: ?')}")
    cut = [s[0] for s in steps if s[1] == "124" or s[1] == "137"]
    skipped = [s[0] for s in steps if s[1] == "skipped"]
    failed = [s[0] for s in steps if s[1] not in ("0", "124", "137", "skipped")]
    print(f"steps: {len(steps)}, {len(steps) - len(cut) - len(skipped) - len(failed)} ended "
          f"with exit 0; cut by their limit: {', '.join(cut) or 'none'}; skipped at the deadline: "
          f"{', '.join(skipped) or 'none'}; failed: {', '.join(failed) or 'none'}")
    for name in failed[:4]:  # why, from the end of its output
        path = os.path.join(out, f"{name}.txt")
        tail = [l.strip() for l in open(path, errors="replace")] if os.path.exists(path) else []
        tail = [l for l in tail if l]
        print(f"  {name}: {tail[-1][:150] if tail else '(no output)'}")
    print()
    print("ms per model-step (median)       step tf32   fused tf32   fused bf16   step/fused"
          "   resident clusters, waves (fwd/bwd)")
    for label, key in (("LSTM T=1000 I=28, K=256", "lstm_K256"), ("LSTM T=1000 I=28, K=16", "lstm_K16"),
                       ("LSTM T=1000 I=28, K=1", "lstm_K1"), ("LSTM T=784 I=1, K=1", "pixel_K1")):
        s, f, b = (ours.get(f"{key}_{v}") for v in ("step", "fused", "bf16"))
        best = min((x for x in (ms(f), ms(b)) if x is not None), default=None)
        ratio = ms(s) / best if ms(s) and best else None
        res = f or b
        occ = (f"{res.get('fused_forward_resident_clusters')}/{res.get('fused_backward_resident_clusters')}, "
               f"{res.get('fused_forward_waves')}/{res.get('fused_backward_waves')}") if res else "-"
        print(f"{label:<32} {fmt(ms(s)):>9}   {fmt(ms(f)):>10}   {fmt(ms(b)):>10}   "
              f"{fmt(ratio, '×'):>10}   {occ}")
    print()
    k256 = [ms(ours.get(f"lstm_K256_{v}")) for v in ("fused", "bf16")]
    k256 = min((x for x in k256 if x is not None), default=None)
    print(f"target 1, K = 256 LSTM ≤ 0.5 ms per model-step: "
          f"{'not measured' if k256 is None else f'{k256:.3f} ms, ' + ('reached' if k256 <= 0.5 else 'not reached')}")
    pix = [ms(ours.get(f"pixel_K1_{v}")) for v in ("step", "fused", "bf16")]
    pix = min((x for x in pix if x is not None), default=None)
    cudnn = ms(peers.get("cudnn_pixel"))
    if pix is None or cudnn is None:
        print("target 2, K = 1 pixel LSTM within 1.5× of cuDNN: not measured "
              f"(ours {fmt(pix)}, cuDNN {fmt(cudnn)})")
    else:
        r = pix / cudnn
        print(f"target 2, K = 1 pixel LSTM within 1.5× of cuDNN: ours {pix:.3f} ms, cuDNN "
              f"{cudnn:.3f} ms, {r:.2f}× ({'reached' if r <= 1.5 else 'not reached'})")
    lstm_cudnn = ms(peers.get("cudnn_lstm"))
    if lstm_cudnn is not None and k256 is not None:
        print(f"K = 256 fused against cuDNN one model at a time (T=1000 I=28): "
              f"{lstm_cudnn / k256:.1f}× faster per model-step")
    print()
    for name in ("fused_tests", "gpu_tests"):
        g = gtest(os.path.join(out, f"{name}.txt"))
        if g is None:
            print(f"{name}: no verdict (see {name}.txt)")
        else:
            failed_names = f": {', '.join(g[3][:6])}" if g[1] else ""
            print(f"{name}: {g[0]} passed, {g[1]} failed, {g[2]} skipped{failed_names}")
    print(f"everything: {out} (and {out.rstrip('/')}.tgz)")


if __name__ == "__main__":
    main()
