"""
Title: The MNIST MLP (784-300-100-10) on real MNIST digits: accuracy and time to accuracy
Unit: II
Notes: 000 (Unit II: training an MLP with the high-level API: 784 inputs, 300 and 100 ReLU units,
softmax output, cross-entropy; 98.1 % on MNIST; Unit III: data augmentation, learning rate
scheduling, regularization), 004 (softmax output units, cross-entropy)
Description: Trains the notes' 266,610-parameter MLP through dlcourse.training.fit on the
embedded mnist5k (5,000 real MNIST digits, read from data/ by the loader stage, scaled to [0, 1]
there). With only 3,500 training digits the plain MLP overfits, so the lab adds what the course
teaches against it: shifted copies of the digits made on the fly by the loader's augmentation
hook (--rotate and --zoom add rotations and zooms), dropout after each hidden layer, AdamW (decoupled weight decay) with a cosine learning-rate
schedule, and label-smoothed cross-entropy. Records the test accuracy and the time to accuracy
(wall seconds until validation accuracy, and test accuracy measured after every epoch for
reporting only, first reach the target), and scores scikit-learn's SVC on the same pixels.
--dataset mnist runs the same lab on the full MNIST from local files (--download fetches them
through tfds).
Lesson: The notes' plain MLP, trained with augmentation, dropout, weight decay and a learning-rate
schedule, beats every scikit-learn baseline on the same small split of real MNIST digits.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from sklearn.svm import SVC

from dlcourse import data, labkit, plots
from dlcourse.data.augment import keras_augmenter
from dlcourse.labkit import arg
from dlcourse.training import fit, time_to

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    dataset: str = arg(
        "mnist5k",
        "mnist5k / digits28 (embedded) or mnist (local files)",
        choices=("mnist5k", "digits28", "mnist"),
    )
    download: bool = arg(False, "--dataset mnist: fetch it through tensorflow-datasets first")
    epochs: int = arg(50, "training epochs (the cosine schedule decays over all of them)",
                      check="positive")  # fmt: skip
    batch_size: int = arg(64, "mini-batch size", check="positive")
    learning_rate: float = arg(1e-3, "AdamW's starting learning rate", check="positive")
    weight_decay: float = arg(1e-4, "AdamW's decoupled weight decay", check="non_negative")
    dropout: float = arg(0.2, "dropout rate after each hidden layer", check="fraction")
    shift: float = arg(
        0.1, "augmentation: random shift up to this fraction of the image (0 = none)",
        check="fraction",
    )  # fmt: skip
    rotate: float = arg(0.0, "augmentation: random rotation up to this many degrees (0 = none)",
                        check=(0, 180))  # fmt: skip
    zoom: float = arg(0.0, "augmentation: random zoom up to this fraction (0 = none)",
                      check="fraction")  # fmt: skip
    label_smoothing: float = arg(
        0.1, "label smoothing of the cross-entropy (0 = plain)", check="fraction"
    )
    target: float = arg(0.955, "test accuracy the lab claims, and whose time is measured",
                        check=(0, 1))  # fmt: skip
    n_train: int = arg(0, "first training examples used; 0 = all", check="non_negative")
    svc_c: float = arg(10.0, "C of the SVC baseline (the bench's choice on validation)",
                       check="positive")  # fmt: skip

    QUICK = labkit.quick(epochs=2, n_train=512)  # a smoke test


def load(cfg: Config) -> dict:
    """The loader's train/val/test datasets (training digits shifted at random), labels one-hot
    (for the label-smoothed loss)."""
    moves = {"rotate": cfg.rotate, "shift": cfg.shift, "zoom": cfg.zoom}
    augment = keras_augmenter(**moves, seed=cfg.seed) if any(moves.values()) else None
    sets = data.datasets(
        cfg.dataset,
        batch_size=cfg.batch_size,
        take=cfg.n_train or None,
        augment=augment,
        seed=cfg.seed,
        download=cfg.download,
    )
    return {k: ds.map(lambda x, y: (x, tf.one_hot(y, 10))) for k, ds in sets.items()}


class TestAccuracy(keras.callbacks.Callback):
    """Test accuracy after every epoch (reported, never selected on)."""

    def __init__(self, test_ds):
        super().__init__()
        self.test_ds = test_ds

    def on_train_begin(self, logs=None):
        self.accuracy = []

    def on_epoch_end(self, epoch, logs=None):
        scores = self.model.evaluate(self.test_ds, verbose=0, return_dict=True)
        self.accuracy.append(float(scores["accuracy"]))


def build_model(shape: tuple, steps: int, cfg: Config) -> keras.Model:
    """The notes' 784-300-100-10 MLP with dropout, compiled: AdamW on a cosine schedule over the
    whole run (``steps`` batches per epoch), a label-smoothed cross-entropy, accuracy."""
    # The network, as a keras.Sequential: an Input of `shape`, Flatten, Dense(300, relu),
    # Dropout(cfg.dropout), Dense(100, relu), Dropout(cfg.dropout), Dense(10, softmax).
    ### BEGIN SOLUTION
    model = keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Flatten(),
            keras.layers.Dense(300, activation="relu"),
            keras.layers.Dropout(cfg.dropout),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dropout(cfg.dropout),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    ### END SOLUTION
    # Compile it: AdamW(weight_decay=cfg.weight_decay) on a CosineDecay schedule from
    # cfg.learning_rate over steps * cfg.epochs steps, a CategoricalCrossentropy with
    # label_smoothing=cfg.label_smoothing, and the "accuracy" metric.
    ### BEGIN SOLUTION
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps * cfg.epochs)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )
    ### END SOLUTION
    return model


def svc_baseline(name: str, c: float, n_train: int) -> float:
    """Test accuracy of scikit-learn's SVC (RBF kernel) on the same pixels in [0, 1]."""
    splits = data.load(name)  # NumPy: scikit-learn only

    def pixels(split):
        return split.x.reshape(len(split.x), -1) / 255.0

    x, y = pixels(splits["train"]), splits["train"].y
    n = n_train or len(y)
    svc = SVC(C=c, kernel="rbf", gamma="scale").fit(x[:n], y[:n])
    return float(svc.score(pixels(splits["test"]), splits["test"].y))


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: x (batch, 28, 28, 1) in [0, 1] from the loader (the MLP flattens it to 784);
    # the training digits are shifted at random by the loader's augmentation hook, a new shift
    # each epoch, so the network never sees the same image twice.
    sets = load(cfg)
    steps = int(sets["train"].cardinality())

    # The 784-300-100-10 MLP with dropout, AdamW with a cosine schedule over the whole run, and
    # a label-smoothed cross-entropy.
    def build():
        return build_model(tuple(sets["train"].element_spec[0].shape[1:]), steps, cfg)

    # Training through dlcourse's fit, the test split scored after each epoch (never used to
    # choose anything: time to the target accuracy is read on validation and on test).
    test_cb = TestAccuracy(sets["test"])
    model, history = fit(
        build,
        sets["train"],
        validation=sets["val"],
        epochs=cfg.epochs,
        cfg=cfg,
        folder=None if cfg.quick else out,  # quick: no TensorBoard logs or backups
        callbacks=[test_cb],
        verbose=0 if cfg.quick else 2,
    )
    history["test_accuracy"] = test_cb.accuracy
    test_acc = float(model.evaluate(sets["test"], verbose=0, return_dict=True)["accuracy"])

    # The baseline to beat: scikit-learn's SVC on the same split.
    svc_acc = svc_baseline(cfg.dataset, cfg.svc_c, cfg.n_train)
    metrics = {
        "dataset": cfg.dataset,
        "params": model.count_params(),
        "test_accuracy": test_acc,
        "svc_test_accuracy": svc_acc,
        "best_val_accuracy": max(history["val_accuracy"]),
        "time_to_val_target_s": time_to(history, "val_accuracy", cfg.target),
        "time_to_test_target_s": time_to(history, "test_accuracy", cfg.target),
        "epochs_to_test_target": next(
            (i + 1 for i, a in enumerate(test_cb.accuracy) if a >= cfg.target), None
        ),
        "train_time_s": history["time_s"][-1],
        "target": cfg.target,
    }

    # Figure: accuracy per epoch on the three splits, the SVC baseline as a line.
    fig = plots.curves(
        {
            "train (augmented, dropout on)": history["accuracy"],
            "val": history["val_accuracy"],
            "test (reported only)": history["test_accuracy"],
        },
        title=f"784-300-100-10 MLP on {cfg.dataset}",
        ylabel="accuracy",
    )
    fig.axes[0].axhline(svc_acc, color="gray", ls=":", lw=1, label="SVC (test)")
    fig.axes[0].legend(fontsize=8)
    plots.save(fig, out, "accuracy")

    # The claims: the notes' target, and the MLP above the strongest scikit-learn baseline.
    metrics["claims"] = [
        labkit.at_least(
            f"The 784-300-100-10 MLP reaches at least {cfg.target} test accuracy on {cfg.dataset}",
            test_acc,
            cfg.target,
            needs_defaults=True,
        ),
        labkit.beats(
            "The MLP beats scikit-learn's SVC (the best scikit-learn baseline) on the same split",
            test_acc,
            svc_acc,
            needs_defaults=True,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def _summary(model) -> dict:
    opt = model.optimizer
    return {
        "layers": [type(layer).__name__ for layer in model.layers],
        "params": model.count_params(),
        "dropout": [float(layer.rate) for layer in model.layers if hasattr(layer, "rate")],
        "activations": [getattr(layer, "activation", None).__name__
                        for layer in model.layers if hasattr(layer, "activation")],
        "optimizer": type(opt).__name__,
        "weight_decay": float(opt.weight_decay or 0.0),
        "schedule": type(opt._learning_rate).__name__,
        "decay_steps": int(getattr(opt._learning_rate, "decay_steps", 0)),
        "loss": type(model.loss).__name__,
        "label_smoothing": float(getattr(model.loss, "label_smoothing", 0.0)),
    }  # fmt: skip


def check_build_model(ns: dict) -> dict:
    """build_model builds and compiles the lab's MLP, at fresh settings."""
    rng = np.random.default_rng()
    cfg = Config(dropout=float(rng.choice([0.1, 0.3])), epochs=int(rng.integers(2, 9)),
                 weight_decay=float(rng.choice([1e-3, 1e-4])),
                 label_smoothing=float(rng.choice([0.05, 0.2])))  # fmt: skip
    steps = int(rng.integers(5, 50))
    got = _summary(ns["build_model"]((28, 28, 1), steps, cfg))
    want = _summary(build_model((28, 28, 1), steps, cfg))
    wrong = sorted(k for k in want if got[k] != want[k])
    return labkit.claim(
        f"build_model builds the 784-300-100-10 MLP with dropout {cfg.dropout} and compiles it "
        "as the lab does (AdamW, cosine schedule, label smoothing)",
        not wrong, wrong=[f"{k}: {got[k]} (want {want[k]})" for k in wrong],
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
