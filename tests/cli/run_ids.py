"""Run ids as `rnnmft sweep` makes them (src/sweep/sweep_spec.h run_id), for the CLI tests that
write results lines by hand: "r" + 16 hex digits of a 64-bit FNV-1a hash of the params' sorted,
compact JSON, from the offset basis sweep_spec.cpp uses (1469598103934665603; run ids depend on
it)."""
import json


def run_id(params):
    h = 1469598103934665603
    for b in json.dumps(params, sort_keys=True, separators=(",", ":")).encode():
        h = ((h ^ b) * 0x100000001b3) % 2**64
    return "r%016x" % h
