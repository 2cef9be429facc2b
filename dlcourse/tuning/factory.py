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
DEFAULT_TRIALS = 20  # the budget of random, coarse-to-fine and Bayesian by default
# The settings only some tuners take: given to another tuner, they are refused, not ignored.
ONLY_FOR: dict[str, tuple[str, ...]] = {
    "rounds": ("coarse-to-fine",),
    "shrink": ("coarse-to-fine",),
    "keep": ("coarse-to-fine",),
    "folds": ("cv-grid",),
    "max_epochs": ("hyperband",),
    "factor": ("hyperband",),
    "max_trials": tuple(t for t in TUNERS if t != "hyperband"),  # Hyperband sizes itself
}
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


def check_applies(tuner: str, **given: Any) -> None:
    """Refuse every setting in ``given`` (``None``: not given) that ``tuner`` does not take."""
    for name, value in given.items():
        if value is not None and name in ONLY_FOR and tuner not in ONLY_FOR[name]:
            err = ValueError(
                f"`{name}` does not apply to the {tuner} tuner (only to "
                f"{', '.join(ONLY_FOR[name])}). Received: {name}={value!r}, tuner={tuner!r}"
            )
            err.field = name  # the command line names the flag
            raise err


def make_tuner(
    name: str,
    hypermodel: keras_tuner.HyperModel,
    *,
    objective: str = "val_accuracy",
    max_trials: int | None = None,
    seed: int = 0,
    directory: str | Path = DEFAULT_DIRECTORY,
    project_name: str | None = None,
    overwrite: bool = False,
    rounds: int | None = None,
    shrink: float | None = None,
    keep: int | None = None,
    folds: int | None = None,
    max_epochs: int | None = None,
    factor: int | None = None,
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
        max_trials: trial budget (> 0); ``None``: :data:`DEFAULT_TRIALS`, the full grid for grid
            tuners. Hyperband sizes itself from ``max_epochs`` and ``factor`` and refuses it.
        seed: random seed of the search.
        directory, project_name, overwrite: where the project lives (default
            ``runs/tuning/<name>``); ``overwrite=False`` resumes an interrupted search.
        rounds, shrink, keep: coarse-to-fine settings (default: ``auto_rounds``, 0.5, 2).
        folds: k of the cross-validated grid search (default 3).
        max_epochs, factor: Hyperband's largest training budget per trial and its reduction
            factor (default 9 and 3).

    A setting that ``name`` does not take (``rounds`` for random search, ``folds`` for
    anything but cv-grid, ``max_trials`` for Hyperband, ...) raises ``ValueError``
    (:data:`ONLY_FOR`).
    """
    check_tuner(name)
    check_applies(
        name,
        max_trials=max_trials,
        rounds=rounds,
        shrink=shrink,
        keep=keep,
        folds=folds,
        max_epochs=max_epochs,
        factor=factor,
    )
    if max_trials is None and name not in ("grid", "cv-grid", "hyperband"):
        max_trials = DEFAULT_TRIALS
    if max_trials is not None:
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
        common.update(rounds=rounds, shrink=_or(shrink, 0.5), keep=_or(keep, 2))
    elif name == "cv-grid":
        common.update(folds=_or(folds, 3))
    elif name == "hyperband":
        check_count("max_epochs", _or(max_epochs, 9), minimum=2)
        common.update(max_epochs=_or(max_epochs, 9), factor=_or(factor, 3))
        return _CLASSES[name](**common)
    return _CLASSES[name](max_trials=max_trials, **common)


def _objective(name: str) -> keras_tuner.Objective:
    direction = "min" if "loss" in name or "error" in name else "max"
    return keras_tuner.Objective(name, direction=direction)


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
