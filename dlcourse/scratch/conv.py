"""Convolution, pooling, ReLU, flattening and softmax from first principles (NumPy).

Teaching twins of ``tf.nn.conv2d``, ``tf.nn.max_pool2d``, ``tf.nn.avg_pool2d``,
``tf.nn.relu``, ``tf.nn.softmax`` and ``tf.nn.local_response_normalization`` (notes 000 Unit IV,
Equation 13-1 and 13-2; 001 "CNN by hand"; 002 "CNN basics"). Tensors are NHWC like TF:
images ``(batch, height, width, channels)``, filters ``(fh, fw, in_channels, out_channels)``.
Each function is checked against its TF counterpart in ``tests/test_unit4_scratch.py``.

Also: the output-size formula ``(n + 2p - f) / s + 1``, SAME/VALID padding as TF computes it,
and a cost calculator for a convolutional layer (parameters, multiplications, output memory).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.utils import check_choice, check_positive

PADDINGS = ("VALID", "SAME")
POOL_MODES = ("max", "avg", "min", "sum")


# --------------------------------------------------------------------------- sizes and padding


def output_size(n: int, f: int, s: int = 1, p: int = 0) -> int:
    """Output length of a convolution or pooling window: ``floor((n + 2p - f) / s) + 1``.

    Raises ``ValueError`` when the window does not fit (a non-positive output size).
    """
    check_positive("f", f)
    check_positive("s", s)
    check_positive("p", p, strict=False)
    out = (n + 2 * p - f) // s + 1
    if out < 1:
        raise ValueError(
            f"A {f}x{f} window with stride {s} and padding {p} does not fit an input of size {n}: "
            f"the output size would be {out}. Received: n={n}, f={f}, s={s}, p={p}"
        )
    return out


def same_padding(n: int, f: int, s: int = 1) -> tuple[int, int]:
    """(before, after) zero padding TF uses for ``padding="SAME"``: output ``ceil(n / s)``.

    When the total is odd TF puts the extra zero after (bottom/right).
    """
    out = -(-n // s)
    total = max((out - 1) * s + f - n, 0)
    return total // 2, total - total // 2


def _pads(x: np.ndarray, fh: int, fw: int, stride: tuple[int, int], padding) -> list:
    """np.pad widths for an NHWC batch: an int p pads p zeros on every side."""
    if isinstance(padding, (int, np.integer)):
        check_positive("padding", int(padding), strict=False)
        return [(0, 0), (padding, padding), (padding, padding), (0, 0)]
    check_choice("padding", padding, PADDINGS)
    if padding == "VALID":
        return [(0, 0)] * 4
    return [
        (0, 0),
        same_padding(x.shape[1], fh, stride[0]),
        same_padding(x.shape[2], fw, stride[1]),
        (0, 0),
    ]


def _pair(name: str, v) -> tuple[int, int]:
    pair = (v, v) if np.isscalar(v) else tuple(v)
    if len(pair) != 2:
        raise ValueError(f"`{name}` must be an int or a pair of ints. Received: {name}={v!r}")
    for item in pair:
        check_positive(name, item)
    return int(pair[0]), int(pair[1])


def _check_nhwc(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(
            f"`{name}` must be a 4-D (batch, height, width, channels) array. "
            f"Received: {name}.shape={x.shape}"
        )
    return x


# --------------------------------------------------------------------------- convolution


def conv2d(
    x: np.ndarray,
    filters: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    stride: int | tuple[int, int] = 1,
    padding: str | int = "VALID",
) -> np.ndarray:
    """Equation 13-1: ``z[i, j, k] = b[k] + sum_{u, v, k'} x[i*sh + u, j*sw + v, k'] w[u, v, k', k]``.

    Args:
        x: inputs ``(batch, h, w, in_channels)``.
        filters: ``(fh, fw, in_channels, out_channels)``, TF's layout.
        bias: optional ``(out_channels,)``.
        stride: one int or ``(sh, sw)``.
        padding: ``"VALID"``, ``"SAME"`` (TF's rule) or an int ``p`` of zeros on every side.

    Returns:
        Feature maps ``(batch, out_h, out_w, out_channels)``. Like ``tf.nn.conv2d`` this is a
        cross-correlation (the filter is not flipped), which is what CNNs call convolution.
    """
    x, filters = _check_nhwc("x", x), np.asarray(filters)
    if filters.ndim != 4 or filters.shape[2] != x.shape[3]:
        raise ValueError(
            f"`filters` must have shape (fh, fw, {x.shape[3]}, out_channels) for inputs with "
            f"{x.shape[3]} channels. Received: filters.shape={filters.shape}"
        )
    fh, fw = filters.shape[:2]
    sh, sw = _pair("stride", stride)
    xp = np.pad(x, _pads(x, fh, fw, (sh, sw), padding))
    output_size(xp.shape[1], fh, sh), output_size(xp.shape[2], fw, sw)  # raise if it won't fit
    # Every receptive field at once: (batch, out_h, out_w, in_channels, fh, fw).
    windows = sliding_window_view(xp, (fh, fw), axis=(1, 2))[:, ::sh, ::sw]
    z = np.einsum("bijcuv,uvck->bijk", windows, filters)
    return z if bias is None else z + np.asarray(bias)


# --------------------------------------------------------------------------- pooling

_REDUCE = {"max": np.nanmax, "avg": np.nanmean, "min": np.nanmin, "sum": np.nansum}


def pool2d(
    x: np.ndarray,
    size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    *,
    padding: str = "VALID",
    mode: str = "max",
) -> np.ndarray:
    """Pooling (max, average, min or sum) over ``size`` windows, one channel at a time.

    SAME padding pads with "nothing" (NaN, ignored by the reduction), as TF does: a max
    ignores the padding and an average divides by the number of real inputs in the window.
    ``stride`` defaults to ``size`` (non-overlapping windows).
    """
    x = _check_nhwc("x", x).astype(np.float64)
    check_choice("mode", mode, POOL_MODES)
    ph, pw = _pair("size", size)
    sh, sw = _pair("stride", size if stride is None else stride)
    xp = np.pad(x, _pads(x, ph, pw, (sh, sw), padding), constant_values=np.nan)
    output_size(xp.shape[1], ph, sh), output_size(xp.shape[2], pw, sw)
    windows = sliding_window_view(xp, (ph, pw), axis=(1, 2))[:, ::sh, ::sw]
    return _REDUCE[mode](windows, axis=(-2, -1))  # (batch, out_h, out_w, channels)


# --------------------------------------------------------------------------- the rest of a CNN


def relu(x: np.ndarray) -> np.ndarray:
    """``max(0, x)``: negative values in a feature map become zero."""
    return np.maximum(np.asarray(x), 0)


def flatten(x: np.ndarray, order: str = "C") -> np.ndarray:
    """Pooled maps to one vector per instance; ``order="C"`` (row by row, as Keras' Flatten)
    or ``"F"`` (column by column): notes 001 show both orders."""
    check_choice("order", order, ("C", "F"))
    x = np.asarray(x)
    return x.reshape(len(x), -1, order=order) if x.ndim > 1 else x


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Squash scores into probabilities that sum to 1 (shifted by the max for stability)."""
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def local_response_normalization(
    x: np.ndarray, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5
) -> np.ndarray:
    """Equation 13-2: ``b_i = a_i (k + alpha sum_{j=i-r}^{i+r} a_j^2)^-beta`` across maps.

    Argument names and defaults are TF's; ``depth_radius`` is the notes' ``r / 2``.
    """
    check_positive("depth_radius", depth_radius, strict=False)
    x = _check_nhwc("x", x).astype(np.float64)
    sq = np.pad(x**2, [(0, 0)] * 3 + [(depth_radius, depth_radius)])
    window = sliding_window_view(sq, 2 * depth_radius + 1, axis=3).sum(-1)
    return x * (bias + alpha * window) ** -beta


# --------------------------------------------------------------------------- filters and cost


def line_filters(size: int = 7, channels: int = 3) -> np.ndarray:
    """The notes' demo filters ``(size, size, channels, 2)``: a vertical and a horizontal line."""
    check_positive("size", size)
    f = np.zeros((size, size, channels, 2), np.float32)
    f[:, size // 2, :, 0] = 1  # vertical line
    f[size // 2, :, :, 1] = 1  # horizontal line
    return f


@dataclass(frozen=True)
class ConvCost:
    """What one convolutional layer costs (notes 000, "Memory Requirements")."""

    output_shape: tuple[int, int, int]  # (height, width, maps)
    parameters: int  # (fh * fw * in_channels + 1) * maps
    multiplications: int  # per instance: output neurons x inputs of each
    output_bytes: int  # per instance
    batch_output_bytes: int  # for the whole batch

    def as_dict(self) -> dict:
        return asdict(self)


def conv_cost(
    input_shape: tuple[int, int, int],
    maps: int,
    kernel: int | tuple[int, int],
    *,
    stride: int = 1,
    padding: str = "SAME",
    batch_size: int = 1,
    bytes_per_value: int = 4,
) -> ConvCost:
    """Parameters, float multiplications and output memory of a conv layer.

    The notes' example: ``conv_cost((150, 100, 3), 200, 5, batch_size=100)`` gives 15,200
    parameters, 225 million multiplications, 12 MB (11.4 MiB) of output per instance and
    1.2 GB for a batch of 100.
    """
    h, w, c = input_shape
    fh, fw = _pair("kernel", kernel)
    check_positive("maps", maps)
    check_positive("batch_size", batch_size)
    check_choice("padding", padding, PADDINGS)
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
    else:
        oh, ow = output_size(h, fh, stride), output_size(w, fw, stride)
    values = oh * ow * maps
    return ConvCost(
        output_shape=(oh, ow, maps),
        parameters=(fh * fw * c + 1) * maps,
        multiplications=values * fh * fw * c,
        output_bytes=values * bytes_per_value,
        batch_output_bytes=values * bytes_per_value * batch_size,
    )


# --------------------------------------------------------------------------- worked examples

# Notes 001: ReLU on a 3x3 feature map; max-pooling a 4x4 map (2x2 windows, stride 2 and 1).
RELU_EXAMPLE = np.array([[-1, 3, 2], [1, -2, 1], [-1, 1, 3]])
RELU_EXAMPLE_OUT = np.array([[0, 3, 2], [1, 0, 1], [0, 1, 3]])
POOL_EXAMPLE = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
POOL_EXAMPLE_STRIDE2 = np.array([[6, 8], [3, 4]])
POOL_EXAMPLE_STRIDE1 = np.array([[6, 7, 8], [6, 7, 8], [3, 3, 4]])
# Notes 002: a 6x6 input zero-padded with p = 1 and a 3x3 vertical-edge filter (f = 3).
PADDED_EXAMPLE = np.array(
    [
        [4, 9, 2, 5, 8, 3],
        [5, 6, 2, 4, 0, 3],
        [2, 4, 5, 4, 5, 2],
        [5, 6, 5, 4, 7, 8],
        [5, 7, 7, 9, 2, 1],
        [5, 8, 5, 3, 8, 4],
    ]
)
EDGE_FILTER = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]])


def as_nhwc(a: np.ndarray) -> np.ndarray:
    """A 2-D map as a one-image, one-channel NHWC batch."""
    return np.asarray(a, np.float64)[None, :, :, None]
