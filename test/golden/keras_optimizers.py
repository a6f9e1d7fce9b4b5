"""Golden numbers for test/keras-optimizers.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_optimizers.py > test/golden/keras-optimizers.json

The model and data of keras_dense_rmsprop.py (Dense(7, relu) -> Dense(3,
softmax), fixed weights, eight samples) take five train_on_batch steps with
each optimizer configuration below; the file records each step's loss and
the weights after the last step. The configurations cover every optimizer
ferro-nn offers, their options, the options every optimizer shares
(weight_decay, clipnorm, clipvalue, global_clipnorm) and every learning-rate
schedule (recorded under "schedule": its class name and arguments).
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
schedules = {
    "sgd_exponential_decay": ("SGD", dict(), ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2,
                                                                       decay_rate=0.5))),
    "sgd_exponential_staircase": ("SGD", dict(momentum=0.5), ("ExponentialDecay", dict(
        initial_learning_rate=0.1, decay_steps=2, decay_rate=0.3, staircase=True))),
    "adam_piecewise": ("Adam", dict(), ("PiecewiseConstantDecay", dict(boundaries=[1, 3], values=[0.02, 0.01, 0.005]))),
    "rmsprop_cosine_warmup": ("RMSprop", dict(), ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=4, alpha=0.1,
                                                                      warmup_target=0.02, warmup_steps=2))),
    "adagrad_inverse_time": ("Adagrad", dict(), ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=1,
                                                                          decay_rate=0.5, staircase=True))),
    "adamw_cosine": ("AdamW", dict(weight_decay=0.1), ("CosineDecay", dict(initial_learning_rate=0.02, decay_steps=3))),
}
out = {"keras": keras.__version__, "backend": keras.backend.backend(), "x": x.tolist(), "y": y.tolist(),
       "weights": [w.tolist() for w in weights], "runs": {}}
runs = {name: (cls, cfg, None) for name, (cls, cfg) in configs.items()}
runs.update(schedules)
for name, (cls, cfg, schedule) in runs.items():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.set_weights(weights)
    lr = {} if schedule is None else {"learning_rate": getattr(O.schedules, schedule[0])(**schedule[1])}
    optimizer = getattr(O, cls)(**cfg, **lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    losses = [float(model.train_on_batch(x, y)) for _ in range(5)]
    out["runs"][name] = {"optimizer": cls, "config": cfg, "losses": losses,
                         "schedule": None if schedule is None else {"name": schedule[0], "config": schedule[1]},
                         "iterations": int(optimizer.iterations.numpy()),
                         "weights": [w.tolist() for w in model.get_weights()]}
print(json.dumps(out, indent=1))
