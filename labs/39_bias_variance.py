"""
Title: Bias and variance: the learning curve (more data) and the capacity curve (bigger network)
Unit: III
Notes: 003 (bias and variance: more data for variance, a bigger network for bias), 000 (Unit
III: bias and variance, the notes' table of remedies), 004 (more data generalizes better)
Description: Trains one MLP (a hidden layer of 128 ReLU units, Adam) on growing slices of
mnist5k (the first 250, 500, 1,000, 2,000 and all 3,500 training digits) and plots training and
validation error against the size of the slice: the learning curve. Every network takes the
same number of gradient steps (about 500 mini-batches: 125 epochs of 250 digits, 9 of 3,500),
so the runs differ only in how many distinct digits those steps come from, and every run fits
its training digits (nearly 100 % training accuracy). Then the same network with 2, 8, 32 and 128
hidden units on all 3,500 digits, the same number of steps: the capacity curve. Training
accuracy is measured after training, on the training digits, like validation accuracy. Each
run is diagnosed with the notes' table (``bias_variance``). Not claimed: that the gap shrinks
at every doubling of the data (it did on every seed tried, but at some doublings by only a few
validation digits), nor anything about the validation error of the widest
networks (32 and 128 units differ by a few validation digits).
Lesson: More data lowers variance: the same network fitted on 3,500 digits instead of 250
generalizes better and its train-validation gap shrinks. A bigger network lowers bias: with
2 hidden units the MLP cannot even fit its training digits, with 128 it fits them.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import itertools
from dataclasses import dataclass

import keras

from dlcourse import labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.plots.training import train_val_curve
from dlcourse.training import diagnostics as diag
from dlcourse.training.variants import train_variants, variant_data

LAB = labkit.lab_name(__file__)
MNIST5K_TRAIN = 3500  # training digits of mnist5k


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    sizes: tuple[int, ...] = arg(
        (250, 500, 1000, 2000, 3500),
        "training-set sizes of the learning curve (the first digits of mnist5k's training split)",
        check=(1, MNIST5K_TRAIN),
    )
    units: int = arg(128, "hidden units of the learning curve's network", check="positive")
    widths: tuple[int, ...] = arg(
        (2, 8, 32, 128), "hidden units of the capacity curve's networks", check="positive"
    )
    capacity_n: int = arg(3500, "training digits of the capacity curve", check=(1, MNIST5K_TRAIN))
    steps: int = arg(
        500,
        "gradient steps per network, the same for every run (rounded to whole epochs)",
        check="positive",
    )
    batch_size: int = arg(64, "mini-batch size", check="positive")
    learning_rate: float = arg(2e-3, "Adam's learning rate", check="positive")
    n_val: int = arg(0, "first validation digits used; 0 = all 500", check="non_negative")

    QUICK = labkit.quick(
        sizes=(64, 128), units=16, widths=(2, 16), capacity_n=128, steps=6, n_val=128
    )


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: for each training-set size, the first n of mnist5k's training digits (a fresh,
    # seeded pipeline per run, so runs on the same slice see the same batches); one validation
    # split for every run.
    slices = {
        n: variant_data(
            "mnist5k", batch_size=cfg.batch_size, seed=cfg.seed, take=n, eval_take=cfg.n_val or None
        )
        for n in {*cfg.sizes, cfg.capacity_n}
    }
    val = slices[cfg.capacity_n][1]

    # The runs: (training digits, hidden units) for both curves; the one they share (all the
    # digits, the widest network) is trained once. Every run starts from the same seed and takes
    # about `steps` gradient steps, whatever the size of its slice.
    runs = sorted({(n, cfg.units) for n in cfg.sizes} | {(cfg.capacity_n, w) for w in cfg.widths})

    def build(width):
        model = deep_mlp(val.element_spec[0].shape[1:], 10, depth=1, units=width)
        return compile_classifier(model, keras.optimizers.Adam(cfg.learning_rate))

    # Training, then accuracy on the training digits and on the validation digits, both
    # measured after training (inference mode).
    results = {}
    for n, width in runs:
        train = slices[n][0]
        epochs = max(1, round(cfg.steps / -(-n // cfg.batch_size)))
        models, _ = train_variants(
            {f"{n} digits, {width} units": lambda w=width: build(w)},
            train,
            None,
            epochs=epochs,
            cfg=cfg,
            folder=None,
        )
        model = next(iter(models.values()))
        results[n, width] = _scores(model, train(), val, epochs, n, cfg.batch_size)

    # The learning curve (more data) and the capacity curve (more units): training and
    # validation error against the setting, the gap between them shaded.
    curve = {n: results[n, cfg.units] for n in cfg.sizes}
    capacity = {w: results[cfg.capacity_n, w] for w in cfg.widths}
    for name, points, xlabel, title in (
        (
            "learning_curve",
            curve,
            f"training digits ({cfg.units} hidden units)",
            "Learning curve: more data, a smaller gap",
        ),
        (
            "capacity_curve",
            capacity,
            f"hidden units ({cfg.capacity_n} training digits)",
            "Capacity curve: more units, a lower training error",
        ),
    ):
        fig = train_val_curve(
            list(points),
            [p["train_error"] for p in points.values()],
            [p["val_error"] for p in points.values()],
            xlabel=xlabel,
            ylabel="error (1 - accuracy)",
            title=title,
        )
        plots.save(fig, out, name)

    # The claims: from the smallest to the largest slice the gap shrinks and validation
    # accuracy rises; from the narrowest to the widest network the training error falls, and
    # it falls at every widening.
    small, large = curve[min(cfg.sizes)], curve[max(cfg.sizes)]
    narrow, wide = capacity[min(cfg.widths)], capacity[max(cfg.widths)]
    errors = [capacity[w]["train_error"] for w in sorted(cfg.widths)]
    drops = [a - b for a, b in itertools.pairwise(errors)]  # per widening
    metrics: dict = {
        "learning_curve": {str(n): p for n, p in curve.items()},
        "capacity_curve": {str(w): p for w, p in capacity.items()},
        "training_error_drop_per_widening": [round(d, 4) for d in drops],
    }
    metrics["claims"] = [
        labkit.beats(
            f"More data, less variance: the train-validation accuracy gap on {min(cfg.sizes)} "
            f"digits exceeds the gap on {max(cfg.sizes)} digits by at least 0.05 (same network, "
            "same number of steps)",
            small["gap"],
            large["gap"],
            0.05,
            needs_defaults=True,
        ),
        labkit.beats(
            f"More data, better generalization: validation accuracy on {max(cfg.sizes)} digits "
            f"beats that on {min(cfg.sizes)} digits by at least 0.05",
            large["val_accuracy"],
            small["val_accuracy"],
            0.05,
            needs_defaults=True,
        ),
        labkit.beats(
            f"A bigger network, less bias: training error with {min(cfg.widths)} hidden units "
            f"exceeds that with {max(cfg.widths)} units by at least 0.3",
            narrow["train_error"],
            wide["train_error"],
            0.3,
            needs_defaults=True,
        ),
        labkit.at_least(
            "Every widening lowers the bias: training error falls at each step of "
            f"{' -> '.join(map(str, sorted(cfg.widths)))} hidden units, by at least 0.01 (smallest step)",
            round(min(drops), 4) if drops else 0.0,
            0.01,
            needs_defaults=True,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


def _scores(model, train, val, epochs: int, n: int, batch_size: int) -> dict:
    """Training and validation accuracy and error after training, their gap and the notes'
    diagnosis (``bias_variance``), and how long the run trained."""
    tr = float(model.evaluate(train, verbose=0, return_dict=True)["accuracy"])
    va = float(model.evaluate(val, verbose=0, return_dict=True)["accuracy"])
    return {
        "train_accuracy": round(tr, 4),
        "val_accuracy": round(va, 4),
        "train_error": round(1 - tr, 4),
        "val_error": round(1 - va, 4),
        "gap": round(tr - va, 4),
        "diagnosis": diag.bias_variance(1 - tr, 1 - va)["diagnosis"],
        "epochs": epochs,
        "steps": epochs * -(-n // batch_size),
    }


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
