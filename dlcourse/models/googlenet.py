"""GoogLeNet (Inception v1): nine inception modules on a stem with LRN.

Szegedy et al., "Going Deeper with Convolutions", CVPR 2015, Table 1 (notes 000 Unit IV,
Figures 13-10 and 13-11). Stem: 7x7/2 conv, 3x3/2 max pool, LRN, 1x1 bottleneck conv, 3x3 conv,
LRN, 3x3/2 max pool; then inception 3a-3b, pool, 4a-4e, pool, 5a-5b; global average pooling,
dropout 0.4 and the classifier. Optional auxiliary classifiers on 4a and 4d (paper section 5).

With 1000 classes and no auxiliary classifiers it has 6,998,552 parameters (conv biases
included); the paper's Table 1 column of rounded per-layer figures sums to about 6.8M, and
torchvision's version (batch norm instead of LRN, no conv biases) has 6,624,904.
"""

from __future__ import annotations

import keras
from keras import layers

from dlcourse.layers.lrn import LocalResponseNormalization
from dlcourse.models import _common
from dlcourse.models.registry import register_model

# 1. Spec (paper Table 1): #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj; "M" = 3x3/2 pool.
SPEC: list = [
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "M",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "M",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
]
AUX_AFTER = ("4a", "4d")
LRN = {"depth_radius": 2, "bias": 1.0, "alpha": 1e-4, "beta": 0.75}


# 2. Block helpers.
def conv(x, filters: int, kernel: int, name: str, stride: int = 1):
    """Conv (SAME, ReLU): the paper's "#x# + #(S)" notation."""
    return layers.Conv2D(
        filters, kernel, strides=stride, padding="same", activation="relu", name=name
    )(x)


def inception_module(x, channels: tuple[int, ...], name: str):
    """Four parallel branches at stride 1, concatenated along depth (Figure 13-10)."""
    c1, c3r, c3, c5r, c5, proj = channels
    b1 = conv(x, c1, 1, f"{name}_1x1")
    b3 = conv(conv(x, c3r, 1, f"{name}_3x3_reduce"), c3, 3, f"{name}_3x3")
    b5 = conv(conv(x, c5r, 1, f"{name}_5x5_reduce"), c5, 5, f"{name}_5x5")
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv(bp, proj, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])


def aux_classifier(x, classes: int, activation, width: float, name: str):
    """5x5/3 average pool, 1x1 conv 128, FC 1024, dropout 0.7, classifier (paper section 5)."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_avg_pool")(x)
    x = conv(x, _common.scaled(128, width), 1, f"{name}_conv")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(_common.scaled(1024, width), activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return _common.classifier(x, classes, activation, name=f"{name}_predictions")


# 3. The builder.
def _build_googlenet(
    spec: list,
    *,
    include_top: bool = True,
    input_shape=(224, 224, 3),
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "googlenet",
    width: float = 1.0,
    dropout: float = 0.4,
    aux_logits: bool = False,
) -> keras.Model:
    """GoogLeNet; with ``aux_logits`` (and ``include_top``) the model has three outputs
    ``[main, aux_4a, aux_4d]`` (train with loss weights 1, 0.3, 0.3 as the paper).

    Shared arguments: see :mod:`dlcourse.models._common`.
    """
    input_shape = _common.check_args(
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        width=width,
    )
    _common.check_in_range("dropout", dropout, 0, 1)
    aux = aux_logits and include_top
    stem = [("conv1_7x7", 7, 2, "same"), ("pool1", 3, 2, "same"), ("pool2", 3, 2, "same")]
    pools = [(f"pool{n}", 3, 2, "same") for n in range(3, 3 + spec.count("M"))]
    _common.check_input_size(name, input_shape, stem + pools)  # no pool may get a 1x1 map
    if aux:  # every main-path layer is SAME; only the auxiliary 5x5 VALID pooling can fail
        ops = [
            ("conv1_7x7", 7, 2, "same"),
            ("pool1", 3, 2, "same"),
            ("pool2", 3, 2, "same"),
            ("pool3", 3, 2, "same"),
            ("aux_4a_avg_pool", 5, 3, "valid"),
        ]
        _common.check_input_size(name, input_shape, ops)
    s = lambda c: _common.scaled(c, width)
    inputs = keras.Input(input_shape)
    # Block 1: the stem divides height and width by 8.
    x = conv(inputs, s(64), 7, "conv1_7x7", stride=2)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = LocalResponseNormalization(**LRN, name="lrn1")(x)
    x = conv(x, s(64), 1, "conv2_3x3_reduce")
    x = conv(x, s(192), 3, "conv2_3x3")
    x = LocalResponseNormalization(**LRN, name="lrn2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    # Blocks 3-5: nine inception modules, two max pools in between.
    aux_outputs, n_pools = [], 2
    for item in spec:
        if item == "M":
            n_pools += 1
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{n_pools}")(x)
            continue
        module, channels = item
        x = inception_module(x, tuple(s(c) for c in channels), f"inception_{module}")
        if aux and module in AUX_AFTER:
            aux_outputs.append(
                aux_classifier(x, classes, classifier_activation, width, f"aux_{module}")
            )
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = _common.classifier(x, classes, classifier_activation)
    else:
        x = _common.feature_pooling(x, pooling)
    return _common.model(inputs, [x, *aux_outputs] if aux_outputs else x, name)


# 4. Entrypoint.
@register_model
def googlenet(**kwargs) -> keras.Model:
    """GoogLeNet / Inception v1 (6,998,552 parameters with 1000 classes, no aux)."""
    return _build_googlenet(SPEC, **kwargs)
