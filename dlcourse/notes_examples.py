"""The notes' small numeric examples, one function per lab: metrics (and figures) in one call.

It sits above the library and the NumPy teaching twins (``scratch/`` stays NumPy-only): each
function computes its examples with the code that teaches them and returns a JSON-safe dict;
with ``folder`` it also saves the example's figure there. The tests
(``tests/test_notes_examples.py``) assert every number against the notes, or against the paper
where the notes are wrong (see ``docs/notes-errata.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlcourse.scratch import dropout as sd
from dlcourse.scratch import ewma as se
from dlcourse.scratch import optimizers as so


def demo_series(n: int = 200, seed: int = 0) -> np.ndarray:
    """A seeded noisy seasonal series standing in for the notes' daily-temperature plot."""
    t = np.arange(n)
    return 15 + 10 * np.sin(2 * np.pi * t / n) + np.random.default_rng(seed).normal(0, 3, n)


def optimizer_examples(folder: str | Path | None = None, seed: int = 0) -> dict:
    """Lab 33: the EWMA window rule and bias correction (notes 003), momentum's terminal
    velocity (notes 000: beta = 0.9 gives 10 times the plain step)."""
    from dlcourse import plots
    from dlcourse.training.diagnostics import ewma

    series = demo_series(seed=seed)
    averages = {
        "beta 0.9, no correction (~10 values)": ewma(series, 0.9, bias_correction=False),
        "beta 0.98, bias-corrected": ewma(series, 0.98),
        "beta 0.98, no correction": ewma(series, 0.98, bias_correction=False),
    }
    if folder is not None:
        fig = plots.ewma_bias_correction(series, averages, title="EWMA, with and without "
                                         "bias correction")  # fmt: skip
        plots.save(fig, folder, "notes_ewma")
    momentum, plain = so.terminal_velocity(beta=0.9, lr=0.01, g=1.0, steps=100)
    printed = se.ewma_as_printed(series[:5], 0.98)
    return {
        "ewma_window": {str(b): se.ewma_window(b) for b in (0.9, 0.98)},
        "ewma_first_value": {  # v_1 with beta 0.98: uncorrected 0.02 theta_1, corrected theta_1
            "theta_1": round(float(series[0]), 4),
            "uncorrected": round(float(averages["beta 0.98, no correction"][0]), 4),
            "corrected": round(float(averages["beta 0.98, bias-corrected"][0]), 4),
        },
        "ewma_as_printed_first_5": [round(float(v), 3) for v in printed],
        "momentum_terminal_velocity": {
            "beta": 0.9,
            "plain_step": round(float(plain[-1]), 6),
            "momentum_step_after_100": round(float(momentum[-1]), 6),
            "ratio": round(float(momentum[-1] / plain[-1]), 4),
        },
    }


def dropout_examples(folder: str | Path | None = None, n: int = 4, rate: float = 0.5) -> dict:
    """Lab 35: the ``2**n`` sub-networks dropout samples from (notes 004: n = 4 gives 16), and
    the Keras ``Dropout`` layer seen sampling exactly those masks."""
    import keras

    from dlcourse import plots

    masks = sd.subnetwork_masks(n)
    seen = sd.observed_masks(keras.layers.Dropout(rate, seed=0), n, draws=4000)
    distinct = {tuple(m) for m in seen.tolist()}
    x = np.arange(1.0, n + 1)
    w = np.linspace(-1, 1, 2 * n).reshape(n, 2)
    if folder is not None:
        fig = plots.dropout_masks(masks, title=f"The {len(masks)} sub-networks of {n} units")
        plots.save(fig, folder, "notes_dropout_subnetworks")
    return {
        "droppable_units": n,
        "subnetworks": len(masks),
        "keras_distinct_masks_in_4000_draws": len(distinct),
        "keras_masks_all_enumerated": distinct <= {tuple(m) for m in masks.tolist()},
        "mask_average_equals_full_network": bool(
            np.allclose(sd.expected_output(x, w, rate), x @ w)
        ),
    }


def convolution_examples() -> dict:
    """Lab 50, notes 000 "Why convolution?": a 128-unit dense layer's weights on MNIST and on
    a 256 x 256 image against a 5x5 conv layer's (128 filters)."""
    from dlcourse.models.summary import dense_vs_conv_weights

    return {
        "mnist_28x28": dense_vs_conv_weights((28, 28)),
        "image_256x256": dense_vs_conv_weights((256, 256)),
    }


def depth_examples(names=("lenet5", "alexnet", "vgg16", "googlenet", "resnet152")) -> dict:
    """Lab 53: every builder's depth by the papers' rule (weight layers on the longest path)."""
    from dlcourse.models import create_model
    from dlcourse.models.summary import paper_depth, shapes_only

    return {name: paper_depth(shapes_only(create_model, name)) for name in names}


def schedule_examples(folder: str | Path | None = None) -> dict:
    """Lab 34: notes 003's three epoch decay rules (eta0 = 0.2) and notes 000's piecewise
    example, with a figure of the rates per epoch."""
    from dlcourse import plots
    from dlcourse.training.schedules import notes_decay_examples

    ex = notes_decay_examples(eta0=0.2, epochs=30)
    if folder is not None:
        fig = plots.curves(ex["per_epoch"], ylabel="learning rate", title="Notes 003 decay rules")
        plots.save(fig, folder, "notes_decay")
    return ex
