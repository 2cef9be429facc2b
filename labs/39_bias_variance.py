"""
Title: Bias and variance: the learning curve (more data) and the capacity curve (bigger network)
Unit: III
Notes: 003 (bias and variance: more data for variance, a bigger network for bias, train longer),
000 (Unit III: bias and variance, the notes' table of remedies; Number of hidden layers),
004 (more data generalizes better)
Description: Trains one MLP (a hidden layer of 128 ReLU units, Adam) on growing slices of
mnist5k (the first 250, 500, 1,000, 2,000 and all 3,500 training digits) and plots training and
validation error against the size of the slice: the learning curve. Every network takes the
same number of gradient steps (about 500 mini-batches: 125 epochs of 250 digits, 9 of 3,500),
so the runs differ only in how many distinct digits those steps come from, and every run fits
its training digits (nearly 100 % training accuracy). Then the same network with 2, 8, 32 and 128
hidden units on all 3,500 digits, the same number of steps: the capacity curve. Training
accuracy is measured after training, on the training digits, like validation accuracy. Each
run is diagnosed with the notes' table (``bias_variance``). The widest network, with no
regularizer but the fixed budget of steps, is never worse than the best width by more than a
few validation digits ("a bigger network never hurts"), and its training error, as Keras
reports it per epoch, keeps falling: in the last epoch it is about ten times lower than after
a quarter of the steps ("train longer" lowers the bias; the 2-unit network's barely moves,
its bias is one of capacity). Depth against width (notes 000, Telgarsky 2016): a ReLU network
of 6 hidden layers of 2 units (37 parameters) whose weights are set by hand composes the tent
map 6 times and so computes a sawtooth of 64 linear pieces exactly; a one-hidden-layer ReLU
network with the same 37 parameters (12 units) has at most 13 linear pieces, and fitted with
Adam it stays near the constant 0.5 (mean squared error about 0.085); to have 64 pieces it
would need 63 units. Honest limit: the same deep network trained from random weights with
Adam does not find the sawtooth either (about the same error; reported, not claimed): depth
buys what a network can represent, not what gradient descent finds. Not claimed: that the
gap shrinks at every doubling of the data (it did on every seed tried, but at some doublings
by only a few validation digits), nor that the widest network is the best (32 and 128 units
differ by a few validation digits).
Lesson: More data lowers variance: the same network fitted on 3,500 digits instead of 250
generalizes better and its train-validation gap shrinks. A bigger network lowers bias: with
2 hidden units the MLP cannot even fit its training digits, with 128 it fits them, and the
bigger network does not generalize worse; training longer lowers the bias too. A deep network
computes with a few neurons a function that one hidden layer needs exponentially many for.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import itertools
from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.plots.training import function_fits, train_val_curve
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
    depth: int = arg(
        6, "hidden layers of the width-2 sawtooth network (2**depth linear pieces)", check=(1, 12)
    )
    fit_steps: int = arg(
        150, "Adam steps of the networks fitted to the sawtooth (batches of 256)", check="positive"
    )

    QUICK = labkit.quick(
        sizes=(64, 128), units=16, widths=(2, 16), capacity_n=128, steps=6, n_val=128, depth=3,
        fit_steps=8,
    )  # fmt: skip


def sawtooth(x: np.ndarray, depth: int) -> np.ndarray:
    """The tent map ``t(x) = 1 - |2x - 1|`` composed ``depth`` times on [0, 1]: a sawtooth of
    ``2**depth`` linear pieces, rising and falling between 0 and 1."""
    return 1 - np.abs(2 * np.mod(2.0 ** (depth - 1) * x, 1.0) - 1)


def sawtooth_net(depth: int) -> keras.Sequential:
    """Telgarsky (2016)'s deep ReLU network: ``depth`` hidden layers of 2 ReLU units
    (``6 * depth + 1`` parameters) whose weights, set by hand, compute ``sawtooth(x, depth)``."""
    # Return a keras.Sequential: Input((1,)), `depth` Dense(2, relu) layers, then Dense(1); set
    # their weights (layer.set_weights) so that each hidden layer computes relu(u) and
    # relu(u - 0.5) of u, the tent t = 2 relu(.) - 4 relu(. - 0.5) of the layer before (u = x
    # for the first layer), and the output layer computes the last tent.
    ### BEGIN SOLUTION
    hidden = [keras.layers.Dense(2, activation="relu") for _ in range(depth)]
    model = keras.Sequential([keras.Input((1,)), *hidden, keras.layers.Dense(1)])
    tent = np.array([[2.0], [-4.0]])  # (2, 1): t = 2 h1 - 4 h2
    halves = np.array([0.0, -0.5])  # h1 = relu(u), h2 = relu(u - 0.5)
    for i, layer in enumerate(hidden):
        layer.set_weights([np.ones((1, 2)) if i == 0 else tent @ np.ones((1, 2)), halves])
    model.layers[-1].set_weights([tent, np.zeros(1)])
    return model
    ### END SOLUTION


def linear_pieces(x: np.ndarray, y: np.ndarray) -> int:
    """Linear pieces of a piecewise linear function sampled at ``x``: 1 + the runs of grid
    points where its slope changes by more than 0.01 (float32 rounding moves a slope by about
    1e-4 on the lab's grid; a kink between two grid points shows on two neighbours)."""
    slopes = np.diff(y) / np.diff(x)
    kinks = np.abs(np.diff(slopes)) > 0.01
    return 1 + int(kinks[0]) + int(np.sum(kinks[1:] & ~kinks[:-1]))


def fit_sawtooth(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """Fit ``model`` to ``y`` with Adam (mean squared error, ``steps`` batches of 256); its
    mean squared error on ``x`` afterwards."""
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    epochs = max(1, round(steps / -(-len(x) // 256)))
    model.fit(x, y, batch_size=256, epochs=epochs, verbose=0)
    return float(np.mean((model.predict(x, batch_size=4096, verbose=0)[:, 0] - y) ** 2))


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
        models, histories = train_variants(
            {f"{n} digits, {width} units": lambda w=width: build(w)},
            train,
            None,
            epochs=epochs,
            cfg=cfg,
            folder=None,
        )
        model = next(iter(models.values()))
        results[n, width] = _scores(model, train(), val, epochs, n, cfg.batch_size)
        accuracy = next(iter(histories.values()))["accuracy"]  # per epoch, as Keras reports it
        results[n, width]["epoch_train_error"] = [round(1 - a, 4) for a in accuracy]

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

    # Depth against width (notes 000): the sawtooth of 2**depth linear pieces on a grid that
    # holds all its kinks. The width-2 network of `depth` layers computes it exactly (weights
    # set by hand); a one-hidden-layer ReLU network with as many parameters (3 * units + 1),
    # which can have at most units + 1 linear pieces, is fitted to it with Adam; so is the
    # deep network itself from random weights (what gradient descent finds, not a claim).
    x = np.linspace(0, 1, 2**cfg.depth * 32 + 1)
    target = sawtooth(x, cfg.depth)
    deep = sawtooth_net(cfg.depth)
    units = (deep.count_params() - 1) // 3
    keras.utils.set_random_seed(cfg.seed)
    shallow = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(1)]
    )
    mse = {"shallow": fit_sawtooth(shallow, x, target, cfg.fit_steps)}
    keras.utils.set_random_seed(cfg.seed)
    trained = keras.models.clone_model(deep)  # the same layers, fresh random weights
    mse["deep, trained"] = fit_sawtooth(trained, x, target, cfg.fit_steps)
    nets = {f"depth {cfg.depth}, width 2, weights set": deep,
            f"1 hidden layer of {units}, trained": shallow,
            f"depth {cfg.depth}, width 2, trained": trained}  # fmt: skip
    outputs = {
        k: m.predict(x, batch_size=4096, verbose=0)[:, 0].astype(float) for k, m in nets.items()
    }
    deep_out, shallow_out, _ = outputs.values()
    depth = {
        "depth": cfg.depth,
        "target_pieces": 2**cfg.depth,
        "deep_params": deep.count_params(),
        "shallow_units": units,
        "shallow_params": shallow.count_params(),
        "deep_max_error": float(np.abs(deep_out - target).max()),
        "deep_pieces": linear_pieces(x, deep_out),
        "shallow_pieces": linear_pieces(x, shallow_out),
        "shallow_mse": round(mse["shallow"], 5),
        "trained_deep_mse": round(mse["deep, trained"], 5),
        "trained_deep_pieces": linear_pieces(x, outputs[f"depth {cfg.depth}, width 2, trained"]),
    }
    title = f"A {2**cfg.depth}-piece sawtooth and three ReLU networks of {deep.count_params()} parameters"
    plots.save(function_fits(x, target, outputs, title=title), out, "depth_vs_width")

    # The claims: from the smallest to the largest slice the gap shrinks and validation
    # accuracy rises; from the narrowest to the widest network the training error falls, and
    # it falls at every widening, while the widest network's validation accuracy stays with
    # the best width's; training longer lowers the widest network's training error; the deep
    # width-2 network computes the sawtooth that a shallow one of as many parameters cannot.
    small, large = curve[min(cfg.sizes)], curve[max(cfg.sizes)]
    narrow, wide = capacity[min(cfg.widths)], capacity[max(cfg.widths)]
    errors = [capacity[w]["train_error"] for w in sorted(cfg.widths)]
    drops = [a - b for a, b in itertools.pairwise(errors)]  # per widening
    best = max(capacity, key=lambda w: capacity[w]["val_accuracy"])
    history = wide["epoch_train_error"]
    quarter = max(1, round(len(history) / 4))  # the epoch at a quarter of training (1-based)
    longer = {"epoch": quarter, "at_quarter": history[quarter - 1], "at_end": history[-1]}
    metrics: dict = {
        "learning_curve": {str(n): p for n, p in curve.items()},
        "capacity_curve": {str(w): p for w, p in capacity.items()},
        "training_error_drop_per_widening": [round(d, 4) for d in drops],
        "depth_vs_width": depth,
        "training_longer": longer,
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
        labkit.claim(
            f"A bigger network does not hurt: the widest network ({max(cfg.widths)} units, no "
            "regularizer but the fixed number of steps) has a validation accuracy at most 0.015 "
            "below the best width's",
            wide["val_accuracy"] >= capacity[best]["val_accuracy"] - 0.015,
            needs_defaults=True,
            best_width=best,
            val_accuracy={str(w): p["val_accuracy"] for w, p in capacity.items()},
        ),
        labkit.claim(
            f"Training longer lowers the bias: the {max(cfg.widths)}-unit network's training "
            "error (as Keras reports it, mean over the epoch) is at least 3 times lower in its "
            "last epoch than at a quarter of training",
            longer["at_end"] * 3 <= longer["at_quarter"],
            needs_defaults=True,
            **longer,
        ),
        labkit.claim(
            f"Depth buys linear pieces: a ReLU network of {cfg.depth} hidden layers of 2 units "
            f"({depth['deep_params']} parameters, weights set by hand) computes the sawtooth of "
            f"{2**cfg.depth} linear pieces exactly (as many pieces counted on its outputs, "
            "largest error at most 1e-5)",
            depth["deep_pieces"] == 2**cfg.depth and depth["deep_max_error"] <= 1e-5,
            pieces=depth["deep_pieces"],
            max_error=depth["deep_max_error"],
        ),
        labkit.claim(
            f"One hidden layer with as many parameters ({units} units) cannot follow it: fitted "
            f"with Adam, it shows at most {units + 1} linear pieces on its outputs and a mean "
            "squared error of at least 0.05 (that of the constant 0.5 is 0.083)",
            depth["shallow_pieces"] <= units + 1 and depth["shallow_mse"] >= 0.05,
            needs_defaults=True,
            pieces=depth["shallow_pieces"],
            mse=depth["shallow_mse"],
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


### BEGIN HIDDEN TESTS
def check_sawtooth_net(ns: dict) -> dict:
    """sawtooth_net computes the tent map composed `depth` times, for a fresh depth, with
    `depth` hidden layers of 2 units."""
    rng = np.random.default_rng()
    depth = int(rng.integers(2, 10))
    model = ns["sawtooth_net"](depth)
    x = rng.random(500).astype("float32")
    want = 1 - np.abs(2 * np.mod(2.0 ** (depth - 1) * x.astype(float), 1.0) - 1)
    got = keras.ops.convert_to_numpy(model(x[:, None]))[:, 0]
    widths = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    return labkit.within(
        f"sawtooth_net({depth}) computes the {2**depth}-piece sawtooth on 500 random points "
        f"with {depth} hidden layers of 2 units and one output (largest error at most 1e-3)",
        float(np.abs(got - want).max()) if widths == [2] * depth + [1] else 1e9,
        1e-3,
        widths=widths,
    )


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
