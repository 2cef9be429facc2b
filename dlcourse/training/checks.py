"""``fit``'s input checks: a bad input is one error naming both sides, before any training.

TensorFlow reports these problems deep inside a graph ("Dimensions 32 and 31 are not
compatible", a 26-line "Received a label value of 12 which is outside the valid range"). Here:

* ``x`` and ``y`` of different lengths, an empty set, data that is neither a ``tf.data``
  dataset nor an ``(x, y)`` pair: checked at once, before the model is built;
* inputs whose per-example shape is not the model's input shape, and labels that do not fit
  the model's output (class indices outside ``[0, outputs)`` under a sparse categorical loss,
  one-hot rows of the wrong width under a categorical loss): checked when training begins,
  once the model exists, by a callback that runs first.

A ``tf.data.Dataset`` is checked cheaply: shapes from its ``element_spec`` (nothing is read),
labels from its first batch only, so a large or file-backed dataset is not read through.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf


def check_fit_inputs(
    train, validation=None, callbacks: Sequence[keras.callbacks.Callback] = ()
) -> list[keras.callbacks.Callback]:
    """Check ``train``/``validation`` now; return ``callbacks`` led by the model-side check."""
    for role, data in (("train", train), ("validation", validation)):
        if data is not None:
            _check_pairs(role, data)
    return [_ModelCheck(train, validation), *callbacks]


def _check_pairs(role: str, data) -> None:
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not isinstance(spec, tuple) or len(spec) < 2:
            raise ValueError(
                f"`{role}` must yield (x, y) pairs. Received: a dataset with element_spec={spec}"
            )
        return
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise TypeError(
            f"`{role}` must be a tf.data.Dataset or an (x, y) tuple. "
            f"Received: {role} of type {type(data).__name__}"
        )
    n_x, n_y = _length(data[0]), _length(data[1])
    if n_x is None or n_y is None:
        return  # dicts of inputs and the like: Keras checks those itself
    if n_x != n_y:
        raise ValueError(
            f"`{role}` needs one label per example: x and y must have the same length. "
            f"Received: len(x)={n_x}, len(y)={n_y}"
        )
    if n_x == 0:
        raise ValueError(f"`{role}` has no examples. Received: len(x)=0")


def _length(v) -> int | None:
    shape = getattr(v, "shape", None)
    if shape is None and isinstance(v, (list, tuple)):
        shape = np.shape(v)
    return None if shape is None or len(shape) == 0 else int(shape[0])


class _ModelCheck(keras.callbacks.Callback):
    """Compares the data with the built model when training begins (fit's first callback)."""

    def __init__(self, train, validation):
        super().__init__()
        self.data = {"train": train, "validation": validation}

    def on_train_begin(self, logs=None):
        model = self.model
        if len(model.inputs or ()) != 1 or len(model.outputs or ()) != 1:
            return  # a subclassed or multi-input/-output model: nothing simple to compare
        for role, data in self.data.items():
            if data is not None:
                check_against_model(model, role, data)


def check_against_model(model: keras.Model, role: str, data) -> None:
    """Input shape and label range of ``data`` against a built single-input, -output model."""
    expected = tuple(model.inputs[0].shape[1:])
    if isinstance(data, tf.data.Dataset):
        if not hasattr(data.element_spec[0], "shape"):
            return  # a dict of named inputs
        shape = tuple(data.element_spec[0].shape)
        per_example, full = shape[1:], f"element_spec x shape={shape}"
        if _compatible(shape, expected) and not _compatible(per_example, expected):
            raise ValueError(
                f"`{role}` must be a batched dataset (call .batch(batch_size)): each element "
                f"is one example of model '{model.name}'. Received: {full}"
            )
    else:
        x = data[0] if hasattr(data[0], "shape") else np.asarray(data[0])
        if x.dtype == object or x.ndim == 0:
            return  # not an array of examples: Keras checks it itself
        per_example, full = tuple(x.shape[1:]), f"x.shape={tuple(x.shape)}"
    if not _compatible(per_example, expected):
        raise ValueError(
            f"`{role}` inputs do not match the model: each example has shape {per_example} but "
            f"model '{model.name}' expects {expected}. "
            f"Received: {full}, model.input_shape={(None, *expected)}"
        )
    _check_labels(model, role, data)


def _compatible(got: tuple, want: tuple) -> bool:
    # Keras itself adds or drops a trailing axis of size 1: (28, 28) feeds a (28, 28, 1) input.
    if len(got) == len(want) + 1 and got[-1] == 1:
        got = got[:-1]
    elif len(want) == len(got) + 1 and want[-1] == 1:
        want = want[:-1]
    return len(got) == len(want) and all(
        g is None or w is None or g == w for g, w in zip(got, want)
    )


def _loss_name(model: keras.Model) -> str:
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return loss
    return str(getattr(loss, "name", None) or getattr(loss, "__name__", ""))


def _first_labels(data) -> np.ndarray:
    if isinstance(data, tf.data.Dataset):  # one batch only: never read a large set through
        for batch in data.take(1):
            return np.asarray(batch[1])
        return np.zeros((0,))
    return np.asarray(data[1])


def _check_labels(model: keras.Model, role: str, data) -> None:
    loss, outputs = _loss_name(model), model.outputs[0].shape[-1]
    if outputs is None or "categorical_crossentropy" not in loss:
        return
    y = _first_labels(data)
    if y.size == 0:
        return
    if loss.startswith("sparse"):
        low, high = y.min(), y.max()
        if low < 0 or high >= outputs:
            raise ValueError(
                f"`{role}` labels must be class indices in [0, {outputs}) for model "
                f"'{model.name}' with {outputs} outputs. Received: labels from {low} to {high}"
            )
    elif y.ndim < 1 or y.shape[-1] != outputs:
        raise ValueError(
            f"`{role}` labels must be one-hot rows of width {outputs} (the model's outputs) "
            f"under {loss}. Received: y.shape={y.shape}"
        )
