"""AlexNet with Local Response Normalization: the paper's network by default.

Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NeurIPS 2012 (notes 000 Unit IV, Table 13-2 and Equation 13-2): C1 96 11x11/4,
S2 3x3/2 max, C3 256 5x5, S4 3x3/2 max, C5-C7 384/384/256 3x3, S 3x3/2 max, F8-F9 4096 ReLU
with dropout 0.5, softmax output; LRN after the ReLU of C1 and C3 (k=2, r=5 i.e.
depth_radius=2, alpha=1e-4, beta=0.75).

Three variants, all at 224x224x3 with 1000 classes:

==========================  ===========  ===================================================
call                        parameters   what
==========================  ===========  ===================================================
``alexnet()``               62,378,344   the paper's layers on one tower (the default)
``alexnet(groups=2)``       60,965,224   the paper's two-GPU split: C3 (the paper's conv2),
                                         C6 and C7 (conv4, conv5) see only the maps on their
                                         own GPU (grouped convolutions); ~0.72 G multiply-adds
``alexnet(variant="notes")`` 201,838,952  the notes' Table 13-2 as printed: it has no pooling
                                         after C7, so F8 sees 13x13x256 maps instead of
                                         6x6x256 and its weights grow 4.7-fold
==========================  ===========  ===================================================

The paper's "60 million parameters" is the grouped network. C1 uses SAME padding, so a
224x224 input gives 56x56 maps (the paper's 55x55 comes from a 227-pixel crop); everything
after S2 matches the paper's sizes.
"""

from __future__ import annotations

import keras
from keras import layers

from dlcourse.layers.lrn import LocalResponseNormalization
from dlcourse.models import _common
from dlcourse.models.registry import register_model

# 1. Spec: (maps, kernel, stride) of C1, C3 and C5-C7; the paper's LRN hyperparameters.
SPEC = {"c1": (96, 11, 4), "c3": (256, 5, 1), "c5_c7": (384, 384, 256), "fc": 4096}
LRN = {"depth_radius": 2, "bias": 2.0, "alpha": 1e-4, "beta": 0.75}


# 2. Block helpers.
VARIANTS = ("paper", "notes")


def conv_lrn_pool(x, maps: int, kernel: int, stride: int, block: int, lrn: bool, groups=1):
    """Conv (SAME, ReLU; ``groups`` towers) -> LRN -> 3x3/2 max pooling (VALID)."""
    x = layers.Conv2D(
        maps,
        kernel,
        strides=stride,
        padding="same",
        activation="relu",
        groups=groups,
        name=f"block{block}_conv",
    )(x)
    if lrn:
        x = LocalResponseNormalization(**LRN, name=f"block{block}_lrn")(x)
    return layers.MaxPooling2D(3, strides=2, name=f"block{block}_pool")(x)


# 3. The builder.
def _build_alexnet(
    *,
    include_top: bool = True,
    input_shape=(224, 224, 3),
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "alexnet",
    width: float = 1.0,
    dropout: float = 0.5,
    lrn: bool = True,
    groups: int = 1,
    variant: str = "paper",
) -> keras.Model:
    """AlexNet (module docstring); ``lrn=False`` drops the LRN layers.

    Args:
        groups: 1 (one tower) or 2 (the paper's two GPUs: grouped C3, C6 and C7).
        variant: ``"paper"`` (pool after C7) or ``"notes"`` (the notes' table: no pool after
            C7, 201,838,952 parameters).

    Shared arguments: see :mod:`dlcourse.models._common`.
    """
    if groups not in (1, 2):
        raise ValueError(f"`groups` must be 1 or 2. Received: groups={groups!r}")
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {VARIANTS}. Received: variant={variant!r}")
    pool5 = variant == "paper"
    input_shape = _common.check_args(
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        width=width,
    )
    _common.check_in_range("dropout", dropout, 0, 1)
    ops = [
        ("block1_conv", 11, 4, "same"),
        ("block1_pool", 3, 2, "valid"),
        ("block2_conv", 5, 1, "same"),
        ("block2_pool", 3, 2, "valid"),
    ]
    _common.check_input_size(name, input_shape, ops + [("block3_pool", 3, 2, "valid")] * pool5)
    s = lambda c: _common.scaled(c, width)
    inputs = keras.Input(input_shape)
    # Block 1 (C1, S2) and Block 2 (C3, S4).
    x = conv_lrn_pool(inputs, s(SPEC["c1"][0]), *SPEC["c1"][1:], block=1, lrn=lrn)
    x = conv_lrn_pool(x, s(SPEC["c3"][0]), *SPEC["c3"][1:], block=2, lrn=lrn, groups=groups)
    # Block 3 (C5, C6, C7): three 3x3 convs stacked; C5 sees both towers, C6 and C7 their own.
    for i, maps in enumerate(SPEC["c5_c7"], 1):
        x = layers.Conv2D(
            s(maps),
            3,
            padding="same",
            activation="relu",
            groups=1 if i == 1 else groups,
            name=f"block3_conv{i}",
        )(x)
    if pool5:
        x = layers.MaxPooling2D(3, strides=2, name="block3_pool")(x)
    if include_top:  # F8, F9 and the output
        x = layers.Flatten(name="flatten")(x)
        for i in (1, 2):
            x = layers.Dense(s(SPEC["fc"]), activation="relu", name=f"fc{i}")(x)
            x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        x = _common.classifier(x, classes, classifier_activation)
    else:
        x = _common.feature_pooling(x, pooling)
    return _common.model(inputs, x, name)


# 4. Entrypoint.
@register_model
def alexnet(**kwargs) -> keras.Model:
    """AlexNet, the paper's network (62,378,344 parameters; ``groups=2``: 60,965,224)."""
    return _build_alexnet(**kwargs)
