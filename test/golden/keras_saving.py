"""Fixtures for test/saving.test.ts, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_saving.py

A Sequential model with every layer kind ferro-nn has (Dense with an L2
kernel penalty and gelu, Dropout, BatchNormalization, Activation), compiled
with Adam and a sparse crossentropy, trained one epoch so that the moving
statistics move, then saved by Keras as test/fixtures/keras/keras-made.keras
and keras-made.weights.h5; test/golden/keras-saving.json holds the inputs
and Keras's predictions for them. keras-resume.keras is a Dense → BatchNorm
→ Dense model trained 2 epochs with Nadam (whose state includes its
momentum product) and saved; the JSON holds its weights after one more
train_on_batch, which ferro-nn must reproduce from the saved state.
"""
import json

import keras
import numpy as np

keras.utils.set_random_seed(7)
L = keras.layers
x = (np.arange(40, dtype="float32").reshape(10, 4) % 7) / 7 - 0.4
y = np.arange(10) % 3
model = keras.Sequential([
    keras.Input((4,)),
    L.Dense(6, activation="gelu", kernel_regularizer=keras.regularizers.l2(0.01)),
    L.Dropout(0.25),
    L.BatchNormalization(momentum=0.9),
    L.Activation("silu"),
    L.Dense(3, activation="softmax"),
], name="keras_made")
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=1, batch_size=5, verbose=0)
model.save("test/fixtures/keras/keras-made.keras")
model.save_weights("test/fixtures/keras/keras-made.weights.h5")
out = {"keras": keras.__version__, "x": x.tolist(), "predict": model.predict(x, verbose=0).tolist()}

resume = keras.Sequential([keras.Input((4,)), L.Dense(6, activation="tanh"), L.BatchNormalization(),
                           L.Dense(3, activation="softmax")], name="keras_resume")
resume.compile(optimizer=keras.optimizers.Nadam(0.01), loss="sparse_categorical_crossentropy")
resume.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
resume.save("test/fixtures/keras/keras-resume.keras")
resume.train_on_batch(x, y)
out["resume"] = {"y": y.tolist(), "iterations": int(resume.optimizer.iterations.numpy()),
                 "weights": [w.ravel().tolist() for w in resume.get_weights()]}
# Keras's npz weights (saving_lib's weights_format="npz") pickle each layer's
# variables; ferro-nn reads them with a restricted unpickler (src/saving/pickle.ts).
from keras.src.saving import saving_lib  # noqa: E402

saving_lib.save_model(resume, "test/fixtures/keras/keras-npz.keras", weights_format="npz")

with open("test/golden/keras-saving.json", "w") as f:
    json.dump(out, f, indent=1)
