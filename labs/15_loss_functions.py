"""
Title: Cross-entropy vs squared error for a softmax output
Unit: II
Notes: 000 (Unit II: LeNet-5's output layer, "the cross entropy cost function is now preferred,
as it penalizes bad predictions much more, producing larger gradients and thus converging
faster"; Unit III: a better cost function, cross-entropy), 004 (output units: softmax trained by
minimizing the cross-entropy)
Description: First the output gradients. An MLP (one hidden layer of 100 ReLU units, the
softmax as its own layer after the logits) is trained with the cross-entropy and Adam until it
fits its training digits (8 epochs of mnist5k); like any well-trained network it is then
confidently wrong on a few held-out digits (a wrong class given 0.9 or more; the 1,500
validation and test digits are pooled so that there are more than a handful). On its outputs
for those held-out digits tf.GradientTape measures, per digit, the gradient of each loss
with respect to the logits: the cross-entropy's is p - y, large where the network is
confidently wrong; the squared error between the softmax output and the one-hot label passes
through the softmax's Jacobian diag(p) - p p^T, which vanishes where the softmax saturates. The
squared error is summed over the 10 outputs, so that no constant factor of 1/10 (Keras's
MeanSquaredError averages over them) handicaps it. Then the training speed: the same MLP,
from the same initial weights on the same batches with the same plain SGD rate, trained once
with each loss; validation accuracy is recorded every few steps. Not claimed: that the
cross-entropy stays ahead at any learning rate. With a rate five times larger (0.1) the
squared error catches up within a few epochs (it still trails after the first): the gap comes
from the size of the gradients at a given rate.
Lesson: With a softmax output, the cross-entropy's gradient stays large where the network is
confidently wrong while the squared error's vanishes there, so the same network with the same
learning rate learns much faster with the cross-entropy.
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
from dlcourse.models.mlp import mlp
from dlcourse.plots.training import gradient_vs_probability
from dlcourse.training.variants import train_variants, variant_data

LAB = labkit.lab_name(__file__)
CLASSES = 10


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    units: int = arg(100, "hidden units", check="positive")
    epochs: int = arg(3, "training epochs per loss", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    learning_rate: float = arg(
        0.02, "plain SGD learning rate, the same for both losses", check="positive"
    )
    every: int = arg(10, "validation accuracy recorded every this many steps", check="positive")
    fit_epochs: int = arg(
        8, "epochs of the network whose gradients are measured (Adam)", check="positive"
    )
    fit_rate: float = arg(2e-3, "its Adam learning rate", check="positive")
    confident: float = arg(
        0.9,
        "a digit is confidently wrong when the network gives a wrong class at least this",
        check="fraction",
    )
    n_train: int = arg(0, "first training digits used; 0 = all 3,500", check="non_negative")
    n_val: int = arg(
        0, "first validation (and test) digits used; 0 = all 500 (1,000)", check="non_negative"
    )

    QUICK = labkit.quick(n_train=256, n_val=128, epochs=1, fit_epochs=1, every=4)


def squared_error(y_true, y_pred):
    """Squared error between the softmax output and the one-hot label, summed over the classes
    (per example): the notes' MSE for a classifier."""
    # With keras.ops: the integer labels y_true (batch,) or (batch, 1) as one-hot rows (batch, 10),
    # then the squared difference from y_pred summed over the 10 classes: one value per example.
    ### BEGIN SOLUTION
    labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
    return keras.ops.sum(keras.ops.square(y_pred - keras.ops.one_hot(labels, CLASSES)), axis=-1)
    ### END SOLUTION


