"""Golden numbers for test/keras-regularizers.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_regularizers.py > test/golden/keras-regularizers.json

The model and data of keras_sample_weights.py with kernel and bias
regularizers, fit for two epochs of batches of four, unshuffled, with
SGD(0.1) and a validation set: each epoch's loss and val_loss (both carry
the penalty), evaluate()'s loss after fitting, and the final weights.
"""
import json

import keras
import numpy as np


def values(shape, seed):
    n = int(np.prod(shape))
    return ((np.arange(n) * 37 + seed * 11) % 23 / 23.0 - 0.5).reshape(shape).astype("float32")


x = values((8, 5), 1) * 2.0
y = np.array([0, 1, 2, 1, 0, 2, 2, 1], dtype="int32")
weights = [values((5, 7), 2), values((7,), 3) * 0.1, values((7, 3), 4), values((3,), 5) * 0.1]
runs = {
    "l2_kernel": [{"kernel_regularizer": keras.regularizers.L2(0.01)}, {}],
    "l1_kernel": [{"kernel_regularizer": keras.regularizers.L1(0.02)}, {}],
    "l1l2_both": [{"kernel_regularizer": keras.regularizers.L1L2(l1=0.01, l2=0.03),
                   "bias_regularizer": keras.regularizers.L2(0.05)},
                  {"kernel_regularizer": keras.regularizers.L1(0.01),
                   "bias_regularizer": keras.regularizers.L1L2(l1=0.02, l2=0.01)}],
}
specs = {
    "l2_kernel": [{"kernel": {"l2": 0.01}}, {}],
    "l1_kernel": [{"kernel": {"l1": 0.02}}, {}],
    "l1l2_both": [{"kernel": {"l1": 0.01, "l2": 0.03}, "bias": {"l2": 0.05}},
                  {"kernel": {"l1": 0.01}, "bias": {"l1": 0.02, "l2": 0.01}}],
}
out = {"keras": keras.__version__, "x": x.tolist(), "y": y.tolist(), "weights": [w.tolist() for w in weights],
       "runs": {}}
for name, (first, second) in runs.items():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu", **first),
                              keras.layers.Dense(3, activation="softmax", **second)])
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(x[:3], y[:3]))
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    out["runs"][name] = {"spec": specs[name], "loss": h.history["loss"], "val_loss": h.history["val_loss"],
                         "accuracy": h.history["accuracy"], "evaluate_loss": evaluated["loss"],
                         "weights": [w.tolist() for w in model.get_weights()]}
print(json.dumps(out, indent=1))
