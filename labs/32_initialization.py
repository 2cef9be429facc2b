"""
Title: Weight initialization: symmetry breaking, the 250-inputs demonstration and the notes' table
Unit: III
Notes: 000 (Unit III: weight initialization, Xavier/Glorot, He, table 11-1), 004 (parameter
initialization strategies: break symmetry)
Description: Reproduces the notes' demonstration (250 inputs equal to 1, weights from N(0, 1):
sigma(z) = sqrt(250) = 15.811, so a sigmoid saturates) and how Glorot and He initialization
bring sigma(z) back near 1. Checks every row of the initialization table (logistic, tanh,
ReLU; uniform r and normal sigma) against the Keras initializers dlcourse builds for it, then
trains a deep tanh/sigmoid/ReLU network with N(0, 1) weights versus the table's initializer.
With tanh and ReLU the table's initializer is what makes the deep network train at all; a deep
sigmoid network stays hard to train either way (its outputs are not centred on 0, so the layers
above still saturate): lab 30 shows the cures, ReLU with He initialization and batch norm.
Symmetry breaking (notes 004): a small tanh network whose hidden weights all start at the same
constant, trained on the same batches as the same network with the table's random initializer.
Units with equal incoming and outgoing weights compute the same output and receive the same
gradient, so the first hidden layer's units stay exactly identical however long it trains: the
network has in effect one unit per layer and stays near chance. The last hidden layer's units do
drift apart, slowly, because the output layer above them is random (Keras's default), so their
outgoing weights, and hence their gradients, differ: symmetry breaks only where something differs.
Lesson: Equal initial weights keep a layer's hidden units identical (they get the same
gradient), so weights must start random; N(0, 1) weights make a neuron's input spread grow with
its fan-in until the activation saturates; Glorot and He initialization scale the weights to the
fan-in, which is what lets a deep tanh or ReLU network train.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import labkit, plots
from dlcourse.labkit import arg
from dlcourse.layers import initializers as inits
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    n_inputs: int = arg(
        250, "inputs of the demonstration neuron (all equal to 1)", check="positive"
    )
    n_trials: int = arg(20000, "weight draws for the empirical sigma(z)", check="positive")
    depth: int = arg(8, "hidden layers of the trained networks", check="positive")
    units: int = arg(64, "units per hidden layer", check="positive")
    epochs: int = arg(10, "training epochs per network", check="positive")
    learning_rate: float = arg(0.01, "SGD(momentum=0.9) learning rate", check="positive")
    constant: float = arg(
        0.05, "every hidden weight of the symmetric network starts at this value", check="positive"
    )
    symmetry_depth: int = arg(2, "hidden layers of the symmetry networks (tanh)", check="positive")
    n_train: int = arg(
        0, "first training (and validation) examples used; 0 = all", check="non_negative"
    )
    activations: tuple[str, ...] = arg(
        ("sigmoid", "tanh", "relu"), "activations trained, each with N(0,1) and with its "
        "table initializer", choices=("sigmoid", "tanh", "relu"),
    )  # fmt: skip

    QUICK = labkit.quick(n_trials=2000, n_train=256, epochs=1, depth=3, activations=("tanh",))


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    trials = cfg.n_trials

    # The spread of z = sum w_i x_i for one neuron with n inputs equal to 1, for N(0,1),
    # Glorot and He weights; and the notes' initializer table against Keras's draws.
    spread = {
        k: round(inits.z_spread(cfg.n_inputs, trials, k, cfg.seed), 3)
        for k in ("standard", "glorot", "he")
    }
    z = np.random.default_rng(cfg.seed).standard_normal((trials, cfg.n_inputs)).sum(1)
    sig = 1 / (1 + np.exp(-z))
    metrics: dict = {
        "sigma_z": spread,
        "sigma_z_theory_standard": round(float(np.sqrt(cfg.n_inputs)), 3),
        "saturated_fraction_standard": round(float(np.mean((sig < 0.01) | (sig > 0.99))), 4),
        "table": _table_check(cfg.seed),
    }

    # Training: a deep MLP per activation, with N(0,1) and with the table's initializer, on
    # the loader's digits (a fresh training pipeline per variant: the same batches for all).
    n = cfg.n_train or None
    train, val = variant_data("digits", batch_size=32, seed=cfg.seed, take=n, eval_take=n)

    shape = val.element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1] (scaled by the loader)

    def builder(act, init, depth=cfg.depth):
        def build():
            model = deep_mlp(
                shape,
                10,
                depth=depth,
                units=cfg.units,
                activation=act,
                kernel_initializer=init,
            )
            return compile_classifier(model, keras.optimizers.SGD(cfg.learning_rate, 0.9))

        return build

    builds = {}
    for act in cfg.activations:
        builds[f"{act}, N(0,1)"] = builder(act, keras.initializers.RandomNormal(0.0, 1.0))
        builds[f"{act}, table"] = builder(act, inits.initializer_for(act))
    _, hist = train_variants(builds, train, val, epochs=cfg.epochs, cfg=cfg, folder=out / "train")
    metrics["val_accuracy"] = final(hist, "val_accuracy")
    metrics["best_val_accuracy"] = max(metrics["val_accuracy"].values())

    # Symmetry breaking: a small tanh network whose hidden weights all start at one constant
    # (the output layer keeps Keras's random default), and the same network with the table's
    # random initializer, on the same batches. The spread of a layer is the largest difference
    # between two of its units' incoming weights (or biases): 0 means identical units.
    sym_builds = {
        "constant": builder("tanh", keras.initializers.Constant(cfg.constant), cfg.symmetry_depth),
        "random": builder("tanh", inits.initializer_for("tanh"), cfg.symmetry_depth),
    }
    sym_models, sym_hist = train_variants(
        sym_builds, train, val, epochs=cfg.epochs, cfg=cfg, folder=None
    )
    metrics["symmetry"] = {
        k: {
            "unit_spread": _unit_spread(m),  # per hidden layer, after training
            "val_accuracy": round(float(sym_hist[k]["val_accuracy"][-1]), 4),
        }
        for k, m in sym_models.items()
    }
    first_units = {
        f"{k}, unit {j + 1}": m.get_layer("hidden1").get_weights()[0][:, j]
        for k, m in sym_models.items()
        for j in range(4)
    }
    plots.save(
        plots.weight_images(
            first_units, shape[:2], title="First hidden layer after training: incoming weights"
        ),
        out,
        "symmetry_units",
    )

    # Results: validation curves, and sigma(z) of the demonstration per initialization.
    plots.save(
        plots.curves(
            {k: h["val_accuracy"] for k, h in hist.items()},
            ylabel="validation accuracy",
            title="N(0,1) vs table initializers",
        ),
        out,
        "val_accuracy",
    )
    plots.save(
        plots.bars(spread, title=f"sigma(z), {cfg.n_inputs} inputs equal to 1", ylabel="std of z"),
        out,
        "sigma_z",
    )

    # The claims: the notes' worked example (sigma(z) = sqrt(250)), the table against Keras's
    # initializers, equal weights keeping the units identical (and the network near chance),
    # and the table's initializer beating N(0, 1) in training.
    rel = [abs(r["keras"] - r["formula"]) / r["formula"] for r in metrics["table"].values()]
    acc = metrics["val_accuracy"]
    claims = [
        labkit.within(
            "With N(0,1) weights and 250 inputs equal to 1, sigma(z) matches the notes' "
            "sqrt(250) = 15.811 within 3% (most sigmoid outputs saturate)",
            round(abs(spread["standard"] / metrics["sigma_z_theory_standard"] - 1), 4),
            0.03,
            saturated_fraction=metrics["saturated_fraction_standard"],
        ),
        labkit.within(
            "Keras's draws match every row of the notes' initialization table (r or sigma) "
            "within 2%",
            round(max(rel), 4),
            0.02,
        ),
    ]
    sym = metrics["symmetry"]
    equal, random = sym["constant"]["unit_spread"][0], sym["random"]["unit_spread"][0]
    claims += [
        labkit.claim(
            "Trained from equal weights, the first hidden layer's units are still identical "
            "(largest spread of their incoming weights at most 1e-6), while the random "
            "initializer's units differ by at least 0.1",
            equal <= 1e-6 and random >= 0.1,
            spread_constant=equal,
            spread_random=random,
        ),
        labkit.beats(
            "The network with random initial weights beats the same network started from equal "
            "weights by at least 50 points of validation accuracy",
            sym["random"]["val_accuracy"],
            sym["constant"]["val_accuracy"],
            0.5,
            needs_defaults=True,
        ),
    ]
    for act in ("tanh", "relu"):
        if f"{act}, table" in acc:
            claims.append(
                labkit.beats(
                    f"The deep {act} network with the table's initializer beats the same network "
                    "with N(0,1) weights by at least 20 points of validation accuracy",
                    acc[f"{act}, table"],
                    acc[f"{act}, N(0,1)"],
                    0.20,
                    needs_defaults=True,
                )
            )
    metrics["claims"] = claims  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def _unit_spread(model: keras.Model) -> list[float]:
    """Per hidden layer: max over inputs of (max - min over units) of the incoming weights."""
    spreads = []
    for layer in model.layers:
        if layer.name.startswith("hidden"):
            # The layer's spread: its kernel (inputs, units) with the bias as one more row; per
            # row the largest minus the smallest value across the units; append the largest of
            # those (rounded to 8 decimals) to `spreads`. 0: every unit has the same weights.
            ### BEGIN SOLUTION
            kernel, bias = layer.get_weights()  # (inputs, units), (units,)
            w = np.vstack([kernel, bias[None]])
            spreads.append(round(float((w.max(axis=1) - w.min(axis=1)).max()), 8))
            ### END SOLUTION
    return spreads


def _table_check(seed: int, n_in: int = 300, n_out: int = 100) -> dict:
    """Largest |w| (uniform) or std (normal) of 30,000 draws vs the table's r or sigma."""
    rows = {}
    for act in ("sigmoid", "tanh", "relu"):
        for dist in ("uniform", "normal"):
            w = np.asarray(inits.initializer_for(act, dist, seed=seed)((n_in, n_out)))
            # `got`: the statistic of the draw `w` that the table's value predicts: its largest
            # |w| for uniform [-r, r], its standard deviation for normal N(0, sigma).
            ### BEGIN SOLUTION
            got = float(np.abs(w).max() if dist == "uniform" else w.std())
            ### END SOLUTION
            want = inits.table_value(act, dist, n_in, n_out)
            rows[f"{act}_{dist}"] = {"formula": round(want, 4), "keras": round(got, 4)}
    return rows


