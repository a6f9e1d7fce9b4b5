"""Golden numbers for crate/core/src/metrics.rs's tests, produced by Keras itself.

Run (Keras 3.15.1, JAX 0.10.2 CPU backend, float32):
    python3 -m venv kenv && kenv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax kenv/bin/python test/golden/keras_metric_values.py > test/golden/keras-metric-values.json

Each metric object of keras.metrics, with its defaults, updated once with
fixed outputs and targets (float targets; class ids for the sparse ones).
"""
import json

import keras
import numpy as np

p = np.array([[0.1, 0.6, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
              [0.55, 0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.05],
              [0.2, 0.15, 0.1, 0.1, 0.25, 0.1, 0.05, 0.05],
              [0.05, 0.05, 0.3, 0.4, 0.1, 0.05, 0.03, 0.02],
              [0.01, 0.02, 0.03, 0.04, 0.1, 0.2, 0.3, 0.3]], dtype="float32")
y_classes = np.array([1, 7, 6, 0, 6])
y_onehot = np.eye(8, dtype="float32")[y_classes]
y_multi = (p > 0.08).astype("float32")
y_multi[0, 2] = 0
y_multi[3, 0] = 1
y_multi[4, 7] = 0
y_multi[1, 0] = 0
M = keras.metrics
cases = {
    "binary_accuracy": (M.BinaryAccuracy(), y_multi),
    "categorical_accuracy": (M.CategoricalAccuracy(), y_onehot),
    "top_k_categorical_accuracy": (M.TopKCategoricalAccuracy(), y_onehot),
    "sparse_top_k_categorical_accuracy": (M.SparseTopKCategoricalAccuracy(), y_classes),
    "precision": (M.Precision(), y_multi),
    "recall": (M.Recall(), y_multi),
    "auc": (M.AUC(), y_multi),
}
out = {"keras": keras.__version__, "p": p.tolist(), "targets": {}, "values": {}}
for name, (metric, y) in cases.items():
    metric.update_state(y, p)
    out["values"][name] = float(metric.result())
    out["targets"][name] = y.tolist()
# AUC where the buckets' edges matter: outputs on thresholds k/199, at 0 and
# 1, and outside [0, 1] (Keras clips them), one column of 0/1 labels.
edges = np.array([0.0, 1.0, 0.5, 1 / 199, 2 / 199, 198 / 199, 1.3, -0.2, 0.25, 0.75, 0.501, 0.499, 100 / 199,
                  0.1, 0.9, 0.3, 0.6, 0.0, 1.0, 0.45], dtype="float32").reshape(-1, 1)
edge_labels = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0], dtype="float32").reshape(-1, 1)
auc = M.AUC()
auc.update_state(edge_labels, edges)
out["auc_edges"] = {"p": edges.ravel().tolist(), "y": edge_labels.ravel().tolist(), "value": float(auc.result())}
print(json.dumps(out, indent=1))
