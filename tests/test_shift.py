"""Lab 56's shift helpers (shift, equivariance, layer changes) and its two figure helpers."""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcourse import labkit
from dlcourse.plots.images import accuracy_vs_shift, shifted_maps


@pytest.fixture(scope="module")
def lab():
    return labkit.load_lab("56")


def test_shift_moves_pixels_and_fills_zeros(lab):
    x = np.arange(1, 26, dtype=float).reshape(1, 5, 5, 1)
    right = lab.shift(x, 0, 2)
    np.testing.assert_array_equal(right[0, :, 2:, 0], x[0, :, :3, 0])
    assert (right[0, :, :2, 0] == 0).all()
    up = lab.shift(x, -1, 0)
    np.testing.assert_array_equal(up[0, :4, :, 0], x[0, 1:, :, 0])
    assert (up[0, 4, :, 0] == 0).all()
    np.testing.assert_array_equal(lab.shift(x, 0, 0), x)


def test_shift_there_and_back_keeps_the_interior(lab):
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3))
    back = lab.shift(lab.shift(x, 2, -1), -2, 1)
    np.testing.assert_array_equal(back[:, :6, 1:], x[:, :6, 1:])


def test_equivariance_tells_conv_from_dense(lab):
    keras.utils.set_random_seed(0)
    x = np.zeros((4, 16, 16, 1), np.float32)
    x[:, 5:11, 6:10] = np.random.default_rng(1).random((4, 6, 4, 1))
    errors = lab.equivariance(x, max_shift=2, kernel=3)
    assert errors["conv2d"]["max"] < 1e-5
    assert errors["dense"]["min"] > 0.3


def test_stage_change_lists_layers_in_order(lab):
    keras.utils.set_random_seed(0)
    model = lab.small_cnn((12, 12, 1), (2, 3))
    x = np.random.default_rng(0).random((3, 12, 12, 1)).astype(np.float32)
    change = lab.stage_change(model, x)
    assert list(change) == ["conv1", "pool1", "conv2", "global_max_pool", "predictions"]
    assert all(v > 0 for v in change.values())


def test_global_max_pooling_forgets_a_shift_that_the_conv_maps_keep(lab):
    keras.utils.set_random_seed(0)
    model = lab.small_cnn((12, 12, 1), (4,))  # conv1, global max pool, softmax
    x = np.zeros((2, 12, 12, 1), np.float32)
    x[:, 5:7, 4:8] = 1.0  # a blob well inside: a 1-pixel shift keeps it whole
    change = lab.stage_change(model, x)
    assert change["conv1"] > 0.3
    assert change["global_max_pool"] < 1e-6 and change["predictions"] < 1e-6


def test_shift_accuracy_of_a_constant_model(lab):
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2, kernel_initializer="zeros",
                                                 bias_initializer=keras.initializers.Constant([1.0, 0.0]))])  # fmt: skip
    x, y = np.ones((4, 6, 6, 1), np.float32), np.array([0, 0, 0, 1])
    assert lab.shift_accuracy(model, x, y, max_shift=2) == [0.75, 0.75, 0.75]


def test_accuracy_vs_shift_one_line_per_network_from_shift_zero():
    fig = accuracy_vs_shift({"CNN": [0.9, 0.88, 0.85], "MLP": [0.9, 0.6, 0.3]})
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["CNN", "MLP"]
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [0.9, 0.6, 0.3])
    plt.close(fig)


def test_shifted_maps_marks_each_panels_centre():
    img = np.zeros((10, 10))
    img[:, 2] = 1.0
    images = [np.roll(img, k, axis=1) for k in (0, 3)]
    fig = shifted_maps(images, [i * 2 for i in images], [0, 3])
    axes = np.array(fig.axes).reshape(2, 2)
    for row in range(2):
        dashed, own = (line.get_xdata()[0] for line in axes[row, 1].lines)
        assert (dashed, own) == (2.0, 5.0)  # unshifted centre, then this panel's own
    assert axes[0, 1].get_title() == "shift 3 px"
    plt.close(fig)
