"""
Title: Unsupervised pretraining with stacked autoencoders, few labels vs none
Unit: III
Notes: 000 (Unit III: unsupervised pretraining, reusing layers)
Description: Pretrains a stack of autoencoders greedily, one hidden layer at a time, on all
training digits without their labels (the loader's training split, labels dropped), then puts a
softmax on top and fine-tunes on only a few labels per class. Compares it with the same network trained from scratch on those few
labels, and with the pretrained encoders kept frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training import pretraining
from dlcourse.training.variants import train_variants

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    hidden: tuple = arg((128, 64), "hidden units of the stacked autoencoder", check="positive")
    per_class: int = arg(5, "labelled examples per class", check="positive")
    pretrain_epochs: int = arg(30, "epochs of each autoencoder stage", check="positive")
    finetune_epochs: int = arg(40, "epochs of supervised training", check="positive")
    batch_size: int = arg(16, "mini-batch size", check="positive")
    pretrain_batch_size: int = arg(64, "mini-batch size of the autoencoders", check="positive")
    frozen: bool = arg(True, "also fine-tune only the head over frozen pretrained encoders")

    QUICK = labkit.quick(pretrain_epochs=1, finetune_epochs=1, frozen=False)  # a smoke test


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    # The data, all from the loader: every training digit for pretraining (its labels are
    # never read), the first few per class for fine-tuning, validation and test to score.
    sets = data.datasets("digits", batch_size=cfg.batch_size, seed=cfg.seed)
    val, test = sets["val"], sets["test"]
    unlabeled = data.datasets(
        "digits", batch_size=cfg.pretrain_batch_size, splits=("train",), seed=cfg.seed
    )["train"]

    def labeled():  # a fresh pipeline per variant: the first few labelled digits per class
        return data.datasets("digits", batch_size=cfg.batch_size, per_class=cfg.per_class,
                             splits=("train",), seed=cfg.seed)["train"]  # fmt: skip

    hidden = tuple(int(h) for h in cfg.hidden)
    shape = val.element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1] (scaled by the loader)

    # Greedy layer-wise pretraining: one autoencoder per hidden layer, each on the codes of
    # the encoders trained before it.
    encoders, ae_losses = pretraining.pretrain_stack(
        unlabeled, hidden, epochs=cfg.pretrain_epochs, cfg=cfg, verbose=2
    )
    plots.save(
        plots.curves(
            {f"stage {i + 1} ({h} units)": ls for i, (h, ls) in enumerate(zip(hidden, ae_losses))},
            ylabel="reconstruction MSE",
            title="Greedy layer-wise pretraining",
        ),
        out,
        "autoencoder_loss",
    )

    # Three classifiers fine-tuned on the few labels: from scratch, pretrained and fine-tuned,
    # pretrained with its encoders frozen (only the softmax head learns).
    def scratch():
        model = deep_mlp(
            shape,
            10,
            depth=len(hidden),
            units=hidden[0],
            activation="selu",
            kernel_initializer="lecun_normal",
        )
        return compile_classifier(model)

    builds = {
        "no pretraining": scratch,
        "pretrained, fine-tuned": lambda: pretraining.stacked_classifier(shape, encoders, 10),
        "pretrained, frozen": lambda: pretraining.stacked_classifier(
            shape, encoders, 10, freeze_encoders=True
        ),
    }
    if not cfg.frozen:
        builds.pop("pretrained, frozen")
    models, hist = train_variants(
        builds,
        labeled,
        val,
        epochs=cfg.finetune_epochs,
        cfg=cfg,
        folder=out / "train",
    )
    test_acc = {k: round(float(m.evaluate(test, verbose=0)[1]), 4) for k, m in models.items()}
    plots.save(
        plots.curves(
            {k: h["val_accuracy"] for k, h in hist.items()},
            ylabel="validation accuracy",
            title=f"{cfg.per_class} labels per class",
        ),
        out,
        "val_accuracy",
    )
    metrics = {
        "n_unlabeled": len(data.arrays(unlabeled)[1]),
        "n_labeled": len(data.arrays(labeled())[1]),
        "test_accuracy": test_acc,
        "best_test_accuracy": max(test_acc.values()),
        "final_reconstruction_mse": [round(ls[-1], 5) for ls in ae_losses],
    }
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
