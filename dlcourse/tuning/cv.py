"""Grid search with k-fold cross-validation (notes 000 Unit II: "grid search with cross
validation"), as a keras-tuner ``Tuner`` whose trial score is the mean over k folds.

Every trial trains one fresh model per fold (scikit-learn's ``StratifiedKFold``, or ``KFold``
for regression targets) and reports the mean of the per-fold best validation scores as the
objective, plus ``<objective>_std`` (the fold spread) and each fold's score as extra metrics.
"""

from __future__ import annotations

import keras_tuner
import numpy as np

from dlcourse.utils import check_positive


class CVTuner(keras_tuner.Tuner):
    """A tuner that scores each trial by k-fold cross-validation over ``x, y``.

    Args:
        oracle: any keras-tuner oracle (grid search for :class:`CVGridSearch`).
        hypermodel: a ``keras_tuner.HyperModel`` whose ``fit`` returns a ``History``.
        folds: number of folds k (>= 2).
        stratified: stratify folds by class (classification targets).
        seed: fold shuffling seed.
    """

    def __init__(
        self,
        oracle,
        hypermodel=None,
        *,
        folds: int = 3,
        stratified: bool = True,
        seed: int = 0,
        **kwargs,
    ):
        check_positive("folds", folds)
        if folds < 2:
            raise ValueError(f"`folds` must be >= 2. Received: folds={folds!r}")
        self.folds, self.stratified, self.seed = folds, stratified, seed
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial, x, y, *args, validation_data=None, callbacks=None, **fit_kwargs):
        """Train once per fold; ``validation_data`` is ignored (the folds validate)."""
        from sklearn.model_selection import KFold, StratifiedKFold

        hp = trial.hyperparameters
        name = self.oracle.objective.name
        best = max if self.oracle.objective.direction == "max" else min
        splitter = (StratifiedKFold if self.stratified else KFold)(
            self.folds, shuffle=True, random_state=self.seed
        )
        x, y = np.asarray(x), np.asarray(y)
        scores = []
        for train, val in splitter.split(x, y if self.stratified else None):
            model = self.hypermodel.build(hp)
            history = self.hypermodel.fit(
                hp,
                model,
                x[train],
                y[train],
                *args,
                validation_data=(x[val], y[val]),
                **fit_kwargs,
            )
            scores.append(float(best(history.history[name])))
        metrics = {name: float(np.mean(scores)), f"{name}_std": float(np.std(scores))}
        metrics.update({f"fold{k}_{name}": s for k, s in enumerate(scores)})
        return metrics


class CVGridSearch(CVTuner):
    """Grid search (keras-tuner's ``GridSearchOracle``) scored by k-fold cross-validation."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=None,
        seed=None,
        hyperparameters=None,
        *,
        folds: int = 3,
        stratified: bool = True,
        **kwargs,
    ):
        oracle = keras_tuner.oracles.GridSearchOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
        )
        super().__init__(
            oracle, hypermodel, folds=folds, stratified=stratified, seed=seed or 0, **kwargs
        )
