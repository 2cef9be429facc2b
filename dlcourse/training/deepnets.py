"""The deep MLP and the data helpers the Unit III labs share.

One builder serves every Unit III comparison (activations, initializations, batch norm,
dropout, max-norm ...), so two runs differ only in the setting being compared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from dlcourse.layers.mc_dropout import MCAlphaDropout, MCDropout
from dlcourse.layers.rrelu import RReLU
from dlcourse.utils import check_choice, check_in_range, check_positive

#: activation name -> a fresh layer (names the Keras string activations don't cover)
ACTIVATION_LAYERS: dict[str, Callable[..., keras.layers.Layer]] = {
    "leaky_relu_0.01": lambda name: keras.layers.LeakyReLU(negative_slope=0.01, name=name),
    "leaky_relu_0.2": lambda name: keras.layers.LeakyReLU(negative_slope=0.2, name=name),
    "prelu": lambda name: keras.layers.PReLU(name=name),
    "rrelu": lambda name: RReLU(name=name),
}
BATCH_NORM = ("none", "before", "after")


def deep_mlp(
    input_shape: Sequence[int],
    classes: int,
    *,
    depth: int = 5,
    units: int = 64,
    activation: str = "relu",
    kernel_initializer="he_normal",
    batch_norm: str = "none",
    dropout: float = 0.0,
    mc_dropout: bool = False,
    kernel_regularizer=None,
    kernel_constraint=None,
    name: str = "deep_mlp",
) -> keras.Model:
    """Flatten -> ``depth`` x [Dense(units) (+BN before/after the activation) (+dropout)] ->
    softmax (uncompiled).

    Args:
        activation: a Keras activation name or a key of :data:`ACTIVATION_LAYERS`.
        batch_norm: ``"before"`` the activation (the BN paper; Dense without bias, BN's beta
            replaces it), ``"after"`` it, or ``"none"``.
        dropout: rate after each hidden layer (``AlphaDropout`` when activation is selu).
        mc_dropout: use the Monte Carlo variants that stay on at inference.
    """
    check_positive("classes", classes)
    check_positive("depth", depth)
    check_positive("units", units)
    check_choice("batch_norm", batch_norm, BATCH_NORM)
    check_in_range("dropout", dropout, 0.0, 1.0, closed="[)")
    inputs = keras.Input(tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    for i in range(1, depth + 1):
        x = keras.layers.Dense(
            units,
            kernel_initializer=kernel_initializer,
            use_bias=batch_norm != "before",
            kernel_regularizer=kernel_regularizer,
            kernel_constraint=kernel_constraint,
            name=f"hidden{i}",
        )(x)
        if batch_norm == "before":
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = _activation(activation, name=f"act{i}")(x)
        if batch_norm == "after":
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        if dropout:
            x = _dropout(dropout, activation == "selu", mc_dropout, f"dropout{i}")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="output", dtype="float32")(
        x
    )  # stable under mixed precision
    return keras.Model(inputs, outputs, name=name)


def _activation(activation: str, name: str) -> keras.layers.Layer:
    if activation in ACTIVATION_LAYERS:
        return ACTIVATION_LAYERS[activation](name)
    return keras.layers.Activation(activation, name=name)


def _dropout(rate: float, alpha: bool, mc: bool, name: str) -> keras.layers.Layer:
    if mc:
        return (MCAlphaDropout if alpha else MCDropout)(rate, name=name)
    return (keras.layers.AlphaDropout if alpha else keras.layers.Dropout)(rate, name=name)


def compile_classifier(model: keras.Model, optimizer="adam") -> keras.Model:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def unit_arrays(split, n: int | None = None, classes: Sequence[int] | None = None):
    """``(x in [0, 1] float32, y int64)`` from a ``Split``; keep only ``classes`` (relabelled
    0..k-1) and the first ``n`` examples."""
    x, y = split.x.astype("float32") / 255.0, split.y.astype("int64")
    if classes is not None:
        keep = np.isin(y, classes)
        x, y = x[keep], np.searchsorted(np.asarray(sorted(classes)), y[keep])
    return (x[:n], y[:n]) if n else (x, y)


def per_class(x: np.ndarray, y: np.ndarray, k: int, seed: int = 0):
    """``k`` examples of each class (the "little data" of transfer and pretraining labs)."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)])
    idx = rng.permutation(idx)
    return x[idx], y[idx]


def train_variants(
    builds: dict[str, Callable[[], keras.Model]],
    train,
    validation,
    *,
    epochs: int,
    cfg,
    folder,
    batch_size: int = 32,
    callbacks: Callable[[str], list] | None = None,
) -> tuple[dict[str, keras.Model], dict[str, dict[str, list[float]]]]:
    """Train each compiled model of ``builds`` through :func:`dlcourse.training.fit`, each with
    its own checkpoint/TensorBoard folder ``folder/<name>``; return models and histories.

    ``train`` may be a zero-argument callable returning a fresh loader dataset: each variant
    then gets its own, so all see the same shuffled batches (a reshuffling dataset that is
    iterated again continues with new orders)."""
    from pathlib import Path

    from dlcourse.training.trainer import fit

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
            batch_size=batch_size,
            callbacks=callbacks(name) if callbacks else (),
            verbose=2,
        )
    return models, histories


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def final(histories: dict[str, dict[str, list[float]]], key: str) -> dict[str, float]:
    """Last value of ``key`` per variant, rounded for metrics.json."""
    return {name: round(float(h[key][-1]), 4) for name, h in histories.items()}
