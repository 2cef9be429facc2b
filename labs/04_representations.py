"""
Title: Representations matter: Cartesian vs polar coordinates
Unit: I
Notes: 000 (Unit I: "Representations matter", Cartesian coordinates vs polar coordinates)
Description: Two classes of points, one inside a circle and one on a ring around it, generated
with a fixed seed. A linear classifier (logistic regression) cannot separate them from their
Cartesian coordinates (x, y): it does no better than always guessing one class. Given the same
points as polar coordinates (r, theta), the same linear model separates them perfectly, because
the boundary r = const is a straight line there. Plots both spaces with each learned boundary.
Lesson: What a model can learn depends on how its input is represented: no straight line
separates a disc from the ring around it in Cartesian coordinates, one does in polar coordinates.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from dlcourse import data, labkit, plots
from dlcourse.data.embedded import split
from dlcourse.labkit import arg
from dlcourse.utils import check_positive

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    n_points: int = arg(
        1000, "points per class (split 70/10/20 into train/val/test)", check="positive"
    )
    inner_radius: float = arg(1.0, "class 0 lies inside this radius", check="positive")
    ring: tuple[float, ...] = arg(
        (1.5, 2.5), "class 1 lies between these two radii", check="positive"
    )

    QUICK = labkit.quick(n_points=100)  # a smoke test: a small sample of each class


def circle_and_ring(
    n_points: int, inner_radius: float, ring: tuple[float, float], seed: int
) -> data.Splits:
    """Class 0 uniform in the disc r < inner_radius, class 1 uniform in the ring; (x, y) points."""
    check_positive("n_points", n_points)
    check_positive("inner_radius", inner_radius)
    if len(ring) != 2 or not inner_radius < ring[0] < ring[1]:
        raise ValueError(
            f"`ring` must be two radii (r1, r2) with inner_radius < r1 < r2. Received: ring={ring}"
        )
    rng = np.random.default_rng(seed)
    # Uniform over an area: r^2 is uniform between the squared radii.
    r = np.sqrt(
        np.r_[
            rng.uniform(0, inner_radius**2, n_points),
            rng.uniform(ring[0] ** 2, ring[1] ** 2, n_points),
        ]
    )
    theta = rng.uniform(-np.pi, np.pi, 2 * n_points)
    xy = np.c_[r * np.cos(theta), r * np.sin(theta)]
    labels = np.r_[np.zeros(n_points), np.ones(n_points)].astype(np.int64)
    return split(xy, labels, stratify=True)  # the embedded data's stratified 70/10/20 split


def to_polar(xy: np.ndarray) -> np.ndarray:
    """(x, y) -> (r, theta) with theta = atan2(y, x) in (-pi, pi]."""
    # Return the points (m, 2) in polar coordinates (m, 2): the radius r = sqrt(x^2 + y^2) and
    # the angle theta in (-pi, pi] of the right quadrant (np.hypot, np.arctan2).
    ### BEGIN SOLUTION
    return np.c_[np.hypot(xy[:, 0], xy[:, 1]), np.arctan2(xy[:, 1], xy[:, 0])]
    ### END SOLUTION


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: a disc inside a ring, no straight line between them in (x, y).
    splits = circle_and_ring(cfg.n_points, cfg.inner_radius, tuple(cfg.ring), cfg.seed)
    train, test = splits["train"], splits["test"]
    representations = {"cartesian": lambda xy: xy, "polar": to_polar}
    metrics: dict = {
        "n_train": len(train.x),
        "n_test": len(test.x),
        "majority_baseline": float(max(np.mean(test.y), 1 - np.mean(test.y))),
    }
    spaces, lines, accuracy = {}, {}, {}
    for name, transform in representations.items():
        # Same model, same data; only the representation of the input changes.
        clf = LogisticRegression(C=1e4, max_iter=10_000).fit(transform(train.x), train.y)
        accuracy[name] = float(clf.score(transform(test.x), test.y))
        metrics[name] = {
            "train_accuracy": float(clf.score(transform(train.x), train.y)),
            "test_accuracy": accuracy[name],
        }
        spaces[name], lines[name] = transform(test.x), (clf.coef_[0], float(clf.intercept_[0]))
    metrics["polar_separates_perfectly"] = metrics["polar"]["train_accuracy"] == 1.0
    metrics["cartesian_gain_over_baseline"] = (
        metrics["cartesian"]["test_accuracy"] - metrics["majority_baseline"]
    )

    # The polar model's straight boundary w_r r + w_t theta + b = 0, drawn back in (x, y).
    (w_r, w_t), b = lines["polar"]
    theta = np.linspace(-np.pi, np.pi, 200)
    r = -(w_t * theta + b) / w_r
    fig = plots.two_representations(
        spaces,
        test.y,
        lines,
        {"cartesian": ("x", "y"), "polar": ("r", "theta")},
        accuracy,
    )
    ax = fig.axes[0]  # the Cartesian panel: the polar model's line is a circle here
    ax.plot(r * np.cos(theta), r * np.sin(theta), "r--", lw=2, label="polar model's boundary")
    ax.legend(fontsize=7, loc="upper right")
    plots.save(fig, out, "representations")

    # The claims: polar coordinates separate the classes, Cartesian ones do no better than
    # always guessing one class (within 10 points: the test split is a finite sample).
    metrics["claims"] = [
        labkit.at_least(
            "A linear model on polar coordinates (r, theta) separates disc and ring on the test "
            "split",
            accuracy["polar"],
            1.0,
        ),
        labkit.within(
            "The same linear model on Cartesian coordinates (x, y) does no better than always "
            "guessing one class (|test accuracy - majority baseline|)",
            abs(accuracy["cartesian"] - metrics["majority_baseline"]),
            0.1,
            needs_defaults=True,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def check_to_polar(ns: dict) -> dict:
    """to_polar gives each point's modulus and argument as a complex number, on fresh points."""
    rng = np.random.default_rng()
    m = int(rng.integers(5, 50))
    xy = rng.normal(size=(m, 2)) * rng.uniform(0.1, 10.0)  # every quadrant, any scale
    xy[0] = -np.abs(xy[0])  # at least one point with x < 0 and y < 0 (third quadrant)
    polar = np.asarray(ns["to_polar"](xy), dtype=np.float64)
    z = xy[:, 0] + 1j * xy[:, 1]
    want = np.c_[np.abs(z), np.angle(z)]
    error = checks.max_abs_diff(polar, want)
    return labkit.within(
        f"to_polar gives (|z|, arg z) of {m} fresh points z = x + iy in every quadrant "
        "(max |difference| from numpy's complex abs and angle)",
        error, 1e-12, shape=list(polar.shape),
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
