#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus/<target>/: small valid files written by the CLI
# (tiny training runs, exports, critical specs) or by the formats' own rules, and near-valid
# variants of them; regress-* are the reproducers of reader bugs fixed (docs/reliability.md).
# Usage: fuzz/make_corpus.sh [path/to/rnnmft]   (needs MNIST: ./scripts/fetch_data.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/build/rnnmft}"
export RNNMFT_DATA_DIR="${RNNMFT_DATA_DIR:-$ROOT/.data}"
C="$ROOT/fuzz/corpus"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for t in idx cifar safetensors init_spec run_config checkpoint; do
  mkdir -p "$C/$t"
  find "$C/$t" -type f -delete
done

# Tiny runs: their config.json, checkpoint and exported weights.
run() {  # run NAME ARGS...
  local name="$1"; shift
  "$BIN" train --task mnist-row --steps 1 --batch 4 --eval-limit 8 --test-limit 8 \
    --out "$tmp/$name" "$@" >/dev/null 2>&1
  "$BIN" export "$tmp/$name" -o "$C/safetensors/$name.safetensors" >/dev/null
  cp "$tmp/$name/config.json" "$C/run_config/$name.json"
}
run lstm-h4 --cell lstm --hidden 4
run gru-h4 --cell gru --hidden 4 --optimizer sgd --schedule cosine --clip 1
run gru-before-h3 --cell gru --gru-variant reset-before --hidden 3 --optimizer rmsprop
run minimal-h3 --cell minimal --hidden 3 --permute 7 --standardize
run vanilla-h2 --cell vanilla --hidden 2 --init orthogonal:1.5 --val-size 100 --split-seed 3
# The checkpoint target's fixed config.json is this run's (8 LSTM units, Adam).
"$BIN" train --task mnist-row --hidden 8 --steps 2 --out "$tmp/ck" >/dev/null 2>&1
cp "$tmp/ck/checkpoint.safetensors" "$C/checkpoint/lstm-h8-adam.safetensors"

for c in lstm gru minimal vanilla; do
  "$BIN" critical --cell "$c" --seq-len 50 -o "$C/init_spec/critical-$c.json" >/dev/null
done

python3 - "$C" "$tmp" <<'EOF'
import gzip, json, struct, sys
C, tmp = sys.argv[1], sys.argv[2]

def put(target, name, data):
    with open(f"{C}/{target}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# IDX: magic 00 00 08 ndims, big-endian uint32 dims, the bytes.
def idx(dims, data, dtype=8):
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)
img = idx([2, 3, 3], range(0, 180, 10))
put("idx", "images-2x3x3.idx", img)
put("idx", "labels-5.idx", idx([5], [0, 1, 9, 3, 4]))
put("idx", "cube-1x2x2x2.idx", idx([1, 2, 2, 2], range(8)))
put("idx", "images-2x3x3.idx.gz", gzip.compress(img, mtime=0))
put("idx", "gzip-no-trailer.idx.gz", gzip.compress(img, mtime=0)[:-8])
put("idx", "truncated.idx", img[:-5])
put("idx", "trailing.idx", img + b"\x00\x01")
put("idx", "float-type.idx", idx([2], [0] * 8, dtype=0x0D))
put("idx", "huge-dims.idx", idx([0xFFFFFFFF, 0xFFFFFFFF], []))

# CIFAR-10 binary: records of 1 label byte and 3072 pixel bytes.
rec = lambda label, k: bytes([label]) + bytes((i * k) % 256 for i in range(3072))
put("cifar", "one-record.bin", rec(3, 1))
put("cifar", "two-records.bin", rec(0, 7) + rec(9, 13))
put("cifar", "label-10.bin", rec(10, 1))
put("cifar", "truncated.bin", rec(1, 1)[:3000])

# safetensors: u64 header length, JSON header, data.
def st(tensors, meta=None, pad=True):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    while pad and len(h) % 8:
        h += b" "
    return struct.pack("<Q", len(h)) + h + data
f32 = lambda n, v=0.1: struct.pack(f"<{n}f", *([v] * n))
f64 = lambda n, v=0.1: struct.pack(f"<{n}d", *([v] * n))
# As torch.save_file writes a vanilla RNN (1 input, 2 units, 2 classes): no metadata, F64.
torch_rnn = {"rnn.weight_ih_l0": ("F64", [2, 1], f64(2)), "rnn.weight_hh_l0": ("F64", [2, 2], f64(4)),
             "rnn.bias_ih_l0": ("F64", [2], f64(2)), "rnn.bias_hh_l0": ("F64", [2], f64(2)),
             "head.weight": ("F64", [2, 2], f64(4)), "head.bias": ("F64", [2], f64(2))}
