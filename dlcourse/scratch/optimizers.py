"""Optimizer update rules and gradient clipping in NumPy (teaching twins of Keras').

Notes 000 Unit III, 003, 004. Each ``*_step`` takes the parameters ``theta``, the gradient ``g``
and a ``state`` dict (start with ``{}``) and returns the new parameters; ``state`` is updated in
place. The rules are written in Keras' conventions so they match ``keras.optimizers`` step for
step; the notes' forms, where they differ, are given by ``momentum_step_notes``,
``adam_step_notes`` and the docstrings (see also :mod:`dlcourse.training.optimizers`).
"""

from __future__ import annotations

import numpy as np


def clip_by_norm(g: np.ndarray, c: float) -> np.ndarray:
    """The notes' clip: ``g <- c g / ||g||`` when ``||g|| > c`` (Keras ``clipnorm``)."""
    norm = np.sqrt(np.sum(g**2))
    return g * c / norm if norm > c else g


def clip_by_value(g: np.ndarray, c: float) -> np.ndarray:
    """Each component into [-c, c] (Keras ``clipvalue``)."""
    return np.clip(g, -c, c)


def clip_by_global_norm(grads: list[np.ndarray], c: float) -> list[np.ndarray]:
    """All gradients rescaled together so their joint norm is <= c (``global_clipnorm``)."""
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * c / norm for g in grads] if norm > c else grads


def sgd_step(theta, g, state, lr=0.01):
    """theta <- theta - eta g."""
    return theta - lr * g


def momentum_step_notes(theta, g, state, lr=0.01, beta=0.9):
    """Notes: m <- beta m + eta g; theta <- theta - m."""
    m = state["m"] = beta * state.get("m", 0.0) + lr * g
    return theta - m


def momentum_step(theta, g, state, lr=0.01, beta=0.9, nesterov=False):
    """Keras SGD(momentum): m <- beta m - eta g; theta <- theta + m (m = -m_notes).

    Nesterov (Keras): theta <- theta + beta m - eta g, where theta is the look-ahead point
    theta_notes - beta m_notes, so the gradient is taken there as the notes ask.
    """
    m = state["m"] = beta * state.get("m", 0.0) - lr * g
    return theta + (beta * m - lr * g if nesterov else m)


def adagrad_step(theta, g, state, lr=0.01, eps=1e-7, s0=0.1):
    """s <- s + g*g; theta <- theta - eta g / sqrt(s + eps). Keras starts s at 0.1, notes at 0."""
    s = state["s"] = state.get("s", s0) + g * g
    return theta - lr * g / np.sqrt(s + eps)


def rmsprop_step(theta, g, state, lr=0.001, rho=0.9, eps=1e-7):
    """s <- rho s + (1 - rho) g*g; theta <- theta - eta g / sqrt(s + eps) (notes = Keras)."""
    s = state["s"] = rho * state.get("s", 0.0) + (1 - rho) * g * g
    return theta - lr * g / np.sqrt(s + eps)


def _moments(g, state, b1, b2):
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
    s = state["s"] = b2 * state.get("s", 0.0) + (1 - b2) * g * g
    return t, m, s


def adam_step_notes(theta, g, state, lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
    """Notes: m, s EWMAs; m_hat = m / (1 - b1^t), s_hat = s / (1 - b2^t);
    theta <- theta - eta m_hat / sqrt(s_hat + eps)."""
    t, m, s = _moments(g, state, b1, b2)
    return theta - lr * (m / (1 - b1**t)) / np.sqrt(s / (1 - b2**t) + eps)


def adam_step(theta, g, state, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Keras: alpha = eta sqrt(1 - b2^t) / (1 - b1^t); theta <- theta - alpha m / (sqrt(s) + eps).

    Same as the notes' rule with epsilon moved outside the root and scaled by sqrt(1 - b2^t)
    ("epsilon hat", Kingma and Ba section 2).
    """
    t, m, s = _moments(g, state, b1, b2)
    alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    return theta - alpha * m / (np.sqrt(s) + eps)


def adamw_step(theta, g, state, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, weight_decay=0.004):
    """Loshchilov and Hutter 2019: decoupled decay theta <- theta - eta lambda theta, then Adam."""
    return adam_step(theta - lr * weight_decay * theta, g, state, lr, b1, b2, eps)


def adamax_step(theta, g, state, lr=0.002, b1=0.9, b2=0.999, eps=1e-7):
    """Adam with the infinity norm: u <- max(b2 u, |g|); theta <- theta - eta m_hat / (u + eps)."""
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
    u = state["u"] = np.maximum(b2 * state.get("u", 0.0), np.abs(g))
    return theta - lr * m / ((1 - b1**t) * (u + eps))


def nadam_step(theta, g, state, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Dozat 2016 (Adam + Nesterov), with Keras' momentum schedule mu_t = b1 (1 - 0.5 0.96^t)."""
    t, m, s = _moments(g, state, b1, b2)
    mu_t, mu_next = b1 * (1 - 0.5 * 0.96**t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
    prod = state["prod"] = state.get("prod", 1.0) * mu_t
    m_hat = mu_next * m / (1 - prod * mu_next) + (1 - mu_t) * g / (1 - prod)
    s_hat = s / (1 - b2**t)
    return theta - lr * m_hat / (np.sqrt(s_hat) + eps)


def terminal_velocity(beta: float = 0.9, lr: float = 0.01, g: float = 1.0, steps: int = 100):
    """Notes 000: with a constant gradient ``g`` the momentum step ``m`` grows to the terminal
    velocity ``lr g / (1 - beta)`` (beta = 0.9: 10 times plain gradient descent's ``lr g``).

    Returns the step lengths ``|theta_t - theta_{t-1}|`` of :func:`momentum_step_notes` and of
    :func:`sgd_step`, ``steps`` each.
    """
    state, theta, moms = {}, 0.0, []
    for _ in range(steps):
        new = momentum_step_notes(theta, g, state, lr=lr, beta=beta)
        moms.append(abs(new - theta))
        theta = new
    return np.array(moms), np.full(steps, abs(sgd_step(0.0, g, {}, lr=lr)))
