"""
Title: Faster optimizers compared on one model
Unit: III
Notes: 000 (Unit III: momentum, Nesterov, AdaGrad, RMSProp, Adam; gradient clipping), 003, 004
Description: Trains the same MLP from the same initial weights on the 8x8 digits with every
optimizer of dlcourse's factory (SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, Nadam,
AdaMax, AdamW) and with momentum plus gradient clipping by norm, and draws all learning curves
in one figure. The NumPy versions of the update rules (dlcourse.scratch.optimizers) are
checked step by step against these Keras optimizers in the tests.
Two lessons need a problem where the optimum is known, so they are shown with Keras's own
optimizers on the notes' elongated quadratic bowl J = (theta1^2 + 100 theta2^2) / 2, from
(10, 1), deterministically. Nesterov vs momentum (beta 0.9, learning rate 0.01, so the steep
axis's curvature times the rate is 1): plain momentum overshoots across the steep axis and
zigzags there for the whole run (its swing shrinks only by sqrt(beta) = 0.95 per step), while
Nesterov's look-ahead gradient damps that swing within a few steps (by sqrt(beta (1 - rate x
curvature)) per step, whatever the rate): the notes' "control overshooting by looking ahead".
Along the flat axis both decay at about the same rate, so where Nesterov's J first falls below
1e-6 of its start sooner than momentum's, that is partly because its slow swing along the flat
axis happens to cross the minimum then (metrics ``bowl``, not claimed). Nesterov's stable
range is smaller (past a rate of about 1.36 / curvature it diverges where momentum does not).
AdaGrad vs RMSProp (learning rate 0.1): AdaGrad divides by the root of the sum of every squared
gradient since the start, which only grows, so its steps shrink to a few percent of the first
and it stalls far from the optimum; RMSProp divides by a moving average of recent squared
gradients, keeps stepping at about the learning rate and reaches the optimum, where it jitters
at that scale. On the digits MLP of this lab AdaGrad does not visibly stall within a few epochs
(it starts with large per-weight rates), so the lab claims the stall only on the bowl.
Lesson: From the same initial weights and batches, momentum and adaptive optimizers such as
Adam learn much faster than plain SGD; Nesterov's look-ahead damps momentum's zigzag, and
AdaGrad's ever-growing sum of squared gradients stalls it where RMSProp keeps moving.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np

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
    epochs: int = arg(6, "training epochs per optimizer", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    clipnorm: float = arg(1.0, "clip threshold of the 'momentum + clipnorm' run", check="positive")
    target: float = arg(0.9, "validation accuracy of the time-to-accuracy metric", check=(0, 1))
    n_train: int = arg(
        0, "first training (and validation) examples used; 0 = all", check="non_negative"
    )
    bowl_steps: int = arg(200, "steps of each optimizer on the quadratic bowl", check="positive")
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

    # The notes' elongated bowl J = (theta1^2 + 100 theta2^2) / 2 (minimum at 0): Keras's
    # optimizers step on it from (10, 1) with the exact gradient; momentum vs Nesterov at a rate
    # of 1 / (largest curvature), AdaGrad vs RMSProp at 0.1. Deterministic.
    bowl = {
        "momentum": keras.optimizers.SGD(0.01, momentum=0.9),
        "nesterov": keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        "adagrad": keras.optimizers.Adagrad(0.1),
        "rmsprop": keras.optimizers.RMSprop(0.1),
    }
    paths = {k: _bowl_path(opt, cfg.bowl_steps) for k, opt in bowl.items()}
    plots.save(
        plots.curves(
            {k: 0.5 * (p**2 * BOWL).sum(axis=1) for k, p in paths.items()},
            xlabel="step",
            ylabel="J (theta)",
            title="Elongated bowl J = (theta1^2 + 100 theta2^2) / 2",
            logy=True,
        ),
        out,
        "bowl_loss",
    )
    metrics["bowl"] = {k: _bowl_summary(p) for k, p in paths.items()}

    # The notes' worked examples: 003's exponentially weighted averages, 000's terminal velocity.
    metrics["notes_examples"] = notes_examples.optimizer_examples(out, cfg.seed)

    # The claims: after one epoch momentum and Adam are well ahead of plain SGD; on the bowl,
    # Nesterov damps the zigzag momentum keeps and AdaGrad stalls where RMSProp arrives; momentum's terminal velocity is the notes' 1 / (1 - beta) = 10 times the plain
    # step.
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
    b = metrics["bowl"]
    claims.append(
        labkit.claim(
            "On the elongated bowl, Nesterov damps momentum's zigzag across the steep axis: "
            "after 20 steps its largest swing there is at least 100 times smaller than plain "
            "momentum's (same rate 0.01, beta 0.9)",
            100 * b["nesterov"]["steep_swing_after_20"] <= b["momentum"]["steep_swing_after_20"],
            nesterov=b["nesterov"]["steep_swing_after_20"],
            momentum=b["momentum"]["steep_swing_after_20"],
        )
    )
    claims.append(
        labkit.claim(
            f"On the elongated bowl, AdaGrad stalls: after {cfg.bowl_steps} steps at rate 0.1 "
            "its steps have shrunk below a tenth of its first and it is at least 10 times "
            "farther from the minimum than RMSProp",
            b["adagrad"]["last_step_over_first"] < 0.1
            and b["adagrad"]["final_distance"] >= 10 * b["rmsprop"]["final_distance"],
            adagrad=b["adagrad"],
            rmsprop=b["rmsprop"],
        )
    )
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


BOWL = np.array([1.0, 100.0], "float32")  # the bowl's curvatures: J = sum(BOWL * theta**2) / 2


def _bowl_path(optimizer: keras.optimizers.Optimizer, steps: int) -> np.ndarray:
    """theta at every step of ``optimizer`` on the bowl from (10, 1): shape (steps + 1, 2)."""
    theta = keras.Variable(np.array([10.0, 1.0], "float32"))
    path = [theta.numpy()]
    for _ in range(steps):
        optimizer.apply_gradients([(BOWL * theta.value, theta)])  # grad J = BOWL * theta
        path.append(theta.numpy())
    return np.array(path)


def _bowl_summary(path: np.ndarray) -> dict:
    """Steps until J < 1e-6 of its start (None: never), the largest |theta2| (the steep axis)
    after step 20, the final distance to the minimum and the last step's length over the
    first's."""
    loss = 0.5 * (path**2 * BOWL).sum(axis=1)
    below = np.flatnonzero(loss < 1e-6 * loss[0])
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    return {
        "steps_to_1e-6": int(below[0]) if below.size else None,
        "steep_swing_after_20": round(float(np.abs(path[20:, 1]).max()), 8),
        "final_distance": round(float(np.linalg.norm(path[-1])), 6),
        "last_step_over_first": round(float(steps[-1] / steps[0]), 4),
    }


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
