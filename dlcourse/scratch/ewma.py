"""Exponentially weighted averages: the window rule and bias correction, in NumPy.

Notes 003 ("Exponentially weighted averages"): ``v_t = beta v_{t-1} + (1 - beta) theta_t``
"averages about the last 1/(1 - beta) values" (beta = 0.9: 10, beta = 0.98: 50). The weight of
the value ``i`` steps back is ``(1 - beta) beta**i``; it falls to ``1/e`` of the newest weight
after ``-1 / ln(beta) ~ 1/(1 - beta)`` steps, and the last ``1/(1 - beta)`` values carry about
``1 - 1/e ~ 63 %`` of the total weight. The library's average is
:func:`dlcourse.training.diagnostics.ewma` (the recursion); :func:`ewma_unrolled` is its
teaching twin, the same average written as that weighted sum, and the tests check one against
the other. With bias correction it equals pandas' ``ewm(alpha=1 - beta, adjust=True).mean()``
and without it ``adjust=False`` from ``v_0 = 0``.

The notes print the bias-corrected rule as one recursion,
``v_t = (beta v_{t-1} + (1 - beta) theta_t) / (1 - beta**t)``, which feeds the corrected value
back into the next step; :func:`ewma_as_printed` runs it to show that it overshoots (the
correction belongs on the reported value only: ``v_t / (1 - beta**t)``, as Adam does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlcourse.utils import check_in_range


def ewma_weights(beta: float, n: int) -> np.ndarray:
    """Weight ``(1 - beta) beta**i`` of the value ``i`` = 0 .. n-1 steps back."""
    check_in_range("beta", beta, 0.0, 1.0, closed="()")
    return (1 - beta) * beta ** np.arange(n)


def ewma_unrolled(
    values: Sequence[float], beta: float = 0.9, bias_correction: bool = True
) -> np.ndarray:
    """``v_t = sum_i (1 - beta) beta**i theta_{t-i}`` (the recursion from ``v_0 = 0``
    unrolled), divided by the weights' total ``1 - beta**t`` when ``bias_correction``."""
    theta = np.asarray(values, np.float64)
    out = np.empty(len(theta))
    for t in range(1, len(theta) + 1):
        w = ewma_weights(beta, t)  # w[i] weighs the value i steps back
        out[t - 1] = w @ theta[:t][::-1] / (w.sum() if bias_correction else 1.0)
    return out


def ewma_window(beta: float) -> dict:
    """The notes' window ``1/(1 - beta)`` next to the exact e-folding length and weight share."""
    check_in_range("beta", beta, 0.0, 1.0, closed="()")
    window = 1.0 / (1.0 - beta)
    n = round(window)
    return {
        "beta": beta,
        "notes_window": round(window, 6),  # 1/(1 - beta)
        "e_folding_steps": round(-1.0 / np.log(beta), 4),  # weight down to 1/e of the newest
        "weight_of_last_window": round(float(ewma_weights(beta, n).sum()), 4),  # 1 - beta**n
        "weight_n_steps_back_over_newest": round(float(beta**n), 4),  # ~ 1/e
    }


def ewma_as_printed(values: Sequence[float], beta: float = 0.9) -> np.ndarray:
    """Notes 003's bias-corrected formula read literally (the corrected ``v`` fed back)."""
    check_in_range("beta", beta, 0.0, 1.0, closed="()")
    out, v = [], 0.0
    for t, theta in enumerate(np.asarray(values, np.float64), 1):
        v = (beta * v + (1 - beta) * theta) / (1 - beta**t)
        out.append(v)
    return np.array(out)
