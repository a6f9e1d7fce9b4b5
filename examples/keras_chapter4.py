"""The three chapter-4 examples (breast-cancer.ts, digits.ts, diabetes.ts) as
Keras 3 programs, with the same splits, models and settings, to compare
their results with ferro-nn's:

    KERAS_BACKEND=jax kenv/bin/python examples/keras_chapter4.py [seed]
"""
import sys

import keras
import numpy as np

from keras_data import permutation, table

keras.utils.set_random_seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)


def standardize(train, *others):
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1
    return [(a - mean) / std for a in (train, *others)]


def dense(*layers):
    return keras.Sequential([keras.layers.Dense(u, activation=a) for u, a in layers])


x, y = table("breast_cancer")
order = permutation(len(x))
cut = int(len(x) * 0.8)
tr, te = order[:cut], order[cut:]
xtr, xte = standardize(x[tr], x[te])
m = dense((16, "relu"), (16, "relu"), (1, "sigmoid"))
m.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
m.fit(xtr, y[tr], epochs=20, batch_size=32, verbose=0)
loss, acc = m.evaluate(xte, y[te], verbose=0)
print(f"breast cancer: test_loss {loss:.4f}, test_acc {acc:.4f}")

x, y = table("digits")
order = permutation(len(x))
cut = int(len(x) * 0.8)
tr, te = order[:cut], order[cut:]
onehot = np.eye(10, dtype="float32")[y.astype(int)]
m = dense((64, "relu"), (64, "relu"), (10, "softmax"))
m.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
m.fit(x[tr] / 16, onehot[tr], epochs=30, batch_size=32, verbose=0)
loss, acc = m.evaluate(x[te] / 16, onehot[te], verbose=0)
print(f"digits: test_loss {loss:.4f}, test_acc {acc:.4f}")

x, y = table("diabetes")
order = permutation(len(x))
k, size = 4, len(x) // 4
maes = []
for fold in range(k):
    va = order[fold * size:(fold + 1) * size]
    tr = np.concatenate([order[:fold * size], order[(fold + 1) * size:]])
    xtr, xva = standardize(x[tr], x[va])
    m = dense((64, "relu"), (64, "relu"), (1, None))
    m.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    m.fit(xtr, y[tr], epochs=100, batch_size=16, verbose=0)
    maes.append(m.evaluate(xva, y[va], verbose=0)[1])
print(f"diabetes: mean val_mae {np.mean(maes):.2f}")
