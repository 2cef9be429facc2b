"""Monte Carlo dropout: dropout kept on at inference to estimate predictive uncertainty.

Gal and Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016. Averaging N stochastic
forward passes gives a better estimate than one deterministic pass, and their standard
deviation tells how unsure the model is (notes 000 Unit III, regularization).
"""

from __future__ import annotations

import keras
import numpy as np

from dlcourse.utils import check_in_range, check_positive


@keras.saving.register_keras_serializable(package="dlcourse")
class MCDropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` that also drops at inference (``training`` is ignored)."""

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        check_in_range("rate", rate, 0.0, 1.0, closed="[)")
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="dlcourse")
class MCAlphaDropout(keras.layers.AlphaDropout):
    """``keras.layers.AlphaDropout`` (for SELU nets) kept on at inference."""

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        check_in_range("rate", rate, 0.0, 1.0, closed="[)")
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def mc_predict(
    model: keras.Model, x, n_samples: int = 100, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``n_samples`` stochastic passes of ``model`` over ``x``.

    Works with :class:`MCDropout` layers or with plain ``Dropout`` layers (each pass calls the
    model with ``training=True``; batch-norm layers, if any, would then use batch statistics,
    so prefer :class:`MCDropout` in models with batch norm).

    Returns:
        ``(mean, std)``, each shaped like one prediction: (n, ...).
    """
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"`n_samples` must be an integer >= 1. Received: n_samples={n_samples!r}")
    check_positive("batch_size", batch_size)
    x = np.asarray(x)
    passes = []
    for _ in range(int(n_samples)):
        outs = [
            keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=True))
            for i in range(0, len(x), batch_size)
        ]
        passes.append(np.concatenate(outs))
    stack = np.stack(passes)  # (n_samples, n, ...)
    return stack.mean(axis=0), stack.std(axis=0)
