"""The examples' CSV tables and data.ts's shuffle, for the Keras twins of
the examples (keras_chapter4.py, keras_chapter5.py)."""
import numpy as np

here = __file__.rsplit("/", 1)[0]


def table(name):
    t = np.loadtxt(f"{here}/data/{name}.csv", delimiter=",", skiprows=1, dtype="float32")
    return t[:, :-1], t[:, -1]


def permutation(n, seed=12345):
    # The LCG shuffle of data.ts, so that both use the same splits.
    order, state = list(range(n)), seed
    for i in range(n - 1, 0, -1):
        state = (state * 1664525 + 1013904223) % 2**32
        j = state % (i + 1)
        order[i], order[j] = order[j], order[i]
    return np.array(order)
