"""VGG-11/13/16/19 from one spec table.

Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015 (configurations A, B, D, E; notes 002 "Classic Networks"). Layer names and the top
follow ``keras.applications.VGG16``, so ``vgg16(classes=1000)`` has exactly its 138,357,544
parameters.
"""

from __future__ import annotations

import keras
from keras import layers

from dlcourse.models import _common
from dlcourse.models.registry import register_model

# 1. Spec: output channels of each 3x3 conv; "M" closes a block with 2x2 max pooling.
# fmt: off
SPECS: dict[str, list] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}
# fmt: on


# 2. Block helpers.
def vgg_block(x, channels: list[int], block: int):
    """3x3 SAME convs with ReLU, then 2x2 max pooling: ``block{b}_conv{i}``, ``block{b}_pool``."""
    for i, c in enumerate(channels, 1):
        x = layers.Conv2D(c, 3, padding="same", activation="relu", name=f"block{block}_conv{i}")(x)
    return layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)


def _blocks(spec: list) -> list[list[int]]:
    """``[64, 64, "M", 128, "M"]`` -> ``[[64, 64], [128]]``."""
    blocks, current = [], []
    for item in spec:
        if item == "M":
            blocks.append(current)
            current = []
        else:
            current.append(item)
    return blocks


# 3. The generic builder.
def _build_vgg(
    spec: list,
    *,
    include_top: bool = True,
    input_shape=(224, 224, 3),
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg",
    width: float = 1.0,
    fc_units: int = 4096,
    dropout: float = 0.0,
) -> keras.Model:
    """VGG: conv blocks from ``spec``, then flatten, two ``fc_units`` ReLU layers and the classifier.

    ``fc_units`` scales with ``width`` too. ``dropout`` (the paper's 0.5 on fc1/fc2) is 0 by
    default, as in keras.applications. Shared arguments: see :mod:`dlcourse.models._common`.
    """
    input_shape = _common.check_args(
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        width=width,
    )
    blocks = _blocks(spec)
    _common.check_input_size(
        name, input_shape, [(f"block{b}_pool", 2, 2, "valid") for b in range(1, len(blocks) + 1)]
    )
    inputs = keras.Input(input_shape)
    x = inputs
    for b, channels in enumerate(blocks, 1):  # Block 1 .. Block 5
        x = vgg_block(x, [_common.scaled(c, width) for c in channels], b)
    if include_top:  # Classification block
        x = layers.Flatten(name="flatten")(x)
        for i in (1, 2):
            x = layers.Dense(_common.scaled(fc_units, width), activation="relu", name=f"fc{i}")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        x = _common.classifier(x, classes, classifier_activation)
    else:
        x = _common.feature_pooling(x, pooling)
    return _common.model(inputs, x, name)


# 4. Entrypoints.
@register_model
def vgg11(**kwargs) -> keras.Model:
    """VGG-11 (configuration A)."""
    return _build_vgg(SPECS["vgg11"], **{"name": "vgg11", **kwargs})


@register_model
def vgg13(**kwargs) -> keras.Model:
    """VGG-13 (configuration B)."""
    return _build_vgg(SPECS["vgg13"], **{"name": "vgg13", **kwargs})


@register_model
def vgg16(**kwargs) -> keras.Model:
    """VGG-16 (configuration D): 138,357,544 parameters with 1000 classes."""
    return _build_vgg(SPECS["vgg16"], **{"name": "vgg16", **kwargs})


@register_model
def vgg19(**kwargs) -> keras.Model:
    """VGG-19 (configuration E)."""
    return _build_vgg(SPECS["vgg19"], **{"name": "vgg19", **kwargs})
