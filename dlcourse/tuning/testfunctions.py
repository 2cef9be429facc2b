"""Standard synthetic HPO test functions as keras-tuner search spaces, and a driver that runs any
oracle on them through its real ``create_trial`` / ``update_trial`` / ``end_trial`` (no model).

Functions (all minimized; ``optimum`` is the known global minimum):

* ``branin``: Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; 0.397887 at (-pi, 12.275),
  (pi, 2.275), (9.42478, 2.475) (Dixon & Szegö 1978; Surjanovic & Bingham's library).
* ``hartmann3`` / ``hartmann6``: Hartmann on [0, 1]^3 / [0, 1]^6; -3.86278 / -3.32237.
* ``log_rosenbrock``: Rosenbrock's valley in the decade exponents of two log-sampled
  hyperparameters, a learning rate in [1e-5, 1e-1] and a weight decay in [1e-6, 1e-2]
  (``x_i = log10(p_i) - c_i``); 0 at learning_rate = 1e-2, weight_decay = 1e-3.
* ``ackley``: Ackley on [-32.768, 32.768]^2 (a, b, c = 20, 0.2, 2 pi); 0 at the origin, in
  a field of regularly spaced local minima.
* ``levy``: Levy on [-10, 10]^2; 0 at (1, 1).
* ``styblinski_tang``: Styblinski-Tang on [-5, 5]^3; -39.16617 d = -117.4985 at
  x_i = -2.903534.
* ``goldstein_price``: Goldstein-Price on [-2, 2]^2; 3 at (0, -1), spanning six decades.
* ``mixed``: an integer (``layers`` 1-6), a categorical (``optimizer``), a conditional float
  (``momentum``, active only for sgd) and a log-sampled learning rate; 0 at layers = 3, sgd,
  momentum = 0.9, learning_rate = 10^-2.5.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras_tuner
import numpy as np
from keras_tuner.engine import trial as trial_module

_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann(x) -> float:
    """Hartmann-3 or Hartmann-6, by the length of ``x``."""
    x = np.asarray(x, dtype=float)
    a, p = (_H3_A, _H3_P) if len(x) == 3 else (_H6_A, _H6_P)
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(a * (x - p) ** 2, axis=1))))


def ackley(x) -> float:
    x = np.asarray(x, dtype=float)
    mean_sq, mean_cos = np.mean(x**2), np.mean(np.cos(2 * math.pi * x))
    return float(-20 * math.exp(-0.2 * math.sqrt(mean_sq)) - math.exp(mean_cos) + 20 + math.e)


def levy(x) -> float:
    w = 1 + (np.asarray(x, dtype=float) - 1) / 4
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + np.sin(2 * math.pi * w[-1]) ** 2)
    return float(np.sin(math.pi * w[0]) ** 2 + body + tail)


def styblinski_tang(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.sum(x**4 - 16 * x**2 + 5 * x) / 2)


def goldstein_price(x1: float, x2: float) -> float:
    a = 1 + (x1 + x2 + 1) ** 2 * (19 - 14 * x1 + 3 * x1**2 - 14 * x2 + 6 * x1 * x2 + 3 * x2**2)
    b = 30 + (2 * x1 - 3 * x2) ** 2 * (
        18 - 32 * x1 + 12 * x1**2 + 48 * x2 - 36 * x1 * x2 + 27 * x2**2
    )
    return a * b


def rosenbrock(x1: float, x2: float) -> float:
    return (1 - x1) ** 2 + 100 * (x2 - x1**2) ** 2


def _log_rosenbrock(v: dict) -> float:
    return rosenbrock(math.log10(v["learning_rate"]) + 3, math.log10(v["weight_decay"]) + 4)


def _mixed(v: dict) -> float:
    lr = (math.log10(v["learning_rate"]) + 2.5) ** 2
    opt = {"adam": 0.3, "rmsprop": 0.6, "sgd": 2.0 * (v.get("momentum", 0.0) - 0.9) ** 2}
    return lr + 0.1 * (v["layers"] - 3) ** 2 + opt[v["optimizer"]]


def _floats(hp, names, lo=0.0, hi=1.0):
    for n in names:
        hp.Float(n, lo, hi)


@dataclass(frozen=True)
class TestFunction:
    """A named function of hyperparameter values, its space and its known minimum."""

    name: str
    fn: Callable[[dict], float]
    declare: Callable[[keras_tuner.HyperParameters], None]
    optimum: float
    grid: Callable[[int], dict] | None = None  # budget -> values per hyperparameter

    __test__ = False  # not a pytest class

    def space(self, grid_budget: int | None = None) -> keras_tuner.HyperParameters:
        """The search space; with ``grid_budget``, a regular grid of at most that many points."""
        hp = keras_tuner.HyperParameters()
        if grid_budget is None:
            self.declare(hp)
            return hp
        for name, values in self.grid(grid_budget).items():
            hp.Choice(name, values)
        return hp

    def __call__(self, values: dict) -> float:
        return self.fn(values)


def _regular(bounds: dict, budget: int, log: tuple = ()) -> dict:
    """``k`` cell centres per dimension, ``k = floor(budget ** (1/d))``; log-spaced for ``log``."""
    k = math.floor(budget ** (1 / len(bounds)) + 1e-9)
    out = {}
    for name, (lo, hi) in bounds.items():
        t = (np.arange(k) + 0.5) / k
        if name in log:
            out[name] = [float(10 ** (math.log10(lo) + u * math.log10(hi / lo))) for u in t]
        else:
            out[name] = [float(lo + u * (hi - lo)) for u in t]
    return out


def _unit(n: int) -> dict:
    return {f"x{i}": (0.0, 1.0) for i in range(1, n + 1)}


def _box(n: int, lo: float, hi: float) -> dict:
    return {f"x{i}": (lo, hi) for i in range(1, n + 1)}


def _vector(v: dict) -> list[float]:
    return [v[f"x{i}"] for i in range(1, len(v) + 1)]


def _on_box(name: str, fn: Callable, n: int, lo: float, hi: float, optimum: float):
    """A function of ``x1..xn`` on the box [lo, hi]^n."""
    return TestFunction(
        name,
        lambda v: fn(_vector(v)),
        lambda hp: _floats(hp, list(_box(n, lo, hi)), lo, hi),
        optimum,
        lambda b: _regular(_box(n, lo, hi), b),
    )


FUNCTIONS: dict[str, TestFunction] = {
    "branin": TestFunction(
        "branin",
        lambda v: branin(v["x1"], v["x2"]),
        lambda hp: (hp.Float("x1", -5.0, 10.0), hp.Float("x2", 0.0, 15.0)),
        0.397887,
        lambda b: _regular({"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, b),
    ),
    "hartmann3": TestFunction(
        "hartmann3",
        lambda v: hartmann([v[f"x{i}"] for i in range(1, 4)]),
        lambda hp: _floats(hp, ["x1", "x2", "x3"]),
        -3.86278,
        lambda b: _regular(_unit(3), b),
    ),
    "hartmann6": TestFunction(
        "hartmann6",
        lambda v: hartmann([v[f"x{i}"] for i in range(1, 7)]),
        lambda hp: _floats(hp, [f"x{i}" for i in range(1, 7)]),
        -3.32237,
        lambda b: _regular(_unit(6), b),
    ),
    "log_rosenbrock": TestFunction(
        "log_rosenbrock",
        _log_rosenbrock,
        lambda hp: (
            hp.Float("learning_rate", 1e-5, 1e-1, sampling="log"),
            hp.Float("weight_decay", 1e-6, 1e-2, sampling="log"),
        ),
        0.0,
        lambda b: _regular(
            {"learning_rate": (1e-5, 1e-1), "weight_decay": (1e-6, 1e-2)},
            b,
            log=("learning_rate", "weight_decay"),
        ),
    ),
}


def _declare_mixed(hp: keras_tuner.HyperParameters) -> None:
    hp.Int("layers", 1, 6)
    hp.Float("learning_rate", 1e-5, 1e-1, sampling="log")
    hp.Choice("optimizer", ["adam", "rmsprop", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        hp.Float("momentum", 0.0, 0.99)


FUNCTIONS["mixed"] = TestFunction("mixed", _mixed, _declare_mixed, 0.0)
FUNCTIONS["ackley"] = _on_box("ackley", ackley, 2, -32.768, 32.768, 0.0)
FUNCTIONS["levy"] = _on_box("levy", levy, 2, -10.0, 10.0, 0.0)
FUNCTIONS["styblinski_tang"] = _on_box(
    "styblinski_tang", styblinski_tang, 3, -5.0, 5.0, -39.16616570377142 * 3
)
FUNCTIONS["goldstein_price"] = _on_box(
    "goldstein_price", lambda x: goldstein_price(*x), 2, -2.0, 2.0, 3.0
)


def drive(
    oracle: keras_tuner.Oracle, fn: TestFunction, directory: str | Path, name: str = "search"
) -> dict:
    """Run ``oracle`` to its budget on ``fn``: ``{"values": [f per trial], "seconds": s}``.

    ``seconds`` is the oracle's own time (create_trial + update_trial + end_trial, including
    its bookkeeping writes), not the function's.
    """
    oracle._set_project_dir(str(directory), name)
    values, seconds = [], 0.0
    while True:
        start = time.perf_counter()
        trial = oracle.create_trial("bench")
        seconds += time.perf_counter() - start
        if trial.status != trial_module.TrialStatus.RUNNING:
            break
        y = fn(trial.hyperparameters.values)
        start = time.perf_counter()
        oracle.update_trial(trial.trial_id, {"f": y})
        trial.status = trial_module.TrialStatus.COMPLETED
        oracle.end_trial(trial)
        seconds += time.perf_counter() - start
        values.append(y)
    return {"values": values, "seconds": seconds}


def objective() -> keras_tuner.Objective:
    return keras_tuner.Objective("f", direction="min")
