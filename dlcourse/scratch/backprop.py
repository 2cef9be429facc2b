"""Backpropagation from scratch for an L-layer MLP, with the notes' equations (003).

Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating errors".
Column convention of note 003: ``X`` is (n_x, m), ``W[l]`` is (n_l, n_{l-1}), ``b[l]`` is (n_l, 1).

Forward:  Z[l] = W[l] A[l-1] + b[l],  A[l] = g[l](Z[l]),  A[0] = X,  A[L] = Y_hat
Backward: dZ[L] = A[L] - Y   (sigmoid + binary cross-entropy, or softmax + cross-entropy)
          dW[l] = (1/m) dZ[l] A[l-1]^T,   db[l] = (1/m) sum(dZ[l], axis=1)
          dZ[l-1] = W[l]^T dZ[l] * g'[l-1](Z[l-1])

(The note prints ``A[L]^T`` in dW[L] and ``dW^T`` in dZ[l-1]; the shapes only work with
``A[l-1]^T`` and ``W[l]^T``, which is what is implemented and checked against TensorFlow.)
"""

from __future__ import annotations

import numpy as np

from dlcourse.scratch import activations
from dlcourse.utils import check_choice, check_positive

Params = dict[str, np.ndarray]


def init_params(layer_dims: list[int], seed: int = 0, dtype=np.float64) -> Params:
    """He-style random weights, zero biases: ``W1 (n1, n0), b1 (n1, 1), ...``."""
    if len(layer_dims) < 2 or min(layer_dims) < 1:
        raise ValueError(
            f"`layer_dims` must list at least 2 positive sizes. Received: layer_dims={layer_dims!r}"
        )
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(layer_dims)):
        scale = np.sqrt(2.0 / layer_dims[l - 1])
        params[f"W{l}"] = (rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * scale).astype(
            dtype
        )
        params[f"b{l}"] = np.zeros((layer_dims[l], 1), dtype)
    return params


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=0, keepdims=True))  # (classes, m)
    return e / e.sum(axis=0, keepdims=True)


def _output(z: np.ndarray, output: str) -> np.ndarray:
    return activations.sigmoid(z) if output == "sigmoid" else softmax(z)


def forward(
    x: np.ndarray, params: Params, hidden: str = "relu", output: str = "softmax"
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Return ``A[L]`` and the caches ``[(A[l-1], Z[l]), ...]`` for the backward pass."""
    check_choice("output", output, ("softmax", "sigmoid"))
    g = activations.get(hidden)[0]
    n_layers = len(params) // 2
    a, caches = x, []
    for l in range(1, n_layers + 1):
        z = params[f"W{l}"] @ a + params[f"b{l}"]  # (n_l, m)
        caches.append((a, z))
        a = _output(z, output) if l == n_layers else g(z)
    return a, caches


def cost(a_last: np.ndarray, y: np.ndarray, output: str = "softmax") -> float:
    """Mean cross-entropy; ``y`` one-hot (classes, m), or (1, m) of 0/1 for sigmoid."""
    m = y.shape[1]
    eps = 1e-12
    if output == "sigmoid":
        return float(-np.sum(y * np.log(a_last + eps) + (1 - y) * np.log(1 - a_last + eps)) / m)
    return float(-np.sum(y * np.log(a_last + eps)) / m)


def backward(
    a_last: np.ndarray, y: np.ndarray, params: Params, caches: list, hidden: str = "relu"
) -> Params:
    """Gradients ``dW1, db1, ...`` of :func:`cost` by the equations in the module docstring."""
    dg = activations.get(hidden)[1]
    m = y.shape[1]
    grads: Params = {}
    dz = a_last - y  # dZ[L]
    for l in range(len(caches), 0, -1):
        a_prev, _ = caches[l - 1]
        grads[f"dW{l}"] = dz @ a_prev.T / m
        grads[f"db{l}"] = dz.sum(axis=1, keepdims=True) / m
        if l > 1:
            dz = (params[f"W{l}"].T @ dz) * dg(caches[l - 2][1])  # dZ[l-1]
    return grads


def update(params: Params, grads: Params, learning_rate: float) -> Params:
    """One gradient-descent step: theta <- theta - eta * d theta."""
    return {k: v - learning_rate * grads["d" + k] for k, v in params.items()}


def gradient_check(
    x: np.ndarray,
    y: np.ndarray,
    params: Params,
    hidden: str = "relu",
    output: str = "softmax",
    eps: float = 1e-6,
) -> float:
    """Relative difference ||g - g_num|| / (||g|| + ||g_num||) against central differences."""
    a_last, caches = forward(x, params, hidden, output)
    grads = backward(a_last, y, params, caches, hidden)
    analytic, numeric = [], []
    for k, v in params.items():
        for idx in np.ndindex(v.shape):
            old = v[idx]
            v[idx] = old + eps
            plus = cost(forward(x, params, hidden, output)[0], y, output)
            v[idx] = old - eps
            minus = cost(forward(x, params, hidden, output)[0], y, output)
            v[idx] = old
            numeric.append((plus - minus) / (2 * eps))
            analytic.append(grads["d" + k][idx])
    analytic, numeric = np.array(analytic), np.array(numeric)
    return float(
        np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
    )


def train(
    x: np.ndarray,
    y: np.ndarray,
    layer_dims: list[int],
    *,
    hidden: str = "relu",
    output: str = "softmax",
    learning_rate: float = 0.1,
    epochs: int = 100,
    batch_size: int | None = None,
    seed: int = 0,
) -> tuple[Params, list[float]]:
    """(Mini-)batch gradient descent with backprop; returns params and the cost per epoch."""
    check_positive("learning_rate", learning_rate)
    check_positive("epochs", epochs)
    params = init_params(layer_dims, seed)
    rng = np.random.default_rng(seed)
    m = x.shape[1]
    batch = batch_size or m
    costs = []
    for _ in range(epochs):
        order = rng.permutation(m) if batch < m else np.arange(m)
        for start in range(0, m, batch):
            idx = order[start : start + batch]
            a_last, caches = forward(x[:, idx], params, hidden, output)
            params = update(
                params, backward(a_last, y[:, idx], params, caches, hidden), learning_rate
            )
        costs.append(cost(forward(x, params, hidden, output)[0], y, output))
    return params, costs


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """(m,) int labels -> (classes, m) one-hot columns."""
    return np.eye(classes)[np.asarray(labels)].T


def predict(x: np.ndarray, params: Params, hidden: str = "relu", output: str = "softmax"):
    a_last, _ = forward(x, params, hidden, output)
    return (a_last[0] > 0.5).astype(int) if output == "sigmoid" else a_last.argmax(axis=0)
