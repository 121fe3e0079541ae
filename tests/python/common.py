"""Shared by the Python tests: where the built package, the CLI and the data are.

The tests run with Debian's /usr/bin/python3 and PYTHONPATH=<build>/python (set by CTest);
RNNMFT_BIN names the CLI binary, RNNMFT_DATA_DIR the data directory.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("RNNMFT_BIN", os.path.join(ROOT, "build", "rnnmft"))
DATA = os.environ.get("RNNMFT_DATA_DIR", os.path.join(ROOT, ".data"))
if not any(os.path.isfile(os.path.join(p, "rnnmft", "__init__.py")) for p in sys.path if p):
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))


def cli(*args):
    """Runs the CLI; returns stdout (raises with stderr when it fails)."""
    r = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"rnnmft {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r.stdout


def cli_json(*args):
    return json.loads(cli(*args, "--json"))
