"""
Title: One MLP three ways (Sequential, Functional, subclassed), and a low-level training loop
Unit: II
Notes: 000 (Unit II: training an MLP with the high-level API and with TensorFlow's low-level
API, mini-batch gradient descent, softmax + cross-entropy), 001 (Keras Sequential/Functional)
Description: Builds the 784-300-100-10 MNIST MLP with the Sequential API, the Functional API and
by subclassing keras.Model; checks equal parameter counts and equal outputs given the same
weights, round-trips the subclassed model through a .keras file, then trains the same network
from the same weights on the same mini-batches twice: with a GradientTape loop and with fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models import mlp as mlps

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    learning_rate: float = arg(0.125, "mini-batch gradient descent learning rate", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    epochs: int = arg(10, "epochs of both training runs", check="positive")


def low_level_loop(model, x, y, *, learning_rate: float, batch_size: int, epochs: int) -> list:
    """Mini-batch gradient descent with tf.GradientTape: the teaching twin of ``fit``.

    Batches are taken in order (no shuffling) so that ``fit(..., shuffle=False)`` sees the same
    ones. Returns the mean training loss per epoch.
    """
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    optimizer = keras.optimizers.SGD(learning_rate)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = []
    for _ in range(epochs):
        batch_losses = [
            float(step(x[i : i + batch_size], y[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
        losses.append(float(np.mean(batch_losses)))
    return losses


def run(cfg: Config, datasets: dict | None = None) -> dict:
    import keras

    out = labkit.run_dir(cfg, LAB)
    splits = (datasets or {}).get("digits28") or data.load("digits28")
    (x, y), (xt, yt) = (
        (s.x.astype("float32") / 255.0, s.y) for s in (splits["train"], splits["test"])
    )
    epochs = 2 if cfg.quick else cfg.epochs
    if cfg.quick:
        x, y = x[:256], y[:256]

    functional = mlps.mlp(input_shape=x.shape[1:])
    sequential = mlps.mlp_sequential(input_shape=x.shape[1:])
    subclassed = mlps.MLP()
    subclassed.build((None, *x.shape[1:]))
    sequential.set_weights(functional.get_weights())
    subclassed.set_weights(functional.get_weights())
    ref = functional.predict(xt, verbose=0)
    path = out / "subclassed.keras"
    subclassed.save(path)
    reloaded = keras.models.load_model(path)

    loop_model = mlps.mlp(input_shape=x.shape[1:])
    fit_model = mlps.mlp(input_shape=x.shape[1:])
    fit_model.set_weights(loop_model.get_weights())
    loop_losses = low_level_loop(
        loop_model, x, y, learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, epochs=epochs
    )
    fit_model.compile(
        optimizer=keras.optimizers.SGD(cfg.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # fit (not dlcourse.training.fit): this is the equality check of the teaching loop, so the
    # batches must come in the loop's order with no strategy or precision switch in between.
    hist = fit_model.fit(x, y, batch_size=cfg.batch_size, epochs=epochs, shuffle=False, verbose=0)
    weight_diff = max(
        float(np.abs(a - b).max())
        for a, b in zip(loop_model.get_weights(), fit_model.get_weights())
    )

    def accuracy(model):
        return float((model.predict(xt, verbose=0).argmax(1) == yt).mean())

    metrics = {
        "params": {
            "functional": functional.count_params(),
            "sequential": sequential.count_params(),
            "subclassed": subclassed.count_params(),
        },
        "max_abs_output_diff": {
            "sequential": float(np.abs(sequential.predict(xt, verbose=0) - ref).max()),
            "subclassed": float(np.abs(subclassed.predict(xt, verbose=0) - ref).max()),
            "subclassed_reloaded": float(np.abs(reloaded.predict(xt, verbose=0) - ref).max()),
        },
        "softmax_rows_sum_to_one": bool(np.allclose(ref.sum(axis=1), 1.0, atol=1e-5)),
        "loop_vs_fit_max_abs_weight_diff": weight_diff,
        "loop_final_loss": loop_losses[-1],
        "fit_final_loss": hist.history["loss"][-1],
        "loop_test_accuracy": accuracy(loop_model),
        "fit_test_accuracy": accuracy(fit_model),
    }
    plots.save(
        plots.curves(
            {"GradientTape loop": loop_losses, "fit": hist.history["loss"]},
            title="Same MLP, same batches",
            ylabel="training loss",
        ),
        out,
        "loop_vs_fit",
    )
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