LOSSES = {"cross-entropy": "sparse_categorical_crossentropy", "squared error": squared_error}


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: mnist5k through the loader; a fresh training pipeline per loss, so both
    # networks see the same batches in the same order.
    train, val = variant_data(
        "mnist5k",
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        take=cfg.n_train or None,
        eval_take=cfg.n_val or None,
    )
    xv, yv = data.arrays(val)  # fixed validation digits for the training curves
    test = data.datasets(
        "mnist5k", batch_size=cfg.batch_size, splits=("test",), eval_take=cfg.n_val or None
    )["test"]
    xh, yh = (np.concatenate(a) for a in zip(data.arrays(val), data.arrays(test)))  # held out

    # The network: Dense logits, then the softmax as its own layer, so the logits can be read.
    def build(loss, optimizer):
        model = mlp(hidden=(cfg.units,), classes=CLASSES, classifier_activation=None)
        probs = keras.layers.Softmax(name="softmax")(model.output)
        model = keras.Model(model.input, probs, name="softmax_mlp")
        model.compile(
            optimizer=optimizer,
            loss=loss,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model

    # A network that fits its training digits (cross-entropy, Adam): trained this far, it is
    # confidently wrong on some held-out digits, as well-trained networks are.
    fitted, _ = train_variants(
        {"fitted": lambda: build(LOSSES["cross-entropy"], keras.optimizers.Adam(cfg.fit_rate))},
        train,
        None,
        epochs=cfg.fit_epochs,
        cfg=cfg,
        folder=None,
    )

    # The gradients: each loss's gradient with respect to the logits (autodiff), per digit, on
    # that network's outputs for the held-out digits (validation and test), against the
    # probability of the true class.
    # Confidently wrong: a wrong class gets at least `confident`; unsure: the true class gets
    # 0.3 to 0.7.
    grads, probs = output_gradients(fitted["fitted"], xh, yh)
    p_true = probs[np.arange(len(yh)), yh]
    p_wrong = np.where(np.eye(CLASSES, dtype=bool)[yh], 0.0, probs).max(axis=1)
    plots.save(gradient_vs_probability(p_true, grads), out, "gradients_vs_probability")
    ratio = grads["cross-entropy"] / grads["squared error"]
    groups = {"confidently wrong": p_wrong >= cfg.confident, "unsure": abs(p_true - 0.5) <= 0.2}
    medians = {
        group: {"digits": int(sel.sum()), "ratio": _median(ratio[sel])}
        | {loss: _median(g[sel]) for loss, g in grads.items()}
        for group, sel in groups.items()
    }

    # Training with each loss: the same initial weights (train_variants reseeds), batches and
    # SGD rate; only the loss differs. Validation accuracy every `every` steps draws the curves.
    trackers = {name: _AccuracyEvery(xv, yv, cfg.every) for name in LOSSES}
    sgd = keras.optimizers.SGD
    _, hist = train_variants(
        {
            name: (lambda loss=loss: build(loss, sgd(cfg.learning_rate)))
            for name, loss in LOSSES.items()
        },
        train,
        val,
        epochs=cfg.epochs,
        cfg=cfg,
        folder=None,
        callbacks=lambda name: [trackers[name]],
    )
    fig = plots.curves(
        {name: t.accuracy for name, t in trackers.items()},
        xlabel=f"step / {cfg.every}",
        ylabel="validation accuracy",
        title=f"Same network, same SGD rate {cfg.learning_rate:g}: only the loss differs",
    )
    plots.save(fig, out, "training_curves")

    # The claims: where the network is confidently wrong, the cross-entropy's gradient is
    # several times the squared error's, and the squared error's gradient is smaller there
    # than where the network is unsure (it vanishes) while the cross-entropy's is larger;
    # validation accuracy after the first and the last epoch of training with each loss.
    wrong, unsure = medians["confidently wrong"], medians["unsure"]
    vanish = {
        loss: round(wrong[loss] / unsure[loss], 3) if wrong["digits"] and unsure["digits"] else 0.0
        for loss in LOSSES
    }  # median gradient where confidently wrong / where unsure
    acc = {name: h["val_accuracy"] for name, h in hist.items()}
    metrics: dict = {
        "val_accuracy": {name: [round(float(a), 4) for a in v] for name, v in acc.items()},
        "gradient_medians": medians,
        "wrong_over_unsure": vanish,
    }
    metrics["claims"] = [
        labkit.at_least(
            f"Where the network is confidently wrong (a wrong class given >= {cfg.confident:g}), "
            "the cross-entropy's gradient with respect to the logits is at least 4 times the "
            "squared error's (median ratio over those held-out digits)",
            wrong["ratio"],
            4.0,
            needs_defaults=True,
            digits=wrong["digits"],
        ),
        labkit.claim(
            "The squared error's gradient vanishes where the network is confidently wrong: its "
            "median there is at most half its median where the network is unsure (true class "
            "given 0.3-0.7), while the cross-entropy's is at least 1.5 times larger there",
            0 < vanish["squared error"] <= 0.5 and vanish["cross-entropy"] >= 1.5,
            needs_defaults=True,
            wrong_over_unsure=vanish,
        ),
        labkit.beats(
            "Cross-entropy learns faster: after the first epoch its validation accuracy beats "
            "the squared error's by at least 0.15 (same weights, batches and SGD rate)",
            acc["cross-entropy"][0],
            acc["squared error"][0],
            0.15,
            needs_defaults=True,
        ),
        labkit.beats(
            f"... and after epoch {cfg.epochs} by at least 0.06",
            acc["cross-entropy"][-1],
            acc["squared error"][-1],
            0.06,
            needs_defaults=True,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


def output_gradients(model: keras.Model, x, y) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-example norm of d(loss)/d(logits) for each loss, and the softmax outputs (n, 10). Each example's loss depends only on its own logits, so the rows of the gradient of
    the summed loss are the per-example gradients."""
    logits = keras.Model(model.input, model.get_layer("predictions").output)(x, training=False)
    y = tf.convert_to_tensor(y)
    # Under a persistent tf.GradientTape that watches the logits: the softmax layer's output
    # `probs`, each loss per example (sparse cross-entropy from the logits, squared_error from
    # probs), summed over the examples; then `norms`: the rows' norms of each sum's gradient.
    ### BEGIN SOLUTION
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)  # (n, 10)
        probs = model.get_layer("softmax")(logits)
        losses = {
            "cross-entropy": keras.losses.sparse_categorical_crossentropy(
                y, logits, from_logits=True
            ),
            "squared error": squared_error(y, probs),
        }
        totals = {k: tf.reduce_sum(v) for k, v in losses.items()}
    norms = {k: tf.norm(tape.gradient(t, logits), axis=1).numpy() for k, t in totals.items()}
    ### END SOLUTION
    return norms, probs.numpy()


def _median(values: np.ndarray) -> float:
    """The median, rounded for metrics.json; 0.0 for no values (tiny quick runs)."""
    return round(float(np.median(values)), 4) if len(values) else 0.0


class _AccuracyEvery(keras.callbacks.Callback):
    """Validation accuracy on fixed digits every ``every`` training steps (a forward pass in
    inference mode; the training metrics are left alone)."""

    def __init__(self, x, y, every: int):
        super().__init__()
        self.x, self.y, self.every = x, y, every
        self.steps = 0
        self.accuracy: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps % self.every == 0:
            probs = keras.ops.convert_to_numpy(self.model(self.x, training=False))
            self.accuracy.append(float((probs.argmax(1) == self.y).mean()))


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def check_squared_error(ns: dict) -> dict:
    """squared_error is Keras's mean squared error times the 10 classes, on fresh outputs."""
    rng = np.random.default_rng()
    n = int(rng.integers(3, 40))
    labels = rng.integers(0, CLASSES, n)
    probs = rng.dirichlet(np.full(CLASSES, 0.5), n).astype(np.float32)  # (n, 10) rows sum to 1
    y_true = labels if rng.random() < 0.5 else labels[:, None].astype(np.float32)  # as Keras may
    got = keras.ops.convert_to_numpy(ns["squared_error"](y_true, probs))
    one_hot = np.eye(CLASSES, dtype=np.float32)[labels]
    want = keras.ops.convert_to_numpy(keras.losses.mean_squared_error(one_hot, probs)) * CLASSES
    error = checks.max_abs_diff(got, want)
    return labkit.within(
        f"squared_error gives each of {n} fresh examples 10 x Keras's mean squared error between "
        f"the one-hot label and the softmax output (labels shaped {list(np.shape(y_true))}; "
        "max |difference|)",
        error, 1e-5, shape=list(got.shape),
    )  # fmt: skip


def check_output_gradients(ns: dict) -> dict:
    """output_gradients gives the per-example gradient norms of the closed forms (fresh MLP)."""
    rng = np.random.default_rng()
    n, d = int(rng.integers(4, 30)), int(rng.integers(3, 12))
    model = mlp(hidden=(int(rng.integers(4, 16)),), input_shape=(d,), classifier_activation=None)
    model = keras.Model(model.input, keras.layers.Softmax(name="softmax")(model.output))
    x = (3.0 * rng.normal(size=(n, d))).astype(np.float32)  # large inputs: some sure outputs
    y = rng.integers(0, CLASSES, n)
    norms, probs = ns["output_gradients"](model, x, y)
    logits = keras.Model(model.input, model.get_layer("predictions").output)(x)
    p = tf.nn.softmax(tf.cast(logits, tf.float64)).numpy()  # (n, 10)
    diff = p - np.eye(CLASSES)[y]  # the cross-entropy's gradient with respect to the logits
    # The squared error's: the softmax Jacobian diag(p) - p p^T times 2 (p - y).
    mse = 2 * (p * diff - p * np.sum(p * diff, axis=1, keepdims=True))
    want = {"cross-entropy": diff, "squared error": mse}
    want = {k: np.linalg.norm(g, axis=1) for k, g in want.items()}
    error = max(
        float(np.max(np.abs(np.asarray(norms[k]) - w) / (w + 1e-2)))
        if np.shape(norms.get(k)) == w.shape
        else float("inf")
        for k, w in want.items()
    )
    error = max(error, float(np.max(np.abs(np.asarray(probs) - p))))
    return labkit.within(
        f"output_gradients gives, for {n} fresh examples of a fresh MLP, the norms of p - y and of "
        "(diag(p) - p p^T) 2 (p - y) (max relative difference, floor 0.01) and its softmax outputs",
        error, 1e-3,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
