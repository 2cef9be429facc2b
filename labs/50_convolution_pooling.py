"""
Title: Convolution and pooling by hand vs TensorFlow, feature maps on sample images
Unit: IV
Notes: 000 (Unit IV: Equation 13-1, line filters demo, memory requirements, pooling), 001 (CNN by hand: ReLU, max pooling, flattening, softmax), 002 (padding and stride, 1x1 convolutions)
Lesson: A convolution is one small filter slid over the image (weights shared across
positions) and pooling a fixed window summary; a few lines of NumPy compute both exactly as
TensorFlow does, with VALID and SAME padding and any stride, and reproduce the notes' worked
examples, including what one convolutional layer costs in parameters and multiplications.
ReLU and max pooling may be applied in either order (any activation that never decreases
commutes with a max); GELU, which dips, or average pooling may not.
Description: Writes convolution and max/average pooling as plain NumPy loops (the lab's
exercises: padding_widths, conv2d, pool2d; ReLU, flattening and softmax come from the twins in
dlcourse.scratch.conv) and reproduces the notes' worked examples with them (the 3x3 ReLU example, max pooling a 4x4 map with stride 2 and 1, flattening in both orders,
the zero-padded 6x6 convolution with f = 3, p = 1, a 1x1 convolution), checks convolution and
max/avg pooling against tf.nn on random inputs, computes the notes' conv-layer cost example
(5x5 filters, 200 maps of 150x100, RGB input), and applies the vertical- and horizontal-line
7x7 filters to scikit-learn's sample images (stride 2, SAME), plotting the feature maps and a
2x2 max-pooled image. Checks with Keras's own layers, on standardized feature maps of a random
Conv2D of the photos, that ReLU(MaxPool(M)) = MaxPool(ReLU(M)) exactly (tanh, sigmoid and ELU
to float rounding), while the two orders differ on 21-30 % of the pooled values with GELU (not
monotone) and on 10-15 % with ReLU and 2x2 average pooling (seeds 0-9).
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from dlcourse import data, labkit, notes_examples, plots
from dlcourse.labkit import arg
from dlcourse.scratch import conv as sc

LAB = labkit.lab_name(__file__)
MONOTONE = ("relu", "tanh", "sigmoid", "elu")  # never decrease: they keep the max the max
NON_MONOTONE = ("gelu", "silu")  # dip below zero, then rise back towards it


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    filter_size: int = arg(
        7, "side of the vertical/horizontal line filters (notes: 7)", check="positive"
    )
    stride: int = arg(2, "stride of the line filters (notes: 2)", check="positive")
    random_trials: int = arg(
        20, "random (input, filter, stride, padding) cases checked vs tf.nn", check="positive"
    )
    downsample: int = arg(
        1, "keep every n-th pixel of the sample images in each direction", check="positive"
    )

    QUICK = labkit.quick(random_trials=3, downsample=4)  # a quarter of each side: same pictures


def padding_widths(n: int, f: int, s: int, padding) -> tuple[int, int]:
    """(before, after) padding of a side of ``n`` pixels for an ``f``-wide window, stride ``s``:
    ``"VALID"`` none, ``"SAME"`` TF's rule (output ``ceil(n / s)``), an int ``p``: p each side."""
    # VALID: (0, 0); an int p: (p, p); SAME: just enough for ceil(n / s) outputs, that is
    # total = max((ceil(n / s) - 1) * s + f - n, 0), split in half with the odd one after.
    ### BEGIN SOLUTION
    if padding == "VALID":
        return 0, 0
    if padding == "SAME":
        out = -(-n // s)  # ceil(n / s)
        total = max((out - 1) * s + f - n, 0)
        return total // 2, total - total // 2
    return int(padding), int(padding)
    ### END SOLUTION


def conv2d(x: np.ndarray, filters: np.ndarray, stride: int = 1, padding="VALID") -> np.ndarray:
    """Equation 13-1 with loops: ``x`` (batch, h, w, c) and ``filters`` (fh, fw, c, k) give
    (batch, out_h, out_w, k), a cross-correlation like ``tf.nn.conv2d``."""
    fh, fw, _, k = filters.shape
    # Zero-pad x (np.pad, padding_widths for each side), then slide the filter: output size
    # (n + before + after - f) // stride + 1 per side; z[:, i, j, :] (z: batch, out_h, out_w,
    # k) is the window starting at (i * stride, j * stride) times the filters, summed over
    # (fh, fw, c).
    ### BEGIN SOLUTION
    rows = padding_widths(x.shape[1], fh, stride, padding)  # (top, bottom)
    cols = padding_widths(x.shape[2], fw, stride, padding)  # (left, right)
    xp = np.pad(x, [(0, 0), rows, cols, (0, 0)])  # zeros around each image
    out_h, out_w = (xp.shape[1] - fh) // stride + 1, (xp.shape[2] - fw) // stride + 1
    z = np.zeros((len(x), out_h, out_w, k))
    for i in range(out_h):
        for j in range(out_w):
            window = xp[:, i * stride : i * stride + fh, j * stride : j * stride + fw, :]
            z[:, i, j, :] = np.tensordot(window, filters, axes=3)  # (batch, k)
    ### END SOLUTION
    return z


def pool2d(
    x: np.ndarray, size: int = 2, stride: int | None = None, padding="VALID", mode: str = "max"
) -> np.ndarray:
    """Max or average pooling over ``size`` x ``size`` windows (stride: ``size`` by default),
    each channel on its own, as ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d`` compute it."""
    stride = stride or size
    # Pad with NaN (padding_widths for each side), so that SAME's padding takes no part: a max
    # ignores it and an average divides by the real values only (np.nanmax / np.nanmean);
    # then slide the window as in conv2d, reducing over its (height, width) axes into z
    # (batch, out_h, out_w, channels).
    ### BEGIN SOLUTION
    rows = padding_widths(x.shape[1], size, stride, padding)  # (top, bottom)
    cols = padding_widths(x.shape[2], size, stride, padding)  # (left, right)
    xp = np.pad(x.astype(np.float64), [(0, 0), rows, cols, (0, 0)], constant_values=np.nan)
    out_h, out_w = (xp.shape[1] - size) // stride + 1, (xp.shape[2] - size) // stride + 1
    reduce = np.nanmax if mode == "max" else np.nanmean
    z = np.zeros((len(x), out_h, out_w, x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            window = xp[:, i * stride : i * stride + size, j * stride : j * stride + size, :]
            z[:, i, j, :] = reduce(window, axis=(1, 2))  # (batch, channels)
    ### END SOLUTION
    return z


def worked_examples() -> dict:
    """The notes' hand examples, as the lab's loops (and the twins' ReLU, flatten, softmax)
    compute them."""
    pool = sc.as_nhwc(sc.POOL_EXAMPLE)
    pooled = pool2d(pool, 2, 2)
    padded = conv2d(sc.as_nhwc(sc.PADDED_EXAMPLE), sc.EDGE_FILTER[:, :, None, None], padding=1)
    volume = np.arange(6 * 6 * 5, dtype=float).reshape(1, 6, 6, 5) / 100  # notes 002: 6x6x5
    one_by_one = conv2d(volume, np.ones((1, 1, 5, 2)) / 5)  # two 1x1 filters -> 6x6x2
    return {
        "relu_matches_notes": bool((sc.relu(sc.RELU_EXAMPLE) == sc.RELU_EXAMPLE_OUT).all()),
        "max_pool_stride2": pooled[0, :, :, 0].tolist(),
        "max_pool_stride2_matches_notes": bool(
            (pooled[0, :, :, 0] == sc.POOL_EXAMPLE_STRIDE2).all()
        ),
        "max_pool_stride1_matches_notes": bool(
            (pool2d(pool, 2, 1)[0, :, :, 0] == sc.POOL_EXAMPLE_STRIDE1).all()
        ),
        "flatten_row_major": sc.flatten(pooled[..., 0])[0].tolist(),
        "flatten_column_major": sc.flatten(pooled[..., 0], order="F")[0].tolist(),
        "softmax_of_pooled": np.round(sc.softmax(sc.flatten(pooled[..., 0]))[0], 4).tolist(),
        "padded_conv_output_size": list(padded.shape[1:3]),
        "padded_conv_output": padded[0, :, :, 0].astype(int).tolist(),
        "padded_conv_formula": sc.output_size(6, 3, 1, 1),
        "conv1x1_output_shape": list(one_by_one.shape[1:]),
    }


def compare_with_tf(trials: int, seed: int) -> dict:
    """Max |twin - tf.nn| over random convolutions and poolings (float64)."""
    rng = np.random.default_rng(seed)
    worst = {"conv2d": 0.0, "max_pool2d": 0.0, "avg_pool2d": 0.0}
    for _ in range(trials):
        h, w, c, k = (
            rng.integers(5, 12),
            rng.integers(5, 12),
            rng.integers(1, 4),
            rng.integers(1, 5),
        )
        f, s = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        padding = str(rng.choice(sc.PADDINGS))
        x, filt = rng.normal(size=(2, h, w, c)), rng.normal(size=(f, f, c, k))
        pairs = {
            "conv2d": (conv2d(x, filt, stride=s, padding=padding),
                       tf.nn.conv2d(x, filt, s, padding)),
            "max_pool2d": (pool2d(x, f, s, padding=padding),
                           tf.nn.max_pool2d(x, f, s, padding)),
            "avg_pool2d": (pool2d(x, f, s, padding=padding, mode="avg"),
                           tf.nn.avg_pool2d(x, f, s, padding)),
        }  # fmt: skip
        for op, (ours, ref) in pairs.items():
            worst[op] = max(worst[op], float(np.max(np.abs(ours - ref.numpy()))))
    return {f"max_abs_diff_{op}": v for op, v in worst.items()}


def activation_and_pooling(images: np.ndarray, seed: int) -> dict:
    """Does the order of activation and pooling matter? ``f(Pool(M))`` against ``Pool(f(M))``
    with Keras's own layers, on real feature maps ``M``: a random 3x3 Conv2D (8 maps) of the
    photos, each map standardized (zero mean, unit variance, as batch norm would leave it), so
    about half its values are negative. For each activation ``f``: the max |difference| and the
    fraction of pooled values that differ by more than 1e-4."""
    keras.utils.set_random_seed(seed)
    conv = keras.layers.Conv2D(8, 3, padding="same", bias_initializer="random_normal")
    maps = keras.ops.convert_to_numpy(conv(images.astype("float32") / 255.0))
    maps = (maps - maps.mean(axis=(0, 1, 2))) / maps.std(axis=(0, 1, 2))

    def compare(f, pool):
        a = keras.ops.convert_to_numpy(f(pool(maps)))
        b = keras.ops.convert_to_numpy(pool(f(maps)))
        diff = np.abs(a - b)
        return {
            "max_abs_diff": float(diff.max()),
            "fraction_differing": float((diff > 1e-4).mean()),
        }

    max_pool, avg_pool = keras.layers.MaxPooling2D(2), keras.layers.AveragePooling2D(2)
    out = {f"{name}, max pool": compare(keras.layers.Activation(name), max_pool)
           for name in MONOTONE + NON_MONOTONE}  # fmt: skip
    out["relu, average pool"] = compare(keras.layers.ReLU(), avg_pool)
    out["fraction_of_negative_values"] = round(float((maps < 0).mean()), 4)
    return out


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: scikit-learn's two sample photos (china, flower), as NumPy arrays for the twins.
    images = (data.load("sample_images"))["train"].x
    images = images[:, :: cfg.downsample, :: cfg.downsample]
    x = images.astype(np.float64)
    filters = sc.line_filters(cfg.filter_size, x.shape[-1])

    # The notes' vertical and horizontal line filters, by the loops and by tf.nn.conv2d; a 2x2
    # max pool; the notes' worked examples and the cost of one convolutional layer.
    maps = conv2d(x, filters, stride=cfg.stride, padding="SAME")  # (2, h/2, w/2, 2)
    ref = tf.nn.conv2d(x, filters.astype(np.float64), cfg.stride, "SAME").numpy()
    pooled = pool2d(x, 2, 2)  # (2, h/2, w/2, 3)

    cost = sc.conv_cost((150, 100, 3), 200, 5, stride=1, padding="SAME", batch_size=100)
    metrics = {
        "worked_examples": worked_examples(),
        "vs_tf": {
            **compare_with_tf(cfg.random_trials, cfg.seed),
            "max_abs_diff_line_filters": float(np.max(np.abs(maps - ref))),
        },
        "feature_map_shape": list(maps.shape[1:]),
        "notes_cost_example": {
            **cost.as_dict(),
            "output_mib_per_instance": round(cost.output_bytes / 2**20, 2),
            "output_gib_per_batch_of_100": round(cost.batch_output_bytes / 2**30, 2),
        },
    }

    # Figure: each photo, its two feature maps and its pooled version.
    panels, titles = [], []
    for i, name in enumerate(("china", "flower")):
        panels += [images[i], maps[i, :, :, 0], maps[i, :, :, 1], pooled[i].astype(np.uint8)]
        titles += [name, "vertical-line filter", "horizontal-line filter", "2x2 max pool"]
    plots.save(plots.image_grid(panels, titles, cols=4, suptitle="7x7 line filters, stride 2"),
               out, "feature_maps")  # fmt: skip

    # The notes' argument for convolution (000): weights shared across positions.
    metrics["why_convolution"] = notes_examples.convolution_examples()

    # ReLU and max pooling commute (notes 000, Activation Layer): ReLU(MaxPool(Conv(M))) =
    # MaxPool(ReLU(Conv(M))), because a function that never decreases keeps the largest value
    # of a window the largest. Checked with Keras's layers on real feature maps, against an
    # activation that dips (GELU) and against average pooling, where the order matters.
    order = activation_and_pooling(images, cfg.seed)
    metrics["activation_then_pool_vs_pool_then_activation"] = order

    # The claims: the twins match tf.nn and the notes' worked examples and cost figures.
    worked, vs_tf = metrics["worked_examples"], metrics["vs_tf"]
    notes_ok = all(worked[k] for k in ("relu_matches_notes", "max_pool_stride2_matches_notes",
                                       "max_pool_stride1_matches_notes"))  # fmt: skip
    notes_ok = notes_ok and worked["padded_conv_output_size"] == [6, 6]
    metrics["claims"] = [
        labkit.within(
            f"NumPy conv2d, max and average pooling match tf.nn on {cfg.random_trials} random "
            "cases (VALID and SAME padding, strides 1-3) within 1e-6 (TF's max pool rounds "
            "through float32 on this CPU; the convolution agrees to ~1e-15)",
            max(v for k, v in vs_tf.items() if k != "max_abs_diff_line_filters"), 1e-6),
        labkit.within(
            "The 7x7 line filters on the sample photos (stride 2, SAME) match tf.nn.conv2d",
            vs_tf["max_abs_diff_line_filters"], 1e-9),
        labkit.claim(
            "The twins reproduce the notes' worked examples: ReLU, 2x2 max pooling with "
            "stride 2 and 1, and a 6x6 output from the zero-padded 6x6 input (f = 3, p = 1)",
            notes_ok, padded_conv_output_size=worked["padded_conv_output_size"]),
        labkit.claim(
            "One conv layer (5x5 filters, 200 maps of 150x100, RGB input) has the notes' "
            "15,200 parameters and 225 million multiplications per image",
            (cost.parameters, cost.multiplications) == (15_200, 225_000_000),
            parameters=cost.parameters, multiplications=cost.multiplications),
        labkit.within(
            "ReLU and max pooling commute on real feature maps (a random Keras Conv2D of the "
            "photos, standardized): ReLU(MaxPool(Conv(M))) equals MaxPool(ReLU(Conv(M))), and "
            "so do tanh, sigmoid and ELU (max |difference| at most 1e-6, Keras layers)",
            max(order[f"{f}, max pool"]["max_abs_diff"] for f in MONOTONE), 1e-6),
        labkit.at_least(
            "With an activation that is not monotone the order matters: GELU then max pooling "
            "and max pooling then GELU differ (by more than 1e-4) on at least 10 % of the "
            "pooled values",
            order["gelu, max pool"]["fraction_differing"], 0.10),
        labkit.at_least(
            "And it takes the max: ReLU then average pooling and average pooling then ReLU "
            "differ on at least 5 % of the pooled values",
            order["relu, average pool"]["fraction_differing"], 0.05),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def check_padding_widths(ns: dict) -> dict:
    """padding_widths pads as TF's SAME does, on fresh sizes, filters and strides."""
    rng = np.random.default_rng()
    worst = 0.0
    for trial in range(8):  # even and odd filters, so the odd zero's side shows
        n, m = (int(v) for v in rng.integers(13, 41, size=2))
        fh, fw = 2 + trial % 2 + 2 * int(rng.integers(0, 3)), int(rng.integers(2, 8))
        s = 1 if trial < 2 else int(rng.integers(1, 6))  # stride 1: every side is padded
        x, filt = rng.normal(size=(1, n, m, 1)), rng.normal(size=(fh, fw, 1, 1))
        widths = [ns["padding_widths"](n, fh, s, "SAME"), ns["padding_widths"](m, fw, s, "SAME")]
        ours = tf.nn.conv2d(np.pad(x, [(0, 0), *widths, (0, 0)]), filt, s, "VALID").numpy()
        ref = tf.nn.conv2d(x, filt, s, "SAME").numpy()
        worst = max(worst, checks.max_abs_diff(ours, ref))
        p = int(rng.integers(1, 4))
        if tuple(ns["padding_widths"](n, fh, s, "VALID")) != (0, 0):
            worst = np.inf
        if tuple(ns["padding_widths"](n, fh, s, p)) != (p, p):
            worst = np.inf
    return labkit.within(
        "padding_widths gives TF's SAME padding (tf.nn.conv2d VALID on the padded input equals "
        "SAME on the input) on 8 fresh sizes, filters 2-7 and strides 1-5, no padding for "
        "VALID and p zeros a side for an int p (max |difference|)",
        worst, 1e-9)  # fmt: skip


def check_conv2d(ns: dict) -> dict:
    """conv2d matches tf.nn.conv2d on fresh shapes, rectangular filters, strides, paddings."""
    rng = np.random.default_rng()
    worst = 0.0
    for padding in ("VALID", "SAME", "VALID", "SAME"):
        b, h, w, c, k = (int(v) for v in rng.integers((2, 12, 12, 2, 2), (4, 21, 21, 6, 6)))
        fh, fw, s = int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.integers(1, 5))
        x, filt = rng.normal(size=(b, h, w, c)), rng.normal(size=(fh, fw, c, k))
        ours = np.asarray(ns["conv2d"](x, filt, stride=s, padding=padding))
        ref = tf.nn.conv2d(x, filt, s, padding).numpy()
        worst = max(worst, checks.max_abs_diff(ours, ref))
    return labkit.within(
        "conv2d matches tf.nn.conv2d on 4 fresh cases (12-20 pixel sides, 2-5 channels, "
        "rectangular filters up to 6, strides 1-4, VALID and SAME; max |difference|, float64)",
        worst, 1e-9)  # fmt: skip


def check_pool2d(ns: dict) -> dict:
    """pool2d matches tf.nn.max_pool2d and tf.nn.avg_pool2d on fresh shapes and strides."""
    rng = np.random.default_rng()
    ops = {"max": tf.nn.max_pool2d, "avg": tf.nn.avg_pool2d}
    worst = 0.0
    for trial, (mode, padding) in enumerate(
        [(m, p) for m in ops for p in ("VALID", "SAME", "SAME")]
    ):
        b, h, w, c = (int(v) for v in rng.integers((2, 12, 12, 2), (4, 21, 21, 6)))
        size = int(rng.integers(2, 6))
        s = 1 if trial % 3 == 1 else int(rng.integers(1, 5))  # SAME at stride 1 always pads
        x = rng.normal(size=(b, h, w, c)).astype(np.float32)  # TF pools in float32 here
        ours = np.asarray(ns["pool2d"](x.astype(np.float64), size, s, padding, mode))
        ref = ops[mode](x, size, s, padding).numpy()
        worst = max(worst, checks.max_abs_diff(ours, ref))
    return labkit.within(
        "pool2d matches tf.nn.max_pool2d and tf.nn.avg_pool2d on 6 fresh cases (12-20 pixel "
        "sides, windows 2-5, strides 1-4, VALID and SAME; max |difference|, float32 inputs)",
        worst, 1e-5)  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
