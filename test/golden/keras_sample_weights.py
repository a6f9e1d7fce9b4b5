"""Golden numbers for test/keras-sample-weights.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_sample_weights.py > test/golden/keras-sample-weights.json

The model and data of keras_optimizers.py fit for two epochs of batches of
four, unshuffled, with SGD(0.1), under sample_weight, class_weight, and
neither, and with validation (split or given, weighted): each epoch's loss,
accuracy, val_loss and val_accuracy and the final weights; and evaluate()
under sample_weight with the starting weights. Then a key no label has
(ignored), and one sigmoid unit whose targets include 0.5, which
class_weight rounds half to even (np.round: class 0).
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
sample_weight = np.array([1.0, 0.5, 2.0, 0.0, 1.5, 1.0, 0.25, 3.0], dtype="float32")
runs = {
    "none": {},
    "sample_weight": {"sample_weight": sample_weight},
    "class_weight": {"class_weight": {0: 2.0, 2: 0.5}},
    "class_weight_unused_key": {"class_weight": {0: 2.0, 2: 0.5, 7: 3.0}},
    # val_loss weighted by the split's share of sample_weight; class weights stay with training.
    "split_sample_weight": {"sample_weight": sample_weight, "validation_split": 0.25},
    "split_class_weight": {"class_weight": {0: 2.0, 2: 0.5}, "validation_split": 0.25},
    "validation_data_weight": {"validation_data": (x[:3], y[:3], sample_weight[5:])},
}
out = {"keras": keras.__version__, "x": x.tolist(), "y": y.tolist(), "weights": [w.tolist() for w in weights],
       "sample_weight": sample_weight.tolist(), "class_weight": {"0": 2.0, "2": 0.5}, "runs": {}}
for name, kwargs in runs.items():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, **kwargs)
    out["runs"][name] = {"loss": h.history["loss"], "accuracy": h.history["accuracy"],
                         "val_loss": h.history.get("val_loss"), "val_accuracy": h.history.get("val_accuracy"),
                         "weights": [w.tolist() for w in model.get_weights()]}
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
model.set_weights(weights)
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
out["evaluate_sample_weight"] = model.evaluate(x, y, sample_weight=sample_weight, verbose=0, return_dict=True)

y_binary = np.array([0.5, 1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.5], dtype="float32")
binary_weights = [values((5, 1), 6), values((1,), 7) * 0.1]
model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
model.set_weights(binary_weights)
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy")
h = model.fit(x, y_binary, batch_size=4, epochs=2, shuffle=False, verbose=0, class_weight={0: 3.0, 1: 0.5})
out["binary_half"] = {"y": y_binary.tolist(), "weights": [w.tolist() for w in binary_weights],
                      "class_weight": {"0": 3.0, "1": 0.5}, "loss": h.history["loss"],
                      "final_weights": [w.tolist() for w in model.get_weights()]}
print(json.dumps(out, indent=1))
