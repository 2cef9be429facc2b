"""The activation table of the notes (000 Unit II, 002), with derivatives, in NumPy.

Notes 000 (Raschka's table: step, sign, linear, piecewise linear, sigmoid, tanh, ReLU, softplus)
and 002 (identity, binary step, logistic, tanh, arctan, ReLU, PReLU, ELU, softplus). Each entry of
:data:`ACTIVATIONS` is ``(f, df)``; ``df`` is the derivative the notes give (0 where the function
is flat or undefined, e.g. the step at 0). Tested against ``keras.activations`` and autodiff.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def step(z: Array, at_zero: float = 1.0) -> Array:
    """Heaviside step: 0 for z < 0, 1 for z > 0, ``at_zero`` at 0 (002: 1; 000's table: 0.5)."""
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, 1.0, np.where(z < 0, 0.0, at_zero))


def sign(z: Array) -> Array:
    return np.sign(np.asarray(z, dtype=float))


def linear(z: Array) -> Array:
    return np.asarray(z, dtype=float)


def piecewise_linear(z: Array) -> Array:
    """1 for z >= 1/2, z + 1/2 in between, 0 for z <= -1/2 (000's table)."""
    return np.clip(np.asarray(z, dtype=float) + 0.5, 0.0, 1.0)


def sigmoid(z: Array) -> Array:
    z = np.asarray(z, dtype=float)
    # exp of a non-positive number only: no overflow for large |z|.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def tanh(z: Array) -> Array:
    return np.tanh(np.asarray(z, dtype=float))


def relu(z: Array) -> Array:
    return np.maximum(np.asarray(z, dtype=float), 0.0)


def softplus(z: Array) -> Array:
    return np.logaddexp(0.0, np.asarray(z, dtype=float))  # ln(1 + e^z), stable


def arctan(z: Array) -> Array:
    return np.arctan(np.asarray(z, dtype=float))


def prelu(z: Array, alpha: float = 0.25) -> Array:
    """alpha * z for z < 0, z otherwise (PReLU learns alpha; here it is fixed)."""
    z = np.asarray(z, dtype=float)
    return np.where(z < 0, alpha * z, z)


def elu(z: Array, alpha: float = 1.0) -> Array:
    z = np.asarray(z, dtype=float)
    return np.where(z < 0, alpha * np.expm1(np.minimum(z, 0.0)), z)


def _zero(z: Array) -> Array:
    return np.zeros_like(np.asarray(z, dtype=float))


def _piecewise_linear_grad(z: Array) -> Array:
    z = np.asarray(z, dtype=float)
    return ((z > -0.5) & (z < 0.5)).astype(float)


def _sigmoid_grad(z: Array) -> Array:
    s = sigmoid(z)
    return s * (1 - s)


def _elu_grad(z: Array, alpha: float = 1.0) -> Array:
    z = np.asarray(z, dtype=float)
    return np.where(z < 0, elu(z, alpha) + alpha, 1.0)  # 002: f(x) + alpha for x < 0


ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "step": (step, _zero),
    "sign": (sign, _zero),
    "linear": (linear, lambda z: np.ones_like(np.asarray(z, dtype=float))),
    "piecewise_linear": (piecewise_linear, _piecewise_linear_grad),
    "sigmoid": (sigmoid, _sigmoid_grad),
    "tanh": (tanh, lambda z: 1 - tanh(z) ** 2),
    "relu": (relu, lambda z: (np.asarray(z, dtype=float) >= 0).astype(float)),  # 002: 1 at 0
    "softplus": (softplus, sigmoid),
    "arctan": (arctan, lambda z: 1 / (np.asarray(z, dtype=float) ** 2 + 1)),
    "prelu": (prelu, lambda z: np.where(np.asarray(z, dtype=float) < 0, 0.25, 1.0)),
    "elu": (elu, _elu_grad),
}


def get(name: str) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    """``(f, df)`` for an activation name of :data:`ACTIVATIONS`."""
    if name not in ACTIVATIONS:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"Unknown activation. Received: name={name!r}; expected one of {known}")
    return ACTIVATIONS[name]
