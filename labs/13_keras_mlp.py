"""
Title: One MLP three ways (Sequential, Functional, subclassed), and a low-level training loop
Unit: II
Notes: 000 (Unit II: training an MLP with the high-level API and with TensorFlow's low-level
API, mini-batch gradient descent, softmax + cross-entropy), 001 (Keras Sequential/Functional)
Description: Builds the 784-300-100-10 MNIST MLP with the Sequential API, the Functional API and
by subclassing keras.Model; checks equal parameter counts and equal outputs given the same
weights, round-trips the subclassed model through a .keras file, then trains the same network
from the same weights on the same mini-batches twice: with a GradientTape loop and with fit.
It reads mnist5k (real MNIST digits) from the loader stage, unshuffled, so both see one order.
Lesson: Sequential, Functional and subclassed Keras models are three spellings of one network,
and fit is a GradientTape loop: from the same weights on the same batches both end on the same
weights.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models import mlp as mlps

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    learning_rate: float = arg(0.125, "mini-batch gradient descent learning rate", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    epochs: int = arg(5, "epochs of both training runs", check="positive")
    dataset: str = arg(
        "mnist5k", "embedded dataset (mnist5k: real MNIST)", choices=("mnist5k", "digits28")
    )
    n_train: int = arg(0, "first training examples used; 0 = all", check="non_negative")

    QUICK = labkit.quick(epochs=2, n_train=256)  # a smoke test: 8 batches, twice


def low_level_loop(model, dataset, *, learning_rate: float, epochs: int) -> list:
    """Mini-batch gradient descent with tf.GradientTape: the teaching twin of ``fit``.

    ``dataset`` yields the batches in a fixed order (the loader with ``shuffle=False``), so
    ``fit`` on the same dataset sees the same ones. Returns the mean training loss per epoch.
    """
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    optimizer = keras.optimizers.SGD(learning_rate)

    @tf.function
    def step(xb, yb):
        # One training step: the loss of model(xb, training=True) under a tf.GradientTape, its
        # gradients, and optimizer.apply_gradients; return the loss.
        ### BEGIN SOLUTION
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
        ### END SOLUTION

    losses = []
    for _ in range(epochs):
        batch_losses = [float(step(xb, yb)) for xb, yb in dataset]
        losses.append(float(np.mean(batch_losses)))
    return losses


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The loader, unshuffled: the loop and fit must see the same batches in the same order.
    train = data.make_dataset(
        cfg.dataset, "train", batch_size=cfg.batch_size, shuffle=False, cache=True,
        take=cfg.n_train or None,
    )  # fmt: skip
    test = data.make_dataset(cfg.dataset, "test", batch_size=256, shuffle=False, cache=True)
    xt, yt = (np.concatenate(part) for part in zip(*[(x.numpy(), y.numpy()) for x, y in test]))
    shape = tuple(train.element_spec[0].shape[1:])  # (28, 28, 1), scaled to [0, 1] by the loader
    epochs = cfg.epochs

    # One network three ways, given the functional model's weights: same outputs expected.
    functional = mlps.mlp(input_shape=shape)
    sequential = mlps.mlp_sequential(input_shape=shape)
    subclassed = mlps.MLP()
    subclassed.build((None, *shape))
    sequential.set_weights(functional.get_weights())
    subclassed.set_weights(functional.get_weights())

    def outputs(model):
        # One eager call on the whole test set: predict() would trace a function per model.
        return keras.ops.convert_to_numpy(model(xt, training=False))

    ref = outputs(functional)
    path = out / "subclassed.keras"
    subclassed.save(path)
    reloaded = keras.models.load_model(path)

    # The same network from the same weights, trained twice on the same batches: by a
    # GradientTape loop (what fit does inside) and by fit.
    loop_model = mlps.mlp(input_shape=shape)
    fit_model = mlps.mlp(input_shape=shape)
    fit_model.set_weights(loop_model.get_weights())
    loop_losses = low_level_loop(loop_model, train, learning_rate=cfg.learning_rate, epochs=epochs)

    # fit (not dlcourse.training.fit): this is the equality check of the teaching loop, so the
    # batches must come in the loop's order with no strategy or precision switch in between.
    fit_model.compile(
        optimizer=keras.optimizers.SGD(cfg.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = fit_model.fit(train, epochs=epochs, shuffle=False, verbose=0)
    weight_diff = max(
        float(np.abs(a - b).max())
        for a, b in zip(loop_model.get_weights(), fit_model.get_weights())
    )

    def accuracy(model):
        return float((outputs(model).argmax(1) == yt).mean())

    metrics = {
        "params": {
            "functional": functional.count_params(),
            "sequential": sequential.count_params(),
            "subclassed": subclassed.count_params(),
        },
        "max_abs_output_diff": {
            "sequential": float(np.abs(outputs(sequential) - ref).max()),
            "subclassed": float(np.abs(outputs(subclassed) - ref).max()),
            "subclassed_reloaded": float(np.abs(outputs(reloaded) - ref).max()),
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

    # The claims: the notes' parameter count, one network three ways, and fit = the loop.
    metrics["claims"] = [
        labkit.within(
            "Each of the three APIs builds the notes' 266,610-parameter MLP (max |count - "
            "266,610|)",
            max(abs(n - 266_610) for n in metrics["params"].values()),
            0,
        ),
        labkit.within(
            "Given the same weights the Sequential, subclassed and reloaded models compute the "
            "Functional model's outputs (max |difference|)",
            max(metrics["max_abs_output_diff"].values()),
            1e-6,
        ),
        labkit.within(
            "The GradientTape loop and fit, from the same weights on the same batches, end on the "
            "same weights (max |difference|)",
            weight_diff,
            1e-5,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_low_level_loop(ns: dict) -> dict:
    """low_level_loop trains like fit on a fresh random model and data."""
    rng = np.random.default_rng()
    n, features, classes = 48, int(rng.integers(3, 8)), int(rng.integers(2, 5))
    x = rng.normal(size=(n, features)).astype("float32")
    y = rng.integers(0, classes, n)
    data_ = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    models = [
        keras.Sequential(
            [
                keras.Input((features,)),
                keras.layers.Dense(8, "relu"),
                keras.layers.Dense(classes, "softmax"),
            ]
        )
        for _ in range(2)
    ]
    models[1].set_weights(models[0].get_weights())
    losses = ns["low_level_loop"](models[0], data_, learning_rate=0.1, epochs=2)
    models[1].compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    hist = models[1].fit(data_, epochs=2, shuffle=False, verbose=0)
    weights = max(
        float(np.abs(a - b).max()) for a, b in zip(models[0].get_weights(), models[1].get_weights())
    )
    return labkit.within(
        "low_level_loop ends on fit's weights, on a fresh random model and data (max |difference|)",
        weights,
        1e-5,
        loss_diff=float(abs(losses[-1] - hist.history["loss"][-1])),
    )


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
