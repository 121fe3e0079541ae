"""Reading safetensors files (``rnnmft export``, ``rnnmft grads``, checkpoints) without the
safetensors package, and loading an export into ``torch.nn`` modules (docs/python.md).

    w = rnnmft.load_weights("w.safetensors")           # name -> NumPy array; w.metadata
    rnn, head = torch.nn.LSTM(28, 128), torch.nn.Linear(128, 10)
    rnnmft.load_weights("w.safetensors", into=(rnn, head))

The format: 8 bytes, the header's length n (unsigned, little-endian); n bytes of JSON mapping
each tensor's name to its ``dtype``, ``shape`` and ``data_offsets`` (begin, end) into the bytes
that follow, and an optional ``__metadata__`` of strings; then the tensors' raw little-endian
bytes.
"""
import json
import os
import struct

import numpy as np

__all__ = ["load_weights", "Weights"]

# safetensors' dtype names -> little-endian NumPy dtypes.
_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",
}
# The header is JSON text; safetensors itself refuses headers above 100 MB, as rnnmft does.
MAX_HEADER_BYTES = 100 << 20


class Weights(dict):
    """The tensors of a safetensors file, name -> NumPy array, with ``metadata`` (a dict of
    strings: for an ``rnnmft export``, ``cell``, ``gru_variant``, ``hidden``, ``input_dim``,
    ``classes``) and ``path``."""

    def __init__(self, tensors, metadata, path):
        super().__init__(tensors)
        self.metadata = metadata
        self.path = path

    def __repr__(self):
        shapes = ", ".join(f"{k} {tuple(v.shape)} {v.dtype}" for k, v in self.items())
        meta = ", ".join(f"{k}={v}" for k, v in self.metadata.items())
        return f"Weights({self.path}: {shapes}{'; ' + meta if meta else ''})"


def _bad(path, msg):
    return ValueError(f"{path}: {msg}")