put("safetensors", "torch-rnn-f64.safetensors", st(torch_rnn))
bad = dict(torch_rnn); bad["head.bias"] = ("F32", [2], struct.pack("<2f", float("nan"), 0))
put("safetensors", "nan-bias.safetensors", st(bad))
bad = dict(torch_rnn); bad["rnn.weight_hh_l0"] = ("F64", [2, 3], f64(6))
put("safetensors", "wrong-shape.safetensors", st(bad))
put("safetensors", "meta-not-string.safetensors", st(torch_rnn, meta={"cell": 4}))
put("safetensors", "offsets-outside.safetensors", st(torch_rnn)[:-9])
put("safetensors", "empty-header.safetensors", st({}))
# 2^32 × 2^32 elements wrapped to 0 in 64 bits: read as an empty tensor.
put("safetensors", "regress-shape-wraps.safetensors",
    st({"a": ("F32", [2**32, 2**32], b"")}))

# Checkpoints: the real one's header, with its params in another dtype, shape or size.
ck = open(f"{C}/checkpoint/lstm-h8-adam.safetensors", "rb").read()
n = struct.unpack("<Q", ck[:8])[0]
head, body = json.loads(ck[8:8 + n]), ck[8 + n:]
b0, b1 = head["params"]["data_offsets"]
params = body[b0:b1]
put("checkpoint", "params-only.safetensors", st({"params": ("F32", [len(params) // 4], params)},
                                                 meta=head["__metadata__"]))
as64 = b"".join(struct.pack("<d", x) for x in struct.unpack(f"<{len(params) // 4}f", params))
put("checkpoint", "params-f64.safetensors", st({"params": ("F64", [len(params) // 4], as64)}))
put("checkpoint", "params-short.safetensors", st({"params": ("F32", [len(params) // 4 - 1], params[:-4])}))
put("checkpoint", "truncated.safetensors", ck[: len(ck) // 2])

# Init specs: a plain one per shape of file, and near-valid ones.
g = lambda **k: dict({"recurrent_std": 1.0, "input_std": 1.0, "bias_mean": 0.0, "bias_std": 0.0}, **k)
lstm = {"cell": "lstm", "gates": {"input": g(), "forget": g(bias_mean=3.0), "cell": g(recurrent_dist="orthogonal"),
                                   "output": g()}}
put("init_spec", "lstm-plain.json", json.dumps(lstm, indent=1))
put("init_spec", "lstm-designed.json", json.dumps(dict(lstm, designed_for={
    "cell": "lstm", "seq_len": 784, "input_var": 0.1, "width": 64, "task": "mnist-pixel", "criterion": "tied"})))
put("init_spec", "lstm-timescales.json", json.dumps({"cell": "lstm", "gates": dict(lstm["gates"], forget=g()),
                                                     "timescales": {"dist": "log-uniform", "min": 2, "max": 300}}, indent=1))
put("init_spec", "gru-variant.json", json.dumps({"cell": "gru", "gates": {"update": g(), "reset": g(), "candidate": g()},
                                                 "designed_for": {"gru_variant": "reset-before"}}))
put("init_spec", "minimal-embed.json", json.dumps({"cell": "minimal", "gates": {"update": g(), "embed": g(recurrent_std=0)}}))
put("init_spec", "negative-std.json", json.dumps({"cell": "vanilla", "gates": {"hidden": g(input_std=-1.0)}}))
put("init_spec", "beyond-double.json", '{"cell": "vanilla", "gates": {"hidden": {"bias_mean": 1e400}}}')
# designed_for.seq_len = -(2^32 - 1) was narrowed to 1 and accepted.
put("init_spec", "regress-designed-negative.json", json.dumps(dict(lstm, designed_for={"seq_len": -4294967295})))
put("init_spec", "unknown-key.json", '{"cell": "lstm", "gate": {}}')

# Run configs: near-valid variants of a real one.
cfg = json.load(open(f"{C}/run_config/lstm-h4.json"))
def variant(name, **changes):
    c = json.loads(json.dumps(cfg))
    for k, v in changes.items():
        if k.startswith("task_"):
            c["task"][k[5:]] = v
        elif v is None:
            c.pop(k)
        else:
            c[k] = v
    put("run_config", name, json.dumps(c, indent=2))
variant("padded-front.json", task_name="fashion-padded", task_seq_len=100, task_pad_front=True, task_unit="row")
variant("repeat.json", task_name="mnist-repeat", task_repeat=2, device="cpu-ensemble")
variant("cuda-tf32.json", device="cuda", precision="tf32", test_limit=None)
variant("hidden-beyond-int.json", hidden=4294967312)
variant("seed-negative.json", seed=-1)
variant("steps-float.json", steps=2.5)
variant("missing-task.json", task=None)
variant("unknown-optimizer.json", optimizer="lion")
# A number beyond int64 in an integer field was converted to an integer (undefined behaviour).
variant("regress-steps-1e300.json", steps=1e300)
variant("regress-seq-len-1e30.json", task_seq_len=1e30)
EOF
du -sh "$C"
