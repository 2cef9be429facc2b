"""Unit IV teaching twins vs tf.nn, the notes' worked examples, the cost calculator, LRN."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse.layers.lrn import LocalResponseNormalization
from dlcourse.scratch import conv as sc

# --------------------------------------------------------------------------- twins vs tf.nn


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("stride", [1, 2, (2, 3)])
def test_conv2d_matches_tf(rng, padding, stride):
    x = rng.normal(size=(2, 9, 11, 3))
    w = rng.normal(size=(3, 4, 3, 5))
    b = rng.normal(size=5)
    ours = sc.conv2d(x, w, b, stride=stride, padding=padding)
    strides = (1, *((stride, stride) if isinstance(stride, int) else stride), 1)
    ref = tf.nn.conv2d(x, w, strides=strides, padding=padding) + b
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_explicit_padding_matches_tf(rng):
    x, w = rng.normal(size=(1, 6, 6, 2)), rng.normal(size=(3, 3, 2, 4))
    ref = tf.nn.conv2d(x, w, strides=1, padding=[[0, 0], [1, 1], [1, 1], [0, 0]])
    np.testing.assert_allclose(sc.conv2d(x, w, padding=1), ref.numpy(), atol=1e-10)


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (3, 1), ((2, 3), (1, 2))])
def test_max_and_avg_pool_match_tf(rng, padding, size, stride):
    x = rng.normal(size=(2, 7, 8, 3))
    ref_max = tf.nn.max_pool2d(x, size, stride, padding).numpy()
    ref_avg = tf.nn.avg_pool2d(x, size, stride, padding).numpy()
    np.testing.assert_allclose(sc.pool2d(x, size, stride, padding=padding), ref_max, atol=1e-12)
    np.testing.assert_allclose(
        sc.pool2d(x, size, stride, padding=padding, mode="avg"), ref_avg, atol=1e-12
    )


def test_min_and_sum_pool(rng):
    x = rng.normal(size=(1, 4, 4, 2))
    mins = -tf.nn.max_pool2d(-x, 2, 2, "VALID").numpy()  # min pool = -max pool of -x
    sums = tf.nn.avg_pool2d(x, 2, 2, "VALID").numpy() * 4
    np.testing.assert_allclose(sc.pool2d(x, mode="min"), mins, atol=1e-12)
    np.testing.assert_allclose(sc.pool2d(x, mode="sum"), sums, atol=1e-12)


def test_relu_softmax_flatten_lrn_match_tf(rng):
    z = rng.normal(size=(3, 5))
    np.testing.assert_allclose(sc.relu(z), tf.nn.relu(z).numpy())
    np.testing.assert_allclose(sc.softmax(z), tf.nn.softmax(z).numpy(), atol=1e-12)
    maps = rng.normal(size=(2, 3, 3, 4))
    np.testing.assert_allclose(sc.flatten(maps), keras.layers.Flatten()(maps).numpy(), rtol=1e-6)
    x = rng.normal(size=(2, 4, 5, 9))
    for r in (0, 2, 5):
        ref = tf.nn.local_response_normalization(x, r, bias=2.0, alpha=1e-2, beta=0.75)
        ours = sc.local_response_normalization(x, r, bias=2.0, alpha=1e-2, beta=0.75)
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6)


# --------------------------------------------------------------------------- worked examples


def test_notes_relu_and_max_pool_examples():
    np.testing.assert_array_equal(sc.relu(sc.RELU_EXAMPLE), sc.RELU_EXAMPLE_OUT)
    x = sc.as_nhwc(sc.POOL_EXAMPLE)
    np.testing.assert_array_equal(sc.pool2d(x, 2, 2)[0, :, :, 0], sc.POOL_EXAMPLE_STRIDE2)
    np.testing.assert_array_equal(sc.pool2d(x, 2, 1)[0, :, :, 0], sc.POOL_EXAMPLE_STRIDE1)
    pooled = sc.pool2d(x, 2, 2)[..., 0]
    np.testing.assert_array_equal(sc.flatten(pooled)[0], [6, 8, 3, 4])
    np.testing.assert_array_equal(sc.flatten(pooled, order="F")[0], [6, 3, 8, 4])


def test_notes_padded_convolution_example():
    x = sc.as_nhwc(sc.PADDED_EXAMPLE)
    w = sc.EDGE_FILTER.astype(float)[:, :, None, None]
    out = sc.conv2d(x, w, padding=1)[0, :, :, 0]
    assert out.shape == (6, 6)  # (6 + 2*1 - 3) / 1 + 1
    # Top-left: the padded window [[0,0,0],[0,4,9],[0,5,6]] * [[1,0,-1]]*3 = -(9 + 6) = -15.
    assert out[0, 0] == -15
    assert out[2, 2] == (6 + 4 + 6) - (4 + 4 + 4)  # original rows 1-3, columns 1-3
    ref = tf.nn.conv2d(x, w, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(out, ref)
    assert sc.conv2d(x, w, padding=1, stride=2).shape[1:3] == (3, 3)  # the stride-2 variant


def test_output_size_formula_and_same_padding():
    assert sc.output_size(6, 3, 1, 1) == 6
    assert sc.output_size(7, 3, 2, 0) == 3
    assert sc.output_size(32, 5) == 28  # LeNet-5 C1
    assert sc.output_size(13, 6, 5) == 2  # notes' Figure 13-7, VALID
    assert sc.same_padding(13, 6, 5) == (1, 2)  # SAME: 3 outputs, 3 zeros, the extra one right
    with pytest.raises(ValueError, match=r"output size would be 0.*n=4, f=5"):
        sc.output_size(4, 5)


def test_cost_calculator_reproduces_the_notes():
    cost = sc.conv_cost((150, 100, 3), 200, 5, stride=1, padding="SAME", batch_size=100)
    assert cost.output_shape == (150, 100, 200)
    assert cost.parameters == 15_200
    assert cost.multiplications == 225_000_000
    assert cost.output_bytes * 8 == 96_000_000  # 96 million bits
    assert round(cost.output_bytes / 2**20, 1) == 11.4  # "about 11.4 MB"
    assert cost.batch_output_bytes > 2**30  # "over 1 GB" for a batch of 100
    assert sc.conv_cost((150, 100, 3), 200, 5, padding="VALID").output_shape == (146, 96, 200)


def test_line_filters_detect_lines():
    f = sc.line_filters(7, 1)
    img = np.zeros((1, 15, 15, 1))
    img[0, :, 7, 0] = 1  # a vertical line
    out = sc.conv2d(img, f, padding="SAME")
    assert out[0, 7, 7, 0] == 7 and out[0, 7, 7, 1] == 1  # vertical filter fires, horizontal not


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sc.pool2d(np.zeros((1, 4, 4, 1)), mode="median"), r"Received: mode='median'"),
        (lambda: sc.conv2d(np.zeros((4, 4)), np.zeros((3, 3, 1, 1))), r"x\.shape=\(4, 4\)"),
        (lambda: sc.conv2d(np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 1, 1))), r"filters\.shape"),
        (
            lambda: sc.conv2d(np.zeros((1, 4, 4, 1)), np.zeros((3, 3, 1, 1)), padding="FULL"),
            r"Received: padding='FULL'",
        ),
        (lambda: sc.pool2d(np.zeros((1, 4, 4, 1)), 2, 0), r"Received: stride=0"),
        (
            lambda: sc.local_response_normalization(np.zeros((1, 2, 2, 3)), -1),
            r"Received: depth_radius=-1",
        ),
    ],
)
def test_twins_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- the LRN layer


def test_lrn_layer_equals_tf_and_round_trips(rng, tmp_path):
    x = rng.normal(size=(2, 5, 5, 8)).astype("float32")
    layer = LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    ref = tf.nn.local_response_normalization(x, 2, 2.0, 1e-4, 0.75)
    np.testing.assert_allclose(layer(x), ref, rtol=1e-6)
    config = layer.get_config()
    assert {k: config[k] for k in ("depth_radius", "bias", "alpha", "beta")} == {
        "depth_radius": 2,
        "bias": 2.0,
        "alpha": 1e-4,
        "beta": 0.75,
    }
    inputs = keras.Input((5, 5, 8))
    model = keras.Model(inputs, LocalResponseNormalization(3, 1.5, 0.1, 0.5)(inputs))
    model.save(tmp_path / "lrn.keras")
    loaded = keras.models.load_model(tmp_path / "lrn.keras")
    assert isinstance(loaded.layers[-1], LocalResponseNormalization)
    np.testing.assert_array_equal(loaded(x), model(x))


def test_lrn_computes_in_float32_under_mixed_precision_and_xla(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = LocalResponseNormalization(2)
    conv = keras.layers.Conv2D(4, 3)
    assert layer.compute_dtype == "float32" and conv.compute_dtype == "float16"
    x = rng.normal(size=(1, 6, 6, 3)).astype("float32") * 300  # squares overflow float16
    fn = tf.function(lambda t: layer(conv(t)), jit_compile=True)
    out = fn(x)
    assert out.dtype == tf.float32 and np.isfinite(out.numpy()).all()


def test_lrn_rejects_negative_depth_radius():
    with pytest.raises(ValueError, match=r"Received: depth_radius=-1"):
        LocalResponseNormalization(depth_radius=-1)
