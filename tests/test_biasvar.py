"""Labs 15 (cross-entropy vs squared error) and 39 (bias and variance): their figures and the
gradient measurement lab 15 claims on."""

from __future__ import annotations

import keras
import matplotlib
import numpy as np
import pytest

from dlcourse import labkit
from dlcourse.plots.training import gradient_vs_probability, train_val_curve


def test_train_val_curve_draws_both_scores_and_shades_the_gap():
    fig = train_val_curve([250, 1000, 3500], [1.0, 0.99, 0.97], [0.8, 0.88, 0.92], xlabel="n")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [0.8, 0.88, 0.92])
    shaded = [c for c in ax.collections if isinstance(c, matplotlib.collections.PolyCollection)]
    assert len(shaded) == 1 and ax.get_xscale() == "log"
    matplotlib.pyplot.close(fig)


def test_train_val_curve_refuses_series_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        train_val_curve([1, 2, 3], [1.0, 0.9], [0.8, 0.7, 0.6], xlabel="n")


def test_gradient_vs_probability_one_scatter_per_loss():
    p = np.array([1e-3, 0.3, 0.9])
    fig = gradient_vs_probability(p, {"a": np.ones(3), "b": np.full(3, 0.1)})
    ax = fig.axes[0]
    assert len(ax.collections) == 2 and ax.get_yscale() == "log"
    assert ax.get_xscale() == "logit"
    matplotlib.pyplot.close(fig)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_lab15_output_gradients_are_p_minus_y_and_the_softmax_jacobian(rng):
    """Cross-entropy: d/dz = p - y. Squared error summed over classes: d/dz = 2 J (p - y), with
    the softmax Jacobian J = diag(p) - p p^T; one row per example."""
    lab = labkit.load_lab("15")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    logits = keras.layers.Dense(10, name="predictions")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax(name="softmax")(logits))
    x = rng.normal(size=(6, 4)).astype("float32") * 3
    y = rng.integers(0, 10, size=6)
    norms, probs = lab.output_gradients(model, x, y)
    z = np.asarray(model.get_layer("predictions")(x))
    p = _softmax(z.astype(np.float64))
    e = p - np.eye(10)[y]
    jac = np.stack([np.diag(pi) - np.outer(pi, pi) for pi in p])
    np.testing.assert_allclose(probs, p, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(norms["cross-entropy"], np.linalg.norm(e, axis=1), rtol=1e-4)
    se = np.linalg.norm(2 * np.einsum("nij,nj->ni", jac, e), axis=1)
    np.testing.assert_allclose(norms["squared error"], se, rtol=1e-3, atol=1e-7)


def test_lab15_squared_error_sums_over_the_classes():
    lab = labkit.load_lab("15")
    p = np.full((2, 10), 0.1, np.float32)
    got = np.asarray(lab.squared_error(np.array([3, 7]), p))
    np.testing.assert_allclose(got, [0.81 + 9 * 0.01] * 2, rtol=1e-5)  # not divided by 10
