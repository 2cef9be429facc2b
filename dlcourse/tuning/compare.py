"""Searches side by side on a real task: the MLP on an embedded dataset, validation loss as the
objective (it keeps improving where accuracy saturates), equal budgets for every method.

Every trial trains deterministically (seeded builds, TensorFlow op determinism), so a method
rerun at the same seed repeats its trials exactly. Random, coarse-to-fine and Bayesian
optimization each get ``trials`` trials of ``epochs``
epochs; Hyperband gets the same total epochs (``trials * epochs``): its brackets run until that
budget is spent. The data comes from the loader (:func:`dlcourse.data.make_dataset`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import keras

from dlcourse import upstream
from dlcourse.tuning.factory import make_tuner
from dlcourse.tuning.hypermodels import MLPHyperModel
from dlcourse.tuning.search import loader_splits, summarize

METHODS = ("random", "coarse-to-fine", "bayesian", "hyperband")
# The hyperparameters that matter most for an MLP (notes 000 Unit II), continuous ranges.
TASK_SPACE: dict[str, Any] = {
    "learning_rate": (1e-4, 1e-1, "log"),
    "units": (16, 256, "log"),
    "num_layers": (1, 3),
    "dropout": (0.0, 0.5),
}


def compare(
    *,
    dataset: str = "digits28",
    methods: tuple = METHODS,
    trials: int = 10,
    epochs: int = 4,
    seed: int = 0,
    directory: str | Path,
    space: dict | None = None,
) -> dict[str, dict]:
    """Run every method once at ``seed``: ``{method: {"best_val_loss", "seconds", "epochs",
    "trials", "curve"}}`` (``curve``: best-so-far validation loss after each trial)."""
    out = {}
    for method in methods:
        # Fresh pipelines per method, built after seeding (their shuffles pair their seeds with
        # the global one): every method, and a rerun of one, sees the same batches.
        keras.utils.set_random_seed(seed)
        splits = loader_splits(dataset, seed)
        shape = tuple(splits["train"].element_spec[0].shape[1:])
        hm = MLPHyperModel(shape, splits["classes"], space=space or TASK_SPACE, seed=seed)
        kwargs = {"max_trials": trials}
        if method == "hyperband":  # equal total epochs: brackets until trials * epochs are spent
            kwargs = {"max_epochs": epochs, "hyperband_iterations": 100}
        if method == "bayesian":  # keras-tuner's default (3 per dimension) would fill the budget
            kwargs["num_initial_points"] = max(2, trials // 3)
        tuner = make_tuner(
            method,
            hm,
            objective="val_loss",
            seed=seed,
            directory=directory,
            project_name=f"{method}_{seed}",
            overwrite=True,
            **kwargs,
        )
        used = _count_epochs(tuner, budget=trials * epochs, default=epochs)
        start = time.perf_counter()
        with upstream.op_determinism():  # same seed, same trials (the models are seeded too)
            tuner.search(splits["train"], validation_data=splits["val"], epochs=epochs, verbose=0)
        result = summarize(tuner)
        scores = [t["score"] for t in result["trials"] if t["score"] is not None]
        out[method] = {
            "best_val_loss": result["best"]["score"],
            "seconds": time.perf_counter() - start,
            "epochs": used[0],
            "trials": result["completed"],
            "curve": [min(scores[: i + 1]) for i in range(len(scores))],
        }
    return out


def _count_epochs(tuner, budget: int, default: int) -> list[int]:
    """Count the epochs each trial trains; stop creating trials once ``budget`` is spent."""
    used = [0]
    run_trial = tuner.run_trial

    def counting(trial, *args, **kwargs):
        result = run_trial(trial, *args, **kwargs)
        v = trial.hyperparameters.values
        used[0] += v.get("tuner/epochs", default) - v.get("tuner/initial_epoch", 0)
        if used[0] >= budget:
            tuner.oracle.max_trials = len(tuner.oracle.trials)
        return result

    tuner.run_trial = counting
    return used
