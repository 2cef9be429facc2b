"""
Title: LeNet-5 on the 32x32 digits: classic and modern, time to 98.5 %
Unit: IV
Notes: 000 (Unit IV: LeNet-5, Table 13-1, trainable subsampling, RBF output), 002 (classic networks summary)
Description: Trains LeNet-5 on the embedded digits zero-padded to 32x32 (dlcourse.data digits32),
as the notes describe it: the modern form (ReLU, max pooling, softmax) and the classic form
(tanh, trainable subsampling, the paper's partial C3 connection table, Euclidean RBF output).
Training uses light augmentation from the loader stage (rotation, shift, zoom), goes through
dlcourse.training.fit, and records test accuracy (target >= 0.985) and time-to-accuracy (the
wall time until validation accuracy first reaches the target; goal <= 30 s on 2 cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models import create_model

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    models: tuple = arg(
        ("lenet5_modern", "lenet5"), "registered LeNet-5 variants to train", check="model"
    )
    epochs: int = arg(30, "training epochs per model", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    learning_rate: float = arg(2e-3, "Adam learning rate", check="positive")
    augment: bool = arg(True, "rotate/shift/zoom training images (dlcourse.data.augment)")
    rotate: float = arg(10.0, "max rotation, degrees", check="non_negative")
    shift: float = arg(0.1, "max shift, fraction of the side", check="fraction")
    zoom: float = arg(0.1, "max zoom in or out, fraction", check="fraction")
    target: float = arg(
        0.985, "accuracy target (time-to-accuracy uses validation accuracy)", check=(0, 1)
    )


def unit(split) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images -> float32 in [0, 1]."""
    return split.x.astype("float32") / 255.0, split.y


def train_dataset(cfg: Config, split):
    """The training pipeline: shuffled, augmented (if asked) and batched."""
    from dlcourse.data.augment import augmented_dataset, augmenter

    if not cfg.augment:
        return unit(split)
    aug = augmenter(rotate=cfg.rotate, shift=cfg.shift, zoom=cfg.zoom, brightness=0.0,
                    contrast=0.0, seed=cfg.seed)  # fmt: skip
    return augmented_dataset(split.x, split.y, aug, batch_size=cfg.batch_size, seed=cfg.seed)


def train_one(cfg: Config, name: str, splits, out, epochs: int) -> tuple[dict, dict]:
    import keras

    from dlcourse.training import fit, time_to

    def build():
        model = create_model(name, input_shape=splits["train"].x.shape[1:], classes=10)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
        return model

    keras.utils.set_random_seed(cfg.seed)
    folder = None if cfg.quick else out / name  # quick: no TensorBoard logs or backups
    model, hist = fit(build, train_dataset(cfg, splits["train"]), validation=unit(splits["val"]),
                      epochs=epochs, cfg=cfg, folder=folder, batch_size=cfg.batch_size,
                      verbose=2)  # fmt: skip
    test_loss, test_acc = model.evaluate(*unit(splits["test"]), verbose=0)
    reached = time_to(hist, "val_accuracy", cfg.target)
    epoch = next((i + 1 for i, a in enumerate(hist["val_accuracy"]) if a >= cfg.target), None)
    return {
        "params": model.count_params(),
        "test_accuracy": float(test_acc),
        "test_loss": float(test_loss),
        "best_val_accuracy": max(hist["val_accuracy"]),
        "reached_target": bool(test_acc >= cfg.target),
        "time_to_target_s": reached,
        "epochs_to_target": epoch,
        "train_time_s": hist["time_s"][-1],
    }, hist


def run(cfg: Config, datasets: dict | None = None) -> dict:
    out = labkit.run_dir(cfg, LAB)
    splits = (datasets or {}).get("digits32") or data.load("digits32")
    epochs, models = cfg.epochs, cfg.models
    if cfg.quick:  # one model, one epoch on 256 images: a smoke test
        splits = {**splits, "train": data.Split(splits["train"].x[:256], splits["train"].y[:256])}
        epochs, models = 1, cfg.models[:1]
    metrics: dict = {"seed": cfg.seed, "target": cfg.target, "epochs": epochs}
    curves = {}
    for name in models:
        metrics[name], hist = train_one(cfg, name, splits, out, epochs)
        curves[name] = hist["val_accuracy"]
    plots.save(plots.curves(curves, ylabel="validation accuracy",
                            title="LeNet-5 on 32x32 digits"), out, "val_accuracy")  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
