"""Opens what ferro-nn saved (scripts/test-interop.ts) with real Keras 3 and
checks it predicts as ferro-nn did:

    KERAS_BACKEND=jax python test/interop/keras_check.py <dir>

<dir>/cases.json lists the cases: a .keras archive, or a .weights.h5 file
with the .keras whose architecture takes it, and ferro-nn's predictions;
a case naming `npz` is also re-saved there with Keras's npz weights; one
naming `evaluate` is evaluated by Keras, which must find ferro-nn's loss.
"""
import json
import sys

import keras
import numpy as np
from keras.src.saving import saving_lib

folder = sys.argv[1]
cases = json.load(open(f"{folder}/cases.json"))
failed = 0
for case in cases:
    model = keras.saving.load_model(f"{folder}/{case['keras']}")
    if "weights" in case:
        model.load_weights(f"{folder}/{case['weights']}")
    if "npz" in case:
        # For the way back: Keras's npz weights, read by ferro-nn afterwards.
        saving_lib.save_model(model, f"{folder}/{case['npz']}", weights_format="npz")
    step = case.get("train_on_batch")
    if step:
        model.train_on_batch(np.array(case["x"], dtype="float32"), np.array(step["y"]))
        weights_diff = max(float(np.abs(w.ravel() - np.array(f, dtype="float32")).max())
                           for w, f in zip(model.get_weights(), step["weights"]))
        if weights_diff > 1e-5:
            print(f"  weights after one more step differ by {weights_diff:.2e}")
            failed += 1
    evaluate = case.get("evaluate")
    evaluated = True
    if evaluate:
        # Keras resolves the compiled loss and metric names here, not at load.
        try:
            logs = model.evaluate(np.array(case["x"], dtype="float32"), np.array(evaluate["y"]), return_dict=True, verbose=0)
            evaluated = abs(logs["loss"] - evaluate["loss"]) <= 1e-5
            if not evaluated:
                print(f"  evaluate: Keras's loss {logs['loss']:.6g}, ferro-nn's {evaluate['loss']:.6g}")
            if "metric" in evaluate and evaluate["metric"] not in logs:
                evaluated = False
                print(f"  evaluate: Keras logged {sorted(logs)}, not {evaluate['metric']!r}")
        except ValueError as e:
            evaluated = False
            print(f"  evaluate: {e}")
    got = model.predict(np.array(case["x"], dtype="float32"), verbose=0)
    diff = float(np.abs(got - np.array(case["predict"], dtype="float32")).max())
    ok = evaluated and diff <= case.get("tolerance", 1e-5 if step else 1e-6)
    if "policy" in case:
        policies = {layer.dtype_policy.name for layer in model.layers}
        if policies != {case["policy"]}:
            ok = False
            print(f"  Keras built the layers with policies {policies}, ferro-nn saved {case['policy']!r}")
    # The compile settings Keras rebuilt from the archive.
    for key, want in case.get("compiled", {}).items():
        opt = model.optimizer
        got = {
            "iterations": int(np.asarray(opt.iterations)),
            "optimizer": type(opt).__name__,
            "schedule": type(opt._learning_rate).__name__,
            "loss": model.loss if isinstance(model.loss, str) else type(model.loss).__name__,
        }.get(key, opt.get_config().get(key))
        if got != want:
            ok = False
            print(f"  {key}: Keras has {got!r}, ferro-nn saved {want!r}")
    if "rate" in case:
        # The rate the next step takes: Keras evaluates the schedule at its restored iterations.
        rate = float(np.asarray(model.optimizer.learning_rate))
        if abs(rate - case["rate"]) > 1e-6 * max(1.0, abs(case["rate"])):
            ok = False
            print(f"  learning rate: Keras has {rate!r}, ferro-nn {case['rate']!r}")
    failed += not ok
    print(f"{'ok' if ok else 'FAIL'}  {case['name']}: max |Keras - ferro-nn| = {diff:.2e}")
sys.exit(1 if failed else 0)