def _read(path):
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    if size < 8:
        raise _bad(path, f"not a safetensors file (only {size} bytes; the header length alone "
                         "takes 8)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > size - 8 and raw[:1] in (b"{", b"["):
        raise _bad(path, "not a safetensors file: it is JSON text (an init spec? load_weights "
                         "reads the files `rnnmft export` writes)")
    if n > MAX_HEADER_BYTES:
        raise _bad(path, f"not a safetensors file: its header length {n} is above the "
                         f"{MAX_HEADER_BYTES}-byte limit")
    if n > size - 8:
        raise _bad(path, f"truncated: the header announces {n} bytes, the file holds "
                         f"{size - 8} after the length")
    if raw[8:9] != b"{":
        raise _bad(path, "not a safetensors file: the header does not start with '{'")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, f"header is not valid JSON ({e})") from None
    except RecursionError:  # json's decoder recurses once per level of nesting
        raise _bad(path, "header is nested too deeply to be a safetensors header") from None
    if not isinstance(header, dict):
        raise _bad(path, "header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise _bad(path, "__metadata__ is not a JSON object")
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, h in header.items():
        try:
            dtype, shape, (b, e) = h["dtype"], list(h["shape"]), h["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise _bad(path, f"tensor '{name}' has a malformed header entry (needs dtype, shape "
                             "and data_offsets [begin, end])") from None
        # JSON integers only: int() would take 1.5, true or "1" as a dimension.
        if not all(type(s) is int for s in shape):
            raise _bad(path, f"tensor '{name}' has shape {json.dumps(shape)[:100]}: not a list "
                             "of integers")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise _bad(path, f"tensor '{name}' has dtype {str(dtype)[:60]}; readable: "
                             f"{', '.join(_DTYPES)}")
        if not (isinstance(b, int) and isinstance(e, int) and 0 <= b <= e):
            raise _bad(path, f"tensor '{name}' has data_offsets [{b}, {e}]")
        if e > len(data):
            raise _bad(path, f"truncated: tensor '{name}' ends at byte {e} of the data, the file "
                             f"holds {len(data)}")
        dt = np.dtype(_DTYPES[dtype])
        count = 1
        for s in shape:  # Python ints: np.prod in int64 overflows (2^64) or wraps to 0
            count *= s
        if any(s < 0 for s in shape) or count * dt.itemsize != e - b:
            raise _bad(path, f"tensor '{name}' holds {e - b} bytes, its shape {shape} and dtype "
                             f"{dtype} need {count * dt.itemsize}")
        a = np.frombuffer(data[b:e], dtype=dt).reshape(shape)
        out[name] = a.astype(dt.newbyteorder("="), copy=True)
    return Weights(out, {str(k): str(v) for k, v in meta.items()}, path)


def load_weights(path, into=None, *, strict=True):
    """Reads a safetensors file: returns a :class:`Weights` (a dict name -> NumPy array, with
    ``.metadata``). No torch needed.

    ``into=(rnn, linear)`` also copies an ``rnnmft export`` into a one-layer ``torch.nn.LSTM``,
    ``nn.GRU`` or ``nn.RNN`` (its ``rnn.*`` tensors: ``weight_ih_l0``, ``weight_hh_l0``,
    ``bias_ih_l0``, ``bias_hh_l0``) and a ``torch.nn.Linear`` (``head.weight``, ``head.bias``),
    in place, with ``load_state_dict(strict=strict)``; the module's ``batch_first`` is the
    caller's. The classifier is then ``linear(rnn(x)[0][-1])`` (sequence-first input), the
    network ``rnnmft eval`` computes. A GRU exported as the reset-before variant is refused:
    ``nn.GRU`` computes the reset-after one (``rnnmft train --gru-variant``)."""
    w = _read(path)
    if into is None:
        return w
    try:
        rnn, head = into
    except (TypeError, ValueError):
        raise ValueError("into= takes a pair (rnn, linear): a torch.nn.LSTM/GRU/RNN and a "
                         "torch.nn.Linear") from None
    import torch

    kinds = {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "vanilla"}
    kind = kinds.get(type(rnn))
    if kind is None:
        raise ValueError(f"into=: the first module must be torch.nn.LSTM, nn.GRU or nn.RNN, "
                         f"not {type(rnn).__name__}")
    if not isinstance(head, torch.nn.Linear):
        raise ValueError(f"into=: the second module must be torch.nn.Linear, not "
                         f"{type(head).__name__}")
    cell = w.metadata.get("cell")
    if cell is not None and cell != kind:
        raise ValueError(f"{w.path}: weights of a {cell} cell, loaded into {type(rnn).__name__} "
                         f"({kind})")
    if kind == "gru" and w.metadata.get("gru_variant") == "reset-before":
        raise ValueError(f"{w.path}: a reset-before GRU (the paper's); torch.nn.GRU computes the "
                         "reset-after variant, so it would compute another function (train with "
                         "--gru-variant reset-after)")
    if kind == "vanilla" and getattr(rnn, "nonlinearity", "tanh") != "tanh":
        raise ValueError("into=: rnnmft's vanilla cell is tanh; this nn.RNN uses "
                         f"{rnn.nonlinearity}")
    rnn_sd = {k[len("rnn."):]: torch.from_numpy(v) for k, v in w.items() if k.startswith("rnn.")}
    head_sd = {k[len("head."):]: torch.from_numpy(v) for k, v in w.items()
               if k.startswith("head.")}
    if not rnn_sd or not head_sd:
        raise ValueError(f"{w.path}: not an rnnmft weights export (needs rnn.* and head.* "
                         f"tensors; it holds {', '.join(w) or 'none'})")
    for mod, sd, what in ((rnn, rnn_sd, "rnn"), (head, head_sd, "head")):
        own = mod.state_dict()
        for k, v in sd.items():
            if k in own and tuple(own[k].shape) != tuple(v.shape):
                raise ValueError(f"{w.path}: {what}.{k} has shape {tuple(v.shape)}, the "
                                 f"{type(mod).__name__} expects {tuple(own[k].shape)} "
                                 f"(build it as {_module_hint(w, kind)})")
        try:
            mod.load_state_dict({k: v.to(own[k].dtype) if k in own else v for k, v in sd.items()},
                                strict=strict)
        except RuntimeError as e:
            raise ValueError(f"{w.path}: cannot load into the {type(mod).__name__}: {e}") from None
    return w


def _module_hint(w, kind):
    m = w.metadata
    if all(k in m for k in ("hidden", "input_dim", "classes")):
        cls = {"lstm": "LSTM", "gru": "GRU", "vanilla": "RNN"}[kind]
        return (f"torch.nn.{cls}({m['input_dim']}, {m['hidden']}) and "
                f"torch.nn.Linear({m['hidden']}, {m['classes']})")
    return "the export's shapes"
