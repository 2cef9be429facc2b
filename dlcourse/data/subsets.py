"""NumPy subsets for tests that train on little data: scaled images, a few per class.

(Not named ``arrays``: that would shadow :func:`dlcourse.data.arrays` once imported.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def unit_arrays(split, n: int | None = None, classes: Sequence[int] | None = None):
    """``(x in [0, 1] float32, y int64)`` from a ``Split``; keep only ``classes`` (relabelled
    0..k-1) and the first ``n`` examples."""
    x, y = split.x.astype("float32") / 255.0, split.y.astype("int64")
    if classes is not None:
        keep = np.isin(y, classes)
        x, y = x[keep], np.searchsorted(np.asarray(sorted(classes)), y[keep])
    return (x[:n], y[:n]) if n else (x, y)


def per_class(x: np.ndarray, y: np.ndarray, k: int, seed: int = 0):
    """``k`` examples of each class (the "little data" of transfer and pretraining labs)."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)])
    idx = rng.permutation(idx)
    return x[idx], y[idx]
