"""Golden numbers for test/keras-callbacks.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_callbacks.py > test/golden/keras-callbacks.json

Keras's ReduceLROnPlateau, EarlyStopping and CSVLogger driven by scripted
epoch logs: the learning rate after each epoch and the one it wrote into
the epoch's logs (a negative min_delta counts by its size), when training stops (with
'auto' mode deciding by Keras 3's metric directions), and the CSV file's text.
"""
import json
import os
import tempfile

import keras

series = [1.0, 0.9, 0.95, 0.92, 0.93, 0.91, 0.94, 0.95, 0.5, 0.6, 0.7, 0.8, 0.9]
configs = {
    "defaults_patience_2": dict(patience=2),
    "factor_cooldown_min_lr": dict(patience=1, factor=0.5, cooldown=2, min_lr=0.2, min_delta=0.0),
    "max_mode_accuracy": dict(monitor="val_accuracy", mode="max", patience=1, factor=0.5),
    "negative_min_delta": dict(patience=1, factor=0.5, min_delta=-0.05),
}
out = {"keras": keras.__version__, "series": series, "reduce_lr": {}}
for name, cfg in configs.items():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    callback = keras.callbacks.ReduceLROnPlateau(**cfg)
    callback.set_model(model)
    callback.on_train_begin()
    rates, logged = [], []
    for epoch, value in enumerate(series):
        logs = {"val_loss": value, "val_accuracy": 1.0 - value}
        callback.on_epoch_end(epoch, logs)
        rates.append(float(model.optimizer.learning_rate))
        logged.append(logs["learning_rate"])
    out["reduce_lr"][name] = {"config": cfg, "rates": rates, "logged": logged}

# 'auto' mode from Keras 3's metric directions (MonitorCallback): auc,
# precision and recall rise, mae falls, for ReduceLROnPlateau and EarlyStopping
# alike. The metrics are built by one evaluate, as fit would.
x2 = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]]
y2 = [[0.0], [1.0], [1.0], [0.0]]
out["auto"] = {}
for metric in ["auc", "precision", "recall", "mae"]:
    rising = [1.0 - v for v in series] if metric != "mae" else series
    for kind in ["reduce_lr", "early_stopping"]:
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="binary_crossentropy", metrics=[metric])
        model.evaluate(keras.ops.convert_to_tensor(x2), keras.ops.convert_to_tensor(y2), verbose=0)
        if kind == "reduce_lr":
            callback = keras.callbacks.ReduceLROnPlateau(monitor=f"val_{metric}", patience=1, factor=0.5)
        else:
            callback = keras.callbacks.EarlyStopping(monitor=f"val_{metric}", patience=2)
        callback.set_model(model)
        callback.on_train_begin()
        trace = []
        for epoch, value in enumerate(rising):
            callback.on_epoch_end(epoch, {f"val_{metric}": value, "val_loss": 1.0})
            trace.append(float(model.optimizer.learning_rate) if kind == "reduce_lr" else bool(model.stop_training))
            if kind == "early_stopping" and model.stop_training:
                break
        out["auto"][f"{kind}/{metric}"] = {"values": rising, "trace": trace}

path = os.path.join(tempfile.mkdtemp(), "log.csv")
logger = keras.callbacks.CSVLogger(path, separator=";")
logger.set_model(model)
logger.on_train_begin()
for epoch, value in enumerate([0.5, 0.25, 0.125]):
    logger.on_epoch_end(epoch, {"loss": value, "accuracy": 1.0 - value, "val_loss": value * 2})
logger.on_train_end()
with open(path, newline="") as f:
    out["csv"] = f.read()
print(json.dumps(out, indent=1))
