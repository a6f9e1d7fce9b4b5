"""Golden numbers for test/keras-golden.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_dense_rmsprop.py > test/golden/keras-dense-rmsprop.json

A Dense(7, relu) -> Dense(3, softmax) model with fixed weights takes three
train_on_batch steps per optimizer configuration; the file records the
predictions before training, each step's loss and accuracy (metrics are
reset before every step, so each value is that batch's own, as ferro-nn and
TensorFlow.js report them) and the weights after the last step.
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

configs = {
    "plain": dict(learning_rate=0.01),
    "momentum_centered": dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True, epsilon=1e-6),
}
out = {"keras": keras.__version__, "backend": keras.backend.backend(), "x": x.tolist(), "y": y.tolist(),
       "weights": [w.tolist() for w in weights], "runs": {}}
for name, cfg in configs.items():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.RMSprop(**cfg), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    run = {"optimizer": cfg, "predict": model.predict(x, verbose=0).tolist(), "steps": []}
    for _ in range(3):
        model.reset_metrics()
        loss, acc = model.train_on_batch(x, y)
        run["steps"].append({"loss": float(loss), "accuracy": float(acc)})
    run["weights"] = [w.tolist() for w in model.get_weights()]
    out["runs"][name] = run
print(json.dumps(out, indent=1))
