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


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # Each NumPy activation and its hand-written derivative against TensorFlow's function and
    # its autodiff gradient, on a grid of z.
    z = np.linspace(-cfg.z_max, cfg.z_max, cfg.points)
    z_off = z + 1e-3  # autodiff at kinks is a convention: compare off the kinks
    table, value_diff, grad_diff = {}, {}, {}
    for name, (f, df) in act.ACTIVATIONS.items():
        table[name] = (f(z), df(z))
        t = tf.constant(z_off, tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(t)
            ref = tf_reference(name)(t)
        value_diff[name] = float(np.abs(f(z_off) - ref.numpy()).max())
        grad = tape.gradient(ref, t)
        grad = np.zeros_like(z_off) if grad is None else grad.numpy()
        grad_diff[name] = float(np.abs(df(z_off) - grad).max())
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


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
