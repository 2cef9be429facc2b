"""
Title: Normalizing inputs speeds up gradient descent
Unit: I
Notes: 003 (normalizing inputs: subtract the training mean, divide by the training spread, apply
the same to dev and test; "if we normalize the inputs this will speed up the training process")
Description: Trains the same logistic regression (3 vs 8 digits, the notes' gradient descent,
L2 strength lambda) on raw pixels and on normalized pixels. Each run gets its own largest safe
learning rate 1/L, where L bounds the curvature of its cost, so the comparison is fair; what
differs is the shape of the cost bowl, measured by the condition number of the Hessian at the
optimum. Plots J - J* per iteration for both (J* from scikit-learn solved to convergence) and
reports how many iterations each needs to get within a tolerance of its optimum.
Lesson: Normalizing the inputs makes the cost bowl rounder (a far smaller condition number of the
Hessian), so gradient descent, each at its own safe learning rate, reaches the optimum in many
fewer steps.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from dlcourse import labkit, plots
from dlcourse.data.tasks import binary_digits, float64_arrays
from dlcourse.labkit import arg
from dlcourse.scratch import logistic

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    positive: int = arg(3, "digit that is class 1", check=(0, 9))
    negative: int = arg(8, "digit that is class 0; -1 = every other digit", check=(-1, 9))
    l2: float = arg(
        1.0, "L2 strength lambda (makes the optimum unique; sklearn C = 1/lambda)", check="positive"
    )
    n_iterations: int = arg(20_000, "batch gradient-descent updates per run", check="positive")
    tolerance: float = arg(1e-6, "a run has converged once J - J* <= tolerance", check="positive")

    QUICK = labkit.quick()  # the defaults take a few seconds of NumPy: quick runs them too


def curvature(x: np.ndarray, w: np.ndarray, b: float, l2: float) -> np.ndarray:
    """The Hessian of J(w, b) at (w, b): (1/m) X^T diag(a (1 - a)) X + (l2/m) I, bias included.

    ``x`` gets a leading column of ones for the bias (which the L2 term leaves out).
    """
    # The Hessian (n + 1, n + 1), bias first: (1/m) Xb^T diag(a (1 - a)) Xb with Xb = [1, x] and
    # a = sigmoid(x w + b) (logistic.predict_proba), plus l2/m on the weights' diagonal only.
    ### BEGIN SOLUTION
    m = len(x)
    xb = np.c_[np.ones(m), x]
    a = logistic.predict_proba(x, w, b)
    penalty = np.diag(np.r_[0.0, np.full(x.shape[1], l2 / m)])
    return xb.T @ (xb * (a * (1 - a))[:, None]) / m + penalty
    ### END SOLUTION


def safe_learning_rate(x: np.ndarray, l2: float) -> float:
    """1/L with L = lambda_max(X^T X / m) / 4 + l2/m, a bound on the cost's curvature.

    a (1 - a) <= 1/4 everywhere, so no Hessian of J exceeds L; GD with alpha <= 1/L always
    lowers the cost.
    """
    m = len(x)
    xb = np.c_[np.ones(m), x]
    return 1.0 / (np.linalg.eigvalsh(xb.T @ xb / m).max() / 4 + l2 / m)


def standardize(xs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every split of ``xs`` (split name -> x (m, n)) standardized with the training statistics."""
    # Fit each feature's mean and standard deviation on xs["train"] only (a feature that never
    # varies there keeps the scale 1, as StandardScaler does), then apply them to every split.
    ### BEGIN SOLUTION
    scaler = StandardScaler().fit(xs["train"])  # training statistics only
    return {k: scaler.transform(x) for k, x in xs.items()}
    ### END SOLUTION


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: lab 03's task from the loader (two digits, 64 pixels in [0, 1]), as NumPy
    # arrays: everything here is NumPy gradient descent or scikit-learn.
    sets = binary_digits(cfg.positive, cfg.negative)
    splits = {k: float64_arrays(ds) for k, ds in sets.items()}
    raw = {k: x for k, (x, _) in splits.items()}
    inputs = {"raw": raw, "normalized": standardize(raw)}
    y, y_test = splits["train"][1], splits["test"][1]

    # The same GD on raw and on normalized inputs, each at its own safe rate 1/L, measured
    # against scikit-learn's optimum J*: how many updates until J - J* <= tolerance.
    metrics: dict = {"n_train": len(y), "n_iterations": cfg.n_iterations}
    gaps = {}
    for name, xs in inputs.items():
        x = xs["train"]
        sk = LogisticRegression(C=1.0 / cfg.l2, tol=1e-12, max_iter=10_000).fit(x, y)
        sk_w, sk_b = sk.coef_[0].astype(np.float64), float(sk.intercept_[0])
        alpha = safe_learning_rate(x, cfg.l2)
        fit = logistic.fit(x, y, alpha=alpha, n_iterations=cfg.n_iterations, l2=cfg.l2)
        optimum = min(logistic.cost(x, y, sk_w, sk_b, l2=cfg.l2), float(fit.costs.min()))
        gap = fit.costs - optimum
        hits = np.flatnonzero(gap <= cfg.tolerance)
        eig = np.linalg.eigvalsh(curvature(x, sk_w, sk_b, cfg.l2))
        metrics[name] = {
            "alpha": alpha,
            "hessian_condition_number": float(eig.max() / eig.min()),
            "iterations_to_tolerance": int(hits[0]) if hits.size else None,
            "final_gap": float(gap[-1]),
            "test_accuracy": float(np.mean(logistic.predict(xs["test"], fit.w, fit.b) == y_test)),
        }
        label = f"{name} inputs (alpha = {alpha:.2f}, condition number {eig.max() / eig.min():.0f})"
        gaps[label] = np.maximum(gap, 1e-16)  # J* is exact to ~1e-16: keep the log scale finite
    raw, norm = metrics["raw"]["iterations_to_tolerance"], metrics["normalized"]
    metrics["speedup"] = (
        raw / norm["iterations_to_tolerance"]
        if raw is not None and norm["iterations_to_tolerance"]
        else None
    )

    # Figure: J - J* per update on a log scale, the tolerance as a dotted line.
    fig = plots.cost_curves(gaps, title="Distance to the optimum, J - J*", ylabel="J - J*")
    fig.axes[0].axhline(cfg.tolerance, color="gray", ls=":", lw=1)
    plots.save(fig, out, "cost_gap")

    # The claims: a rounder bowl, and far fewer steps to the optimum. A raw run that never
    # reaches the tolerance counts as n_iterations steps (a lower bound on its speedup).
    raw_steps = raw if raw is not None else cfg.n_iterations
    metrics["claims"] = [
        labkit.at_least(
            "Normalizing the inputs divides the Hessian's condition number by at least 10",
            metrics["raw"]["hessian_condition_number"] / norm["hessian_condition_number"],
            10.0,
        ),
        labkit.at_least(
            "Gradient descent on normalized inputs reaches the optimum at least 5 times sooner",
            raw_steps / norm["iterations_to_tolerance"] if norm["iterations_to_tolerance"] else 0.0,
            5.0,
            raw_steps=raw_steps,
            normalized_steps=norm["iterations_to_tolerance"],
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def check_standardize(ns: dict) -> dict:
    """standardize uses the training split's statistics for every split (vs StandardScaler)."""
    rng = np.random.default_rng()
    n = int(rng.integers(2, 9))
    center, spread = rng.normal(0, 5, n), rng.uniform(0.1, 10.0, n)
    xs = {  # val and test drawn elsewhere: their own statistics would give other numbers
        k: center + spread * rng.normal(shift, 1.0, (int(rng.integers(10, 60)), n))
        for k, shift in (("train", 0.0), ("val", 1.0), ("test", -1.0))
    }
    for x in xs.values():
        x[:, 0] = 3.0  # a feature that never varies, as the digits' corner pixels
    got = ns["standardize"](xs)
    scaler = StandardScaler().fit(xs["train"])
    errors = [
        float(np.max(np.abs(np.asarray(got[k]) - scaler.transform(x))))
        if np.shape(got.get(k)) == x.shape
        else float("inf")
        for k, x in xs.items()
    ]
    return labkit.within(
        f"standardize gives StandardScaler fitted on the training split, on fresh {n}-feature "
        "train, val and test splits with a constant feature (max |difference|)",
        max(errors), 1e-9,
    )  # fmt: skip


def check_curvature(ns: dict) -> dict:
    """curvature gives the Hessian of the regularized cost by nested GradientTapes."""
    import tensorflow as tf  # the twin: autodiff of the cost, twice

    rng = np.random.default_rng()
    m, n = int(rng.integers(10, 50)), int(rng.integers(1, 7))
    x, y = rng.normal(size=(m, n)), rng.integers(0, 2, m).astype(np.float64)
    w, b, l2 = rng.normal(size=n), float(rng.normal()), float(rng.uniform(0.1, 3.0))
    theta = tf.Variable(np.r_[b, w])  # bias first, as curvature orders them
    xb = tf.constant(np.c_[np.ones(m), x])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            z = tf.linalg.matvec(xb, theta)
            cost = tf.reduce_mean(y * tf.nn.softplus(-z) + (1 - y) * tf.nn.softplus(z))
            cost += l2 / (2 * m) * tf.reduce_sum(theta[1:] ** 2)
        grad = inner.gradient(cost, theta)
    want = outer.jacobian(grad, theta).numpy()
    got = np.asarray(ns["curvature"](x, w, b, l2))
    error = checks.max_abs_diff(got, want)
    return labkit.within(
        f"curvature gives the Hessian of the cost with L2 strength {l2:.2f} by nested "
        f"GradientTapes on fresh data ({m} examples, {n} features; max |difference|)",
        error, 1e-10, shape=list(got.shape),
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
