"""What every CNN builder shares: argument checks, the width knob, the input-size check, the top.

Every builder takes the keras.applications keyword arguments, documented once here:

    include_top: whether to put the classifier on top (otherwise the model ends at the last
        feature maps, or their global pooling, see ``pooling``).
    input_shape: ``(height, width, channels)``; defaults to the paper's input.
    pooling: with ``include_top=False``: ``None`` (4-D feature maps), ``"avg"`` or ``"max"``
        (global pooling to a 2-D ``(batch, channels)`` output).
    classes: number of classes (>= 1).
    classifier_activation: activation of the last layer (``"softmax"``, or ``None`` for logits).
    name: the model's name.
    width: channel multiplier (> 0) for every conv and hidden dense layer, so CPU labs can train
        small versions; 1.0 is the paper's model.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from dlcourse.utils import check_choice, check_in_range, check_positive  # noqa: F401

POOLINGS = (None, "avg", "max")


def check_args(
    *,
    include_top: bool,
    input_shape: Sequence[int],
    pooling: str | None,
    classes: int,
    width: float = 1.0,
) -> tuple[int, int, int]:
    """Validate the shared builder arguments first (keras.applications style)."""
    check_choice("pooling", pooling, POOLINGS)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be an integer >= 1. Received: classes={classes!r}")
    check_positive("width", width)
    if len(tuple(input_shape)) != 3 or any(
        not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in input_shape
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive ints. "
            f"Received: input_shape={input_shape!r}"
        )
    if not isinstance(include_top, bool):
        raise ValueError(  # noqa: TRY004  (the project raises ValueError for every bad argument)
            f"`include_top` must be a bool. Received: include_top={include_top!r}"
        )
    return tuple(input_shape)


def scaled(channels: int, width: float) -> int:
    """``channels * width``, rounded, at least 1."""
    return max(1, round(channels * width))


def out_size(n: int, kernel: int, stride: int, padding: str | int) -> int:
    """Output length of a conv/pool window on ``n`` inputs.

    ``padding``: ``"same"`` gives ``ceil(n / s)``; ``"valid"`` is ``floor((n - f) / s) + 1``;
    an int ``p`` (a ``ZeroPadding2D`` in front) gives ``floor((n + 2p - f) / s) + 1``.
    """
    if padding == "same":
        return -(-n // stride)
    p = 0 if padding == "valid" else padding
    return (n + 2 * p - kernel) // stride + 1


def check_input_size(
    model: str, input_shape: Sequence[int], ops: Sequence[tuple[str, int, int, str | int]]
) -> None:
    """Walk the spatial size through ``ops`` = ``(layer_name, kernel, stride, padding)``.

    Raises a ``ValueError`` that names the first layer whose output would have no pixels, or
    the first strided layer that would get a 1x1 map (the layers after it would all see the
    same single pixel; keras.applications likewise refuses inputs under its minimum size).
    """
    problem = _size_problem(input_shape[0], input_shape[1], ops)
    if problem:
        smallest = next(n for n in range(1, 4097) if not _size_problem(n, n, ops))
        raise ValueError(
            f"`input_shape` is too small for {model}: {problem} (the smallest input it takes "
            f"is {smallest}x{smallest}). Received: input_shape={tuple(input_shape)}"
        )


def _size_problem(h: int, w: int, ops: Sequence[tuple[str, int, int, str | int]]) -> str:
    for layer_name, kernel, stride, padding in ops:
        if stride > 1 and padding == "same" and min(h, w) < 2:
            return f"layer {layer_name!r} would downsample a {h}x{w} map"
        h, w = out_size(h, kernel, stride, padding), out_size(w, kernel, stride, padding)
        if h < 1 or w < 1:
            return f"layer {layer_name!r} would get a non-positive output size ({h}x{w})"
    return ""


def feature_pooling(x, pooling: str | None):
    """``include_top=False``: keep the maps, or pool them globally (``"avg"``/``"max"``)."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def classifier(x, classes: int, activation: str | None, name: str = "predictions"):
    """The last dense layer; the activation runs in float32 under mixed precision."""
    x = layers.Dense(classes, name=name)(x)
    return layers.Activation(activation, dtype="float32", name=f"{name}_act")(x)


def model(inputs, outputs, name: str) -> keras.Model:
    return keras.Model(inputs, outputs, name=name)
