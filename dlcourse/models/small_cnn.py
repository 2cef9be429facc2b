"""The notes' small CNN and their 1x1-convolution example.

Notes 001 ("CNN by hand": convolution -> ReLU -> max pooling -> flattening -> full connection ->
softmax) and notes 000 Unit IV ("CNN for MNIST"); notes 002 ("1*1 Convolutions": a 6x6x5 volume
through two 1x1 filters gives 6x6x2, each output pixel a weighted sum across the 5 channels).
"""

from __future__ import annotations

import keras
from keras import layers

from dlcourse.models import _common
from dlcourse.models.registry import register_model

# 1. Spec.
SPECS = {
    "small_cnn": {"filters": 32, "kernel": 3, "units": 128},
    "conv1x1_net": {"filters": 2, "kernel": 1, "units": 0},
}


# 2. Block helper.
def conv_relu_pool(x, filters: int, kernel: int, pool: bool):
    """Convolution (VALID) -> ReLU (-> 2x2 max pooling)."""
    x = layers.Conv2D(filters, kernel, name="block1_conv")(x)
    x = layers.Activation("relu", name="block1_relu")(x)
    return layers.MaxPooling2D(2, name="block1_pool")(x) if pool else x


# 3. The builder.
def _build_small_cnn(
    spec: dict,
    *,
    include_top: bool = True,
    input_shape=(28, 28, 1),
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "small_cnn",
    width: float = 1.0,
) -> keras.Model:
    """One conv block, then flatten, an optional ReLU dense layer and the classifier.

    Shared arguments: see :mod:`dlcourse.models._common`.
    """
    input_shape = _common.check_args(
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        width=width,
    )
    pool = spec["kernel"] > 1
    ops = [("block1_conv", spec["kernel"], 1, "valid")] + [("block1_pool", 2, 2, "valid")] * pool
    _common.check_input_size(name, input_shape, ops)
    inputs = keras.Input(input_shape)
    # Block 1: feature extraction.
    x = conv_relu_pool(inputs, _common.scaled(spec["filters"], width), spec["kernel"], pool)
    if include_top:  # Block 2: full connection.
        x = layers.Flatten(name="flatten")(x)
        if spec["units"]:
            x = layers.Dense(_common.scaled(spec["units"], width), activation="relu", name="fc1")(x)
        x = _common.classifier(x, classes, classifier_activation)
    else:
        x = _common.feature_pooling(x, pooling)
    return _common.model(inputs, x, name)


# 4. Entrypoints.
@register_model
def small_cnn(**kwargs) -> keras.Model:
    """Conv 32@3x3 -> ReLU -> 2x2 max pool -> flatten -> dense 128 ReLU -> softmax."""
    return _build_small_cnn(SPECS["small_cnn"], **{"name": "small_cnn", **kwargs})


@register_model
def conv1x1_net(**kwargs) -> keras.Model:
    """Notes 002: two 1x1 filters on a 6x6x5 volume (6x6x2 maps), flatten, softmax."""
    kwargs = {"name": "conv1x1_net", "input_shape": (6, 6, 5), **kwargs}
    return _build_small_cnn(SPECS["conv1x1_net"], **kwargs)
