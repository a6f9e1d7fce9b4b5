"""Golden numbers for test/keras-metrics.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_metrics.py > test/golden/keras-metrics.json

A regression model (the real2 targets of keras_losses.py, mse loss) fits two
unshuffled epochs of batches of four with SGD(0.1) and validation data,
compiled with metrics=["mae", "mean_squared_error", "root_mean_squared_error"]:
the whole History, every key as Keras names it. Then ("binary") a sigmoid
classifier on 16 rows does the same with metrics=["auc", "precision",
"recall", "acc"]: epoch values accumulate over batches (AUC's threshold
counts too).
"""
import json

import keras
import numpy as np


def values(shape, seed):
    n = int(np.prod(shape))
    return ((np.arange(n) * 37 + seed * 11) % 23 / 23.0 - 0.5).reshape(shape).astype("float32")


x = values((8, 5), 1) * 2.0
y = values((8, 2), 7) * 3.0
x_val, y_val = values((4, 5), 9), values((4, 2), 10) * 3.0
metrics = ["mae", "mean_squared_error", "root_mean_squared_error"]
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="tanh"), keras.layers.Dense(2)])
model.set_weights([values((5, 7), 2), values((7,), 3) * 0.1, values((7, 2), 4), values((2,), 5) * 0.1])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=metrics)
h = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(x_val, y_val))
out = {"keras": keras.__version__, "metrics": metrics, "x": x.tolist(), "y": y.tolist(),
       "x_val": x_val.tolist(), "y_val": y_val.tolist(), "history": h.history,
       "evaluate": model.evaluate(x_val, y_val, verbose=0, return_dict=True)}

bx = values((16, 5), 11) * 2.0
by = (values((16, 1), 12) > -0.1).astype("float32")
bx_val, by_val = values((6, 5), 13) * 2.0, (values((6, 1), 14) > 0).astype("float32")
binary_metrics = ["auc", "precision", "recall", "acc"]
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.set_weights([values((5, 7), 2), values((7,), 3) * 0.1, values((7, 1), 4), values((1,), 5) * 0.1])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss="binary_crossentropy", metrics=binary_metrics)
h = model.fit(bx, by, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(bx_val, by_val))
out["binary"] = {"metrics": binary_metrics, "x": bx.tolist(), "y": by.tolist(), "x_val": bx_val.tolist(),
                 "y_val": by_val.tolist(), "history": h.history,
                 "evaluate": model.evaluate(bx_val, by_val, verbose=0, return_dict=True)}
print(json.dumps(out, indent=1))
