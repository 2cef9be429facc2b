"""
Title: Batch normalization: larger learning rates, and no care for the weights' scale
Unit: III
Notes: 000 (Unit III: batch normalization), 002 (batch normalization), 003 (batch norm), 004
Description: Trains the same deep ReLU MLP (8 hidden layers of 64 units, He initialization,
plain SGD) on mnist5k with and without a keras.layers.BatchNormalization layer before every
activation. First over a sweep of learning rates from 0.03 to 1, then with
the initial hidden weights drawn at half and twice He's scale. Plots the final training loss
and validation accuracy against the learning rate, and the validation accuracy against the
initial weight scale.
Lesson: Batch normalization lets a deep network train at learning rates where the same network
without it diverges, and makes it insensitive to the scale of its initial weights, which decides
whether the plain deep network trains at all.

Why. Batch norm standardizes each unit's input over the mini-batch, so multiplying a layer's
weights by a > 0 changes nothing downstream: BN(a W x) = BN(W x), because the mean and the
standard deviation are multiplied by a too. Without it, every layer passes its scale on: with
8 ReLU layers, weights at twice He's scale multiply the logits by 2^8 = 256 (the loss and the
gradients blow up) and at half the scale divide them by 256 (the signal and the gradient
vanish). The same invariance tames large learning rates: since the output does not depend on
the weights' length, the gradient is orthogonal to W and its size falls as 1 / a. A step that
makes the weights longer makes the next steps relatively smaller; the effective learning rate
of a BN layer is about eta / |W|^2, so the layer regulates itself where the plain network
overshoots and blows up.

That self-regulation is also why the BN network is not exactly indifferent to the scale under
plain SGD: weights at twice the scale learn about four times slower (eta / |W|^2), which is why
the scales stay within a factor 2 here and the run is long enough (3 epochs of 2,560 digits) for
the slow one to catch up; with 10 times He's scale it would lag far behind in so short a run
(the plain network is at chance at 2 already). The BN layers use momentum 0.9 for their moving
averages (Keras's default 0.99 needs more steps than these short runs take before the
validation accuracy, which uses the moving averages, is meaningful), and the training digits
fill whole batches: a last batch of a few digits gives BN noisy statistics, which its moving
averages take in with weight 0.1.

The claims: at the learning rate 1.0 the plain network diverges (NaN) or stalls at chance, while
the BN network trains; at half and twice He's scale the BN network stays within 0.1 of its
accuracy at He's scale, while the plain network falls at least 0.4 below it (to near chance).
Not claimed: that BN's best accuracy over the sweep beats the plain network's best. It did on
most seeds but not on every one: at this budget a well-chosen small rate lets the plain network
catch up; the metric ``best_val_accuracy`` reports both. Nor that BN regularizes (the notes:
"acts like a regularizer"): in probes with this network on 512 digits for 20 epochs (rates 0.03
and 0.1, seeds 0-5), both networks fit their training digits, and BN's train-validation
accuracy gap was as wide or wider (at 0.03 wider on 5 of 6 seeds, by up to 0.046) and its
validation accuracy no higher (-0.048 to +0.014).
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import math
from dataclasses import dataclass

import keras

from dlcourse import labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier
from dlcourse.training.variants import train_variants, variant_data

LAB = labkit.lab_name(__file__)
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 classes


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    depth: int = arg(8, "hidden layers (deep enough for scales to compound)", check="positive")
    units: int = arg(64, "units per hidden layer", check="positive")
    epochs: int = arg(3, "training epochs per run", check="positive")
    batch_size: int = arg(32, "mini-batch size (batch norm's statistics)", check="positive")
    n_train: int = arg(
        2560, "first mnist5k training digits used (80 full batches)", check="positive"
    )
    learning_rates: tuple[float, ...] = arg(
        (0.03, 0.1, 0.3, 1.0), "plain SGD learning rates swept", check="positive"
    )
    large_rate: float = arg(
        1.0, "the large rate of the claims (added to the sweep)", check="positive"
    )
    init_scales: tuple[float, ...] = arg(
        (0.5, 2.0), "factors on He's standard deviation for the hidden weights", check="positive"
    )
    scale_rate: float = arg(0.1, "learning rate of the init-scale runs", check="positive")
    bn_momentum: float = arg(0.9, "momentum of BN's moving mean and variance", check="fraction")

    QUICK = labkit.quick(n_train=256, epochs=1, depth=3, learning_rates=(0.1,))


def bn_mlp(
    input_shape,
    *,
    depth: int,
    units: int,
    batch_norm: bool,
    scale: float = 1.0,
    bn_momentum: float = 0.9,
    classes: int = 10,
) -> keras.Model:
    """A deep ReLU MLP (uncompiled): ``depth`` hidden layers of ``units``, each Dense ->
    BatchNormalization -> ReLU (BN before the activation, as in Ioffe & Szegedy, 2015) or
    Dense -> ReLU without BN, then a ``classes``-way softmax. He initialization with its
    standard deviation times ``scale``: VarianceScaling(2 scale^2, "fan_in") draws
    N(0, 2 scale^2 / fan_in)."""
    init = keras.initializers.VarianceScaling(2.0 * scale**2, "fan_in", "truncated_normal")
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    for _ in range(depth):
        # One hidden layer, appended to `layers`: Dense(units, kernel_initializer=init), without
        # its bias where BN follows (BN's beta replaces it); with batch_norm, then
        # BatchNormalization(momentum=bn_momentum); then Activation("relu").
        ### BEGIN SOLUTION
        layers.append(keras.layers.Dense(units, use_bias=not batch_norm, kernel_initializer=init))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=bn_momentum))
        layers.append(keras.layers.Activation("relu"))
        ### END SOLUTION
    layers.append(keras.layers.Dense(classes, activation="softmax"))
    return keras.Sequential(layers)


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the first mnist5k training digits and the whole validation split, from the
    # loader; a fresh training pipeline per run, so every run sees the same batches.
    train, val = variant_data("mnist5k", batch_size=cfg.batch_size, seed=cfg.seed, take=cfg.n_train)
    shape = val.element_spec[0].shape[1:]  # (28, 28, 1), x in [0, 1]

    # The network (bn_mlp): cfg.depth hidden layers of cfg.units, with or without BN.
    def builder(batch_norm, rate, scale=1.0):
        def build():
            model = bn_mlp(shape, depth=cfg.depth, units=cfg.units, batch_norm=batch_norm,
                           scale=scale, bn_momentum=cfg.bn_momentum)  # fmt: skip
            return compile_classifier(model, keras.optimizers.SGD(rate))

        return build

    # The runs: every rate of the sweep (the large rate included) with and without BN, at
    # He's scale, then the other initial scales at one moderate rate. A run is keyed
    # (network, rate, scale); train_variants reseeds before every run.
    nets = {"plain": False, "BN": True}
    rates = sorted({*cfg.learning_rates, cfg.large_rate})
    scales = sorted({1.0, *cfg.init_scales})
    runs = {(net, rate, 1.0): builder(bn, rate) for rate in rates for net, bn in nets.items()}
    runs |= {(net, cfg.scale_rate, s): builder(bn, cfg.scale_rate, s) for s in scales for net, bn in nets.items()}  # fmt: skip
    names = {key: f"{key[0]}, rate {key[1]:g}, scale {key[2]:g}" for key in runs}
    _, hist = train_variants(
        {names[k]: b for k, b in runs.items()}, train, val, epochs=cfg.epochs, cfg=cfg, folder=None
    )
    loss = {k: _finite(hist[names[k]]["loss"][-1]) for k in runs}  # None: diverged (NaN/inf)
    acc = {k: round(float(hist[names[k]]["val_accuracy"][-1]), 4) for k in runs}

    # Results: final training loss and validation accuracy against the learning rate (a
    # diverged run is drawn as an x at the top), validation accuracy against the init scale.
    def by_rate(values):
        return {net: {r: values[net, r, 1.0] for r in rates} for net in nets}

    by_scale = {net: {s: acc[net, cfg.scale_rate, s] for s in scales} for net in nets}
    plots.save(
        plots.sweep(
            by_rate(loss), xlabel="learning rate (plain SGD)", ylabel="final training loss",
            title=f"{cfg.depth} hidden layers, mnist5k: loss vs learning rate", logx=True,
            reference=(CHANCE_LOSS, "chance (ln 10)"),
        ),
        out, "loss_vs_learning_rate",
    )  # fmt: skip
    plots.save(
        plots.sweep(
            by_rate(acc), xlabel="learning rate (plain SGD)", ylabel="validation accuracy",
            title="Validation accuracy vs learning rate", logx=True,
        ),
        out, "accuracy_vs_learning_rate",
    )  # fmt: skip
    plots.save(
        plots.sweep(
            by_scale, xlabel="initial weights: factor on He's standard deviation",
            ylabel="validation accuracy", logx=True,
            title=f"Validation accuracy vs initial weight scale (rate {cfg.scale_rate:g})",
        ),
        out, "accuracy_vs_init_scale",
    )  # fmt: skip
    metrics = {
        "final_train_loss_by_rate": by_rate(loss),
        "val_accuracy_by_rate": by_rate(acc),
        "val_accuracy_by_init_scale": by_scale,
        "best_val_accuracy": {net: max(by_rate(acc)[net].values()) for net in nets},
        "best_rate": {net: max(rates, key=by_rate(acc)[net].get) for net in nets},
        "train_time_s": {names[k]: hist[names[k]]["time_s"][-1] for k in runs},
    }

    # The claims. At the large rate: the plain network diverges or stalls near chance while
    # BN trains (final training loss, a diverged run counting as infinite). Init scale: BN
    # stays within a band, plain falls.
    big = cfg.large_rate
    plain_big = loss["plain", big, 1.0]
    claims = [
        labkit.claim(
            f"At learning rate {big:g} the BN network's final training loss is at least 1.0 below "
            "the plain network's (which diverges to NaN or stalls near chance, ln 10 = 2.30)",
            (math.inf if plain_big is None else plain_big) - loss["BN", big, 1.0] >= 1.0,
            bn=loss["BN", big, 1.0], plain=plain_big, needs_defaults=True,
        ),
    ]  # fmt: skip
    for net, holds, text in (
        ("BN", lambda gap: gap <= 0.1, "stays within 0.1 of"),
        ("plain", lambda gap: gap >= 0.4, "falls at least 0.4 below"),
    ):
        gaps = {s: round(by_scale[net][1.0] - by_scale[net][s], 4) for s in cfg.init_scales}
        claims.append(labkit.claim(
            f"{'With' if net == 'BN' else 'Without'} BN, the validation accuracy at "
            f"{' and '.join(f'{s:g}' for s in cfg.init_scales)} times He's initial scale {text} "
            "its accuracy at He's scale",
            all(holds(abs(g) if net == "BN" else g) for g in gaps.values()),
            accuracy=by_scale[net], shortfall=gaps, needs_defaults=True,
        ))  # fmt: skip
    metrics["claims"] = claims
    labkit.save_metrics(out, metrics)
    return metrics


def _finite(value: float) -> float | None:
    """``value`` rounded, or None where training diverged (NaN or inf)."""
    return round(float(value), 4) if math.isfinite(value) else None


### BEGIN HIDDEN TESTS
def check_bn_mlp(ns: dict) -> dict:
    """bn_mlp builds the reference Dense-BN-ReLU stack, on fresh widths, depths and scales."""
    import numpy as np

    rng = np.random.default_rng()
    side, depth, units, classes = (int(v) for v in rng.integers([4, 2, 24, 2], [7, 5, 49, 7]))
    scale, momentum = float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.5, 0.99))
    shape = (side, side, 1)
    results = {}
    for batch_norm in (True, False):
        got = ns["bn_mlp"](shape, depth=depth, units=units, batch_norm=batch_norm, scale=scale,
                           bn_momentum=momentum, classes=classes)  # fmt: skip
        layers = [keras.Input(shape), keras.layers.Flatten()]
        for _ in range(depth):
            layers.append(keras.layers.Dense(units, use_bias=not batch_norm))
            if batch_norm:
                layers.append(keras.layers.BatchNormalization(momentum=momentum))
            layers.append(keras.layers.Activation("relu"))
        want = keras.Sequential([*layers, keras.layers.Dense(classes, activation="softmax")])
        kinds = [type(layer).__name__ for layer in got.layers]
        same = kinds == [type(layer).__name__ for layer in want.layers] and [
            tuple(w.shape) for w in got.weights
        ] == [tuple(w.shape) for w in want.weights]
        # He's standard deviation times scale (Keras rescales its truncated normal to it)
        std = float(np.std(keras.ops.convert_to_numpy(got.layers[1].kernel)))
        init = std / (scale * np.sqrt(2.0 / side**2))
        outputs = np.inf
        if same:  # random weights and BN statistics, copied into both: inference-mode outputs
            weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in want.weights]
            want.set_weights(weights)
            got.set_weights(weights)
            x = rng.normal(size=(5, *shape)).astype("float32")
            outputs = float(np.abs(got(x, training=False) - want(x, training=False)).max())
        moment = all(
            abs(layer.momentum - momentum) < 1e-9
            for layer in got.layers
            if isinstance(layer, keras.layers.BatchNormalization)
        )
        results[batch_norm] = {
            "layers": kinds, "same_layers_and_weights": same, "output_error": outputs,
            "init_std_over_he": round(init, 3), "momentum": moment,
        }  # fmt: skip
    return labkit.claim(
        f"bn_mlp builds the reference Dense-(BN)-ReLU stack with and without BN on a fresh "
        f"{depth} x {units} network ({side}x{side} inputs, {classes} classes, scale {scale:.2f}): "
        "same layers, weights, inference outputs and initial scale",
        all(
            r["same_layers_and_weights"] and r["output_error"] < 1e-4 and r["momentum"]
            and abs(r["init_std_over_he"] - 1) < 0.2
            for r in results.values()
        ),
        with_bn=results[True], without_bn=results[False],
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
