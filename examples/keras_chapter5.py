"""examples/regularization.ts as a Keras 3 program, with the same split,
models and settings, to compare its results with ferro-nn's:

    KERAS_BACKEND=jax kenv/bin/python examples/keras_chapter5.py [seed]
"""
import sys

import keras
import numpy as np

from keras_data import permutation, table

keras.utils.set_random_seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
L = keras.layers
x, y = table("digits")
order = permutation(len(x))
x, y = x[order] / 16, y[order].astype("int32")

variants = {
    "plain": lambda: [L.Dense(512, activation="relu"), L.Dense(512, activation="relu")],
    "l2": lambda: [L.Dense(512, activation="relu", kernel_regularizer=keras.regularizers.l2(0.002)),
                   L.Dense(512, activation="relu", kernel_regularizer=keras.regularizers.l2(0.002))],
    "dropout": lambda: [L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(512), L.BatchNormalization(),
                        L.Dense(512, activation="relu"), L.Dropout(0.5)],
}
for name, hidden in variants.items():
    model = keras.Sequential([keras.Input((x.shape[1],))] + hidden() + [L.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=40, batch_size=32, validation_split=0.4, verbose=0).history
    val = h["val_loss"]
    best = int(np.argmin(val))
    print(f"{name}: best val_loss {val[best]:.4f} (epoch {best + 1}), final val_loss {val[-1]:.4f}, "
          f"final val_acc {h['val_accuracy'][-1]:.4f}")
