"""
Title: The activation table: functions and their derivatives
Unit: II
Notes: 000 (Unit II activation table: step, sign, linear, piecewise linear, sigmoid, tanh, ReLU,
softplus), 002 (identity, binary step, logistic, tanh, arctan, ReLU, PReLU, ELU, softplus with
derivatives), 004 (tanh(z) = 2 sigmoid(2z) - 1)
Description: Evaluates every activation of the notes and its derivative in NumPy, checks them
against keras.activations / TensorFlow and against TensorFlow autodiff, checks the identity
tanh(z) = 2 sigmoid(2z) - 1, and draws the whole table in one figure.
Lesson: Each activation of the notes and its hand-written derivative are exactly TensorFlow's
function and autodiff gradient; the sigmoid's slope never exceeds a quarter, a first hint of
why deep sigmoid networks learn slowly.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from dlcourse import labkit, plots
from dlcourse.labkit import arg
from dlcourse.scratch import activations as act

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    z_max: float = arg(4.0, "plot and check the activations on [-z_max, z_max]", check="positive")
    points: int = arg(801, "grid points", check=(2, 10000000))

    QUICK = labkit.quick(points=101)  # a coarser grid


def tf_reference(name: str):
    """The TensorFlow/Keras counterpart of each activation (None for step and sign's kinks)."""
    return {
        "linear": keras.activations.linear,
        "piecewise_linear": lambda t: tf.clip_by_value(t + 0.5, 0.0, 1.0),
        "sigmoid": keras.activations.sigmoid,
        "tanh": keras.activations.tanh,
        "relu": keras.activations.relu,
        "softplus": keras.activations.softplus,
        "arctan": tf.math.atan,
        "prelu": lambda t: keras.activations.leaky_relu(t, 0.25),
        "elu": keras.activations.elu,
        "step": lambda t: tf.cast(t >= 0, t.dtype),
        "sign": tf.math.sign,
    }[name]


def activations(z: np.ndarray) -> dict[str, np.ndarray]:
    """Each activation of the notes at ``z`` (float64), by name (:data:`act.ACTIVATIONS`'s)."""
    # Return {name: g(z)} in NumPy for step (1 from 0 on), sign, linear, piecewise_linear
    # (z + 1/2 clipped to [0, 1]), sigmoid (from e^-|z|: no overflow), tanh, relu, softplus
    # ln(1 + e^z) (np.logaddexp), arctan, prelu (0.25 z below 0) and elu (e^z - 1 below 0).
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(z))  # in (0, 1]
    return {
        "step": np.where(z >= 0, 1.0, 0.0),
        "sign": np.sign(z),
        "linear": z,
        "piecewise_linear": np.clip(z + 0.5, 0.0, 1.0),
        "sigmoid": np.where(z >= 0, 1 / (1 + e), e / (1 + e)),
        "tanh": np.tanh(z),
        "relu": np.maximum(z, 0.0),
        "softplus": np.logaddexp(0.0, z),
        "arctan": np.arctan(z),
        "prelu": np.where(z < 0, 0.25 * z, z),
        "elu": np.where(z < 0, np.expm1(np.minimum(z, 0.0)), z),
    }
    ### END SOLUTION


