"""Grid search with k-fold cross-validation (notes 000 Unit II: "grid search with cross
validation"), as a keras-tuner ``Tuner`` whose trial score is the mean over k folds.

Every trial trains one fresh model per fold (scikit-learn's ``StratifiedKFold``, or ``KFold``
for regression targets; over arrays ``x, y`` or over an unbatched loader pipeline of
``(x, y)`` examples, whose folds are cut by example index) and reports the mean of the per-fold best validation scores as the
objective, plus ``<objective>_std`` (the fold spread) and each fold's score as extra metrics.
The ``callbacks`` given to ``search`` (EarlyStopping, ...) reach every fold's ``fit``.
"""

from __future__ import annotations

import copy

import keras_tuner
import numpy as np

from dlcourse.tuning.coarse_to_fine import check_count
from dlcourse.tuning.oracles import FailLoudly, GridSearchOracle, oracle_from


def check_folds(folds: int, y, stratified: bool = True) -> None:
    """Raise one ``ValueError`` unless ``folds`` >= 2 fits the examples (and each class)."""
    check_count("folds", folds, minimum=2)
    y = np.asarray(y)
    if folds > len(y):
        raise ValueError(
            f"`folds` must be <= the number of examples ({len(y)}). Received: folds={folds}"
        )
    if stratified and len(y):
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if folds > smallest:
            raise ValueError(
                f"`folds` must be <= the examples of the rarest class ({smallest}) for "
                f"stratified folds. Received: folds={folds}"
            )


class CVTuner(FailLoudly, keras_tuner.Tuner):
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
        check_count("folds", folds, minimum=2)
        self.folds, self.stratified, self.seed = folds, stratified, seed
        super().__init__(oracle, hypermodel, **kwargs)

    def search(self, x, y=None, *args, **kwargs):
        """Check the folds fit the data (before any trial starts), then search.

        ``x, y``: arrays, or ``x`` an unbatched ``tf.data.Dataset`` of ``(x, y)`` examples
        (the loader with ``batch_size=None``) and ``y`` left out.
        """
        self._labels = _labels(x) if y is None else np.asarray(y)
        check_folds(self.folds, self._labels, self.stratified)
        super().search(x, y, *args, **kwargs)

    def run_trial(
        self, trial, x, y=None, *args, validation_data=None, callbacks=None, **fit_kwargs
    ):
        """Train once per fold; ``validation_data`` is ignored (the folds validate)."""
        from sklearn.model_selection import KFold, StratifiedKFold

        hp = trial.hyperparameters
        name = self.oracle.objective.name
        best = max if self.oracle.objective.direction == "max" else min
        splitter = (StratifiedKFold if self.stratified else KFold)(
            self.folds, shuffle=True, random_state=self.seed
        )
        labels = self._labels if y is None else np.asarray(y)  # read by search()
        scores = []
        for k, (train, val) in enumerate(
            splitter.split(labels, labels if self.stratified else None)
        ):
            if y is None:  # a pipeline: the fold's examples by index, shuffled for training
                data = (_subset(x, train, shuffle_seed=self.seed + k),)
                held_out = _subset(x, val)
            else:
                x = np.asarray(x)
                data, held_out = (x[train], labels[train]), (x[val], labels[val])
            model = self.hypermodel.build(hp)
            history = self.hypermodel.fit(
                hp,
                model,
                *data,
                *args,
                validation_data=held_out,
                callbacks=copy.copy(list(callbacks or [])),  # a fresh list per fold
                **fit_kwargs,
            )
            scores.append(float(best(history.history[name])))
        metrics = {name: float(np.mean(scores)), f"{name}_std": float(np.std(scores))}
        metrics.update({f"fold{k}_{name}": s for k, s in enumerate(scores)})
        return metrics


def _labels(examples) -> np.ndarray:
    """The labels of an unbatched ``(x, y)`` pipeline, in order (read once, images skipped)."""
    return np.fromiter(examples.map(lambda x, y: y).as_numpy_iterator(), dtype=np.int64)


def _subset(examples, index: np.ndarray, shuffle_seed: int | None = None, batch_size: int = 32):
    """The examples of an unbatched pipeline at positions ``index``, batched."""
    import tensorflow as tf

    keep = np.zeros(int(index.max()) + 1, bool)
    keep[index] = True
    mask = tf.constant(keep)
    picked = examples.take(len(keep)).enumerate().filter(lambda i, ex: tf.gather(mask, i))
    picked = picked.map(lambda i, ex: ex)
    if shuffle_seed is not None:
        picked = picked.shuffle(len(index), seed=shuffle_seed)
    return picked.batch(batch_size)


class CVGridSearch(CVTuner):
    """Grid search (the resumable :class:`GridSearchOracle`) scored by k-fold cross-validation.

    Args:
        hypermodel: as for :class:`CVTuner`.
        folds, stratified: as for :class:`CVTuner`; ``seed`` also shuffles the folds.
        **kwargs: oracle arguments (``objective``, ``max_trials``, ``seed``,
            ``max_retries_per_trial``, ...) and ``keras_tuner.Tuner`` ones.
    """

    def __init__(self, hypermodel=None, *, folds: int = 3, stratified: bool = True, **kwargs):
        seed = kwargs.get("seed")
        oracle = oracle_from(GridSearchOracle, kwargs)
        super().__init__(
            oracle, hypermodel, folds=folds, stratified=stratified, seed=seed or 0, **kwargs
        )
