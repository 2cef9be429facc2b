"""Train several variants of one model the same way, and compare them (the Unit III labs).

Each variant trains through :func:`dlcourse.training.fit` from the same seed, with its own
checkpoint/TensorBoard folder, so two runs differ only in the setting being compared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras

from dlcourse.training.trainer import fit


def variant_data(
    name: str,
    *,
    batch_size: int,
    seed: int,
    take: int | None = None,
    eval_take: int | None = None,
) -> tuple[Callable[..., object], object]:
    """``(train, val)`` from the loader for :func:`train_variants`.

    ``train(augment=None)`` builds a fresh training pipeline on each call, so every variant
    sees the same batches in the same order (a reshuffling dataset iterated again would move
    on to new orders); ``val`` is the validation split. ``take``/``eval_take`` keep the first
    examples of each (:func:`dlcourse.data.datasets`).
    """
    from dlcourse import data

    val = data.datasets(name, batch_size=batch_size, splits=("val",), eval_take=eval_take)["val"]

    def train(augment=None):
        sets = data.datasets(
            name, batch_size=batch_size, splits=("train",), take=take, augment=augment, seed=seed
        )
        return sets["train"]

    return train, val


def train_variants(
    builds: dict[str, Callable[[], keras.Model]],
    train,
    validation,
    *,
    epochs: int,
    cfg,
    folder,
    callbacks: Callable[[str], list] | None = None,
) -> tuple[dict[str, keras.Model], dict[str, dict[str, list[float]]]]:
    """Train each compiled model of ``builds`` through :func:`dlcourse.training.fit`, each with
    its own checkpoint/TensorBoard folder ``folder/<name>``; return models and histories.

    ``train`` may be a zero-argument callable returning a fresh loader dataset: each variant
    then gets its own, so all see the same shuffled batches (a reshuffling dataset that is
    iterated again continues with new orders)."""
    models, histories = {}, {}
    for name, build in builds.items():
        print(f"--- {name}", flush=True)
        keras.utils.set_random_seed(cfg.seed)  # same initial draw for every variant
        models[name], histories[name] = fit(
            build,
            train() if callable(train) else train,
            validation=validation,
            epochs=epochs,
            cfg=cfg,
            folder=Path(folder) / _slug(name),
            callbacks=callbacks(name) if callbacks else (),
            verbose=2,
        )
    return models, histories


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def final(histories: dict[str, dict[str, list[float]]], key: str) -> dict[str, float]:
    """Last value of ``key`` per variant, rounded for metrics.json."""
    return {name: round(float(h[key][-1]), 4) for name, h in histories.items()}
