"""Golden numbers for crate/core/tests/keras_activations.rs, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_activations.py > test/golden/keras-activations.json

For every elementwise activation ferro-nn offers by name (gelu exact, as
Keras's default approximate=False): its value
(keras.activations.<name>, default arguments) and its derivative (jax.grad
of the same function) at inputs spread over [-8, 8], including 0.
"""
import json

import jax
import jax.numpy as jnp
import keras
import numpy as np

names = ["linear", "relu", "sigmoid", "tanh", "elu", "selu", "leaky_relu", "softplus", "softsign", "relu6",
         "hard_sigmoid", "gelu", "silu"]
x = np.concatenate([np.linspace(-8, 8, 33), [-0.5, -1e-3, 1e-3, 0.5, 2.9, 3.1, 5.9, 6.1]]).astype("float32")
out = {"keras": keras.__version__, "backend": keras.backend.backend(), "x": x.tolist(), "activations": {}}
for name in names:
    f = keras.activations.get(name)
    values = np.asarray(f(jnp.asarray(x)))
    grads = np.asarray(jax.vmap(jax.grad(lambda v: f(v)))(jnp.asarray(x)))
    out["activations"][name] = {"values": values.tolist(), "derivatives": grads.tolist()}
print(json.dumps(out, indent=1))
