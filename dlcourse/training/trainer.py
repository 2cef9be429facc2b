"""``fit``: one function that trains a Keras model under the lab's execution switches.

Contract (every training lab uses it):

    model, history = fit(build, train_ds, validation=val_ds, epochs=10, cfg=cfg,
                         folder=run_dir)

* ``build()`` returns a *compiled* ``keras.Model``; ``fit`` calls it inside the strategy's
  scope after setting the dtype policy, so variables land on the right devices and dtypes.
* ``train_ds``/``validation`` are batched ``tf.data.Dataset``s (or NumPy ``(x, y)`` tuples,
  batched with ``batch_size``).
* ``cfg`` is a :class:`dlcourse.labkit.TrainConfig` (strategy, precision, jit_compile,
  steps_per_execution).
* With ``folder``, training writes TensorBoard logs to ``folder/tb`` and keeps a
  ``BackupAndRestore`` backup in ``folder/backup``, so a killed run resumes at its last
  completed epoch; the backup is deleted when training finishes.
* Returns the trained model and ``history`` as a plain dict of per-epoch lists, including
  ``time_s``: wall seconds since training started, at the end of each epoch (time-to-accuracy
  is ``time_s`` at the first epoch whose ``val_accuracy`` reaches the target; see
  :func:`time_to`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import tensorflow as tf

from dlcourse.labkit import TrainConfig


def fit(
    build: Callable[[], keras.Model],
    train,
    *,
    validation=None,
    epochs: int = 1,
    cfg: TrainConfig | None = None,
    folder: str | Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    batch_size: int = 32,
    verbose: str | int = "auto",
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build under the configured strategy and precision, then train; see module docstring."""
    cfg = cfg or TrainConfig()
    train = _as_dataset(train, batch_size, shuffle_seed=cfg.seed)
    validation = None if validation is None else _as_dataset(validation, batch_size)
    keras.mixed_precision.set_global_policy(_precision(cfg.precision))
    try:
        model = build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.jit_compile = _jit(cfg.jit_compile)
    clock = _EpochClock()
    cbs = [clock, *callbacks]
    if folder is not None:
        folder = Path(folder)
        cbs.append(keras.callbacks.BackupAndRestore(str(folder / "backup")))
        cbs.append(keras.callbacks.TensorBoard(str(folder / "tb"), write_graph=False))
    hist = model.fit(train, validation_data=validation, epochs=epochs, callbacks=cbs,
                     verbose=verbose)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history["time_s"] = clock.times[-len(history.get("loss", [])) :] if clock.times else []
    return model, history


def time_to(history: dict[str, list[float]], key: str, target: float) -> float | None:
    """Seconds until ``history[key]`` first reached ``target`` (None if it never did)."""
    for value, t in zip(history.get(key, []), history.get("time_s", [])):
        if value >= target:
            return t
    return None


class _EpochClock(keras.callbacks.Callback):
    """Records cumulative wall time at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.start, self.times = time.perf_counter(), []

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(round(time.perf_counter() - self.start, 3))


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def _precision(name: str) -> str:
    if name == "auto":
        return "mixed_float16" if has_gpu() else "float32"
    return name


def _jit(flag: str) -> bool:
    return has_gpu() if flag == "auto" else flag == "on"


def _as_dataset(data, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    if isinstance(data, tf.data.Dataset):
        return data
    ds = tf.data.Dataset.from_tensor_slices(tuple(data))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(data[0]), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
