"""Multi-layer perceptrons (notes 000 Unit II, 004): the 784-300-100-10 MNIST MLP and kin.

Rumelhart, Hinton & Williams (1986); the MNIST MLP of the notes (Geron, ch. 10): 784 inputs,
hidden layers of 300 and 100 ReLU units, a 10-way softmax: 266,610 parameters.

The same network three ways, as the notes show them: :func:`mlp` (Functional, registered),
:func:`mlp_sequential` (Sequential) and :class:`MLP` (subclassed, serializable). Given the same
weights all three compute the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras

from dlcourse.layers.mc_dropout import MCAlphaDropout, MCDropout
from dlcourse.layers.rrelu import RReLU
from dlcourse.models.registry import register_model
from dlcourse.utils import check_choice, check_in_range, check_positive

MNIST_HIDDEN = (300, 100)

#: activation name -> a fresh layer (names the Keras string activations don't cover)
ACTIVATION_LAYERS: dict[str, Callable[..., keras.layers.Layer]] = {
    "leaky_relu_0.01": lambda name: keras.layers.LeakyReLU(negative_slope=0.01, name=name),
    "leaky_relu_0.2": lambda name: keras.layers.LeakyReLU(negative_slope=0.2, name=name),
    "prelu": lambda name: keras.layers.PReLU(name=name),
    "rrelu": lambda name: RReLU(name=name),
}
BATCH_NORM = ("none", "before", "after")


def _check(hidden, classes, input_shape, batch_norm="none", dropout=0.0) -> None:
    check_positive("classes", classes)
    if any(int(h) < 1 for h in hidden):
        raise ValueError(f"`hidden` sizes must be >= 1. Received: hidden={tuple(hidden)!r}")
    if input_shape is not None and (len(input_shape) == 0 or min(input_shape) < 1):
        raise ValueError(
            f"`input_shape` must be non-empty and positive. Received: input_shape={input_shape!r}"
        )
    check_choice("batch_norm", batch_norm, BATCH_NORM)
    check_in_range("dropout", dropout, 0.0, 1.0, closed="[)")


def _layers(
    hidden,
    activation,
    include_top,
    classes,
    classifier_activation,
    *,
    kernel_initializer="glorot_uniform",
    batch_norm: str = "none",
    dropout: float = 0.0,
    mc_dropout: bool = False,
    kernel_regularizer=None,
    kernel_constraint=None,
    activation_layers: bool = False,
) -> list:
    """Flatten, then per hidden layer ``i``: ``hidden{i}`` Dense (+ ``bn{i}`` before or after
    ``act{i}``) (+ ``dropout{i}``), then the ``predictions`` layer.

    The activation is fused into the Dense layer unless it needs a layer of its own (an
    :data:`ACTIVATION_LAYERS` name, batch norm, or ``activation_layers=True``).
    """
    separate = activation_layers or batch_norm != "none" or activation in ACTIVATION_LAYERS
    layers = [keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(hidden, 1):
        layers.append(
            keras.layers.Dense(
                units,
                activation=None if separate else activation,
                kernel_initializer=kernel_initializer,
                use_bias=batch_norm != "before",  # BN's beta replaces the bias
                kernel_regularizer=kernel_regularizer,
                kernel_constraint=kernel_constraint,
                name=f"hidden{i}",
            )
        )
        if batch_norm == "before":
            layers.append(keras.layers.BatchNormalization(name=f"bn{i}"))
        if separate:
            layers.append(_activation(activation, name=f"act{i}"))
        if batch_norm == "after":
            layers.append(keras.layers.BatchNormalization(name=f"bn{i}"))
        if dropout:
            layers.append(_dropout(dropout, activation == "selu", mc_dropout, f"dropout{i}"))
    if include_top:
        # float32 output layer: softmax/logits stay float32 under a mixed-precision policy.
        top = keras.layers.Dense(
            classes, activation=classifier_activation, name="predictions", dtype="float32"
        )
        layers.append(top)
    return layers


def _activation(activation: str, name: str) -> keras.layers.Layer:
    if activation in ACTIVATION_LAYERS:
        return ACTIVATION_LAYERS[activation](name)
    return keras.layers.Activation(activation, name=name)


def _dropout(rate: float, alpha: bool, mc: bool, name: str) -> keras.layers.Layer:
    if mc:
        return (MCAlphaDropout if alpha else MCDropout)(rate, name=name)
    return (keras.layers.AlphaDropout if alpha else keras.layers.Dropout)(rate, name=name)


@register_model
def mlp(
    *,
    hidden: Sequence[int] = MNIST_HIDDEN,
    activation: str = "relu",
    include_top: bool = True,
    input_shape: Sequence[int] = (28, 28, 1),
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "mlp",
    **options,
) -> keras.Model:
    """A fully connected network (Functional API): flatten, ``hidden`` Dense layers, softmax.

    The one MLP builder: the registry, the Unit III labs (:func:`deep_mlp`), the hypermodel,
    pretraining and the distributed demo all build through it.

    Args:
        hidden: units of each hidden layer.
        activation: hidden-layer activation: a Keras name or an :data:`ACTIVATION_LAYERS` key.
        include_top: whether to add the ``classes``-way output layer.
        input_shape: shape of one example (images are flattened).
        classes: number of output classes.
        classifier_activation: output activation (``None`` for logits).
        name: model name.
        **options: ``kernel_initializer``, ``kernel_regularizer``, ``kernel_constraint``;
            ``batch_norm`` (``"before"`` the activation, as in the BN paper, ``"after"`` it, or
            ``"none"``); ``dropout`` (rate after each hidden layer; ``AlphaDropout`` with selu),
            ``mc_dropout`` (the Monte Carlo variants that stay on at inference);
            ``activation_layers`` (the activation as its own ``act{i}`` layer).
    """
    _check(
        hidden, classes, input_shape, options.get("batch_norm", "none"), options.get("dropout", 0.0)
    )
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    for layer in _layers(
        hidden, activation, include_top, classes, classifier_activation, **options
    ):
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def deep_mlp(
    input_shape: Sequence[int],
    classes: int,
    *,
    depth: int = 5,
    units: int = 64,
    kernel_initializer="he_normal",
    name: str = "deep_mlp",
    **options,
) -> keras.Model:
    """The Unit III labs' MLP: :func:`mlp` with ``depth`` hidden layers of ``units`` He-initialized
    units and the activation as its own ``act{i}`` layer (uncompiled).

    One builder serves every Unit III comparison (activations, initializations, batch norm,
    dropout, max-norm ...), so two runs differ only in the setting being compared.
    """
    check_positive("depth", depth)
    check_positive("units", units)
    return mlp(
        hidden=(units,) * depth,
        input_shape=input_shape,
        classes=classes,
        kernel_initializer=kernel_initializer,
        activation_layers=True,
        name=name,
        **options,
    )


def compile_classifier(model: keras.Model, optimizer="adam") -> keras.Model:
    """Compile for integer class labels: sparse cross-entropy and accuracy."""
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@register_model
def mlp_mnist(**kwargs) -> keras.Model:
    """The notes' MNIST MLP: 784-300-100-10, ReLU, softmax (266,610 parameters)."""
    kwargs.setdefault("name", "mlp_mnist")
    return mlp(hidden=MNIST_HIDDEN, **kwargs)


