"""Randomized leaky ReLU (RReLU).

Xu et al., "Empirical Evaluation of Rectified Activations in Convolutional Network", 2015.
During training every negative input gets its own random slope ``a ~ U(lower, upper)``; at
inference the slope is fixed at the mean ``(lower + upper) / 2`` (notes 000 Unit III, 004).
The random slope acts as a regularizer.
"""

from __future__ import annotations

import keras
from keras import ops

from dlcourse.utils import check_in_range


@keras.saving.register_keras_serializable(package="dlcourse")
class RReLU(keras.layers.Layer):
    """``f(z) = z`` for ``z >= 0`` else ``a * z``; ``a ~ U(lower, upper)`` while training.

    Args:
        lower: smallest slope for negative inputs, in [0, 1].
        upper: largest slope, in [lower, 1]. Defaults follow the paper (1/8, 1/3).
        seed: seed of the slope sampler.
    """

    def __init__(
        self, lower: float = 1 / 8, upper: float = 1 / 3, seed: int | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        check_in_range("lower", lower, 0.0, 1.0, closed="[]")
        check_in_range("upper", upper, lower, 1.0, closed="[]")
        self.lower = lower
        self.upper = upper
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if training:
            slope = keras.random.uniform(
                ops.shape(inputs),
                self.lower,
                self.upper,
                dtype=inputs.dtype,
                seed=self.seed_generator,
            )
        else:
            slope = ops.cast((self.lower + self.upper) / 2, inputs.dtype)
        return ops.where(inputs >= 0, inputs, slope * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "lower": self.lower, "upper": self.upper, "seed": self.seed}
