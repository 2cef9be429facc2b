"""One factory for every tuner: ``make_tuner("coarse-to-fine", hypermodel, max_trials=20)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner

from dlcourse.tuning.coarse_to_fine import CoarseToFine, check_max_trials
from dlcourse.tuning.cv import CVGridSearch

TUNERS = ("grid", "random", "coarse-to-fine", "cv-grid", "hyperband", "bayesian")
DEFAULT_DIRECTORY = Path("runs") / "tuning"


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
    rounds: int = 3,
    shrink: float = 0.5,
    keep: int = 2,
    folds: int = 3,
    max_epochs: int = 9,
    **kwargs: Any,
) -> keras_tuner.Tuner:
    """Build a keras-tuner tuner by name; projects go to ``directory/project_name``.

    Args:
        name: one of :data:`TUNERS`.
        hypermodel: the search space and model (e.g. :class:`MLPHyperModel`).
        objective: metric to maximize (``val_*`` metrics) or minimize (losses).
        max_trials: trial budget (> 0); ``None`` runs the full grid for grid tuners.
        seed: random seed of the search.
        directory, project_name, overwrite: where the project lives (default
            ``runs/tuning/<name>``); ``overwrite=False`` resumes an interrupted search.
        rounds, shrink, keep: coarse-to-fine settings.
        folds: k of the cross-validated grid search.
        max_epochs: Hyperband's largest training budget per trial.
    """
    check_tuner(name)
    if max_trials is not None or name not in ("grid", "cv-grid"):
        check_max_trials(max_trials)
    common = dict(
        hypermodel=hypermodel,
        objective=_objective(objective),
        seed=seed,
        directory=str(directory),
        project_name=project_name or name,
        overwrite=overwrite,
        **kwargs,
    )
    if name == "grid":
        return keras_tuner.GridSearch(max_trials=max_trials, **common)
    if name == "random":
        return keras_tuner.RandomSearch(max_trials=max_trials, **common)
    if name == "coarse-to-fine":
        return CoarseToFine(
            max_trials=max_trials, rounds=rounds, shrink=shrink, keep=keep, **common
        )
    if name == "cv-grid":
        return CVGridSearch(max_trials=max_trials, folds=folds, **common)
    if name == "hyperband":
        return keras_tuner.Hyperband(
            max_epochs=max_epochs, factor=3, max_retries_per_trial=0, **common
        )
    return keras_tuner.BayesianOptimization(max_trials=max_trials, **common)


def _objective(name: str) -> keras_tuner.Objective:
    direction = "min" if "loss" in name or "error" in name else "max"
    return keras_tuner.Objective(name, direction=direction)
