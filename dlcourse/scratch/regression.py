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
    return np.linalg.solve(xb.T @ xb, xb.T @ _check_y(y, len(xb)))


def mse(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
    """Mean squared error of ``theta`` on (x, y)."""
    xb = add_bias(x)
    err = xb @ _check_theta(theta, xb.shape[1]) - _check_y(y, len(xb))
    return float(np.mean(err**2))


def mse_path(x: np.ndarray, y: np.ndarray, path: np.ndarray) -> np.ndarray:
    """The MSE at every row of a parameter path (steps, n + 1): the cost-vs-iteration curve."""
    xb = add_bias(x).astype(np.float64)
    path = np.asarray(path, np.float64)
    if path.ndim != 2 or path.shape[1] != xb.shape[1]:
        raise ValueError(
            f"`path` must have shape (steps, {xb.shape[1]}). Received: path.shape={path.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged path may hold inf
        return np.mean((xb @ path.T - _check_y(y, len(xb))[:, None]) ** 2, axis=0)


def stability_limit(x: np.ndarray) -> float:
    """The largest learning rate for which batch GD on the MSE cannot diverge: 2 / lambda_max.

    The MSE's Hessian is H = (2/m) X^T X (constant); a GD step multiplies the error along each
    eigenvector of H by (1 - eta lambda), so GD diverges exactly when eta > 2 / lambda_max(H).
    """
    xb = add_bias(x).astype(np.float64)
    return float(2.0 / np.linalg.eigvalsh(2.0 / len(xb) * xb.T @ xb).max())


def gradient(xb: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Gradient of the MSE: (2/m) X^T (X theta - y). ``xb`` already has the bias column."""
    return 2.0 / len(xb) * xb.T @ (xb @ theta - y)


def batch_gd(
    x: np.ndarray,
    y: np.ndarray,
    *,
    eta: float,
    n_epochs: int,
    theta0: np.ndarray | None = None,
    stop_above: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Batch GD: one step per epoch on the whole training set. Returns (theta, path).

    With ``stop_above``, GD stops early once the MSE exceeds it or stops being finite (it
    diverged); the path then ends at that step, so ``len(path) - 1 < n_epochs`` tells you.
    """
    _check_eta(eta)
    _check_epochs(n_epochs)
    xb, theta = add_bias(x), _theta0(x, theta0)
    y = _check_y(y, len(xb))
    path = [theta.copy()]
    for _ in range(int(n_epochs)):
        theta = theta - eta * gradient(xb, y, theta)
        path.append(theta.copy())
        if stop_above is not None and not np.mean((xb @ theta - y) ** 2) <= stop_above:
            break
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
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1. Received: batch_size={batch_size}")
    _check_epochs(n_epochs)
    rng = np.random.default_rng(seed)
    xb, theta = add_bias(x), _theta0(x, theta0)
    y = _check_y(y, len(xb))
    batch_size = int(batch_size)
    path, t = [theta.copy()], 0
    for _ in range(int(n_epochs)):
        order = rng.permutation(len(xb))
        for start in range(0, len(xb), batch_size):
            idx = order[start : start + batch_size]
            theta = theta - schedule(t) * gradient(xb[idx], y[idx], theta)
            path.append(theta.copy())
            t += 1
    return theta, np.array(path)


def _theta0(x: np.ndarray, theta0: np.ndarray | None) -> np.ndarray:
    n = _check_2d("x", x).shape[1] + 1
    if theta0 is None:
        return np.zeros(n)
    return _check_theta(theta0, n, name="theta0").copy()


def _check_theta(theta: np.ndarray, n: int, name: str = "theta") -> np.ndarray:
    theta = np.asarray(theta, np.float64)
    if theta.shape != (n,):
        raise ValueError(
            f"`{name}` must have shape ({n},), the bias plus one weight per feature. "
            f"Received: {name}.shape={theta.shape}"
        )
    return theta


def _check_y(y: np.ndarray, m: int) -> np.ndarray:
    y = np.asarray(y, np.float64)
    if y.shape != (m,):
        raise ValueError(
            f"`y` must have shape ({m},), one target per row of x. Received: y.shape={y.shape}"
        )
    return y


def _check_epochs(n_epochs: int) -> None:
    if int(n_epochs) != n_epochs or n_epochs < 0:
        raise ValueError(f"`n_epochs` must be an integer >= 0. Received: n_epochs={n_epochs!r}")


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
