"""ResNet-18/34 (basic units) and ResNet-50/101/152 (bottleneck units).

He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (notes 000
Unit IV, Figures 13-12 to 13-15; notes 002 "Residual Training"). Each unit learns a residual
F(x) and outputs ReLU(F(x) + shortcut); the shortcut is the identity, or a 1x1 projection
(+ batch norm) where the feature-map size or depth changes (Figure 13-15).

Conventions, so the counts match the references exactly:

* ResNet-50/101/152 mirror ``keras.applications`` (v1): biases in every conv, BN epsilon
  1.001e-5, the stride on the first 1x1 conv of a unit. ``resnet50(classes=1000)`` has
  25,636,712 parameters and ``resnet152`` 60,419,944, as keras.applications.
* ResNet-18/34 follow the paper and torchvision: no conv biases (BN follows every conv).
  ``resnet34(classes=1000)`` has 21,797,672 *trainable* parameters and ``resnet18``
  11,689,512, as torchvision (which counts BN's moving mean/variance as buffers, not
  parameters; Keras' ``count_params`` adds them: 21,814,696 and 11,699,112).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from dlcourse.models import _common
from dlcourse.models.registry import register_model
from dlcourse.utils import check_in_range, check_positive

BN_EPSILON = 1.001e-5

# 1. Spec: (unit, units per stage); stages conv2..conv5 have 64, 128, 256, 512 base channels.
SPECS: dict[str, tuple[str, list[int]]] = {
    "resnet18": ("basic", [2, 2, 2, 2]),
    "resnet34": ("basic", [3, 4, 6, 3]),
    "resnet50": ("bottleneck", [3, 4, 6, 3]),
    "resnet101": ("bottleneck", [3, 4, 23, 3]),
    "resnet152": ("bottleneck", [3, 8, 36, 3]),
}
STAGE_CHANNELS = (64, 128, 256, 512)


# 2. Block helpers.
def conv_bn(x, filters: int, kernel: int, stride: int, name: str, opts: dict, relu: bool):
    """Conv -> BN (-> ReLU), named ``{name}_conv``, ``{name}_bn``, ``{name}_relu``.

    ``opts``: ``use_bias`` of the conv and ``bn_momentum`` of the batch norm.
    """
    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="same" if kernel > 1 else "valid",
        use_bias=opts["use_bias"],
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(
        momentum=opts["bn_momentum"], epsilon=BN_EPSILON, name=f"{name}_bn"
    )(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _join(shortcut, x, name: str):
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def basic_unit(x, filters: int, stride: int, name: str, opts: dict):
    """Two 3x3 convs; 1x1 projection shortcut when the size or depth changes."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, f"{name}_0", opts, relu=False)
    x = conv_bn(x, filters, 3, stride, f"{name}_1", opts, relu=True)
    x = conv_bn(x, filters, 3, 1, f"{name}_2", opts, relu=False)
    return _join(shortcut, x, name)


def bottleneck_unit(x, filters: int, stride: int, name: str, opts: dict):
    """1x1 reduce (with the stride, as keras) -> 3x3 -> 1x1 expand to ``4 * filters``."""
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = conv_bn(x, 4 * filters, 1, stride, f"{name}_0", opts, relu=False)
    x = conv_bn(x, filters, 1, stride, f"{name}_1", opts, relu=True)
    x = conv_bn(x, filters, 3, 1, f"{name}_2", opts, relu=True)
    x = conv_bn(x, 4 * filters, 1, 1, f"{name}_3", opts, relu=False)
    return _join(shortcut, x, name)


UNITS = {"basic": basic_unit, "bottleneck": bottleneck_unit}


def stack(x, unit: Callable, filters: int, units: int, stride: int, name: str, opts: dict):
    """One stage: the first unit may downsample (``stride``), the rest keep the size."""
    x = unit(x, filters, stride, f"{name}_block1", opts)
    for i in range(2, units + 1):
        x = unit(x, filters, 1, f"{name}_block{i}", opts)
    return x


