"""The seed model in Keras 3 on one backend: python keras_mnist.py <backend> <threads>.
Run by bench/run.ts (peers) under `taskset` with the thread count pinned;
prints one JSON line: seconds per epoch (median of epochs 2-5) and test accuracy."""
import json
import os
import sys
import time

backend, threads = sys.argv[1], int(sys.argv[2])
os.environ["KERAS_BACKEND"] = backend
if backend == "jax":
    os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} intra_op_parallelism_threads={threads}"
import keras  # noqa: E402

if backend == "tensorflow":
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
elif backend == "torch":
    import torch

    torch.set_num_threads(threads)

from mnist_data import load  # noqa: E402

(x, y), (xt, yt) = load()
keras.utils.set_random_seed(1)
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.start)


times = []
model.fit(x, y, epochs=5, batch_size=128, verbose=0, callbacks=[Clock()])
_, acc = model.evaluate(xt, yt, verbose=0)
steady = sorted(times[1:])
print(json.dumps({"peer": f"Keras {keras.__version__} on {backend}", "threads": threads, "epochSeconds": times,
                  "medianEpochSeconds": (steady[1] + steady[2]) / 2, "testAccuracy": float(acc)}))
