"""Logistic regression from scratch, trained by batch gradient descent exactly as notes 003 write it.

Notes 003 (logistic regression; forward and backward propagation) keep one example per *column*:
``X`` is (n_x, m), ``Y`` is (1, m). One iteration is

    forward:   Z = w^T X + b                 (1, m)
               A = sigmoid(Z)                (1, m)
    cost:      J = -(1/m) sum(Y log A + (1 - Y) log(1 - A))  [+ (lambda / 2m) ||w||^2]
    backward:  dZ = A - Y                    (1, m)
               dw = (1/m) X dZ^T             (n_x, 1)   [+ (lambda / m) w]
               db = (1/m) sum(dZ)
    update:    w = w - alpha * dw,  b = b - alpha * db

The public functions take ``x`` the way scikit-learn and Keras do, (m, n_x) with one example per
row, and transpose once (``X = x.T``) so the body reads like the notes. The optional L2 term is
the notes' regularization (003, "L2 Regularization"); ``l2 = lambda`` matches scikit-learn's
``LogisticRegression(C=1 / lambda)`` and ``l2 = 0`` its unregularized ``C=np.inf``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlcourse.utils import check_positive


class LogisticFit(NamedTuple):
    """What :func:`fit` returns: the parameters and the cost J before every update."""

    w: np.ndarray  # (n_x,)
    b: float
    costs: np.ndarray  # (n_iterations + 1,): J at the start and after each update


def sigmoid(z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + e^-z), evaluated with e^-|z| so that large |z| cannot overflow."""
    z = np.asarray(z, np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1]
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def forward(x: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Z = w^T X + b and A = sigmoid(Z) for ``x`` (m, n_x). Returns (Z, A), each (m,)."""
    x = _check_x(x, w)
    z = w @ x.T + b  # (n_x,) @ (n_x, m) -> (m,)
    return z, sigmoid(z)


def cost(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, *, l2: float = 0.0) -> float:
    """The cross-entropy cost J(w, b) of the notes, plus (l2 / 2m) ||w||^2."""
    x = _check_x(x, w)
    return _propagate(x, _check_y(y, len(x)), w, b, l2)[0]


def gradients(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, *, l2: float = 0.0
) -> tuple[np.ndarray, float]:
    """Backward propagation: (dJ/dw, dJ/db) = ((1/m) X dZ^T + (l2/m) w, mean(dZ))."""
    x = _check_x(x, w)
    _, dw, db = _propagate(x, _check_y(y, len(x)), w, b, l2)
    return dw, db


def _propagate(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, l2: float
) -> tuple[float, np.ndarray, float]:
    """One forward and backward pass on checked inputs: (J, dw, db).

    ``log A`` and ``log(1 - A)`` are computed from Z as ``-log(1 + e^-Z)`` and ``-log(1 + e^Z)``
    (the same numbers, without log(0) when A rounds to 0 or 1).
    """
    m = len(y)
    z = w @ x.T + b  # forward: (n_x,) @ (n_x, m) -> (m,)
    log_a, log_1ma = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    j = -np.mean(y * log_a + (1.0 - y) * log_1ma) + l2 / (2 * m) * np.sum(w**2)
    dz = sigmoid(z) - y  # backward: dZ = A - Y, (m,)
    dw = x.T @ dz / m + l2 / m * w  # X dZ^T: (n_x, m) @ (m,) -> (n_x,)
    return float(j), dw, float(np.mean(dz))


def fit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float,
    n_iterations: int,
    l2: float = 0.0,
    w0: np.ndarray | None = None,
    b0: float = 0.0,
) -> LogisticFit:
    """Batch gradient descent: ``n_iterations`` updates w -= alpha dw, b -= alpha db.

    Starts from w = 0, b = 0 as the notes do (the cost is convex, so zeros are fine), or from
    ``w0``/``b0``.

    Raises:
        ValueError: on a non-positive ``alpha``, a negative ``n_iterations`` or ``l2``,
            ``x`` that is not (m, n_x), or ``y`` that is not m labels in {0, 1}.
    """
    check_positive("alpha", alpha)
    check_positive("l2", l2, strict=False)
    if int(n_iterations) != n_iterations or n_iterations < 0:
        raise ValueError(
            f"`n_iterations` must be an integer >= 0. Received: n_iterations={n_iterations!r}"
        )
    x = _check_2d(x)
    y = _check_y(y, len(x))
    w = np.zeros(x.shape[1]) if w0 is None else np.array(w0, np.float64)
    b = float(b0)
    _check_x(x, w)
    costs = []
    for _ in range(int(n_iterations)):
        j, dw, db = _propagate(x, y, w, b, l2)
        costs.append(j)
        w, b = w - alpha * dw, b - alpha * db
    costs.append(_propagate(x, y, w, b, l2)[0])
    return LogisticFit(w, b, np.array(costs))


def predict_proba(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """P(y = 1 | x) = sigmoid(w^T x + b), shape (m,)."""
    return forward(x, w, b)[1]


def predict(x: np.ndarray, w: np.ndarray, b: float, threshold: float = 0.5) -> np.ndarray:
    """Class 1 where P(y = 1 | x) >= ``threshold``, else 0, as int64 (m,)."""
    return (predict_proba(x, w, b) >= threshold).astype(np.int64)


def _check_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"`x` must be 2-D (examples, features). Received: x.shape={x.shape}")
    return x


def _check_x(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    x = _check_2d(x)
    w = np.asarray(w)
    if w.shape != (x.shape[1],):
        raise ValueError(
            f"`w` must have shape ({x.shape[1]},), one weight per feature of x. "
            f"Received: w.shape={w.shape}"
        )
    return x


def _check_y(y: np.ndarray, m: int) -> np.ndarray:
    y = np.asarray(y, np.float64)
    if y.shape != (m,):
        raise ValueError(
            f"`y` must have shape ({m},), one label per row of x. Received: y.shape={y.shape}"
        )
    if not np.all((y == 0) | (y == 1)):
        bad = np.unique(y[(y != 0) & (y != 1)])[:5].tolist()
        raise ValueError(f"`y` must hold binary labels 0 or 1. Received: y values {bad}")
    return y
