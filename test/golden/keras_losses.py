"""Golden numbers for test/keras-losses.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_losses.py > test/golden/keras-losses.json

For each loss (by the name compile takes) a Dense(7) -> Dense(units, output
activation) model with fixed weights takes three train_on_batch steps with
SGD(0.1) and metrics=['accuracy'] (which Keras resolves per loss); the file
records each step's loss and accuracy and the final weights.
"""
import json

import keras
import numpy as np


def values(shape, seed):
    n = int(np.prod(shape))
    return ((np.arange(n) * 37 + seed * 11) % 23 / 23.0 - 0.5).reshape(shape).astype("float32")


x = values((8, 5), 1) * 2.0
classes = np.array([0, 1, 2, 1, 0, 2, 2, 1])
targets = {
    "onehot3": np.eye(3, dtype="float32")[classes],
    "binary1": (classes % 2).astype("float32").reshape(8, 1),
    "multilabel3": (values((8, 3), 6) > 0).astype("float32"),
    "real2": values((8, 2), 7) * 3.0,
    "real1": values((8, 1), 8) * 3.0,
    "classes": classes.reshape(8, 1).astype("float32"),
}
configs = {
    "categorical_crossentropy": ("relu", "softmax", "onehot3"),
    "binary_crossentropy": ("relu", "sigmoid", "binary1"),
    "binary_crossentropy_multilabel": ("relu", "sigmoid", "multilabel3"),
    "mse": ("tanh", "linear", "real2"),
    "mean_absolute_error": ("tanh", "linear", "real2"),
    "huber": ("relu", "linear", "real1"),
    "mse_sigmoid": ("tanh", "sigmoid", "multilabel3"),
    # Loss objects with from_logits / label_smoothing: name -> (class, options).
    "sparse_categorical_crossentropy_logits": ("relu", "linear", "classes"),
    "categorical_crossentropy_logits_smoothing": ("relu", "linear", "onehot3"),
    "binary_crossentropy_logits": ("relu", "linear", "binary1"),
    "categorical_crossentropy_smoothing": ("relu", "softmax", "onehot3"),
    "binary_crossentropy_smoothing": ("relu", "sigmoid", "multilabel3"),
}
options = {
    "sparse_categorical_crossentropy_logits": dict(from_logits=True),
    "categorical_crossentropy_logits_smoothing": dict(from_logits=True, label_smoothing=0.1),
    "binary_crossentropy_logits": dict(from_logits=True),
    "categorical_crossentropy_smoothing": dict(label_smoothing=0.2),
    "binary_crossentropy_smoothing": dict(label_smoothing=0.1),
}
classes_of = {"sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
              "categorical_crossentropy": "CategoricalCrossentropy", "binary_crossentropy": "BinaryCrossentropy"}
out = {"keras": keras.__version__, "x": x.tolist(), "targets": {k: v.tolist() for k, v in targets.items()}, "runs": {}}
for name, (hidden, output, target) in configs.items():
    y = targets[target]
    units = y.shape[1]
    loss = name.replace("_multilabel", "").replace("_sigmoid", "").replace("_logits", "").replace("_smoothing", "")
    opts = options.get(name, {})
    if target == "classes":
        y, units = classes, 3
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation=hidden),
                              keras.layers.Dense(units, activation=output)])
    model.set_weights([values((5, 7), 2), values((7,), 3) * 0.1, values((7, units), 4), values((units,), 5) * 0.1])
    loss_obj = getattr(keras.losses, classes_of[loss])(**opts) if opts else loss
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=loss_obj, metrics=["accuracy"])
    steps = []
    for _ in range(3):
        model.reset_metrics()
        l, a = model.train_on_batch(x, y)
        steps.append({"loss": float(l), "accuracy": float(a)})
    out["runs"][name] = {"loss": loss, "options": opts, "hidden": hidden, "output": output, "target": target,
                         "steps": steps,
                         "weights": [w.tolist() for w in model.get_weights()]}
print(json.dumps(out, indent=1))
