"""The figures of labs 30 (clipping) and 38 (batch norm), and lab 30's gradient-norm recorder."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from dlcourse import labkit, plots


def _markers(ax, marker):
    return [
        line for line in ax.get_lines() if line.get_marker() == marker and len(line.get_xdata())
    ]


def test_sweep_marks_a_diverged_run_at_the_top_and_keeps_the_rest():
    fig = plots.sweep(
        {"plain": {0.1: 0.5, 1.0: None, 3.0: math.nan}, "BN": {0.1: 0.4, 1.0: 0.6, 3.0: 1.4}},
        logx=True,
        reference=(2.3, "chance"),
    )
    ax = fig.axes[0]
    (crosses,) = _markers(ax, "x")  # one x series: plain's two diverged rates
    assert list(crosses.get_xdata()) == [1.0, 3.0]
    assert np.all(np.asarray(crosses.get_ydata()) > 2.3)  # above every finite value and chance
    plain = ax.get_lines()[0]
    np.testing.assert_array_equal(plain.get_xdata(), [0.1, 1.0, 3.0])  # sorted
    assert np.isnan(np.asarray(plain.get_ydata())[1:]).all()  # a gap, not a fake value
    assert ax.get_xscale() == "log"
    assert "chance" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_sweep_without_a_diverged_run_draws_no_cross():
    fig = plots.sweep({"a": {1: 0.2, 2: 0.3}})
    assert _markers(fig.axes[0], "x") == []


def test_clipping_panels_mark_where_a_run_explodes_and_draw_the_threshold():
    fig = plots.clipping_panels(
        {"free": [3.0, 50.0, math.nan], "clipped": [3.0, 1.0, 0.5]},
        {"free": [2.0, 40.0, math.inf, math.nan], "clipped": [2.0, 3.0, 2.5, 1.0]},
        1.0,
    )
    loss_ax, norm_ax = fig.axes
    (x_loss,) = _markers(loss_ax, "x")
    assert (x_loss.get_xdata()[0], x_loss.get_ydata()[0]) == (2, 50.0)  # last finite loss
    (x_norm,) = _markers(norm_ax, "x")
    assert (x_norm.get_xdata()[0], x_norm.get_ydata()[0]) == (2, 40.0)
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in norm_ax.get_lines())
    assert loss_ax.get_yscale() == norm_ax.get_yscale() == "log"


def test_clipping_panels_put_a_run_that_is_never_finite_at_the_top():
    fig = plots.clipping_panels({"free": [math.nan], "ok": [7.0]}, {"free": [math.inf]}, 1.0)
    (x_loss,) = _markers(fig.axes[0], "x")
    assert (x_loss.get_xdata()[0], x_loss.get_ydata()[0]) == (1, 7.0)


@pytest.fixture(scope="module")
def lab30():
    return labkit.load_lab("30")


@pytest.mark.parametrize("clip", [None, 1.0])
def test_norm_logging_sgd_records_the_gradient_norm_before_clipping(lab30, clip):
    # loss = sum(w * g) has gradient g: norm 5, clipped to 1 when global_clipnorm=1.
    w = keras.Variable(np.zeros(2, np.float32))
    kw = {} if clip is None else {"global_clipnorm": clip}
    opt = lab30.NormLoggingSGD(0.1, **kw)
    opt.apply([keras.ops.convert_to_tensor(np.array([3.0, 4.0], np.float32))], [w])
    assert float(opt.grad_norm) == pytest.approx(5.0)  # the raw norm, whatever the clipping
    step = np.linalg.norm(np.asarray(w))
    assert step == pytest.approx(0.1 * (5.0 if clip is None else clip), rel=1e-5)