### BEGIN HIDDEN TESTS
def check_unit_spread(ns: dict) -> dict:
    """_unit_spread finds NumPy's spread of every hidden layer, on a fresh network whose layers
    start equal (spread 0) or random."""
    rng = np.random.default_rng()
    depth, n_in = int(rng.integers(2, 5)), int(rng.integers(3, 10))
    equal = [bool(e) for e in rng.random(depth) < 0.5]
    equal[0], equal[-1] = True, False  # both kinds in every draw
    model = keras.Sequential([keras.Input((n_in,))])
    for i, eq in enumerate(equal, 1):
        init = keras.initializers.Constant(float(rng.uniform(-1, 1))) if eq else "glorot_uniform"
        model.add(keras.layers.Dense(int(rng.integers(2, 9)), name=f"hidden{i}",
                                     kernel_initializer=init, bias_initializer=init))  # fmt: skip
    model.add(keras.layers.Dense(3, name="output"))
    want = []
    for i in range(1, depth + 1):
        w = np.vstack([model.get_layer(f"hidden{i}").get_weights()[0],
                       model.get_layer(f"hidden{i}").get_weights()[1][None]])  # fmt: skip
        want.append(round(float(np.ptp(w, axis=1).max()), 8))
    got = ns["_unit_spread"](model)
    error = max(abs(g - w) for g, w in zip(got, want)) if len(got) == depth else float("inf")
    return labkit.within(
        f"_unit_spread finds NumPy's spread of every hidden layer of a fresh network whose "
        f"layers start equal or random ({['equal' if e else 'random' for e in equal]}; max "
        "|difference|)",
        error, 1e-7, got=got, want=want,
    )  # fmt: skip


def check_table_check(ns: dict) -> dict:
    """_table_check measures each draw's largest |w| (uniform) or std (normal), on a fresh seed
    and fresh fan-in and fan-out."""
    rng = np.random.default_rng()
    seed, n_in, n_out = (int(rng.integers(1 << 20)), int(rng.integers(150, 400)),
                         int(rng.integers(150, 300)))  # fmt: skip
    got = ns["_table_check"](seed, n_in, n_out)
    errors = {}
    for act in ("sigmoid", "tanh", "relu"):
        for dist in ("uniform", "normal"):
            w = np.asarray(inits.initializer_for(act, dist, seed=seed)((n_in, n_out)))
            want = float(np.abs(w).max() if dist == "uniform" else w.std())
            errors[f"{act}_{dist}"] = round(abs(got[f"{act}_{dist}"]["keras"] - want), 7)
    return labkit.within(
        f"_table_check measures each of Keras's ({n_in}, {n_out}) draws by its largest |w| "
        "(uniform) or its standard deviation (normal), like NumPy on the same draws (largest "
        "|difference|; the lab rounds to 4 decimals)",
        max(errors.values()), 1e-4, errors=errors,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
