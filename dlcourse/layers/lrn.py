"""Local Response Normalization, the layer AlexNet and GoogLeNet use after their early convs.

Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NeurIPS 2012, section 3.3 (notes 000 Unit IV, Equation 13-2):

    b_i = a_i / (k + alpha * sum_{j = i - r}^{i + r} a_j^2) ** beta

summed over neighbouring feature maps at the same pixel. Argument names and defaults are those
of ``tf.nn.local_response_normalization`` (``depth_radius`` is the notes' ``r / 2``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dlcourse.utils import check_positive


@keras.saving.register_keras_serializable(package="dlcourse")
class LocalResponseNormalization(keras.layers.Layer):
    """Normalize each activation by the energy of its ``2 * depth_radius + 1`` neighbouring maps.

    It always computes in float32, also under a mixed-precision policy: the sum of squares
    overflows float16 easily and XLA rejects float16 LRN (openxla/xla#43450). Its input is
    cast to float32 and its output stays float32 (the next layer casts it back).

    Args:
        depth_radius: half-width r of the window of maps (int >= 0).
        bias: k, keeps the denominator away from zero.
        alpha: scale of the sum of squares.
        beta: exponent.
        **kwargs: standard layer arguments (``name`` ...).
    """

    def __init__(
        self,
        depth_radius: int = 5,
        bias: float = 1.0,
        alpha: float = 1.0,
        beta: float = 0.5,
        **kwargs,
    ):
        kwargs["dtype"] = "float32"  # see the class docstring
        super().__init__(**kwargs)
        if isinstance(depth_radius, bool) or not isinstance(depth_radius, int):
            raise ValueError(  # noqa: TRY004
                f"`depth_radius` must be an int >= 0. Received: depth_radius={depth_radius!r}"
            )
        check_positive("depth_radius", depth_radius, strict=False)
        check_positive("bias", bias)  # the denominator (bias + alpha * sum) ** beta
        self.depth_radius = depth_radius
        self.bias = bias
        self.alpha = alpha
        self.beta = beta

    def call(self, inputs):
        return tf.nn.local_response_normalization(
            tf.cast(inputs, tf.float32), self.depth_radius, self.bias, self.alpha, self.beta
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("dtype", None)  # always float32: not a constructor choice
        return {
            **config,
            "depth_radius": self.depth_radius,
            "bias": self.bias,
            "alpha": self.alpha,
            "beta": self.beta,
        }