def mlp_sequential(
    *,
    hidden: Sequence[int] = MNIST_HIDDEN,
    activation: str = "relu",
    input_shape: Sequence[int] = (28, 28, 1),
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "mlp_sequential",
) -> keras.Sequential:
    """The same network with the Sequential API."""
    _check(hidden, classes, input_shape)
    layers = _layers(hidden, activation, True, classes, classifier_activation)
    return keras.Sequential([keras.Input(shape=tuple(input_shape)), *layers], name=name)


@keras.saving.register_keras_serializable(package="dlcourse")
class MLP(keras.Model):
    """The same network by subclassing ``keras.Model``; round-trips through ``.keras`` files."""

    def __init__(
        self,
        hidden: Sequence[int] = MNIST_HIDDEN,
        activation: str = "relu",
        classes: int = 10,
        classifier_activation: str | None = "softmax",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check(hidden, classes, None)
        self.hidden = [int(h) for h in hidden]
        self.activation = activation
        self.classes = classes
        self.classifier_activation = classifier_activation
        self.stack = _layers(self.hidden, activation, True, classes, classifier_activation)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.stack:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        super().build(input_shape)

    def call(self, inputs):
        x = inputs
        for layer in self.stack:
            x = layer(x)
        return x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "hidden": list(self.hidden),
            "activation": self.activation,
            "classes": self.classes,
            "classifier_activation": self.classifier_activation,
        }
