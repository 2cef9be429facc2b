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
Description: Reproduces the notes' worked examples with the NumPy twins in dlcourse.scratch.conv
(the 3x3 ReLU example, max pooling a 4x4 map with stride 2 and 1, flattening in both orders,
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


def worked_examples() -> dict:
    """The notes' hand examples, as the twins compute them."""
    pool = sc.as_nhwc(sc.POOL_EXAMPLE)
    pooled = sc.pool2d(pool, 2, 2)
    padded = sc.conv2d(sc.as_nhwc(sc.PADDED_EXAMPLE), sc.EDGE_FILTER[:, :, None, None], padding=1)
    volume = np.arange(6 * 6 * 5, dtype=float).reshape(1, 6, 6, 5) / 100  # notes 002: 6x6x5
    one_by_one = sc.conv2d(volume, np.ones((1, 1, 5, 2)) / 5)  # two 1x1 filters -> 6x6x2
    return {
        "relu_matches_notes": bool((sc.relu(sc.RELU_EXAMPLE) == sc.RELU_EXAMPLE_OUT).all()),
        "max_pool_stride2": pooled[0, :, :, 0].tolist(),
        "max_pool_stride2_matches_notes": bool(
            (pooled[0, :, :, 0] == sc.POOL_EXAMPLE_STRIDE2).all()
        ),
        "max_pool_stride1_matches_notes": bool(
            (sc.pool2d(pool, 2, 1)[0, :, :, 0] == sc.POOL_EXAMPLE_STRIDE1).all()
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
            "conv2d": (sc.conv2d(x, filt, stride=s, padding=padding),
                       tf.nn.conv2d(x, filt, s, padding)),
            "max_pool2d": (sc.pool2d(x, f, s, padding=padding),
                           tf.nn.max_pool2d(x, f, s, padding)),
            "avg_pool2d": (sc.pool2d(x, f, s, padding=padding, mode="avg"),
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

    # The notes' vertical and horizontal line filters, by the twin and by tf.nn.conv2d; a 2x2
    # max pool; the notes' worked examples and the cost of one convolutional layer.
    maps = sc.conv2d(x, filters, stride=cfg.stride, padding="SAME")  # (2, h/2, w/2, 2)
    ref = tf.nn.conv2d(x, filters.astype(np.float64), cfg.stride, "SAME").numpy()
    pooled = sc.pool2d(x, 2, 2)  # (2, h/2, w/2, 3)

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


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
