"""One factory for every tuner: ``make_tuner("coarse-to-fine", hypermodel, max_trials=20)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner

from dlcourse.tuning import oracles
from dlcourse.tuning.coarse_to_fine import CoarseToFine, check_count, check_max_trials
from dlcourse.tuning.cv import CVGridSearch

TUNERS = ("grid", "random", "coarse-to-fine", "cv-grid", "hyperband", "bayesian")
DEFAULT_DIRECTORY = Path("runs") / "tuning"
_CLASSES = {
    "grid": oracles.GridSearch,
    "random": oracles.RandomSearch,
    "coarse-to-fine": CoarseToFine,
    "cv-grid": CVGridSearch,
    "hyperband": oracles.Hyperband,
    "bayesian": oracles.BayesianOptimization,
}


def check_tuner(name: str) -> None:
    if name not in TUNERS:
        raise ValueError(
            f"Unknown tuner. Received: tuner={name!r}; known tuners: {', '.join(TUNERS)}"
        )


def make_tuner(
    name: str,
    hypermodel: keras_tuner.HyperModel,
    *,
    objective: str = "val_accuracy",
    max_trials: int | None = 20,
    seed: int = 0,
    directory: str | Path = DEFAULT_DIRECTORY,
    project_name: str | None = None,
    overwrite: bool = False,
    rounds: int | None = None,
    shrink: float = 0.5,
    keep: int = 2,
    folds: int = 3,
    max_epochs: int = 9,
    factor: int = 3,
    **kwargs: Any,
) -> keras_tuner.Tuner:
    """Build a keras-tuner tuner by name; projects go to ``directory/project_name``.

    Every tuner honours ``seed`` (0 included), resumes when rerun with ``overwrite=False``, and
    takes keras-tuner's common arguments through ``kwargs`` (``max_retries_per_trial``,
    ``max_consecutive_failed_trials``, ``executions_per_trial``, ``tune_new_entries``, ...).

    Args:
        name: one of :data:`TUNERS`.
        hypermodel: the search space and model (e.g. :class:`MLPHyperModel`).
        objective: metric to maximize (``val_*`` metrics) or minimize (losses).
        max_trials: trial budget (> 0); ``None`` runs the full grid for grid tuners. Hyperband
            sizes itself from ``max_epochs`` and ``factor`` and ignores it.
        seed: random seed of the search.
        directory, project_name, overwrite: where the project lives (default
            ``runs/tuning/<name>``); ``overwrite=False`` resumes an interrupted search.
        rounds, shrink, keep: coarse-to-fine settings (``rounds=None``: see
            :func:`~dlcourse.tuning.coarse_to_fine.auto_rounds`).
        folds: k of the cross-validated grid search.
        max_epochs, factor: Hyperband's largest training budget per trial and its reduction
            factor.
    """
    check_tuner(name)
    if max_trials is not None or name not in ("grid", "cv-grid"):
        check_max_trials(max_trials)
    check_count("seed", seed, minimum=0)
    common = dict(
        hypermodel=hypermodel,
        objective=_objective(objective),
        seed=seed,
        directory=str(directory),
        project_name=project_name or name,
        overwrite=overwrite,
        **kwargs,
    )
    if name == "coarse-to-fine":
        common.update(rounds=rounds, shrink=shrink, keep=keep)
    elif name == "cv-grid":
        common.update(folds=folds)
    elif name == "hyperband":
        check_count("max_epochs", max_epochs, minimum=2)
        common.update(max_epochs=max_epochs, factor=factor)
        return _CLASSES[name](**common)
    return _CLASSES[name](max_trials=max_trials, **common)


def _objective(name: str) -> keras_tuner.Objective:
    direction = "min" if "loss" in name or "error" in name else "max"
    return keras_tuner.Objective(name, direction=direction)
