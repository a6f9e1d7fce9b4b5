#!/usr/bin/env bash
# When one machine is not enough: train in ferro-nn, continue in Keras 3 on
# JAX with data parallelism across devices, serve the result in ferro-nn.
# Two CPU devices stand in for a machine's accelerators here
# (XLA_FLAGS=--xla_force_host_platform_device_count=2); on real hardware,
# drop the flag and Keras spreads each batch over the GPUs or TPUs it finds.
#
#   bash examples/scale-out/run.sh
#
# Sets up its own Python environment (keras, jax, h5py, numpy from PyPI) in
# examples/scale-out/.venv, or uses SCALE_OUT_VENV when set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
venv="${SCALE_OUT_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet keras==3.15.1 "jax[cpu]" h5py numpy
fi
mkdir -p work

# 1. ferro-nn trains a first model and saves it as Keras 3's .keras archive.
npx tsx train.ts
# 2. Keras 3 on JAX loads it and trains on, each batch split over two devices.
XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax PYTHONWARNINGS=ignore \
  "$venv/bin/python" continue_training.py
# 3. ferro-nn loads the result and serves it.
npx tsx serve.ts
