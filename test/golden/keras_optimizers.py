"""Golden numbers for test/keras-optimizers.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_optimizers.py > test/golden/keras-optimizers.json

The model and data of keras_dense_rmsprop.py (Dense(7, relu) -> Dense(3,
softmax), fixed weights, eight samples) take five train_on_batch steps with
each optimizer configuration below; the file records each step's loss and
the weights after the last step. The configurations cover every optimizer
ferro-nn offers, their options, and the options every optimizer shares:
weight_decay, clipnorm, clipvalue and global_clipnorm.
"""
import json

import keras
import numpy as np


def values(shape, seed):
    # Deterministic, no RNG: the TypeScript test rebuilds the same arrays.
    n = int(np.prod(shape))
    return ((np.arange(n) * 37 + seed * 11) % 23 / 23.0 - 0.5).reshape(shape).astype("float32")


x = values((8, 5), 1) * 2.0
y = np.array([0, 1, 2, 1, 0, 2, 2, 1], dtype="int32")
weights = [values((5, 7), 2), values((7,), 3) * 0.1, values((7, 3), 4), values((3,), 5) * 0.1]

O = keras.optimizers
configs = {
    "sgd": ("SGD", dict(learning_rate=0.1)),
    "sgd_momentum": ("SGD", dict(learning_rate=0.05, momentum=0.9)),
    "sgd_nesterov": ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    "sgd_clipvalue": ("SGD", dict(learning_rate=0.1, clipvalue=0.05)),
    "sgd_weight_decay": ("SGD", dict(learning_rate=0.1, weight_decay=0.1)),
    "rmsprop_clipnorm": ("RMSprop", dict(learning_rate=0.01, clipnorm=0.1)),
    "adam": ("Adam", dict(learning_rate=0.01)),
    "adam_amsgrad": ("Adam", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.95, epsilon=1e-6, amsgrad=True)),
    "adam_global_clipnorm": ("Adam", dict(learning_rate=0.01, global_clipnorm=0.2)),
    "adamw": ("AdamW", dict(learning_rate=0.01, weight_decay=0.05)),
    "adamw_default_decay": ("AdamW", dict(learning_rate=0.02)),
    "adagrad": ("Adagrad", dict(learning_rate=0.05)),
    "adagrad_options": ("Adagrad", dict(learning_rate=0.05, initial_accumulator_value=0.5, epsilon=1e-4)),
    "nadam": ("Nadam", dict(learning_rate=0.01)),
    "nadam_options": ("Nadam", dict(learning_rate=0.02, beta_1=0.7, beta_2=0.9, epsilon=1e-5, clipnorm=0.3)),
}
out = {"keras": keras.__version__, "backend": keras.backend.backend(), "x": x.tolist(), "y": y.tolist(),
       "weights": [w.tolist() for w in weights], "runs": {}}
for name, (cls, cfg) in configs.items():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.set_weights(weights)
    optimizer = getattr(O, cls)(**cfg)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    losses = [float(model.train_on_batch(x, y)) for _ in range(5)]
    out["runs"][name] = {"optimizer": cls, "config": cfg, "losses": losses,
                         "iterations": int(optimizer.iterations.numpy()),
                         "weights": [w.tolist() for w in model.get_weights()]}
print(json.dumps(out, indent=1))
