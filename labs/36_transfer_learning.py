"""
Title: Transfer learning: digits 0-4 to digits 5-9 with little data
Unit: III
Notes: 000 (Unit III: reusing pretrained layers), 003 (transfer learning)
Description: Trains model A on the digits 0-4. For the new task, digits 5-9 with only a few
labelled examples per class, it compares a network trained from scratch, the reused lower
layers of A (cloned, never shared) frozen under a new softmax head, and the same after
unfreezing the top k reused layers for fine-tuning with a lower learning rate. Checks that
model A is unchanged afterwards. Transfer pays when labels are scarce: in our runs (seed 42)
with 3 labels per class the reused layers beat training from scratch (test accuracy about 0.82
vs 0.79), while with ``--per-class 10`` the network trained from scratch catches up (0.93).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training import diagnostics, transfer
from dlcourse.training.variants import final, train_variants

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    per_class: int = arg(3, "labelled examples per class of the new task (5-9)", check="positive")
    depth: int = arg(4, "hidden layers of model A", check="positive")
    units: int = arg(64, "units per hidden layer", check="positive")
    epochs_a: int = arg(20, "epochs of model A on digits 0-4", check="positive")
    epochs_b: int = arg(30, "epochs of each new-task model", check="positive")
    reuse: int = arg(
        2,
        "lower hidden layers of model A reused (the upper ones are task-specific)",
        check="positive",
    )
    unfreeze: int = arg(1, "top reused layers unfrozen for fine-tuning (k)", check="non_negative")
    batch_size: int = arg(16, "mini-batch size", check="positive")
    from_scratch: bool = arg(True, "also train the new task from scratch (the baseline)")

    QUICK = labkit.quick(epochs_a=1, epochs_b=1, from_scratch=False)  # a smoke test


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    # The loader picks the tasks' classes (relabelled 0..4) and, for B, the first few per class.
    task = {"batch_size": cfg.batch_size, "seed": cfg.seed}
    a = data.datasets("digits", classes=(0, 1, 2, 3, 4), **task)
    b = data.datasets("digits", classes=(5, 6, 7, 8, 9), per_class=cfg.per_class, **task)

    def b_train():  # a fresh pipeline per variant: every variant sees the same batches
        return data.datasets("digits", classes=(5, 6, 7, 8, 9), per_class=cfg.per_class,
                             splits=("train",), **task)["train"]  # fmt: skip

    shape = a["val"].element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1]

    # Model A: a deep MLP on digits 0-4, with plenty of labels.
    def build_a():
        return compile_classifier(
            deep_mlp(shape, 5, depth=cfg.depth, units=cfg.units, name="model_a")
        )

    models, hist = train_variants(
        {"model A (0-4)": build_a},
        a["train"],
        a["val"],
        epochs=cfg.epochs_a,
        cfg=cfg,
        folder=out / "train",
    )
    model_a = models["model A (0-4)"]
    a_weights = [w.copy() for w in model_a.get_weights()]

    # The new task, digits 5-9 with a few labels each: from scratch, A's lower layers frozen
    # under a new head, and the same with the top k reused layers fine-tuned.
    def scratch():
        return compile_classifier(deep_mlp(shape, 5, depth=cfg.depth, units=cfg.units))

    def reused(k):
        def build():
            base = transfer.freeze(transfer.reuse_layers(model_a, 1 + cfg.reuse))  # flatten+hidden
            transfer.unfreeze_top(base, k)
            lr = 1e-2 if k == 0 else 3e-3  # a fresh head learns fast; fine-tune more gently
            return compile_classifier(transfer.add_head(base, 5), keras.optimizers.Adam(lr))

        return build

    builds = {
        "from scratch": scratch,
        "reused, frozen": reused(0),
        f"reused, top {cfg.unfreeze} fine-tuned": reused(cfg.unfreeze),
    }
    if not cfg.from_scratch:
        builds.pop("from scratch")
    models_b, hist_b = train_variants(
        builds,
        b_train,
        b["val"],
        epochs=cfg.epochs_b,
        cfg=cfg,
        folder=out / "train",
    )
    test_acc = {
        k: round(float(m.evaluate(b["test"], verbose=0)[1]), 4) for k, m in models_b.items()
    }
    # Results: validation curves and test accuracy of each; model A must be untouched.
    plots.save(
        plots.curves(
            {k: h["val_accuracy"] for k, h in hist_b.items()},
            ylabel="validation accuracy (5-9)",
            title=f"{cfg.per_class} labels per class",
        ),
        out,
        "val_accuracy",
    )
    plots.save(
        plots.bars(test_acc, title="Digits 5-9, test accuracy", ylabel="accuracy"),
        out,
        "test_accuracy",
    )
    metrics = {
        "model_a_val_accuracy": final(hist, "val_accuracy")["model A (0-4)"],
        "n_train_new_task": len(data.arrays(b["train"])[1]),
        "test_accuracy": test_acc,
        "best_test_accuracy": max(test_acc.values()),
        "trainable_params": {k: transfer.n_trainable(m) for k, m in models_b.items()},
        "model_a_unchanged": all(
            np.array_equal(a, b) for a, b in zip(a_weights, model_a.get_weights())
        ),
    }
    # Notes 003: precision, recall and F1 = 2 / (1/P + 1/R) of the best model on the test digits.
    best = max(test_acc, key=test_acc.get)
    y_test = data.arrays(b["test"])[1]  # the test split is read in file order, unshuffled
    pred = models_b[best].predict(b["test"], verbose=0).argmax(1)
    metrics["precision_recall_f1"] = {
        "model": best,
        "y_true": y_test.tolist(),
        "y_pred": pred.tolist(),
        **diagnostics.precision_recall_f1(y_test, pred),
    }
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
