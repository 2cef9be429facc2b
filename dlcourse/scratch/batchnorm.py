"""Batch normalization from scratch (Ioffe and Szegedy, ICML 2015), notes 000 Unit III, 002, 003.

Training: normalize with the batch mean and (biased) variance, then scale by gamma and shift
by beta, and update the moving averages ``moving <- momentum moving + (1 - momentum) batch``.
Inference: normalize with the moving averages. Same conventions as
``keras.layers.BatchNormalization`` (momentum 0.99, epsilon 1e-3, statistics over all axes but
the last).
"""

from __future__ import annotations

import numpy as np


class BatchNorm:
    """NumPy batch norm over the last axis; ``__call__(x, training)`` like the Keras layer."""

    def __init__(self, n_features: int, momentum: float = 0.99, epsilon: float = 1e-3):
        self.gamma, self.beta = np.ones(n_features), np.zeros(n_features)
        self.moving_mean, self.moving_var = np.zeros(n_features), np.ones(n_features)
        self.momentum, self.epsilon = momentum, epsilon

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        axes = tuple(range(x.ndim - 1))
        if training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)  # biased variance, as Keras
            mom = self.momentum
            self.moving_mean = mom * self.moving_mean + (1 - mom) * mean
            self.moving_var = mom * self.moving_var + (1 - mom) * var
        else:
            mean, var = self.moving_mean, self.moving_var
        x_hat = (x - mean) / np.sqrt(var + self.epsilon)
        return self.gamma * x_hat + self.beta
