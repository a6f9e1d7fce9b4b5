#!/usr/bin/env bash
# The Python peers of `npm run bench -- peers`: Keras 3 on JAX, TensorFlow
# and PyTorch, and plain PyTorch, from PyPI into bench/peers/.venv (inside
# the clone, ignored by git). Run once; the bench uses it when it exists.
# About 3 GB: PyPI's Linux torch wheel bundles CUDA libraries.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check \
  "keras==3.15.1" "jax[cpu]" tensorflow-cpu torch numpy
.venv/bin/python - <<'PY'
import importlib
for name in ["keras", "jax", "tensorflow", "torch", "numpy"]:
    print(name, importlib.import_module(name).__version__)
PY
