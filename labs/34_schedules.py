"""
Title: Learning-rate schedules compared, and a learning-rate finder
Unit: III
Notes: 000 (Unit III: learning rate scheduling), 003 (learning-rate decay)
Description: Finds a good learning rate with an exponential range test, then trains the same
MLP with SGD + momentum under a constant rate, piecewise constant, performance scheduling
(reduce on plateau), exponential eta0 10^(-t/r), power eta0 (1 + t/r)^(-c) with c = 1 and
c = 2, and 1cycle; plots the learning rate actually used at every step and the validation loss
of every schedule.
Lesson: A learning-rate schedule starts fast and ends slow: each decay rule, sized to the run,
brings the rate well below its start, as the notes' worked examples compute.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras

from dlcourse import labkit, notes_examples, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training import schedules as sch
from dlcourse.training.callbacks import LearningRateLogger, find_learning_rate
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)
SCHEDULES = (
    "constant",
    "piecewise",
    "exponential",
    "power c=1",
    "power c=2",
    "1cycle",
    "performance",
)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    eta0: float = arg(0.05, "initial (1cycle: peak) learning rate", check="positive")
    epochs: int = arg(10, "training epochs per schedule", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    finder_steps: int = arg(120, "steps of the learning-rate range test", check="positive")
    depth: int = arg(4, "hidden layers", check="positive")
    n_train: int = arg(
        0, "first training (and validation) examples used; 0 = all", check="non_negative"
    )
    schedules: tuple[str, ...] = arg(SCHEDULES, "schedules compared", choices=SCHEDULES)

    QUICK = labkit.quick(
        n_train=256, epochs=2, finder_steps=20, schedules=("exponential", "1cycle", "performance")
    )


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the loader's 8x8 digits; a fresh training pipeline per variant, so every
    # variant sees the same batches in the same order.
    n = cfg.n_train or None
    train, val = variant_data(
        "digits", batch_size=cfg.batch_size, seed=cfg.seed, take=n, eval_take=n
    )

    shape = val.element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1] (scaled by the loader)
    epochs = cfg.epochs
    steps = int(train().cardinality())  # batches per epoch

    # The learning-rate range test: raise the rate every step, watch the loss, pick a rate.
    def model(lr):
        m = deep_mlp(shape, 10, depth=cfg.depth)
        return compile_classifier(m, keras.optimizers.SGD(lr, momentum=0.9))

    keras.utils.set_random_seed(cfg.seed)
    rates, losses, suggestion = find_learning_rate(
        model(1e-3),
        train(),
        min_lr=1e-4,
        max_lr=3.0,
        steps=cfg.finder_steps,
        batch_size=cfg.batch_size,
    )
    plots.save(plots.lr_finder(rates, losses, suggestion), out, "lr_finder")

    # Each schedule sized to the run, then one model trained per schedule on the same batches.
    def size(name, **kw):
        return sch.create_schedule(name, cfg.eta0, steps_per_epoch=steps, epochs=epochs, **kw)

    schedules = {
        "constant": cfg.eta0,
        "piecewise": size("piecewise"),
        "exponential": size("exponential"),
        "power c=1": size("power", c=1.0),
        "power c=2": size("power", c=2.0),
        "1cycle": size("1cycle"),
        "performance": cfg.eta0,
    }
    schedules = {k: schedules[k] for k in cfg.schedules}
    loggers = {k: LearningRateLogger() for k in schedules}

    def callbacks(name):
        extra = [sch.performance_scheduling(0.5, patience=1)] if name == "performance" else []
        return [loggers[name], *extra]

    builds = {k: (lambda s=s: model(s)) for k, s in schedules.items()}
    _, hist = train_variants(
        builds,
        train,
        val,
        epochs=epochs,
        cfg=cfg,
        folder=out / "train",
        callbacks=callbacks,
    )
    plots.save(
        plots.curves(
            {k: lg.rates for k, lg in loggers.items()},
            xlabel="step",
            ylabel="learning rate",
            title="Learning rate per step",
            logy=True,
        ),
        out,
        "learning_rates",
    )
    plots.save(
        plots.curves(
            {k: h["val_loss"] for k, h in hist.items()},
            ylabel="validation loss",
            title="Schedules, SGD + momentum",
        ),
        out,
        "val_loss",
    )
    metrics = {
        "lr_finder_suggestion": suggestion,
        "val_loss": final(hist, "val_loss"),
        "val_accuracy": final(hist, "val_accuracy"),
        "best_val_accuracy": max(final(hist, "val_accuracy").values()),
        "final_learning_rate": {k: lg.rates[-1] for k, lg in loggers.items()},
        "best": min(hist, key=lambda k: hist[k]["val_loss"][-1]),
    }

    # The notes' worked examples: 003's decay rules, 000's piecewise constant schedule.
    metrics["notes_examples"] = notes_examples.schedule_examples(out)

    # The claims: the decaying schedules end well below eta0; the notes' worked examples.
    ex, final_lr = metrics["notes_examples"], metrics["final_learning_rate"]
    claims = [
        labkit.claim(
            f"The {name} schedule ends at most {share} of eta0",
            final_lr[name] <= share * cfg.eta0,
            final_lr=final_lr[name],
            eta0=cfg.eta0,
        )
        for name, share in (("exponential", 0.5), ("1cycle", 0.1))
        if name in final_lr
    ]
    want = [0.1, 0.0667, 0.05, 0.04]  # notes 003: eta0 / (1 + decay_rate * epoch), eta0 = 0.2
    got = ex["per_epoch"]["1/(1 + epoch) eta0"][:4]
    claims.append(
        labkit.within(
            "The 1/(1 + epoch) decay reproduces the notes' 0.1, 0.0667, 0.05, 0.04 (eta0 = 0.2)",
            round(max(abs(a - b) for a, b in zip(got, want)), 6),
            1e-4,
        )
    )
    drop = (ex["piecewise_epoch_50"], ex["piecewise_epoch_51"])
    claims.append(
        labkit.claim(
            "The notes' piecewise constant schedule drops from 0.1 to 0.001 after epoch 50",
            drop == (0.1, 0.001),
            rates_epochs_50_51=drop,
        )
    )
    metrics["claims"] = claims  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
