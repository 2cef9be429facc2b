"""Teaching tasks carved out of the embedded datasets by the loader stage.

Unit I's logistic regression (notes 003) tells two digits apart: :func:`binary_digits` gives the
8x8 digits of two classes (or one class against the rest) with a binary label, as unbatched
loader datasets in file order; :func:`float64_arrays` turns one of them into the float64 arrays
the NumPy twins and scikit-learn read, so all three see the very same examples.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from dlcourse.data import arrays, loader
from dlcourse.data.embedded import SPLITS
from dlcourse.utils import check_in_range


def binary_digits(
    positive: int,
    negative: int = -1,
    *,
    name: str = "digits",
    data_dir: str | os.PathLike | None = None,
) -> dict[str, tf.data.Dataset]:
    """``{split: dataset}`` of (x, y): x the flattened pixels, float32 in [0, 1] (the loader
    scales them), y 1.0 for ``positive`` and 0.0 for ``negative`` (float32, a sigmoid's target).

    ``negative=-1`` keeps every digit: "is it a ``positive``?". Unbatched, in file order.
    """
    check_in_range("positive", positive, 0, 9, closed="[]")
    check_in_range("negative", negative, -1, 9, closed="[]")
    if positive == negative:
        raise ValueError(f"`negative` must differ from `positive`. Received: negative={negative}")

    def keep(x, y):
        return (y == positive) | (y == negative) | (negative == -1)

    def binary(x, y):
        return tf.reshape(x, [-1]), tf.cast(y == positive, tf.float32)

    return {
        split: loader.make_dataset(
            name, split, data_dir=data_dir, batch_size=None, shuffle=False, cycle_length=1
        )
        .filter(keep)
        .map(binary)
        for split in SPLITS
    }


def float64_arrays(ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """An unbatched dataset's (x, y) as float64 arrays, for NumPy and scikit-learn."""
    x, y = arrays(ds.batch(4096))
    return x.astype(np.float64), y.astype(np.float64)
