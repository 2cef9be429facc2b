"""Dropout as training one of ``2**N`` sub-networks, by enumerating the masks.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR
2014; notes 004 ("2^N possible networks, where N is the total number of droppable neurons",
N = 4 in their figure: 16 networks). Each training step keeps each unit with probability
``1 - rate`` and scales the kept ones by ``1 / (1 - rate)`` (inverted dropout, Keras' form), so
the average over all masks, weighted by their probabilities, is the full network's output.
"""

from __future__ import annotations

import itertools

import numpy as np

from dlcourse.utils import check_in_range, check_positive


def subnetwork_masks(n: int) -> np.ndarray:
    """All ``2**n`` keep-masks of ``n`` droppable units, shape ``(2**n, n)``, 1 = kept."""
    check_positive("n", n)
    if n > 20:
        raise ValueError(f"`n` must be <= 20 (2**n masks are enumerated). Received: n={n}")
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int8)


def mask_probabilities(masks: np.ndarray, rate: float) -> np.ndarray:
    """Probability of each mask when every unit is dropped independently with ``rate``."""
    check_in_range("rate", rate, 0.0, 1.0, closed="[)")
    kept = masks.sum(axis=1)
    return (1 - rate) ** kept * rate ** (masks.shape[1] - kept)


def expected_output(x: np.ndarray, w: np.ndarray, rate: float) -> np.ndarray:
    """``E[(mask * x / (1 - rate)) @ w]`` over all ``2**n`` masks (equals ``x @ w``)."""
    masks = subnetwork_masks(x.shape[-1])
    outs = (masks * x / (1 - rate)) @ w  # (2**n, outputs): one row per sub-network
    return mask_probabilities(masks, rate) @ outs


def observed_masks(dropout_layer, n: int, draws: int) -> np.ndarray:
    """The keep-masks a Keras ``Dropout`` layer actually samples on ``draws`` rows of ones."""
    out = np.asarray(dropout_layer(np.ones((draws, n), "float32"), training=True))
    return (out != 0).astype(np.int8)
