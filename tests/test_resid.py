"""Residual connections (lab 55's builder), the bottleneck and pooling counts (lab 53) and the
metric-vs-x figure."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlcourse import labkit
from dlcourse.models.summary import bottleneck_savings, head_params, paper_depth
from dlcourse.plots.training import versus

# ---------------------------------------------------------------- lab 55's plain/residual MLP


@pytest.fixture(scope="module")
def lab55():
    return labkit.load_lab("55")


def _net(lab55, blocks, residual):
    return lab55.build_net((6, 6, 1), blocks, units=8, residual=residual, bn_momentum=0.9)


def test_plain_and_residual_differ_only_by_the_shortcuts(lab55):
    plain, res = _net(lab55, 3, False), _net(lab55, 3, True)
    adds = [layer for layer in res.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 3
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    assert plain.count_params() == res.count_params()
    # the papers' depth: weight layers on the longest path (the shortcut adds none)
    assert paper_depth(plain) == paper_depth(res) == lab55.depth_of(3) == 8


def test_a_deep_residual_net_can_copy_a_shallow_one(lab55, rng):
    """Notes 000: a deeper network made of the shallow one plus identity layers; with F = 0
    (its last batch norm's gamma and beta at zero) a residual block passes its input on."""
    shallow, deep = _net(lab55, 1, True), _net(lab55, 3, True)
    for layer in shallow.layers:
        if layer.weights:
            deep.get_layer(layer.name).set_weights(layer.get_weights())
    for b in (2, 3):
        bn = deep.get_layer(f"block{b}_dense2_bn")
        bn.gamma.assign(np.zeros(8, "float32"))
        bn.beta.assign(np.zeros(8, "float32"))
    x = rng.random((5, 6, 6, 1)).astype("float32")
    np.testing.assert_allclose(deep.predict(x, verbose=0), shallow.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    plain = _net(lab55, 3, False)  # the plain network has no such identity to fall back on
    plain.set_weights(deep.get_weights())
    assert not np.allclose(plain.predict(x, verbose=0), shallow.predict(x, verbose=0))


# ---------------------------------------------------------------- lab 53's GoogLeNet savings


def test_bottleneck_savings_count_the_conv_layers():
    got = bottleneck_savings((10, 12, 24), filters=6, kernel=3, reduce=4)
    assert got["direct_macs"] == 10 * 12 * 6 * 3 * 3 * 24
    assert got["bottleneck_macs"] == 10 * 12 * 4 * 24 + 10 * 12 * 6 * 3 * 3 * 4
    assert got["direct_weights"] == 3 * 3 * 24 * 6
    assert got["bottleneck_weights"] == 24 * 4 + 3 * 3 * 4 * 6
    inception_3a = bottleneck_savings((28, 28, 192), filters=32, kernel=5, reduce=16)
    assert inception_3a["direct_macs"] == 120_422_400
    assert inception_3a["bottleneck_macs"] == 12_443_648


def test_head_params_flatten_pays_per_position():
    got = head_params((3, 5, 7), classes=4)
    assert got == {"flatten_dense": 3 * 5 * 7 * 4 + 4, "gap_dense": 7 * 4 + 4}


@pytest.mark.parametrize(
    "call",
    [
        lambda: bottleneck_savings((28, 28), filters=32, kernel=5, reduce=16),
        lambda: bottleneck_savings((28, 28, 192), filters=32, kernel=5, reduce=0),
        lambda: head_params((7, 7, 0), 10),
        lambda: head_params((7, 7, 8), 0),
    ],
)
def test_savings_reject_bad_shapes(call):
    with pytest.raises(ValueError, match="Received"):
        call()


# ---------------------------------------------------------------- the versus figure


def test_versus_draws_one_panel_per_quantity_against_x():
    import matplotlib.pyplot as plt

    fig = versus([4, 12, 24], {"loss": {"a": [1, 2, 3], "b": [3, 2, 1]}, "acc": {"a": [0, 0, 1]}},
                 logy=("loss",))  # fmt: skip
    loss, acc = fig.axes[:2]
    assert len(fig.axes) == 2 and loss.get_yscale() == "log" and acc.get_yscale() == "linear"
    assert [list(line.get_xdata()) for line in loss.get_lines()] == [[4, 12, 24]] * 2
    assert list(acc.get_lines()[0].get_ydata()) == [0, 0, 1]
    plt.close(fig)
    with pytest.raises(ValueError, match="len"):
        versus([1, 2], {"loss": {"a": [1, 2, 3]}})
