"""Writes the three small tables the chapter-4 examples train on, from the
copies scikit-learn ships (no download):

    python3 -m venv kenv && kenv/bin/pip install scikit-learn
    kenv/bin/python examples/data/export_sklearn.py

breast_cancer.csv  569 rows: 30 features, then the target (1 = benign)
digits.csv         1797 rows: 64 pixel values (0-16), then the digit
diabetes.csv       442 rows: 10 features (already scaled), then the target
"""
import os

import numpy as np
from sklearn import datasets

here = os.path.dirname(os.path.abspath(__file__))
for name, loader in [("breast_cancer", datasets.load_breast_cancer), ("digits", datasets.load_digits),
                     ("diabetes", datasets.load_diabetes)]:
    d = loader()
    header = ",".join([f"x{i}" for i in range(d.data.shape[1])] + ["target"])
    table = np.column_stack([d.data, d.target])
    np.savetxt(os.path.join(here, f"{name}.csv"), table, delimiter=",", header=header, comments="", fmt="%.10g")
