"""Callbacks for Unit III: a learning-rate finder and a learning-rate logger.

Early stopping and performance scheduling are Keras' own (``keras.callbacks.EarlyStopping``,
``ReduceLROnPlateau``, see :func:`dlcourse.training.schedules.performance_scheduling`); the
max-norm callback lives with the constraint in :mod:`dlcourse.layers.maxnorm`.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from dlcourse.training.diagnostics import ewma
from dlcourse.utils import check_in_range, check_positive


def _current_lr(optimizer) -> float:
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class LearningRateLogger(keras.callbacks.Callback):
    """Records the learning rate actually used at every training batch (``self.rates``)
    and adds ``lr`` to the epoch logs, so ``history["lr"]`` holds one value per epoch."""

    def on_train_begin(self, logs=None):
        self.rates: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(_current_lr(self.model.optimizer))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = _current_lr(self.model.optimizer)


class LearningRateFinder(keras.callbacks.Callback):
    """Smith's LR range test ("Cyclical Learning Rates for Training Neural Networks", 2017).

    Grows the learning rate exponentially from ``min_lr`` to ``max_lr`` over ``steps`` batches,
    records the (smoothed) loss at each, and stops once the loss exceeds ``stop_factor`` times
    its best value. Use through :func:`find_learning_rate`.
    """

    def __init__(
        self,
        min_lr: float = 1e-5,
        max_lr: float = 10.0,
        steps: int = 100,
        stop_factor: float = 4.0,
        smoothing: float = 0.9,
    ):
        super().__init__()
        check_positive("min_lr", min_lr)
        check_positive("steps", steps)
        check_positive("stop_factor", stop_factor)
        check_in_range("smoothing", smoothing, 0.0, 1.0, closed="[)")
        if max_lr <= min_lr:
            raise ValueError(f"`max_lr` must be > min_lr={min_lr}. Received: max_lr={max_lr!r}")
        self.min_lr, self.max_lr, self.steps = min_lr, max_lr, steps
        self.stop_factor, self.smoothing = stop_factor, smoothing
        self.factor = (max_lr / min_lr) ** (1.0 / max(1, steps - 1))

    def on_train_begin(self, logs=None):
        self.rates, self.losses, self._raw, self._best = [], [], [], math.inf
        self.model.optimizer.learning_rate = self.min_lr

    def on_train_batch_end(self, batch, logs=None):
        lr = _current_lr(self.model.optimizer)
        loss = float(logs["loss"])
        self._raw.append(loss)
        smooth = float(ewma(self._raw, self.smoothing)[-1])  # bias-corrected (<= steps values)
        self.rates.append(lr)
        self.losses.append(smooth)
        self._best = min(self._best, smooth)
        n = len(self.losses)
        if not math.isfinite(loss) or smooth > self.stop_factor * self._best or n >= self.steps:
            self.model.stop_training = True
            return
        self.model.optimizer.learning_rate = lr * self.factor


def find_learning_rate(
    model: keras.Model,
    train,
    *,
    min_lr: float = 1e-5,
    max_lr: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    verbose: int = 0,
):
    """Run the LR range test on a *compiled* model (float learning rate); restores its weights
    and learning rate afterwards (not the optimizer's moment estimates).

    Returns:
        ``(rates, losses, suggestion)``: the suggestion is a tenth of the rate at the lowest
        smoothed loss, the usual rule of thumb.
    """
    lr = model.optimizer.get_config()["learning_rate"]
    if isinstance(lr, dict):  # a LearningRateSchedule, serialized
        raise ValueError(  # noqa: TRY004  (project rule: bad input is a ValueError)
            "The LR finder sets the learning rate itself: compile the model with a "
            f"float learning rate. Received: learning_rate={lr.get('class_name', lr)}"
        )
    weights, lr0 = model.get_weights(), _current_lr(model.optimizer)
    finder = LearningRateFinder(min_lr, max_lr, steps)
    epochs = 1
    if isinstance(train, tuple):
        x, y = train
        epochs = max(1, math.ceil(steps * batch_size / len(x)))
        model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[finder], verbose=verbose)
    else:
        model.fit(
            train.repeat(),
            steps_per_epoch=steps,
            callbacks=[finder],
            verbose=verbose,
            shuffle=False,
        )  # the dataset shuffles itself
    model.set_weights(weights)
    model.optimizer.learning_rate = lr0
    rates, losses = np.array(finder.rates), np.array(finder.losses)
    suggestion = float(rates[int(np.argmin(losses))] / 10.0)
    return rates, losses, suggestion
