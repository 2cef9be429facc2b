"""Linear regression from scratch: the normal equation and three flavours of gradient descent.

Follows the notes (000 Unit I; 003): hypothesis ``y_hat = theta^T x`` with ``x_0 = 1``,
cost ``MSE = (1/m) sum (theta^T x_i - y_i)^2``, gradient ``(2/m) X^T (X theta - y)``.
Each function returns the parameters and the path they took, so labs can plot it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def add_bias(x: np.ndarray) -> np.ndarray:
    """Prepend the constant feature x_0 = 1: (m, n) -> (m, n + 1)."""
    x = _check_2d("x", x)
    return np.c_[np.ones((len(x), 1), x.dtype), x]


def normal_equation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """theta = (X^T X)^-1 X^T y, solved without forming the inverse. Returns (n + 1,)."""
    xb = add_bias(x).astype(np.float64)
    return np.linalg.solve(xb.T @ xb, xb.T @ np.asarray(y, np.float64))


def mse(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
    """Mean squared error of ``theta`` on (x, y)."""
    err = add_bias(x) @ theta - y
    return float(np.mean(err**2))


def gradient(xb: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Gradient of the MSE: (2/m) X^T (X theta - y). ``xb`` already has the bias column."""
    return 2.0 / len(xb) * xb.T @ (xb @ theta - y)


def batch_gd(
    x: np.ndarray, y: np.ndarray, *, eta: float, n_epochs: int, theta0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Batch GD: one step per epoch on the whole training set. Returns (theta, path)."""
    _check_eta(eta)
    xb, theta = add_bias(x), _theta0(x, theta0)
    path = [theta.copy()]
    for _ in range(n_epochs):
        theta = theta - eta * gradient(xb, y, theta)
        path.append(theta.copy())
    return theta, np.array(path)


def learning_schedule(t0: float = 5.0, t1: float = 50.0) -> Callable[[int], float]:
    """The notes' simulated-annealing schedule eta(t) = t0 / (t + t1)."""
    return lambda t: t0 / (t + t1)


def minibatch_gd(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    n_epochs: int,
    schedule: Callable[[int], float],
    seed: int = 42,
    theta0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mini-batch GD over shuffled batches; ``batch_size=1`` is stochastic GD.

    The learning rate at step t (counting every update) is ``schedule(t)``.
    Returns (theta, path) with one row per update.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    rng = np.random.default_rng(seed)
    xb, theta = add_bias(x), _theta0(x, theta0)
    path, t = [theta.copy()], 0
    for _ in range(n_epochs):
        order = rng.permutation(len(xb))
        for start in range(0, len(xb), batch_size):
            idx = order[start : start + batch_size]
            theta = theta - schedule(t) * gradient(xb[idx], y[idx], theta)
            path.append(theta.copy())
            t += 1
    return theta, np.array(path)


def _theta0(x: np.ndarray, theta0: np.ndarray | None) -> np.ndarray:
    n = x.shape[1] + 1
    if theta0 is None:
        return np.zeros(n)
    theta0 = np.asarray(theta0, np.float64)
    if theta0.shape != (n,):
        raise ValueError(f"`theta0` must have shape ({n},). Received: theta0.shape={theta0.shape}")
    return theta0.copy()


def _check_2d(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"`{name}` must be 2-D (instances, features). Received: {name}.shape={x.shape}"
        )
    return x


def _check_eta(eta: float) -> None:
    if not eta > 0:
        raise ValueError(f"`eta` (learning rate) must be > 0. Received: eta={eta}")
