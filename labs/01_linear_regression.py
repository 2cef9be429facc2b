"""
Title: Linear regression: the normal equation and gradient descent
Unit: I
Notes: 000 (Unit I: MSE, normal equation, gradient descent), 003 (mini-batch gradient descent)
Description: Fits y = 4 + 3x + noise with the closed-form normal equation (NumPy and TensorFlow),
batch gradient descent, stochastic gradient descent with a learning schedule, and mini-batch
gradient descent; checks all of them against scikit-learn's LinearRegression, plots their paths
in parameter space and their training MSE per update, reports test MSE and RMSE, then repeats the
normal equation on the 10-feature diabetes data.
Lesson: The normal equation solves least squares in one step and agrees with scikit-learn; batch
gradient descent walks to the very same parameters, while stochastic and mini-batch gradient
descent, on a decaying learning rate, end close to the optimum.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.linear_model import LinearRegression

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.scratch import regression as reg

LAB = labkit.lab_name(__file__)
_LABELS = {
    "batch_gd": "batch GD",
    "stochastic_gd": "stochastic GD",
    "minibatch_gd": "mini-batch GD",
}


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    eta: float = arg(0.1, "batch GD learning rate", check="positive")
    n_epochs: int = arg(1000, "batch GD epochs (one step each)", check="positive")
    sgd_epochs: int = arg(50, "epochs of stochastic and mini-batch GD", check="positive")
    t0: float = arg(5.0, "learning schedule eta(t) = t0 / (t + t1): numerator", check="positive")
    t1: float = arg(50.0, "learning schedule eta(t) = t0 / (t + t1): offset", check="positive")
    batch_size: int = arg(20, "mini-batch size", check="positive")

    QUICK = labkit.quick(n_epochs=50, sgd_epochs=5)  # a smoke test: a few epochs of each GD


def normal_equation_tf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """theta = (X^T X)^-1 X^T y with TensorFlow matrix ops, as the notes write it."""
    xb = tf.constant(reg.add_bias(x), tf.float64)  # (m, n + 1): the bias column first
    yt = tf.constant(y, tf.float64)[:, None]  # (m, 1)
    # Set theta (n + 1, 1) = (X^T X)^-1 X^T y with tf.transpose, @ and tf.linalg.inv.
    ### BEGIN SOLUTION
    xt = tf.transpose(xb)
    theta = tf.linalg.inv(xt @ xb) @ xt @ yt
    ### END SOLUTION
    return tf.squeeze(theta, axis=1).numpy()


def batch_gd(x: np.ndarray, y: np.ndarray, *, eta: float, n_epochs: int) -> np.ndarray:
    """Batch gradient descent from theta = 0: one step per epoch on the whole training set.
    Returns the path of the parameters, (n_epochs + 1, n + 1)."""
    xb = reg.add_bias(x)  # (m, n + 1)
    theta = np.zeros(xb.shape[1])
    path = [theta]
    for _ in range(n_epochs):
        # One step down the MSE's gradient: theta <- theta - eta * (2/m) X^T (X theta - y).
        ### BEGIN SOLUTION
        theta = theta - eta * (2.0 / len(xb) * xb.T @ (xb @ theta - y))
        ### END SOLUTION
        path.append(theta)
    return np.array(path)


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: y = 4 + 3x + noise, as NumPy arrays (every fit here is NumPy, TF ops or sklearn).
    splits = data.load("linear")
    x, y = splits["train"].x.astype(np.float64), splits["train"].y.astype(np.float64)

    # The closed form three ways: the notes' NumPy, TensorFlow matrix ops, scikit-learn.
    sk = LinearRegression().fit(x, y)
    fits = {
        "normal_equation_numpy": reg.normal_equation(x, y),
        "normal_equation_tf": normal_equation_tf(x, y),
        "sklearn": np.r_[sk.intercept_, sk.coef_],
    }

    # The iterative fits: batch GD at a fixed rate; stochastic and mini-batch GD on a schedule.
    # Each returns its whole path of parameters, plotted below.
    schedule = reg.learning_schedule(cfg.t0, cfg.t1)
    sgd = {"n_epochs": cfg.sgd_epochs, "schedule": schedule, "seed": cfg.seed}
    paths = {
        "batch_gd": batch_gd(x, y, eta=cfg.eta, n_epochs=cfg.n_epochs),
        "stochastic_gd": reg.minibatch_gd(x, y, batch_size=1, **sgd)[1],
        "minibatch_gd": reg.minibatch_gd(x, y, batch_size=cfg.batch_size, **sgd)[1],
    }
    fits.update({name: path[-1] for name, path in paths.items()})

    # Every fit scored on the test split and compared with scikit-learn's.
    test = splits["test"]
    metrics: dict = {"theta": {k: [round(float(t), 4) for t in v] for k, v in fits.items()}}
    for name, theta in fits.items():
        test_mse = reg.mse(test.x.astype(np.float64), test.y, theta)
        metrics[name] = {"test_mse": test_mse, "test_rmse": float(np.sqrt(test_mse))}
    best = fits["normal_equation_numpy"]
    metrics["max_abs_diff_vs_sklearn"] = {
        k: float(np.max(np.abs(v - fits["sklearn"]))) for k, v in fits.items()
    }
    metrics["updates"] = {name: len(path) - 1 for name, path in paths.items()}
    metrics["diabetes"] = _diabetes(data.load("diabetes"))

    # Figures: the paths in (theta0, theta1), the fitted lines, the training MSE per update.
    plots.save(plots.gd_paths({_LABELS[k]: v for k, v in paths.items()}, best), out, "gd_paths")
    plots.save(plots.regression_fit(x, y, fits), out, "fits")
    costs = {_LABELS[k]: reg.mse_path(x, y, v) for k, v in paths.items()}
    fig = plots.cost_curves(
        costs, optimum=reg.mse(x, y, best), title="Training MSE per update", ylabel="MSE"
    )
    fig.axes[0].set_xscale("symlog", linthresh=10)  # SGD makes many more updates than batch GD
    fig.axes[0].set_xlim(left=0)
    plots.save(fig, out, "cost")

    # The claims: the closed form matches scikit-learn, batch GD reaches it, SGD comes close.
    diffs = metrics["max_abs_diff_vs_sklearn"]
    optimum = reg.mse(x, y, best)
    excess = {k: reg.mse(x, y, fits[k]) / optimum - 1 for k in ("stochastic_gd", "minibatch_gd")}
    metrics["claims"] = [
        labkit.within(
            "The normal equation (NumPy and TensorFlow) gives scikit-learn's LinearRegression "
            "parameters, on y = 4 + 3x + noise and on the diabetes data (max |difference|)",
            max(
                diffs["normal_equation_numpy"],
                diffs["normal_equation_tf"],
                metrics["diabetes"]["max_abs_diff_vs_sklearn"],
            ),
            1e-8,
        ),
        labkit.within(
            "Batch gradient descent converges to the normal equation's parameters (max |diff|)",
            float(np.max(np.abs(fits["batch_gd"] - best))),
            1e-6,
            needs_defaults=True,
        ),
        labkit.within(
            "Stochastic and mini-batch GD on a decaying learning rate end within 1 % of the "
            "optimal training MSE (relative excess)",
            max(excess.values()),
            0.01,
            needs_defaults=True,
            excess=excess,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


def _diabetes(splits: dict) -> dict:
    """The normal equation scales to many features: 10 diabetes features vs scikit-learn."""
    x, y = splits["train"].x.astype(np.float64), splits["train"].y.astype(np.float64)
    theta = reg.normal_equation(x, y)
    sk = LinearRegression().fit(x, y)
    test = splits["test"]
    test_mse = reg.mse(test.x.astype(np.float64), test.y, theta)
    return {
        "max_abs_diff_vs_sklearn": float(np.max(np.abs(theta - np.r_[sk.intercept_, sk.coef_]))),
        "test_rmse": float(np.sqrt(test_mse)),
    }


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def check_normal_equation_tf(ns: dict) -> dict:
    """normal_equation_tf solves least squares on fresh random data (vs numpy.linalg.lstsq)."""
    rng = np.random.default_rng()
    x = rng.normal(size=(int(rng.integers(20, 60)), int(rng.integers(1, 5))))
    y = x @ rng.normal(size=x.shape[1]) + rng.normal() + 0.1 * rng.normal(size=len(x))
    theta = np.asarray(ns["normal_equation_tf"](x, y))
    want = np.linalg.lstsq(reg.add_bias(x), y, rcond=None)[0]
    error = checks.max_abs_diff(theta, want)
    return labkit.within(
        "normal_equation_tf gives the least-squares parameters on fresh random data "
        "(max |difference| from numpy.linalg.lstsq)",
        error, 1e-8, shape=list(theta.shape),
    )  # fmt: skip


def check_batch_gd(ns: dict) -> dict:
    """batch_gd takes the library's gradient-descent steps on fresh random data."""
    rng = np.random.default_rng()
    x = rng.normal(size=(int(rng.integers(20, 60)), int(rng.integers(1, 4))))
    y = x @ rng.normal(size=x.shape[1]) + rng.normal()
    path = np.asarray(ns["batch_gd"](x, y, eta=0.05, n_epochs=30))
    want = reg.batch_gd(x, y, eta=0.05, n_epochs=30)[1]
    error = checks.max_abs_diff(path, want)
    return labkit.within(
        "batch_gd takes the library's 30 gradient-descent steps on fresh random data "
        "(max |difference| along the path)",
        error, 1e-9, shape=list(path.shape),
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
