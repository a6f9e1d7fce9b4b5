"""Golden numbers for test/keras-layers.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_layers.py > test/golden/keras-layers.json

- "stacks": Sequential models mixing Dense, BatchNormalization and Activation
  layers (gelu, silu), with fixed weights, take three train_on_batch steps;
  the file records each step's loss, every weight afterwards (moving
  statistics included), predict() (inference mode) and evaluate().
- "dropout": keras.layers.Dropout's training and inference outputs for one
  input (Keras's mask is its own random draw; the kept values' scaling and
  the inference pass-through are what ferro-nn must match).
- "summary": model.summary() of the first stack before compile: trainable and
  non-trainable counts, and how Keras wraps a long layer name.
"""
import json
import os

# summary() fits its table to the console: a wide one gives Keras's full 88 columns.
os.environ["COLUMNS"] = "200"

import keras
import numpy as np


def values(shape, seed):
    n = int(np.prod(shape))
    return ((np.arange(n) * 37 + seed * 11) % 23 / 23.0 - 0.5).reshape(shape).astype("float32")


x = values((8, 4), 1) * 3.0 + 0.5
classes = np.array([0, 1, 2, 1, 0, 2, 2, 1])
binary = (classes % 2).astype("float32").reshape(8, 1)
L = keras.layers
stacks = {
    # Dense(gelu) -> BatchNormalization -> Activation(silu) -> Dense(softmax), Adam.
    "gelu_bn_silu": dict(
        layers=[L.Dense(6, activation="gelu"), L.BatchNormalization(momentum=0.9),
                L.Activation("silu"), L.Dense(3, activation="softmax")],
        spec=[["Dense", 6, "gelu"], ["BatchNormalization", {"momentum": 0.9}], ["Activation", "silu"],
              ["Dense", 3, "softmax"]],
        optimizer=("adam", 0.05), loss="sparse_categorical_crossentropy", y=classes),
    # Input normalised by a BatchNormalization without gamma and beta, Keras's defaults otherwise.
    "bn_first_plain": dict(
        layers=[L.BatchNormalization(center=False, scale=False), L.Dense(5, activation="relu"),
                L.BatchNormalization(), L.Dense(1, activation="sigmoid")],
        spec=[["BatchNormalization", {"center": False, "scale": False}], ["Dense", 5, "relu"],
              ["BatchNormalization", {}], ["Dense", 1, "sigmoid"]],
        optimizer=("sgd", 0.5), loss="binary_crossentropy", y=binary),
}
out = {"keras": keras.__version__, "x": x.tolist(), "stacks": {}}
summary = None
for name, s in stacks.items():
    model = keras.Sequential([keras.Input((4,))] + s["layers"], name="sequential")
    # Fixed Dense kernels and biases; BatchNormalization keeps Keras's
    # initial values (gamma ones, beta zeros, moving mean 0, variance 1).
    k = 0
    chosen = []
    for layer in model.layers:
        for w in layer.get_weights():
            chosen.append(values(w.shape, k + 2) * (1.0 if w.ndim == 2 else 0.1)
                          if isinstance(layer, L.Dense) else w)
            k += 1
    model.set_weights(chosen)
    if summary is None:
        # Before compile: once the optimizer is built Keras adds its slots to the totals.
        lines = []
        model.summary(print_fn=lambda line, **_: lines.append(line))
        summary = "\n".join(lines)
    optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[s["optimizer"][0]](
        learning_rate=s["optimizer"][1])
    model.compile(optimizer=optimizer, loss=s["loss"])
    initial = [w.tolist() for w in model.get_weights()]
    steps = []
    for _ in range(3):
        steps.append(float(model.train_on_batch(x, s["y"])))
    out["stacks"][name] = {
        "spec": s["spec"], "optimizer": s["optimizer"], "loss": s["loss"], "y": s["y"].tolist(),
        "initial": initial, "steps": steps,
        "weights": [w.tolist() for w in model.get_weights()],
        "predict": model.predict(x, verbose=0).tolist(),
        "evaluate": float(model.evaluate(x, s["y"], verbose=0)),
    }
out["summary"] = summary

d = values((6, 10), 9) + 1.0
layer = L.Dropout(0.4, seed=1)
out["dropout"] = {"rate": 0.4, "x": d.tolist(),
                  "training": np.asarray(layer(d, training=True)).tolist(),
                  "inference": np.asarray(layer(d, training=False)).tolist()}
print(json.dumps(out, indent=1))
