"""Keras's npz weights as the numpy backend pickles them (a Keras Variable
around a plain numpy array; the jax backend's fixture, keras-npz.keras, wraps
jax arrays). Re-saves Keras's own keras-resume.keras in npz, so ferro-nn can
check the two files hold the same numbers.

Run from the repository root: KERAS_BACKEND=numpy python test/golden/keras_npz_numpy.py
(Keras 3.15.1, numpy 2).
"""
import os

assert os.environ.get("KERAS_BACKEND") == "numpy", "run with KERAS_BACKEND=numpy"
import keras  # noqa: E402
from keras.src.saving import saving_lib  # noqa: E402

model = keras.saving.load_model("test/fixtures/keras/keras-resume.keras")
saving_lib.save_model(model, "test/fixtures/keras/keras-npz-numpy.keras", weights_format="npz")
