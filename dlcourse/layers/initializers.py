"""Weight initialization by activation: the notes' table as Keras initializers.

Glorot and Bengio, "Understanding the difficulty of training deep feedforward neural
networks", AISTATS 2010; He et al., "Delving Deep into Rectifiers", ICCV 2015.

With ``fan_avg = (n_inputs + n_outputs) / 2`` the table (notes 000 Unit III, 004) reads

==================  ===================================  ===================================
activation          uniform [-r, r]                      normal N(0, sigma)
==================  ===================================  ===================================
logistic (sigmoid)  r = 4 sqrt(6 / (n_in + n_out))       sigma = 4 sqrt(2 / (n_in + n_out))
tanh                r = sqrt(6 / (n_in + n_out))         sigma = sqrt(2 / (n_in + n_out))
relu and variants   r = sqrt(2) sqrt(6 / (n_in + n_out))  sigma = sqrt(2) sqrt(2 / (n_in + n_out))
==================  ===================================  ===================================

The transcribed notes put the 4x factor on the tanh row; Glorot and Bengio derived the plain
row for tanh, and the 4x factor is the standard correction for the logistic function (whose
slope at 0 is 1/4), so dlcourse follows that. Every row is a ``keras.initializers.
VarianceScaling(scale, mode="fan_avg")``: r = sqrt(3 scale / fan_avg), sigma = sqrt(scale /
fan_avg), hence scale 16 for logistic, 1 for tanh (= ``GlorotUniform``/``GlorotNormal``
up to truncation), 2 for ReLU. ``"untruncated_normal"`` keeps sigma exactly as in the table.
SELU takes LeCun normal (``scale=1, mode="fan_in"``).
"""

from __future__ import annotations

import math

import keras
import numpy as np

from dlcourse.utils import check_choice, check_positive

#: activation -> VarianceScaling (scale, mode)
INIT_TABLE: dict[str, tuple[float, str]] = {
    "sigmoid": (16.0, "fan_avg"),
    "tanh": (1.0, "fan_avg"),
    "relu": (2.0, "fan_avg"),
    "leaky_relu": (2.0, "fan_avg"),
    "elu": (2.0, "fan_avg"),
    "selu": (1.0, "fan_in"),
}
_ALIASES = {"logistic": "sigmoid", "rrelu": "relu", "prelu": "relu"}
DISTRIBUTIONS = ("uniform", "normal")


def initializer_for(
    activation: str, distribution: str = "uniform", seed: int | None = None
) -> keras.initializers.Initializer:
    """The notes' initializer for ``activation`` (see the module table)."""
    key = _ALIASES.get(activation, activation)
    check_choice("activation", key, tuple(INIT_TABLE) + tuple(_ALIASES))
    check_choice("distribution", distribution, DISTRIBUTIONS)
    scale, mode = INIT_TABLE[key]
    dist = "uniform" if distribution == "uniform" else "untruncated_normal"
    return keras.initializers.VarianceScaling(scale, mode=mode, distribution=dist, seed=seed)


def table_value(activation: str, distribution: str, n_inputs: int, n_outputs: int) -> float:
    """The table's r (uniform) or sigma (normal), straight from the formulas."""
    key = _ALIASES.get(activation, activation)
    check_choice("activation", key, tuple(INIT_TABLE) + tuple(_ALIASES))
    check_choice("distribution", distribution, DISTRIBUTIONS)
    check_positive("n_inputs", n_inputs)
    check_positive("n_outputs", n_outputs)
    if key == "selu":
        base = math.sqrt((3.0 if distribution == "uniform" else 1.0) / n_inputs)
        return base
    base = math.sqrt((6.0 if distribution == "uniform" else 2.0) / (n_inputs + n_outputs))
    factor = {"sigmoid": 4.0, "tanh": 1.0}.get(key, math.sqrt(2.0))
    return factor * base


def z_spread(
    n_inputs: int = 250, n_trials: int = 10_000, init: str = "standard", seed: int = 0
) -> float:
    """Empirical std of ``z = sum_i w_i x_i`` with all ``x_i = 1`` (the notes' demonstration).

    With ``init="standard"`` (w ~ N(0, 1)) Var(z) = n_inputs, so for 250 inputs
    sigma(z) = sqrt(250) = 15.811: sigmoid(z) saturates. ``"glorot"`` (the table's tanh row,
    one output) and ``"he"`` (``HeNormal``'s variance 2 / n_inputs) shrink the weights so
    sigma(z) stays near 1 to 1.4.
    """
    check_choice("init", init, ("standard", "glorot", "he"))
    check_positive("n_inputs", n_inputs)
    rng = np.random.default_rng(seed)
    # One neuron (n_outputs = 1): Glorot sigma = sqrt(2 / (n_inputs + 1)), He sigma = sqrt(2 / n).
    sigma = {
        "standard": 1.0,
        "glorot": table_value("tanh", "normal", n_inputs, 1),
        "he": math.sqrt(2.0 / n_inputs),
    }[init]
    w = sigma * rng.standard_normal((n_trials, n_inputs))
    z = w.sum(axis=1)  # x = 1 everywhere
    return float(z.std())
