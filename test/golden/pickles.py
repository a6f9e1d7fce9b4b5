"""Pickles made by CPython and numpy, for test/pickle.test.ts: plain values at
every protocol ferro-nn reads, numpy arrays as np.save pickles them, and
hostile ones (a global outside the allow-list, the classic os.system reduce).

Run from the repository root: python test/golden/pickles.py (numpy 2).
"""
import json
import os
import pickle

import numpy as np

plain = {"a": [1, -2, 300, 70000, -(2**31), 2.5, None, True, False], "b": (b"xy", "héllo", ()), "big": 2**70, "neg": -(2**40)}
expected_plain = {"a": [1, -2, 300, 70000, -(2**31), 2.5, None, True, False], "b": [[120, 121], "héllo", []],
                  "big": str(2**70), "neg": -(2**40)}


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


arrays = {
    "f4": np.arange(6, dtype="<f4").reshape(2, 3) / 4,
    "f8": np.array([1.5, -2.25], dtype="<f8"),
    "i8": np.array(7, dtype="<i8"),
    "big_endian": np.array([1, 2], dtype=">f4"),
    "fortran": np.asfortranarray(np.ones((2, 3), dtype="<f4")),
}
out = {
    # Protocol 2 pickles bytes as a call of _codecs.encode, refused as any call is.
    "plain": {f"protocol{p}": pickle.dumps(plain, protocol=p).hex() for p in (2, 3, 4, 5)},
    "expected_plain": expected_plain,
    # numpy 2's np.save pickles object arrays at protocol 4, numpy 1 at 3.
    "arrays": {f"{k}/protocol{p}": pickle.dumps(v, protocol=p).hex() for k, v in arrays.items() for p in (3, 4)},
    "expected_arrays": {k: v.ravel(order="C").astype("<f8").tolist() for k, v in arrays.items()},
    "evil": pickle.dumps(Evil(), protocol=4).hex(),
    "evil_protocol2": pickle.dumps(Evil(), protocol=2).hex(),
}
with open("test/golden/pickles.json", "w") as f:
    json.dump(out, f, indent=1)
