"""
Title: The MNIST MLP (784-300-100-10) on real MNIST digits: accuracy and time to accuracy
Unit: II
Notes: 000 (Unit II: training an MLP with the high-level API: 784 inputs, 300 and 100 ReLU units,
softmax output, cross-entropy; 98.1 % on MNIST), 004 (softmax output units, cross-entropy)
Description: Trains the notes' 266,610-parameter MLP through dlcourse.training.fit on the
embedded mnist5k (5,000 real MNIST digits, read from data/ by the loader stage, scaled to [0, 1]
there), with Adam and label-smoothed cross-entropy. Records the test accuracy (target >= 0.955
on mnist5k) and the time to accuracy: wall seconds until validation accuracy, and test accuracy
(measured after every epoch, for reporting only), first reach the target. --dataset mnist runs
the same lab on the full MNIST from local files (--download fetches them through tfds).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models import create_model
from dlcourse.training import fit, time_to
from dlcourse.utils import set_seed

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    dataset: str = arg(
        "mnist5k",
        "mnist5k / digits28 (embedded) or mnist (local files)",
        choices=("mnist5k", "digits28", "mnist"),
    )
    download: bool = arg(False, "--dataset mnist: fetch it through tensorflow-datasets first")
    epochs: int = arg(15, "training epochs", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    learning_rate: float = arg(1e-3, "Adam learning rate", check="positive")
    label_smoothing: float = arg(
        0.1, "label smoothing of the cross-entropy (0 = plain)", check="fraction"
    )
    target: float = arg(0.955, "accuracy whose time to reach is measured", check=(0, 1))
    n_train: int = arg(0, "first training examples used; 0 = all", check="non_negative")

    QUICK = labkit.quick(epochs=2, n_train=512)  # a smoke test


def load(cfg: Config) -> dict:
    """The loader's train/val/test datasets, labels one-hot (for the label-smoothed loss)."""
    sets = data.datasets(
        cfg.dataset,
        batch_size=cfg.batch_size,
        take=cfg.n_train or None,
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


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    sets = load(cfg)  # x (batch, 28, 28, 1) in [0, 1]; the MLP flattens it to 784
    set_seed(cfg.seed)

    # The 784-300-100-10 MLP, Adam and a label-smoothed cross-entropy.

    def build():
        shape = sets["train"].element_spec[0].shape[1:]
        model = create_model("mlp_mnist", input_shape=shape, classes=10)
        model.compile(
            optimizer=keras.optimizers.Adam(cfg.learning_rate),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            metrics=["accuracy"],
        )
        return model

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
    metrics = {
        "dataset": cfg.dataset,
        "params": model.count_params(),
        "test_accuracy": test_acc,
        "reached_target": test_acc >= cfg.target,
        "best_val_accuracy": max(history["val_accuracy"]),
        "time_to_val_target_s": time_to(history, "val_accuracy", cfg.target),
        "time_to_test_target_s": time_to(history, "test_accuracy", cfg.target),
        "epochs_to_test_target": next(
            (i + 1 for i, a in enumerate(test_cb.accuracy) if a >= cfg.target), None
        ),
        "train_time_s": history["time_s"][-1],
        "target": cfg.target,
    }
    plots.save(
        plots.curves(
            {
                "train": history["accuracy"],
                "val": history["val_accuracy"],
                "test (reported only)": history["test_accuracy"],
            },
            title=f"784-300-100-10 MLP on {cfg.dataset}",
            ylabel="accuracy",
        ),
        out,
        "accuracy",
    )
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
