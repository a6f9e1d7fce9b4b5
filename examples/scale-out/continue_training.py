"""Step 2 of run.sh: Keras 3 on JAX continues ferro-nn's training, data-parallel.

The distribution is set before the model is loaded, so its variables are
created replicated on every device and each batch is split between them.
"""
import sys

import keras
import numpy as np

sys.path.insert(0, "..")
from keras_data import permutation, table  # noqa: E402

keras.utils.set_random_seed(1)
devices = keras.distribution.list_devices("cpu")
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
model = keras.saving.load_model("work/model.keras")

x, y = table("digits")
order = permutation(len(x))
cut = int(len(x) * 0.8)
# Every batch must split evenly over the devices: whole batches only.
train, test = order[:cut][: cut // 32 * 32], order[cut:]
x = x / 16
# The optimizer state came with the file: training resumes where ferro-nn stopped.
start = int(model.optimizer.iterations)
model.fit(x[train], y[train].astype("int32"), epochs=7, batch_size=32, verbose=0)
loss, acc = model.evaluate(x[test], y[test].astype("int32"), verbose=0)
model.save("work/continued.keras")
print(f"Keras on {len(devices)} devices (DataParallel): steps {start} -> {int(model.optimizer.iterations)}, "
      f"test_acc {acc:.4f}; saved work/continued.keras")
