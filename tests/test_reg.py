"""The figure helpers of lab 35: train/validation panels with the gap shaded, early stopping."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcourse import plots


def _hist(train, val):
    return {"loss": train, "val_loss": val}


def test_gap_panels_shade_between_train_and_validation():
    hist = {"a": _hist([1.0, 0.5, 0.2], [1.1, 0.9, 1.0]), "b": _hist([1.0, 0.8], [1.0, 0.9])}
    fig = plots.train_val_gap_panels(hist, "loss")
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    shade = axes[0].collections[0]  # the gap: a polygon from the train to the validation curve
    ys = shade.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.2) and ys.max() == pytest.approx(1.1)
    plt.close(fig)


def test_gap_panels_refuse_no_histories():
    with pytest.raises(ValueError, match="histories"):
        plots.train_val_gap_panels({}, "loss")


def test_early_stopping_curve_marks_the_minimum_and_the_stop():
    val = [0.9, 0.5, 0.4, 0.45, 0.6, 0.7]
    fig = plots.early_stopping_curve(val, stopped_at=5, restored_loss=0.4, train_loss=val)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "minimum (epoch 3)" in labels
    assert "early stopping (epoch 5)" in labels
    assert any(label.endswith("0.700") for label in labels)  # the end of training
    minimum = next(ln for ln in ax.lines if ln.get_label() == "minimum (epoch 3)")
    assert np.allclose(minimum.get_xydata(), [[3, 0.4]])
    plt.close(fig)


def test_early_stopping_curve_refuses_an_empty_curve():
    with pytest.raises(ValueError, match="val_loss"):
        plots.early_stopping_curve([], stopped_at=1, restored_loss=0.0)