def derivatives(z: np.ndarray) -> dict[str, np.ndarray]:
    """The hand-written derivative g'(z) of each activation at ``z`` (float64), by name."""
    f = activations(z)
    # Return {name: g'(z)} in NumPy, as the notes write them, from the values f = {name: g(z)}:
    # 0 for step and sign, 1 for linear, 1 inside (-1/2, 1/2) for piecewise_linear, s (1 - s)
    # for the sigmoid s, 1 - tanh^2, relu's 1 from 0 on, the sigmoid for softplus,
    # 1 / (1 + z^2) for arctan, prelu's 0.25 below 0, elu's f(z) + 1 below 0.
    ### BEGIN SOLUTION
    s = f["sigmoid"]
    return {
        "step": np.zeros_like(z),
        "sign": np.zeros_like(z),
        "linear": np.ones_like(z),
        "piecewise_linear": ((z > -0.5) & (z < 0.5)).astype(float),
        "sigmoid": s * (1 - s),
        "tanh": 1 - f["tanh"] ** 2,
        "relu": (z >= 0).astype(float),
        "softplus": s,
        "arctan": 1 / (z**2 + 1),
        "prelu": np.where(z < 0, 0.25, 1.0),
        "elu": np.where(z < 0, f["elu"] + 1.0, 1.0),
    }
    ### END SOLUTION


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # Each NumPy activation and its hand-written derivative against TensorFlow's function and
    # its autodiff gradient, on a grid of z.
    z = np.linspace(-cfg.z_max, cfg.z_max, cfg.points)
    z_off = z + 1e-3  # autodiff at kinks is a convention: compare off the kinks
    values, slopes = activations(z), derivatives(z)
    values_off, slopes_off = activations(z_off), derivatives(z_off)
    table, value_diff, grad_diff = {}, {}, {}
    for name in act.ACTIVATIONS:  # the notes' table, in its order
        table[name] = (values[name], slopes[name])
        t = tf.constant(z_off, tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(t)
            ref = tf_reference(name)(t)
        value_diff[name] = float(np.abs(values_off[name] - ref.numpy()).max())
        grad = tape.gradient(ref, t)
        grad = np.zeros_like(z_off) if grad is None else grad.numpy()
        grad_diff[name] = float(np.abs(slopes_off[name] - grad).max())
    metrics = {
        "max_abs_diff_vs_tensorflow": value_diff,
        "max_abs_diff_derivative_vs_autodiff": grad_diff,
        "tanh_identity_max_abs_diff": float(
            np.abs(act.tanh(z) - (2 * act.sigmoid(2 * z) - 1)).max()
        ),
        "sigmoid_grad_max": float(table["sigmoid"][1].max()),  # 0.25: why sigmoids vanish
    }
    plots.save(plots.activation_table(z, table), out, "activations")

    # The claims: NumPy = TensorFlow for every function and derivative, the notes' tanh
    # identity, and the sigmoid's largest slope 1/4 (at z = 0).
    metrics["claims"] = [
        labkit.within(
            "Every NumPy activation equals its TensorFlow/Keras counterpart (max |difference|)",
            max(value_diff.values()),
            1e-12,
        ),
        labkit.within(
            "Every hand-written derivative equals TensorFlow's autodiff gradient (max |diff|)",
            max(grad_diff.values()),
            1e-12,
        ),
        labkit.within(
            "tanh(z) = 2 sigmoid(2z) - 1, as the notes state (max |difference|)",
            metrics["tanh_identity_max_abs_diff"],
            1e-12,
        ),
        labkit.within(
            "The sigmoid's slope peaks at 1/4 (|max slope on the grid - 0.25|)",
            abs(metrics["sigmoid_grad_max"] - 0.25),
            1e-3,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def _fresh_z(rng) -> np.ndarray:
    """Fresh points in a random range, none within 1e-6 of a kink (0 and +-1/2)."""
    z = rng.uniform(-1, 1, int(rng.integers(20, 300))) * rng.uniform(0.6, 12.0)
    kinks = np.array([-0.5, 0.0, 0.5])
    return z[np.abs(z[:, None] - kinks).min(axis=1) > 1e-6]


def _worst(got: dict, want: dict) -> tuple[float, str]:
    """The largest |difference| over every activation, and the activation it comes from."""
    errors = {
        name: float(np.max(np.abs(np.asarray(got[name], np.float64) - w)))
        if name in got and np.shape(got[name]) == w.shape
        else float("inf")
        for name, w in want.items()
    }
    worst = max(errors, key=errors.get)
    return errors[worst], worst


def check_activations(ns: dict) -> dict:
    """activations gives TensorFlow/Keras's values on fresh points."""
    z = _fresh_z(np.random.default_rng())
    t = tf.constant(z, tf.float64)
    want = {name: tf_reference(name)(t).numpy() for name in act.ACTIVATIONS}
    error, worst = _worst(ns["activations"](z), want)
    return labkit.within(
        f"activations gives TensorFlow/Keras's values at {len(z)} fresh points in "
        f"[{z.min():.2f}, {z.max():.2f}] (max |difference|, largest for {worst})",
        error, 1e-12,
    )  # fmt: skip


def check_derivatives(ns: dict) -> dict:
    """derivatives gives TensorFlow's autodiff gradients on fresh points off the kinks."""
    z = _fresh_z(np.random.default_rng())
    want = {}
    for name in act.ACTIVATIONS:
        t = tf.constant(z, tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(t)
            ref = tf_reference(name)(t)
        grad = tape.gradient(ref, t)
        want[name] = np.zeros_like(z) if grad is None else grad.numpy()
    error, worst = _worst(ns["derivatives"](z), want)
    return labkit.within(
        f"derivatives gives TensorFlow's autodiff gradients at {len(z)} fresh points in "
        f"[{z.min():.2f}, {z.max():.2f}], off the kinks (max |difference|, largest for {worst})",
        error, 1e-12,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
