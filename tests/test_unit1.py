"""Unit I: the regression and logistic-regression twins against their library counterparts, and
the Unit I labs' claims (divergence, agreement, separability)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dlcourse import data, labkit
from dlcourse.scratch import logistic
from dlcourse.scratch import regression as reg


@pytest.fixture(scope="module")
def linear():
    """y = 4 + 3x + noise, the notes' running example (m=100)."""
    rng = np.random.default_rng(42)
    x = 2 * rng.random((100, 1))
    return x, 4 + 3 * x[:, 0] + rng.standard_normal(100)


@pytest.fixture(scope="module")
def blobs():
    """Two overlapping Gaussian classes: not separable, so the unregularized optimum is finite."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-1, 1.5, (100, 2)), rng.normal(1, 1.5, (100, 2))]
    return x, np.r_[np.zeros(100), np.ones(100)]


# ------------------------------------------------------------------ linear regression twin


def test_normal_equation_matches_sklearn_and_tensorflow(rng):
    from sklearn.linear_model import LinearRegression

    x = rng.normal(size=(60, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.7 + 0.1 * rng.normal(size=60)
    theta = reg.normal_equation(x, y)
    sk = LinearRegression().fit(x, y)
    np.testing.assert_allclose(theta, np.r_[sk.intercept_, sk.coef_], atol=1e-10)
    tf_theta = labkit.load_lab("01").normal_equation_tf(x, y)
    np.testing.assert_allclose(tf_theta, theta, atol=1e-9)


def test_gradient_matches_gradient_tape(rng):
    import tensorflow as tf

    x, y, theta = rng.normal(size=(20, 2)), rng.normal(size=20), rng.normal(size=3)
    xb = reg.add_bias(x)
    t = tf.Variable(theta)
    with tf.GradientTape() as tape:
        cost = tf.reduce_mean((tf.linalg.matvec(tf.constant(xb), t) - y) ** 2)
    np.testing.assert_allclose(reg.gradient(xb, y, theta), tape.gradient(cost, t), atol=1e-12)
    assert reg.mse(x, y, theta) == pytest.approx(float(cost), abs=1e-12)


def test_batch_gd_converges_to_normal_equation(linear):
    x, y = linear
    theta, path = reg.batch_gd(x, y, eta=0.1, n_epochs=1000)
    np.testing.assert_allclose(theta, reg.normal_equation(x, y), atol=1e-8)
    assert path.shape == (1001, 2) and np.all(path[0] == 0)
    costs = reg.mse_path(x, y, path)
    assert costs[-1] == pytest.approx(reg.mse(x, y, theta))
    assert np.all(np.diff(costs) <= 1e-12)  # stable GD on a convex quadratic never goes up


@pytest.mark.parametrize("batch_size, n_epochs, atol", [(1, 50, 0.02), (20, 200, 0.05)])
def test_stochastic_and_minibatch_gd_approach_normal_equation(linear, batch_size, n_epochs, atol):
    x, y = linear
    schedule = reg.learning_schedule(5.0, 50.0)
    theta, path = reg.minibatch_gd(
        x, y, batch_size=batch_size, n_epochs=n_epochs, schedule=schedule, seed=1
    )
    np.testing.assert_allclose(theta, reg.normal_equation(x, y), atol=atol)
    assert len(path) == 1 + n_epochs * int(np.ceil(len(x) / batch_size))


def test_stability_limit_separates_converging_from_diverging_rates(linear):
    x, y = linear
    limit = reg.stability_limit(x)
    start = reg.mse(x, y, np.zeros(2))
    below, path_below = reg.batch_gd(x, y, eta=0.95 * limit, n_epochs=500, stop_above=1e6 * start)
    _, path_above = reg.batch_gd(x, y, eta=1.05 * limit, n_epochs=500, stop_above=1e6 * start)
    assert len(path_below) == 501  # ran to the end
    np.testing.assert_allclose(below, reg.normal_equation(x, y), atol=1e-6)
    assert len(path_above) < 501  # stopped early: it blew up
    assert reg.mse_path(x, y, path_above)[-1] > 1e6 * start


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x, y: reg.batch_gd(x, y, eta=0.0, n_epochs=5), r"`eta`.*> 0. Received: eta=0.0"),
        (lambda x, y: reg.batch_gd(x, y, eta=-1, n_epochs=5), r"Received: eta=-1"),
        (lambda x, y: reg.batch_gd(x, y, eta=0.1, n_epochs=-1), r"`n_epochs`.*n_epochs=-1"),
        (lambda x, y: reg.batch_gd(x[:, 0], y, eta=0.1, n_epochs=1), r"`x` must be 2-D.*\(100,\)"),
        (lambda x, y: reg.batch_gd(x, y[:50], eta=0.1, n_epochs=1), r"`y`.*\(100,\).*\(50,\)"),
        (
            lambda x, y: reg.batch_gd(x, y, eta=0.1, n_epochs=1, theta0=np.zeros(3)),
            r"`theta0` must have shape \(2,\).*\(3,\)",
        ),
        (
            lambda x, y: reg.minibatch_gd(x, y, batch_size=0, n_epochs=1, schedule=lambda t: 0.1),
            r"`batch_size` must be an integer >= 1. Received: batch_size=0",
        ),
        (
            lambda x, y: reg.minibatch_gd(x, y, batch_size=2.5, n_epochs=1, schedule=lambda t: 1),
            r"Received: batch_size=2.5",
        ),
        (lambda x, y: reg.mse(x, y, np.zeros(5)), r"`theta` must have shape \(2,\)"),
    ],
)
def test_regression_bad_input_raises_one_readable_error(linear, call, match):
    with pytest.raises(ValueError, match=match):
        call(*linear)


# ------------------------------------------------------------------ logistic regression twin


def test_sigmoid_is_stable_and_exact():
    from scipy.special import expit

    z = np.array([-1000.0, -30.0, -1.0, 0.0, 2.5, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(logistic.sigmoid(z), expit(z), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_cost_and_gradients_match_gradient_tape(rng, l2):
    import tensorflow as tf

    x, y = rng.normal(size=(30, 4)), (rng.random(30) > 0.5).astype(float)
    w0, b0 = rng.normal(size=4), 0.3
    w, b = tf.Variable(w0), tf.Variable(b0, dtype=tf.float64)
    with tf.GradientTape() as tape:
        z = tf.linalg.matvec(tf.constant(x), w) + b
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(y), logits=z)
        cost = tf.reduce_mean(bce) + l2 / (2 * len(y)) * tf.reduce_sum(w**2)
    tape_dw, tape_db = tape.gradient(cost, [w, b])
    dw, db = logistic.gradients(x, y, w0, b0, l2=l2)
    np.testing.assert_allclose(dw, tape_dw, atol=1e-12)
    assert db == pytest.approx(float(tape_db), abs=1e-12)
    assert logistic.cost(x, y, w0, b0, l2=l2) == pytest.approx(float(cost), abs=1e-12)


def test_cost_matches_keras_binary_crossentropy(rng):
    import keras

    x, y = rng.normal(size=(50, 3)), (rng.random(50) > 0.5).astype(float)
    w, b = rng.normal(size=3), -0.2
    _, a = logistic.forward(x, w, b)
    keras_cost = keras.losses.BinaryCrossentropy()(y[:, None], a[:, None].astype("float32"))
    assert logistic.cost(x, y, w, b) == pytest.approx(float(keras_cost), rel=1e-5)


@pytest.mark.parametrize("l2", [0.0, 2.0])
def test_gradient_descent_reaches_the_sklearn_solution(blobs, l2):
    from sklearn.linear_model import LogisticRegression

    x, y = blobs
    fit = logistic.fit(x, y, alpha=1.0, n_iterations=300, l2=l2)
    # Unregularized is C = inf (sklearn's replacement for penalty=None); lambda is C = 1/lambda.
    sk = LogisticRegression(C=np.inf if l2 == 0 else 1 / l2, tol=1e-12, max_iter=10_000)
    sk.fit(x, y)
    np.testing.assert_allclose(fit.w, sk.coef_[0], atol=1e-6)
    assert fit.b == pytest.approx(sk.intercept_[0], abs=1e-6)
    assert np.all(np.diff(fit.costs) <= 1e-12)  # each step lowers J
    np.testing.assert_array_equal(logistic.predict(x, fit.w, fit.b), sk.predict(x))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0.0}, r"`alpha` must be > 0. Received: alpha=0.0"),
        ({"alpha": 0.1, "l2": -1.0}, r"`l2` must be >= 0. Received: l2=-1.0"),
        ({"alpha": 0.1, "n_iterations": -3}, r"`n_iterations`.*n_iterations=-3"),
        ({"alpha": 0.1, "y": np.array([0, 1, 2, 1.0])}, r"`y` must hold binary.*\[2.0\]"),
        ({"alpha": 0.1, "y": np.zeros(3)}, r"`y` must have shape \(4,\).*\(3,\)"),
        ({"alpha": 0.1, "x": np.zeros(4)}, r"`x` must be 2-D.*\(4,\)"),
        ({"alpha": 0.1, "w0": np.zeros(3)}, r"`w` must have shape \(2,\).*\(3,\)"),
    ],
)
def test_logistic_bad_input_raises_one_readable_error(kwargs, match):
    args = {"x": np.zeros((4, 2)), "y": np.array([0, 1, 0, 1.0]), "n_iterations": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        logistic.fit(args.pop("x"), args.pop("y"), **args)


# ------------------------------------------------------------------ the labs' claims


def _snake_case_keys(metrics: dict) -> list[str]:
    """Every metric name that is not snake_case (the lab convention), nested names included."""
    bad = [k for k in metrics if not re.fullmatch(r"[a-z][a-z0-9_]*", k)]
    return bad + [b for v in metrics.values() if isinstance(v, dict) for b in _snake_case_keys(v)]


def test_linear_regression_lab_gd_variants_and_figures(tmp_path):
    m = labkit.run_lab("01", quick=True, out_dir=str(tmp_path))
    assert not _snake_case_keys(m)
    best = m["normal_equation_numpy"]["test_mse"]
    for name in ("batch_gd", "stochastic_gd", "minibatch_gd"):  # few quick epochs: close, not equal
        assert abs(m[name]["test_mse"] - best) < 0.1 * best, name
        assert 0 < m["max_abs_diff_vs_sklearn"][name] < 0.5, name
    assert m["updates"] == {"batch_gd": 50, "stochastic_gd": 5 * 70, "minibatch_gd": 5 * 4}
    for fig in ("gd_paths", "fits", "cost"):
        assert (tmp_path / "01_linear_regression" / f"{fig}.png").stat().st_size > 0


def test_learning_rate_lab_detects_divergence_as_theory_predicts(tmp_path):
    lab = labkit.load_lab("02")
    limit = reg.stability_limit(lab.data.load("linear")["train"].x.astype(float))
    etas = (0.02, round(0.9 * limit, 4), round(1.1 * limit, 4))
    m = labkit.run_lab("02", out_dir=str(tmp_path), etas=etas, n_iterations=100)
    runs = [v for k, v in m.items() if k.startswith("eta_")]
    assert not _snake_case_keys(m)
    assert [r["diverged"] for r in runs] == [False, False, True]
    assert m["all_agree_with_theory"] and m["stability_limit_eta"] == pytest.approx(limit)
    assert runs[0]["converged_at_iteration"] is None  # too small: not there in 100 steps
    assert runs[1]["converged_at_iteration"] is not None  # just below the limit: converges
    assert runs[2]["stopped_at_iteration"] is not None  # just above it: blew up, was stopped
    folder = tmp_path / "02_learning_rate"
    assert (folder / "cost.png").stat().st_size > 0 and (folder / "fitted_lines.png").exists()
    assert json.loads((folder / "metrics.json").read_text())["all_agree_with_theory"] is True


def test_learning_rate_lab_rejects_bad_config(tmp_path):
    with pytest.raises(ValueError, match=r"Received: etas\[0\]=-0.1"):  # the config refuses it
        labkit.run_lab("02", quick=True, out_dir=str(tmp_path), etas=(-0.1,))
    assert not list(tmp_path.iterdir())  # before any work: no run folder


def test_logistic_lab_three_ways_agree(tmp_path):
    m = labkit.run_lab("03", quick=True, out_dir=str(tmp_path))  # its claims: test_labs.py
    assert m["task"] == "3 vs 8" and m["n_train"] > 200 and not _snake_case_keys(m)
    assert m["sklearn"]["test_decisions_agree_with_numpy"] >= 0.95
    assert m["sklearn"]["final_cost"] <= m["numpy_gd"]["final_cost"] + 1e-9  # sklearn: optimum
    folder = tmp_path / "03_logistic_regression"
    assert (folder / "cost.png").exists() and (folder / "weights.png").exists()


def test_logistic_lab_rejects_same_digit_twice(tmp_path):
    with pytest.raises(ValueError, match=r"`negative` must differ.*negative=3"):
        labkit.run_lab("03", quick=True, out_dir=str(tmp_path), negative=3)


def test_representations_lab_polar_separates_cartesian_cannot(tmp_path):
    m = labkit.run_lab("04", quick=True, out_dir=str(tmp_path))
    assert not _snake_case_keys(m)
    assert m["polar"]["train_accuracy"] == 1.0 and m["polar"]["test_accuracy"] == 1.0
    assert m["cartesian"]["test_accuracy"] <= m["majority_baseline"] + 0.15
    assert (tmp_path / "04_representations" / "representations.png").exists()


def test_representations_lab_checks_its_geometry():
    lab = labkit.load_lab("04")
    with pytest.raises(ValueError, match=r"`ring` must be.*Received: ring=\(0.5, 2.0\)"):
        lab.circle_and_ring(10, 1.0, (0.5, 2.0), seed=0)
    splits = lab.circle_and_ring(50, 1.0, (1.5, 2.5), seed=0)
    r = lab.to_polar(splits["train"].x)[:, 0]
    assert np.all(r[splits["train"].y == 0] < 1.0) and np.all(r[splits["train"].y == 1] >= 1.5)


def test_normalization_lab_curvature_matches_tensorflow_hessian(rng):
    import tensorflow as tf

    lab = labkit.load_lab("05")
    x, w, b, l2 = rng.normal(size=(25, 3)), rng.normal(size=3), 0.2, 0.8
    y = (rng.random(25) > 0.5).astype(float)
    theta = tf.Variable(np.r_[b, w])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            z = tf.linalg.matvec(tf.constant(x), theta[1:]) + theta[0]
            bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(y), logits=z)
            cost = tf.reduce_mean(bce) + l2 / 50 * tf.reduce_sum(theta[1:] ** 2)
        grad = inner.gradient(cost, theta)
    np.testing.assert_allclose(lab.curvature(x, w, b, l2), outer.jacobian(grad, theta), atol=1e-12)
    fit = logistic.fit(x, y, alpha=lab.safe_learning_rate(x, l2), n_iterations=50, l2=l2)
    assert np.all(np.diff(fit.costs) <= 1e-12)  # alpha = 1/L never raises the cost


def test_binary_digits_task_from_the_loader():
    from dlcourse.data import tasks

    sets = tasks.binary_digits(3, 8)
    x, y = tasks.float64_arrays(sets["train"])
    raw = data.load("digits")["train"]
    keep = (raw.y == 3) | (raw.y == 8)
    assert x.shape == (keep.sum(), 64) and x.dtype == np.float64 and 0 <= x.min() < x.max() <= 1
    np.testing.assert_array_equal(y, (raw.y[keep] == 3).astype(float))  # file order, 1 = "3"
    np.testing.assert_allclose(x * 255, raw.x[keep].reshape(-1, 64), atol=1e-4)
    assert len(tasks.float64_arrays(tasks.binary_digits(3)["test"])[1]) == len(
        data.load("digits")["test"].y
    )  # negative=-1: every digit
    with pytest.raises(ValueError, match=r"`negative` must differ.*negative=3"):
        tasks.binary_digits(3, 3)
    with pytest.raises(ValueError, match=r"Received: positive=10"):
        tasks.binary_digits(10, 8)
