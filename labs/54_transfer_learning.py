"""
Title: Transfer learning between two digit tasks: freeze, then fine-tune
Unit: IV
Notes: 000 (Unit III: reusing pretrained layers; Unit IV: CNN architectures), 003 (transfer learning), 004 (data augmentation)
Description: Trains a CNN (LeNet-5, modern form) on task A, the first 1,000 mnist5k digits 0-4
(real MNIST, padded to 32x32 by the loader), then reuses its convolutional layers (C1-C5) for
task B, the digits 5-9 with only a few labelled images per class: (1) task B from scratch,
(2) the reused layers frozen and only a new softmax head trained, (3) then, continuing from
(2), the top reused layers unfrozen and fine-tuned with a tenth of the learning rate. Task-B
training images (not validation or test) are augmented on the fly by the loader's augment hook
(Keras RandomRotation, RandomTranslation, RandomZoom; no separate augmentation stage); the
loader also picks the classes and the first images of each class (a fixed subset). reuse/freeze/unfreeze are dlcourse.training.transfer's.
Everything trains through dlcourse.training.fit. The numbers are in runs/REPORT.md; transfer
pays when labels are scarce.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from dlcourse import data, labkit, plots
from dlcourse.data.augment import keras_augmenter
from dlcourse.labkit import arg
from dlcourse.models import create_model
from dlcourse.training import fit
from dlcourse.training.transfer import add_head, freeze, reuse_layers, unfreeze_top

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    model: str = arg("lenet5_modern", "registered CNN trained on task A", check="model")
    epochs_a: int = arg(10, "epochs on task A (digits 0-4)", check="positive")
    n_train_a: int = arg(
        1000, "task-A training digits (the first of mnist5k's digits 0-4)", check="positive"
    )
    per_class_b: int = arg(
        3, "labelled task-B training images per class (digits 5-9)", check="positive"
    )
    epochs_b: int = arg(40, "epochs of each task-B stage", check="positive")
    reuse_up_to: str = arg("flatten", "last reused layer of the task-A model (the conv stack)")
    unfreeze: int = arg(2, "top reused weight layers fine-tuned in stage 3", check="non_negative")
    learning_rate: float = arg(
        2e-3, "Adam learning rate (fine-tuning uses a tenth)", check="positive"
    )
    batch_size: int = arg(32, "mini-batch size", check="positive")
    augment: bool = arg(True, "augment task-B training images (rotation, shift, zoom)")

    QUICK = labkit.quick(epochs_a=1, epochs_b=2, n_train_a=128)  # a smoke test


def task_sets(cfg: Config, classes: tuple[int, ...], take=None, per_class=None, augment=False):
    """The loader's train/val/test datasets of ``classes`` (relabelled 0..k-1), 32x32."""
    aug = keras_augmenter(rotate=10, shift=0.1, zoom=0.1, seed=cfg.seed) if augment else None
    return data.datasets("mnist5k", batch_size=cfg.batch_size, classes=classes, take=take,
                         per_class=per_class, augment=aug, pad_to=32, seed=cfg.seed)  # fmt: skip


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    epochs_a, epochs_b = cfg.epochs_a, cfg.epochs_b
    # The data: two tasks from the loader; task B has a few (augmented) images per class.
    a = task_sets(cfg, (0, 1, 2, 3, 4), take=cfg.n_train_a)
    b = task_sets(cfg, (5, 6, 7, 8, 9), per_class=cfg.per_class_b, augment=cfg.augment)
    n_train_b = sum(int(y.shape[0]) for _, y in b["train"])
    fit_kw = {"cfg": cfg, "verbose": 0}

    def folder(name: str):  # quick: no TensorBoard logs or backups
        return None if cfg.quick else out / name

    def compiled(model, lr):
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])  # fmt: skip
        return model

    def fresh():
        model = create_model(cfg.model, input_shape=(32, 32, 1), classes=5)
        return compiled(model, cfg.learning_rate)

    # Task A: train the source model.
    keras.utils.set_random_seed(cfg.seed)
    model_a, _ = fit(fresh, a["train"], validation=a["val"], epochs=epochs_a,
                     folder=folder("task_a"), **fit_kw)  # fmt: skip
    acc_a = float(model_a.evaluate(a["test"], verbose=0)[1])

    # Task B (1): from scratch, same architecture and data.
    keras.utils.set_random_seed(cfg.seed)
    scratch, h_scratch = fit(fresh, b["train"], validation=b["val"], epochs=epochs_b,
                             folder=folder("b_scratch"), **fit_kw)  # fmt: skip

    # Task B (2): reuse the conv stack (up to `reuse_up_to`), frozen; train a new head.
    keras.utils.set_random_seed(cfg.seed)
    base = reuse_layers(model_a, n_layers=cfg.reuse_up_to)

    def frozen_model():
        return compiled(add_head(freeze(base), n_classes=5), cfg.learning_rate)

    model_b, h_frozen = fit(frozen_model, b["train"], validation=b["val"],
                            epochs=epochs_b, folder=folder("b_frozen"), **fit_kw)  # fmt: skip
    acc_frozen = float(model_b.evaluate(b["test"], verbose=0)[1])

    # Task B (3): unfreeze the top reused layers, fine-tune with a smaller learning rate.
    def fine_tuned():
        unfreeze_top(base, cfg.unfreeze)
        return compiled(model_b, cfg.learning_rate / 10)

    model_b, h_fine = fit(fine_tuned, b["train"], validation=b["val"],
                          epochs=epochs_b, folder=folder("b_fine_tuned"), **fit_kw)  # fmt: skip
    metrics = {
        "seed": cfg.seed,
        "task_a_test_accuracy": acc_a,
        "task_b_train_images": n_train_b,
        "task_b_test_accuracy": {
            "scratch": float(scratch.evaluate(b["test"], verbose=0)[1]),
            "frozen_reused_layers": acc_frozen,
            "fine_tuned": float(model_b.evaluate(b["test"], verbose=0)[1]),
        },
    }
    curves = {"from scratch": h_scratch["val_accuracy"],
              "reused, frozen": h_frozen["val_accuracy"],
              "reused, fine-tuned": h_frozen["val_accuracy"] + h_fine["val_accuracy"]}  # fmt: skip
    plots.save(plots.curves(curves, ylabel="task B validation accuracy",
                            title=f"Transfer, {n_train_b} task-B images"),
               out, "transfer")  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
