"""The linear threshold unit and Rosenblatt's perceptron, in NumPy.

Rosenblatt (1957), "The perceptron"; notes 000 Unit II and 004. An LTU outputs
``step(w . x + b)``; the perceptron learning rule is ``w <- w + eta (y - y_hat) x`` (the notes print
``y_hat - y``, a sign slip: that rule moves *away* from the target).

:class:`Perceptron` follows scikit-learn's ``Perceptron`` exactly (zero start, samples in the
given order, a sample on the boundary counts as a mistake), so with ``shuffle=False, alpha=0,
tol=None`` both produce the same weights after every epoch (see tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlcourse.scratch.activations import step
from dlcourse.utils import check_positive

TRUTH_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
GATES = {
    "and": np.array([0, 0, 0, 1]),
    "or": np.array([0, 1, 1, 1]),
    "not_x1": np.array([1, 1, 0, 0]),
    "xor": np.array([0, 1, 1, 0]),
}


def ltu(x: np.ndarray, w: np.ndarray, b: float, at_zero: float = 1.0) -> np.ndarray:
    """Linear threshold unit: ``step(x @ w + b)``; x (m, n), w (n,) -> (m,) of 0/1."""
    return step(np.asarray(x, float) @ np.asarray(w, float) + b, at_zero=at_zero)


@dataclass
class Perceptron:
    """One LTU trained with the perceptron learning rule.

    Args:
        eta: learning rate (sklearn's ``eta0``).
        epochs: passes over the data (sklearn's ``max_iter``).
    """

    eta: float = 1.0
    epochs: int = 10
    w: np.ndarray | None = None
    b: float = 0.0
    history: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (w, b) per epoch
    mistakes: list[int] = field(default_factory=list)  # updates per epoch

    def __post_init__(self):
        check_positive("eta", self.eta)
        check_positive("epochs", self.epochs)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, float) @ self.w + self.b

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self.decision_function(x) > 0).astype(int)  # sklearn: 0 on the boundary

    def fit(self, x: np.ndarray, y: np.ndarray) -> Perceptron:
        """Train on 0/1 labels; stops early after an epoch without a mistake."""
        x, y = np.asarray(x, float), np.asarray(y)
        if x.ndim != 2 or len(x) != len(y):
            raise ValueError(
                f"`x` must be (m, n) with m = len(y). Received: x.shape={x.shape}, len(y)={len(y)}"
            )
        self.w, self.b = np.zeros(x.shape[1]), 0.0
        self.history, self.mistakes = [(self.w.copy(), self.b)], []
        for _ in range(self.epochs):
            self.mistakes.append(self._epoch(x, y))
            self.history.append((self.w.copy(), self.b))
            if self.mistakes[-1] == 0:
                break
        return self

    def _epoch(self, x: np.ndarray, y: np.ndarray) -> int:
        errors = 0
        for xi, yi in zip(x, y):
            target = 1.0 if yi == 1 else -1.0  # y - y_hat is +-1 on a mistake
            if target * (xi @ self.w + self.b) <= 0:
                self.w += self.eta * target * xi
                self.b += self.eta * target
                errors += 1
        return errors

    def cycle_length(self) -> int | None:
        """Epochs after which the (w, b) at an epoch start repeats (None if it never did).

        Training is deterministic (fixed order), so a repeated state means the loop cycles
        forever: it can never converge.
        """
        seen: dict[bytes, int] = {}
        for i, (w, b) in enumerate(self.history):
            key = np.r_[w, b].tobytes()
            if key in seen:
                return i - seen[key]
            seen[key] = i
        return None


def separable(x: np.ndarray, y: np.ndarray) -> bool:
    """Is there (w, b) with ``(2y - 1)(w . x + b) >= 1`` for every point? (a linear program).

    Any strictly separating (w, b) can be scaled to margin 1, so infeasibility proves that no
    single LTU classifies all points (for XOR this is Minsky & Papert's argument).
    """
    from scipy.optimize import linprog

    x, s = np.asarray(x, float), 2 * np.asarray(y, float) - 1
    a_ub = -s[:, None] * np.c_[x, np.ones(len(x))]  # -(s_i [x_i, 1]) . [w, b] <= -1
    res = linprog(np.zeros(x.shape[1] + 1), A_ub=a_ub, b_ub=-np.ones(len(x)), bounds=(None, None))
    return res.status == 0


def xor_network(x: np.ndarray) -> np.ndarray:
    """Two layers of LTUs with hand-set weights: XOR = (x1 OR x2) AND NOT (x1 AND x2)."""
    h_or = ltu(x, [1, 1], -0.5)
    h_and = ltu(x, [1, 1], -1.5)
    return ltu(np.c_[h_or, h_and], [1, -1], -0.5)
