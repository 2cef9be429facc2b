"""Train several variants of one model the same way, and compare them (the Unit III labs).

Each variant trains through :func:`dlcourse.training.fit` from the same seed, with its own
checkpoint/TensorBoard folder, so two runs differ only in the setting being compared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from dlcourse.training.trainer import fit
from dlcourse.utils import check_positive


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


def label_draws(
    name: str,
    *,
    classes: tuple[int, ...],
    per_class: int,
    draws: int,
    batch_size: int,
    seed: int,
) -> list[Callable[[], object]]:
    """``draws`` disjoint few-label training sets from the loader, for repeating a few-label
    experiment and claiming on the mean.

    Draw ``r`` holds examples ``r * per_class`` to ``(r + 1) * per_class - 1`` of each class of
    ``classes`` (relabelled ``0..k-1``) in the training files' order, which the embedded
    datasets shuffled once when they were split. Each entry is a zero-argument callable that
    builds a fresh pipeline (shuffled with ``seed``, batched), as :func:`train_variants` takes.
    """
    from dlcourse import data

    for arg_name, value in (("per_class", per_class), ("draws", draws)):
        check_positive(arg_name, value)
    n_classes = len(classes)

    def draw(r: int):
        def train():
            ds = data.make_dataset(
                name, "train", batch_size=None, shuffle=False, classes=classes,
                per_class=per_class * (r + 1), seed=seed,
            )  # fmt: skip
            ds = ds.scan(tf.zeros([n_classes], tf.int32), _rank_in_class(n_classes))
            ds = ds.filter(lambda x, y, rank: rank >= r * per_class).map(lambda x, y, _: (x, y))
            ds = ds.cache().shuffle(per_class * n_classes, seed=seed).batch(batch_size)
            steps = -(-per_class * n_classes // batch_size)
            return ds.apply(tf.data.experimental.assert_cardinality(steps))

        return train

    return [draw(r) for r in range(draws)]


def _rank_in_class(n_classes: int):
    """A ``tf.data`` scan step: ``(x, y) -> (x, y, how many of class y came before)``."""

    def step(seen, example):  # seen: (n_classes,) examples so far per class
        y = tf.cast(example[1], tf.int32)
        return seen + tf.one_hot(y, n_classes, dtype=tf.int32), (*example, seen[y])

    return step


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
    its own checkpoint/TensorBoard folder ``folder/<name>`` (``folder=None``: none, for many
    short runs); return models and histories. ``validation`` may be None.

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
            folder=None if folder is None else Path(folder) / _slug(name),
            callbacks=callbacks(name) if callbacks else (),
            verbose=2,
        )
    return models, histories


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def final(histories: dict[str, dict[str, list[float]]], key: str) -> dict[str, float]:
    """Last value of ``key`` per variant, rounded for metrics.json."""
    return {name: round(float(h[key][-1]), 4) for name, h in histories.items()}
