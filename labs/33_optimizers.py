"""
Title: Faster optimizers compared on one model
Unit: III
Notes: 000 (Unit III: momentum, Nesterov, AdaGrad, RMSProp, Adam; gradient clipping), 003, 004
Description: Trains the same MLP from the same initial weights on the 8x8 digits with every
optimizer of dlcourse's factory (SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, Nadam,
AdaMax, AdamW) and with momentum plus gradient clipping by norm, and draws all learning curves
in one figure. The NumPy versions of the update rules (dlcourse.scratch.optimizers) are
checked step by step against these Keras optimizers in the tests.
Lesson: From the same initial weights and batches, momentum and adaptive optimizers such as
Adam learn much faster than plain SGD.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

from dlcourse import labkit, notes_examples, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training.optimizers import OPTIMIZERS, create_optimizer
from dlcourse.training.trainer import time_to
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    depth: int = arg(4, "hidden layers", check="positive")
    units: int = arg(64, "units per hidden layer", check="positive")
    epochs: int = arg(8, "training epochs per optimizer", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    clipnorm: float = arg(1.0, "clip threshold of the 'momentum + clipnorm' run", check="positive")
    target: float = arg(0.9, "validation accuracy of the time-to-accuracy metric", check=(0, 1))
    n_train: int = arg(
        0, "first training (and validation) examples used; 0 = all", check="non_negative"
    )
    optimizers: tuple[str, ...] = arg(
        tuple(OPTIMIZERS), "optimizers compared (plus 'momentum + clipnorm')",
        choices=tuple(OPTIMIZERS),
    )  # fmt: skip

    QUICK = labkit.quick(n_train=256, epochs=1, optimizers=("sgd", "momentum", "adam"))


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the loader's 8x8 digits; a fresh training pipeline per variant, so every
    # variant sees the same batches in the same order.
    n = cfg.n_train or None
    train, val = variant_data(
        "digits", batch_size=cfg.batch_size, seed=cfg.seed, take=n, eval_take=n
    )

    shape = val.element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1] (scaled by the loader)

    # The same model for every optimizer; only the optimizer differs.
    def builder(name, **kw):
        def build():
            model = deep_mlp(shape, 10, depth=cfg.depth, units=cfg.units)
            return compile_classifier(model, create_optimizer(name, **kw))

        return build

    builds = {name: builder(name) for name in cfg.optimizers}
    builds[f"momentum + clipnorm={cfg.clipnorm}"] = builder("momentum", clipnorm=cfg.clipnorm)

    # Every optimizer trains from the same initial weights on the same batches.
    _, hist = train_variants(builds, train, val, epochs=cfg.epochs, cfg=cfg, folder=out / "train")
    plots.save(
        plots.curves(
            {k: h["val_loss"] for k, h in hist.items()},
            ylabel="validation loss",
            title="Optimizers, same model and data",
            logy=True,
        ),
        out,
        "val_loss",
    )

    # Results: training and validation loss curves, accuracy after the first epoch.
    plots.save(
        plots.curves(
            {k: h["loss"] for k, h in hist.items()},
            ylabel="training loss",
            title="Optimizers, same model and data",
            logy=True,
        ),
        out,
        "train_loss",
    )
    metrics = {
        "val_loss": final(hist, "val_loss"),
        "val_accuracy": final(hist, "val_accuracy"),
        "best_val_accuracy": max(final(hist, "val_accuracy").values()),
        # wall seconds until validation accuracy first reached the target (None: never)
        "time_to_target_s": {k: time_to(h, "val_accuracy", cfg.target) for k, h in hist.items()},
        "train_time_s": {k: h["time_s"][-1] for k, h in hist.items()},
        "best": min(hist, key=lambda k: hist[k]["val_loss"][-1]),
        "val_accuracy_epoch_1": {k: round(float(h["val_accuracy"][0]), 4) for k, h in hist.items()},
    }

    # The notes' worked examples: 003's exponentially weighted averages, 000's terminal velocity.
    metrics["notes_examples"] = notes_examples.optimizer_examples(out, cfg.seed)

    # The claims: after one epoch momentum and Adam are well ahead of plain SGD; momentum's
    # terminal velocity is the notes' 1 / (1 - beta) = 10 times the plain step.
    first = metrics["val_accuracy_epoch_1"]
    claims = [
        labkit.beats(
            f"After one epoch, {name} beats plain SGD by at least {margin * 100:.0f} points of "
            "validation accuracy",
            first[name],
            first["sgd"],
            margin,
        )
        for name, margin in (("adam", 0.05), ("momentum", 0.03))
        if {name, "sgd"} <= set(first)
    ]
    velocity = metrics["notes_examples"]["momentum_terminal_velocity"]
    claims.append(
        labkit.within(
            "Momentum (beta 0.9) settles at the notes' 10 times the plain step (relative error)",
            round(abs(velocity["ratio"] / 10 - 1), 6),
            1e-3,
        )
    )
    metrics["claims"] = claims  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
