"""
Title: Nonsaturating activation functions compared
Unit: III
Notes: 000 (Unit III: ReLU, leaky ReLU, RReLU, PReLU, ELU, SELU), 002 (activation table), 004
Description: Trains the same deep MLP on the 8x8 digits with sigmoid, ReLU, leaky ReLU
(alpha 0.01 and 0.2), randomized leaky ReLU (dlcourse's RReLU layer), parametric leaky ReLU,
ELU and SELU (with LeCun normal initialization), each with the initializer the notes' table
gives it, and compares validation accuracy curves. Also counts "dead" ReLU units (never active
on the validation set) after training.
Lesson: In a deep network a saturating sigmoid stalls where nonsaturating activations (ReLU
and its variants, ELU, SELU) with their matching initialization train well.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.layers.initializers import initializer_for
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)

ACTIVATIONS = {  # label -> (deep_mlp activation, initializer row of the notes' table)
    "sigmoid": ("sigmoid", "sigmoid"),
    "ReLU": ("relu", "relu"),
    "leaky ReLU 0.01": ("leaky_relu_0.01", "relu"),
    "leaky ReLU 0.2": ("leaky_relu_0.2", "relu"),
    "RReLU": ("rrelu", "relu"),
    "PReLU": ("prelu", "relu"),
    "ELU": ("elu", "elu"),
    "SELU": ("selu", "selu"),
}


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    depth: int = arg(8, "hidden layers", check="positive")
    units: int = arg(64, "units per hidden layer", check="positive")
    epochs: int = arg(8, "training epochs per activation", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    learning_rate: float = arg(0.01, "SGD(momentum=0.9) learning rate", check="positive")
    n_train: int = arg(
        0, "first training (and validation) examples used; 0 = all", check="non_negative"
    )
    activations: tuple[str, ...] = arg(
        tuple(ACTIVATIONS), "activations compared", choices=tuple(ACTIVATIONS)
    )

    QUICK = labkit.quick(n_train=256, epochs=1, depth=3, activations=("sigmoid", "ReLU", "RReLU"))


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the loader's 8x8 digits; a fresh training pipeline per variant, so every
    # variant sees the same batches in the same order.
    n = cfg.n_train or None
    train, val = variant_data(
        "digits", batch_size=cfg.batch_size, seed=cfg.seed, take=n, eval_take=n
    )

    shape = val.element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1] (scaled by the loader)
    depth = cfg.depth

    # One builder per activation, each with its initializer from the notes' table.
    def builder(act, init_row):
        def build():
            model = deep_mlp(
                shape,
                10,
                depth=depth,
                units=cfg.units,
                activation=act,
                kernel_initializer=initializer_for(init_row),
            )
            return compile_classifier(model, keras.optimizers.SGD(cfg.learning_rate, 0.9))

        return build

    builds = {k: builder(*ACTIVATIONS[k]) for k in cfg.activations}

    # Every activation trains with the same optimizer, epochs and batches.
    models, hist = train_variants(
        builds, train, val, epochs=cfg.epochs, cfg=cfg, folder=out / "train"
    )

    # Results: validation curves, dead ReLUs, and the slopes PReLU learned.
    plots.save(
        plots.curves(
            {k: h["val_accuracy"] for k, h in hist.items()},
            ylabel="validation accuracy",
            title=f"{depth}-layer MLP, digits",
        ),
        out,
        "val_accuracy",
    )
    metrics = {
        "val_accuracy": final(hist, "val_accuracy"),
        "best_val_accuracy": max(final(hist, "val_accuracy").values()),
        "train_loss": final(hist, "loss"),
        "train_time_s": {k: h["time_s"][-1] for k, h in hist.items()},
        "best": max(hist, key=lambda k: hist[k]["val_accuracy"][-1]),
    }
    if "ReLU" in models:  # units that output 0 for every validation digit
        metrics["dead_relu_fraction"] = _dead_fraction(models["ReLU"], data.arrays(val)[0], depth)
    if "PReLU" in models:  # the slopes PReLU learned (started at 0)
        alphas = models["PReLU"].get_layer("act1").get_weights()[0]
        metrics["prelu_mean_alpha_layer1"] = round(float(np.mean(alphas)), 4)

    # The claims: ReLU and leaky ReLU train where the sigmoid stalls (validation accuracy).
    acc = metrics["val_accuracy"]
    metrics["claims"] = [
        labkit.beats(
            f"{name} (He initialization) beats sigmoid (Glorot) by at least 30 points of "
            "validation accuracy in the deep network",
            acc[name], acc["sigmoid"], 0.30, needs_defaults=True,
        )
        for name in ("ReLU", "leaky ReLU 0.2")
        if {name, "sigmoid"} <= set(acc)
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def _dead_fraction(model: keras.Model, x: np.ndarray, depth: int) -> float:
    """Fraction of ReLU units that output 0 for every validation example."""
    # The outputs on x of the layers act1 ... act{depth} (one keras.Model from model.input to
    # all of them), and `dead`: per layer, one boolean per unit, True where the unit outputs 0
    # for every example of x.
    ### BEGIN SOLUTION
    outs = [model.get_layer(f"act{i}").output for i in range(1, depth + 1)]
    acts = keras.Model(model.input, outs)(x)
    dead = [np.all(np.asarray(a) <= 0, axis=0) for a in acts]
    ### END SOLUTION
    return round(float(np.mean(np.concatenate(dead))), 4)


### BEGIN HIDDEN TESTS
def check_dead_fraction(ns: dict) -> dict:
    """_dead_fraction counts the ReLU units that are 0 on every example, on a fresh network."""
    rng = np.random.default_rng()
    depth, n_in, m = int(rng.integers(2, 5)), int(rng.integers(3, 12)), int(rng.integers(5, 40))
    widths = [int(w) for w in rng.integers(4, 17, size=depth)]
    inputs = keras.Input((n_in,))
    h = inputs
    for i, w in enumerate(widths, 1):
        h = keras.layers.Dense(w, name=f"dense{i}")(h)
        h = keras.layers.Activation("relu", name=f"act{i}")(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    for i, w in enumerate(widths, 1):  # kill a random subset of each layer's units
        layer = model.get_layer(f"dense{i}")
        kernel, bias = layer.get_weights()
        bias = rng.normal(0.0, 0.3, w).astype("float32")  # no pre-activation exactly 0
        killed = rng.random(w) < 0.3
        killed[rng.integers(w)] = True  # at least one per layer
        bias[killed] = -100.0  # dead: negative on every input in [0, 1)
        layer.set_weights([kernel, bias])
    x = rng.random((m, n_in)).astype("float32")
    a, dead = x, []  # the forward pass in NumPy
    for kernel, bias in zip(model.get_weights()[0:-2:2], model.get_weights()[1:-2:2]):
        a = np.maximum(a @ kernel + bias, 0.0)
        dead.append(np.all(a <= 0, axis=0))
    want = round(float(np.mean(np.concatenate(dead))), 4)
    got = ns["_dead_fraction"](model, x, depth)
    return labkit.within(
        f"_dead_fraction finds NumPy's fraction of dead ReLU units ({want}) in a fresh "
        f"{widths} network on {m} random inputs (|difference|)",
        abs(got - want), 1e-9, got=got, want=want,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
