"""Multi-layer perceptrons (notes 000 Unit II, 004): the 784-300-100-10 MNIST MLP and kin.

Rumelhart, Hinton & Williams (1986); the MNIST MLP of the notes (Geron, ch. 10): 784 inputs,
hidden layers of 300 and 100 ReLU units, a 10-way softmax: 266,610 parameters.

The same network three ways, as the notes show them: :func:`mlp` (Functional, registered),
:func:`mlp_sequential` (Sequential) and :class:`MLP` (subclassed, serializable). Given the same
weights all three compute the same outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from dlcourse.models.registry import register_model
from dlcourse.utils import check_positive

MNIST_HIDDEN = (300, 100)


def _check(hidden: Sequence[int], classes: int, input_shape: Sequence[int] | None) -> None:
    check_positive("classes", classes)
    if any(int(h) < 1 for h in hidden):
        raise ValueError(f"`hidden` sizes must be >= 1. Received: hidden={tuple(hidden)!r}")
    if input_shape is not None and (len(input_shape) == 0 or min(input_shape) < 1):
        raise ValueError(
            f"`input_shape` must be non-empty and positive. Received: input_shape={input_shape!r}"
        )


def _layers(hidden, activation, include_top, classes, classifier_activation) -> list:
    layers = [keras.layers.Flatten(name="flatten")]
    layers += [
        keras.layers.Dense(units, activation=activation, name=f"hidden{i}")
        for i, units in enumerate(hidden, 1)
    ]
    if include_top:
        # float32 output layer: softmax/logits stay float32 under a mixed-precision policy.
        top = keras.layers.Dense(
            classes, activation=classifier_activation, name="predictions", dtype="float32"
        )
        layers.append(top)
    return layers


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
) -> keras.Model:
    """A fully connected network (Functional API): flatten, ``hidden`` Dense layers, softmax.

    Args:
        hidden: units of each hidden layer.
        activation: hidden-layer activation.
        include_top: whether to add the ``classes``-way output layer.
        input_shape: shape of one example (images are flattened).
        classes: number of output classes.
        classifier_activation: output activation (``None`` for logits).
        name: model name.
    """
    _check(hidden, classes, input_shape)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    for layer in _layers(hidden, activation, include_top, classes, classifier_activation):
        x = layer(x)
    return keras.Model(inputs, x, name=name)


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