def stack_fn_for(kind: str, units: list[int], width: float, opts: dict) -> Callable:
    """The ``stack_fn`` of a spec: stages conv2..conv5 (conv2 keeps the size after pool1)."""

    def stack_fn(x):
        for i, (channels, n) in enumerate(zip(STAGE_CHANNELS, units)):
            filters = _common.scaled(channels, width)
            x = stack(x, UNITS[kind], filters, n, 1 if i == 0 else 2, f"conv{i + 2}", opts)
        return x

    return stack_fn


# 3. The generic builder (keras.applications.resnet.ResNet).
def _build_resnet(
    stack_fn: Callable,
    *,
    include_top: bool = True,
    input_shape=(224, 224, 3),
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet",
    width: float = 1.0,
    use_bias: bool = True,
    bn_momentum: float = 0.99,
) -> keras.Model:
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), ``stack_fn``, global average pool, dense.

    ``use_bias``: biases in the convs (keras.applications: yes; torchvision: no).
    ``bn_momentum``: of every batch norm's moving statistics (Keras' default 0.99); a short
    training run on a small dataset needs a lower one (e.g. 0.9) or its moving statistics
    still lag the data when it is evaluated. Shared arguments: see
    :mod:`dlcourse.models._common`.
    """
    input_shape = _common.check_args(
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        width=width,
    )
    stages = [(f"conv{i}_block1_1_conv", 1, 2, "same") for i in (3, 4, 5)]  # strided units
    _common.check_input_size(
        name, input_shape, [("conv1_conv", 7, 2, 3), ("pool1_pool", 3, 2, 1), *stages]
    )
    inputs = keras.Input(input_shape)
    # Block 1: the stem divides height and width by 4.
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(
        _common.scaled(64, width), 7, strides=2, use_bias=use_bias, name="conv1_conv"
    )(x)
    x = layers.BatchNormalization(momentum=bn_momentum, epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    # Blocks 2-5: the residual stages.
    x = stack_fn(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = _common.classifier(x, classes, classifier_activation)
    else:
        x = _common.feature_pooling(x, pooling)
    return _common.model(inputs, x, name)


def _resnet(arch: str, kwargs: dict, use_bias: bool) -> keras.Model:
    kind, units = SPECS[arch]
    kwargs = {"name": arch, "width": 1.0, "use_bias": use_bias, "bn_momentum": 0.99, **kwargs}
    check_positive("width", kwargs["width"])
    check_in_range("bn_momentum", kwargs["bn_momentum"], 0, 1)
    opts = {"use_bias": kwargs["use_bias"], "bn_momentum": kwargs["bn_momentum"]}
    return _build_resnet(stack_fn_for(kind, units, kwargs["width"], opts), **kwargs)


# 4. Entrypoints.
@register_model
def resnet18(**kwargs) -> keras.Model:
    """ResNet-18: basic units [2, 2, 2, 2], no conv biases (11,689,512 trainable)."""
    return _resnet("resnet18", kwargs, use_bias=False)


@register_model
def resnet34(**kwargs) -> keras.Model:
    """ResNet-34: basic units [3, 4, 6, 3], no conv biases (21,797,672 trainable)."""
    return _resnet("resnet34", kwargs, use_bias=False)


@register_model
def resnet50(**kwargs) -> keras.Model:
    """ResNet-50: bottleneck units [3, 4, 6, 3] (keras.applications: 25,636,712)."""
    return _resnet("resnet50", kwargs, use_bias=True)


@register_model
def resnet101(**kwargs) -> keras.Model:
    """ResNet-101: bottleneck units [3, 4, 23, 3] (keras.applications: 44,707,176)."""
    return _resnet("resnet101", kwargs, use_bias=True)


@register_model
def resnet152(**kwargs) -> keras.Model:
    """ResNet-152: bottleneck units [3, 8, 36, 3] (keras.applications: 60,419,944)."""
    return _resnet("resnet152", kwargs, use_bias=True)
