"""
Title: Residual connections: a deep plain network degrades, the same network with shortcuts trains
Unit: IV
Notes: 000 (Unit IV: ResNet, residual learning, Figures 13-12 and 13-13: "deeper model should not
produce higher training error than the shallow counterpart"), 002 (Residual Training: H(x) =
F(x) + x, plain net vs residual net, deeper network with reduced gradient vanishing)
Description: Trains plain and residual networks of the same depth and width on mnist5k (3,500
training digits from the loader), at three depths, with the same optimizer, data order and
initial weights. Both are built from the paper's block in its fully connected form: Dense ->
BN -> ReLU -> Dense -> BN, then ReLU; the residual network adds the block's input before the
last ReLU (``keras.layers.Add()([y, shortcut])``, an identity shortcut around every two layers),
the plain one does not. Both use batch normalization and He initialization, as the paper's
networks do, so the plain network's trouble is not the vanishing gradient of a sigmoid or a bad
initialization (lab 30). Draws the degradation curve (final training loss and
validation accuracy against depth, plain vs residual), the training loss per epoch of every
network, and the gradient norm of every layer at initialization of the deepest pair.
Why it works: a residual block computes x + F(x), so the gradient of the loss with respect to
its input is the gradient at its output times (I + dF/dx): the identity term carries the error
signal from the output to the first layer unchanged, however many blocks lie in between, and a
block whose best mapping is near the identity only has to learn a small F (with F = 0 the deep
network is the shallow one: tests/test_resid.py checks it). In the plain network the signal has
to pass through every layer's Jacobian in turn. With batch norm it does not vanish at
initialization; it grows toward the input instead: in the deepest plain network the first
layer's gradient is far larger than the last hidden layer's, much more so than in the residual
one (the gradient_norms figure; a claim measures the ratio), so with one learning rate for all layers the plain
network's top layers barely move while its bottom ones take large steps. The deeper the plain
network, the longer its chain of Jacobians, and within the same budget of epochs its training loss
rises with depth: degradation is an optimization failure, not overfitting (the training loss is the
worse one). Not claimed: that the deep residual network reaches a lower training loss than the
shallow one, as in the paper after full training; after these few epochs its loss is still
above the shallow one's, though by a much smaller factor than the plain network's, so the lab
claims that depth costs it far less, and that its validation accuracy stays within 0.05.
Lesson: A deeper plain network trains worse than a shallower one (its training loss rises
with depth: degradation), while the same deep network with identity shortcuts keeps the shallow
one's validation accuracy and degrades far less: the shortcut gives the gradient a path around
every block.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
from keras import layers

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier
from dlcourse.plots.training import versus
from dlcourse.training import diagnostics as diag
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    blocks: tuple[int, ...] = arg(
        (1, 5, 11),
        "two-layer blocks per network, one network pair per entry (depth = 2 x blocks + 2 "
        "weight layers: 4, 12, 24)",
        check="positive",
    )
    units: int = arg(64, "units of every hidden layer (the same for plain and residual)",
                     check="positive")  # fmt: skip
    epochs: int = arg(6, "training epochs per network (the same budget for every depth)",
                      check="positive")  # fmt: skip
    batch_size: int = arg(64, "mini-batch size", check="positive")
    learning_rate: float = arg(0.01, "SGD(momentum=0.9) learning rate, the same for all",
                               check="positive")  # fmt: skip
    bn_momentum: float = arg(
        0.9, "momentum of the batch norms' moving statistics (Keras' 0.99 lags in 330 steps)",
        check="fraction",
    )  # fmt: skip
    n_train: int = arg(0, "first training examples used; 0 = all 3,500", check="non_negative")

    QUICK = labkit.quick(blocks=(1, 2), epochs=1, n_train=256)  # a smoke test


def depth_of(blocks: int) -> int:
    """Weight layers on the longest path: the input layer, two per block, the classifier."""
    return 2 * blocks + 2


def build_net(input_shape, blocks: int, *, units: int, residual: bool, bn_momentum: float):
    """A ReLU MLP of ``blocks`` two-layer blocks, He-initialized, batch-normalized; with
    ``residual`` an identity shortcut around every block (He et al. 2016, Figure 2, with dense
    layers in place of the 3x3 convolutions). Uncompiled."""

    def dense_bn(x, name):  # Dense -> BN (no bias: BN's beta replaces it)
        x = layers.Dense(units, use_bias=False, kernel_initializer="he_normal", name=name)(x)
        return layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)

    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)  # (batch, 784)
    x = layers.ReLU()(dense_bn(x, "dense0"))  # (batch, units): the shortcuts need equal widths
    for b in range(1, blocks + 1):
        # Block b: y = dense_bn -> ReLU -> dense_bn of x (F(x), layers named block{b}_dense1 and
        # block{b}_dense2); with `residual` add the block's input x (keras.layers.Add, the
        # identity shortcut) before the last ReLU, which gives the block's output x.
        ### BEGIN SOLUTION
        shortcut = x
        y = layers.ReLU()(dense_bn(x, f"block{b}_dense1"))
        y = dense_bn(y, f"block{b}_dense2")  # F(x)
        if residual:
            y = layers.Add(name=f"block{b}_add")([y, shortcut])  # F(x) + x
        x = layers.ReLU(name=f"block{b}_out")(y)
        ### END SOLUTION
    outputs = layers.Dense(10, activation="softmax", name="classifier")(x)
    kind = "residual" if residual else "plain"
    return keras.Model(inputs, outputs, name=f"{kind}_{depth_of(blocks)}")


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the loader's mnist5k digits, x (batch, 28, 28, 1) in [0, 1]; a fresh training
    # pipeline per network, so every network sees the same batches in the same order.
    train, val = variant_data(
        "mnist5k", batch_size=cfg.batch_size, seed=cfg.seed, take=cfg.n_train or None
    )
    shape = val.element_spec[0].shape[1:]
    depths = [depth_of(b) for b in cfg.blocks]

    # Two networks per depth, identical but for the shortcut; same optimizer for all.
    def builder(blocks, residual):
        def build():
            model = build_net(shape, blocks, units=cfg.units, residual=residual,
                              bn_momentum=cfg.bn_momentum)  # fmt: skip
            return compile_classifier(model, keras.optimizers.SGD(cfg.learning_rate, 0.9))

        return build

    builds = {
        f"{kind} {depth_of(b)}": builder(b, kind == "residual")
        for b in cfg.blocks
        for kind in ("plain", "residual")
    }

    # Why: the gradient of every weight layer at initialization, on one batch of 128 training
    # digits, for the deepest pair (the same initial weights: the seed is reset per network).
    deepest = depths[-1]
    norms = {}
    for kind in ("plain", "residual"):
        keras.utils.set_random_seed(cfg.seed)
        model = builds[f"{kind} {deepest}"]()
        norms[f"{kind} {deepest}"] = diag.gradient_norms(model, *data.arrays(train(), 128))
    plots.save(plots.layer_gradient_norms(norms), out, "gradient_norms")

    # Training: every network from the same seed, on the same batches, for the same epochs.
    _, hist = train_variants(builds, train, val, epochs=cfg.epochs, cfg=cfg, folder=None)
    loss, acc = final(hist, "loss"), final(hist, "accuracy")
    val_acc = final(hist, "val_accuracy")

    # The degradation curve: final training loss and validation accuracy against depth.
    def by_depth(values):
        return {kind: [values[f"{kind} {d}"] for d in depths] for kind in ("plain", "residual")}

    fig = versus(
        depths,
        {"final training loss": by_depth(loss), "validation accuracy": by_depth(val_acc)},
        xlabel="depth (weight layers)", logy=("final training loss",),
        title=f"Plain vs residual MLP on mnist5k, {cfg.epochs} epochs each",
    )  # fmt: skip
    plots.save(fig, out, "degradation")
    plots.save(
        plots.curves({k: h["loss"] for k, h in hist.items()}, ylabel="training loss",
                     logy=True, title="Training loss per epoch"),
        out, "training_loss",
    )  # fmt: skip
    metrics = {
        "depths": depths,
        "train_loss": loss,
        "train_accuracy": acc,
        "val_accuracy": val_acc,
        # bottom (first) to top (last hidden) layer's gradient norm at initialization
        "gradient_bottom_to_top": {
            k: round(float(v["dense0"] / v[f"block{cfg.blocks[-1]}_dense2"]), 3)
            for k, v in norms.items()
        },
        "train_time_s": {k: round(h["time_s"][-1], 2) for k, h in hist.items()},
    }

    # The claims: at the deepest depth the shortcuts win by a wide margin; the plain network
    # degrades with depth, the residual one far less (its validation accuracy not at all); the
    # shortcut evens out the gradients at initialization.
    shallow = depths[0]
    plain, res, plain0, res0 = (f"plain {deepest}", f"residual {deepest}", f"plain {shallow}",
                                f"residual {shallow}")  # fmt: skip
    growth = {kind: loss[f"{kind} {deepest}"] / loss[f"{kind} {shallow}"]
              for kind in ("plain", "residual")}  # fmt: skip
    spread = metrics["gradient_bottom_to_top"]
    metrics["train_loss_growth"] = {k: round(v, 3) for k, v in growth.items()}
    metrics["claims"] = [
        labkit.at_least(
            f"At {deepest} layers the plain network's final training loss is at least 3 times "
            "the residual network's",
            round(loss[plain] / loss[res], 3), 3.0, needs_defaults=True,
        ),
        labkit.beats(
            f"At {deepest} layers the residual network beats the plain one by at least 0.08 of "
            "validation accuracy",
            val_acc[res], val_acc[plain], 0.08, needs_defaults=True,
        ),
        labkit.at_least(
            f"Degradation: the plain network's final training loss at {deepest} layers is at "
            f"least 3 times its loss at {shallow}",
            round(growth["plain"], 3), 3.0, needs_defaults=True,
        ),
        labkit.beats(
            f"Degradation: the plain network's validation accuracy is at least 0.10 lower at "
            f"{deepest} layers than at {shallow}",
            val_acc[plain0], val_acc[plain], 0.10, needs_defaults=True,
        ),
        labkit.at_least(
            f"From {shallow} to {deepest} layers the plain network's training loss grows by a "
            "factor at least 2.5 times the residual network's factor",
            round(growth["plain"] / growth["residual"], 3), 2.5, needs_defaults=True,
        ),
        labkit.within(
            f"With shortcuts depth does not hurt validation accuracy: the residual network's at "
            f"{deepest} layers is within 0.05 of (or above) its accuracy at {shallow}",
            max(0.0, val_acc[res0] - val_acc[res]), 0.05, needs_defaults=True,
        ),
        labkit.at_least(
            f"Why: at initialization the plain {deepest}-layer network's first-to-last hidden "
            "layer gradient ratio is at least 4 times the residual network's (the shortcut "
            "evens out the gradient along the depth)",
            round(spread[plain] / spread[res], 3), 4.0, needs_defaults=True,
        ),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_build_net(ns: dict) -> dict:
    """build_net's plain and residual networks compute a reference functional-API network's
    outputs with the same weights, on a fresh width, depth and input shape."""
    import numpy as np

    rng = np.random.default_rng()
    shape, blocks = (int(rng.integers(3, 8)), int(rng.integers(2, 6))), int(rng.integers(1, 4))
    units, momentum = int(rng.integers(6, 13)), float(rng.uniform(0.5, 0.99))

    def reference(residual):  # He et al.'s block: Dense-BN-ReLU-Dense-BN, + x, ReLU
        def dense_bn(x):
            x = layers.Dense(units, use_bias=False)(x)
            return layers.BatchNormalization(momentum=momentum)(x)

        inputs = keras.Input(shape)
        x = layers.ReLU()(dense_bn(layers.Flatten()(inputs)))
        for _ in range(blocks):
            y = dense_bn(layers.ReLU()(dense_bn(x)))
            x = layers.ReLU()(layers.Add()([y, x]) if residual else y)
        return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))

    x = rng.standard_normal((32, *shape)).astype("float32")  # each unit's sign varies
    errors, params = {}, {}
    for residual in (False, True):
        want = reference(residual)
        weights = [rng.normal(0.0, 1.0, w.shape).astype("float32") for w in want.get_weights()]
        weights = [np.abs(w) + 0.5 if "variance" in v.path else w  # BN's moving variance > 0
                   for w, v in zip(weights, want.weights)]  # fmt: skip
        want.set_weights(weights)
        got = ns["build_net"](shape, blocks, units=units, residual=residual, bn_momentum=momentum)
        kind = "residual" if residual else "plain"
        params[kind] = (got.count_params(), want.count_params())
        try:
            got.set_weights(weights)
        except ValueError:  # other weight shapes: a different network
            errors[kind] = float("inf")
            continue
        # The features under the classifier (a saturated softmax could hide a difference).
        out, ref = (keras.ops.convert_to_numpy(
            keras.Model(m.input, m.layers[-1].input)(x, training=False)) for m in (got, want))  # fmt: skip
        errors[kind] = float(np.abs(out - ref).max() / (1.0 + np.abs(ref).max()))
    return labkit.within(
        f"build_net's plain and residual networks ({blocks} blocks of width {units}) compute a "
        "reference Dense-BN-ReLU-Dense-BN(+x)-ReLU network's features with the same weights "
        "(max |difference| under the classifier, relative to the largest feature)",
        max(errors.values()), 1e-5, errors=errors, params=params,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
