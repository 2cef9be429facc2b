"""
Title: Vanishing and exploding gradients: sigmoid vs ReLU+He vs batch norm
Unit: III
Notes: 000 (Unit III: vanishing/exploding gradients, initialization, batch normalization), 002, 004
Description: Builds the same deep MLP on the 8x8 digits with a saturating activation and a
naive N(0, 1) initialization, with sigmoid and Glorot, with ReLU and He initialization, and with
batch normalization before and after the activation. Measures the gradient norm of every layer
on one batch at initialization (vanishing: lower layers get orders of magnitude smaller
gradients), then trains every variant and compares validation accuracy. Then makes the
gradients explode: the ReLU network with its initial weights at twice He's scale, trained with
the same optimizer without and with gradient clipping (Keras's global_clipnorm), recording the
gradient norm at every step.
Lesson: With a sigmoid activation the gradient shrinks layer by layer on its way down to the
first layers, so a deep sigmoid network barely learns; ReLU with He initialization keeps the
gradient flowing, and batch normalization lets even the deep sigmoid network train. Weights a
little too large make the gradients explode instead, and gradient clipping keeps that network
training.

Exploding gradients. With ReLU each layer multiplies the signal by about its weights' scale
over He's, so at twice He's scale the 10 layers multiply the logits, and the gradients on the
way back, by about 2^10. The first steps are huge, the weights grow, the next gradients are
larger still: within a few steps the gradient norm runs to inf and the loss to NaN. Gradient
clipping rescales the gradient g to c g / ||g|| whenever ||g|| > c (notes 000, 004), so no step
is longer than the learning rate times c: the same run, with the same rate and the same initial
weights, shrinks its too-large weights a step at a time and trains. The claims: the unclipped
run ends at NaN/inf or at chance; the clipped one's training loss falls at least tenfold from
its first epoch to its last, and it beats the unclipped run by at least 0.3 of validation
accuracy. It has not converged after 10 epochs: its weights are still too large, its loss
falls from a very high first epoch but ends well above the well-initialized networks', so no
claim is made on how low it ends.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import math
from dataclasses import dataclass

import keras

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training import diagnostics as diag
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 classes

VARIANTS = {  # name -> deep_mlp settings
    "sigmoid, N(0,1)": {
        "activation": "sigmoid",
        "kernel_initializer": keras.initializers.RandomNormal(0.0, 1.0),
    },
    "sigmoid, Glorot": {"activation": "sigmoid", "kernel_initializer": "glorot_uniform"},
    "ReLU, He": {"activation": "relu", "kernel_initializer": "he_normal"},
    "sigmoid + BN before": {"activation": "sigmoid", "batch_norm": "before"},
    "ReLU + BN after": {"activation": "relu", "batch_norm": "after"},
}


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    depth: int = arg(10, "hidden layers (deep enough for gradients to vanish)", check="positive")
    units: int = arg(64, "units per hidden layer", check="positive")
    epochs: int = arg(10, "training epochs per variant", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    learning_rate: float = arg(
        0.01, "SGD(momentum=0.9) learning rate, the same for all", check="positive"
    )
    n_train: int = arg(
        0, "first training (and validation) examples used; 0 = all", check="non_negative"
    )
    variants: tuple[str, ...] = arg(tuple(VARIANTS), "variants trained", choices=tuple(VARIANTS))
    explode_scale: float = arg(
        2.0, "factor on He's standard deviation in the exploding ReLU network", check="positive"
    )
    clipnorm: float = arg(
        1.0, "threshold c of the clipped run (global_clipnorm: ||g|| <= c)", check="positive"
    )

    QUICK = labkit.quick(
        n_train=256, epochs=1, depth=4,
        variants=("sigmoid, Glorot", "ReLU, He", "sigmoid + BN before"),
    )  # fmt: skip


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

    # One builder per variant: the same deep MLP, only activation, initializer and BN differ.
    def builder(settings):
        def build():
            model = deep_mlp(shape, 10, depth=depth, units=cfg.units, **settings)
            return compile_classifier(model, keras.optimizers.SGD(cfg.learning_rate, 0.9))

        return build

    builds = {name: builder(VARIANTS[name]) for name in cfg.variants}

    # Gradient norms per layer at initialization, on one fixed batch of 128 training digits;
    # then every variant is trained with the same optimizer and data.
    norms = {}
    for name, build in builds.items():
        keras.utils.set_random_seed(cfg.seed)
        norms[name] = diag.gradient_norms(build(), *data.arrays(train(), 128))
    _, hist = train_variants(builds, train, val, epochs=cfg.epochs, cfg=cfg, folder=out / "train")

    # Results: gradient norm per layer at initialization, validation curves.
    plots.save(plots.layer_gradient_norms(norms), out, "gradient_norms")
    plots.save(
        plots.curves(
            {k: h["val_accuracy"] for k, h in hist.items()},
            ylabel="validation accuracy",
            title="Deep MLP, 8x8 digits",
        ),
        out,
        "val_accuracy",
    )

    # Exploding gradients: ReLU with weights at `explode_scale` times He's scale, the same
    # optimizer without and with clipping. The optimizer keeps each step's gradient norm
    # (before clipping) for the figure.
    big = keras.initializers.VarianceScaling(2.0 * cfg.explode_scale**2, "fan_in", "normal")

    def exploding(clip):
        def build():
            model = deep_mlp(shape, 10, depth=depth, units=cfg.units, kernel_initializer=big)
            kw = {"global_clipnorm": cfg.clipnorm} if clip else {}
            return compile_classifier(model, NormLoggingSGD(cfg.learning_rate, 0.9, **kw))

        return build

    clip_runs = {"no clipping": exploding(False), f"global_clipnorm={cfg.clipnorm:g}": exploding(True)}  # fmt: skip
    logs = {name: GradientNormLog() for name in clip_runs}
    _, clip_hist = train_variants(
        clip_runs, train, val, epochs=cfg.epochs, cfg=cfg, folder=None,
        callbacks=lambda name: [logs[name]],
    )  # fmt: skip
    plots.save(
        plots.clipping_panels(
            {k: h["loss"] for k, h in clip_hist.items()},
            {k: lg.norms for k, lg in logs.items()},
            cfg.clipnorm,
            title=f"ReLU, {cfg.explode_scale:g} x He's scale: exploding gradients and clipping",
        ),
        out,
        "gradient_clipping",
    )
    peak_norm = {k: _finite(max(lg.norms, key=_nan_last)) for k, lg in logs.items()}  # None: NaN
    metrics = {
        # ratio of the top to the bottom hidden layer's gradient norm: >> 1 means vanishing
        "gradient_ratio_top_to_bottom": {
            k: round(float(v["hidden" + str(depth)] / v["hidden1"]), 3) for k, v in norms.items()
        },
        # 3 significant digits: a vanished gradient is ~1e-7, which fixed decimals round to 0
        "bottom_layer_gradient_norm": {k: float(f"{v['hidden1']:.3g}") for k, v in norms.items()},
        "val_accuracy": final(hist, "val_accuracy"),
        "best_val_accuracy": max(final(hist, "val_accuracy").values()),
        "train_time_s": {k: h["time_s"][-1] for k, h in (hist | clip_hist).items()},
        "best": max(hist, key=lambda k: hist[k]["val_accuracy"][-1]),
        # None: the loss became NaN/inf
        "clipping_final_train_loss": {k: _finite(h["loss"][-1]) for k, h in clip_hist.items()},
        "clipping_val_accuracy": final(clip_hist, "val_accuracy"),
        "clipping_max_gradient_norm": peak_norm,
    }

    # The claims: with a sigmoid the gradient vanishes toward the input, not with ReLU and He;
    # after training, ReLU + He and batch norm beat the plain sigmoid network.
    ratio, bottom, acc = (metrics[k] for k in
                          ("gradient_ratio_top_to_bottom", "bottom_layer_gradient_norm", "val_accuracy"))  # fmt: skip
    sigmoid, relu, bn = "sigmoid, Glorot", "ReLU, He", "sigmoid + BN before"
    claims = []
    if sigmoid in ratio:
        claims.append(labkit.at_least(
            "With sigmoid (Glorot weights) the top hidden layer's gradient is at least 10 times "
            "the bottom one's at initialization (it vanishes toward the input)",
            ratio[sigmoid], 10.0,
        ))  # fmt: skip
    if {sigmoid, relu} <= set(bottom):
        claims.append(labkit.at_least(
            "ReLU with He initialization gives the bottom hidden layer at least 10 times the "
            "gradient of the sigmoid network",
            round(float(norms[relu]["hidden1"] / norms[sigmoid]["hidden1"]), 1), 10.0,
        ))  # fmt: skip
    for better in (relu, bn):
        if {sigmoid, better} <= set(acc):
            claims.append(labkit.beats(
                f"After training, {better} beats {sigmoid} by at least 30 points of validation "
                "accuracy",
                acc[better], acc[sigmoid], 0.30, needs_defaults=True,
            ))  # fmt: skip

    # Clipping: the unclipped run blows up (NaN/inf) or ends at chance; the clipped one trains.
    free, clipped = clip_runs
    losses = metrics["clipping_final_train_loss"]
    free_loss, clipped_loss = (math.inf if losses[k] is None else losses[k] for k in clip_runs)
    claims.append(labkit.claim(
        f"Without clipping, ReLU at {cfg.explode_scale:g} times He's scale explodes: its final "
        "training loss is NaN/inf or at chance (ln 10 = 2.30) or above",
        free_loss >= CHANCE_LOSS - 0.01, loss=losses[free], needs_defaults=True,
    ))  # fmt: skip
    first = float(clip_hist[clipped]["loss"][0])
    claims.append(labkit.claim(
        f"With global_clipnorm={cfg.clipnorm:g} the same run trains: its last epoch's training "
        "loss is at least 10 times below its first epoch's",
        clipped_loss * 10 <= first, first=_finite(first), last=losses[clipped],
        needs_defaults=True,
    ))  # fmt: skip
    claims.append(labkit.beats(
        "Clipping beats no clipping by at least 0.3 of validation accuracy (same weights, rate "
        "and batches)",
        metrics["clipping_val_accuracy"][clipped], metrics["clipping_val_accuracy"][free], 0.3,
        needs_defaults=True,
    ))  # fmt: skip
    metrics["claims"] = claims
    labkit.save_metrics(out, metrics)
    return metrics


class NormLoggingSGD(keras.optimizers.SGD):
    """SGD that keeps the norm of the last gradient, before any clipping, in ``grad_norm``."""

    def build(self, variables):
        super().build(variables)
        self.grad_norm = self.add_variable((), name="grad_norm")

    def apply(self, grads, trainable_variables=None):
        out = super().apply(grads, trainable_variables)  # clips (a copy), builds on first call
        # Keep the global norm of `grads` (the norm global_clipnorm compares with c) in
        # self.grad_norm: the square root of the sum, over every tensor, of its squared entries.
        ### BEGIN SOLUTION
        self.grad_norm.assign(keras.ops.sqrt(sum(keras.ops.sum(g * g) for g in grads)))
        ### END SOLUTION
        return out


class GradientNormLog(keras.callbacks.Callback):
    """The gradient norm of every training step (read from :class:`NormLoggingSGD`)."""

    def __init__(self):
        super().__init__()
        self.norms: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.norms.append(float(self.model.optimizer.grad_norm))


def _finite(value: float) -> float | None:
    """``value`` rounded to 4 significant digits, or None where it is NaN or inf."""
    return float(f"{value:.4g}") if math.isfinite(value) else None


def _nan_last(value: float) -> float:
    """Sort key: inf above every number, NaN above inf (a norm that became NaN exploded)."""
    return math.inf if math.isnan(value) else value


### BEGIN HIDDEN TESTS
def check_norm_logging_sgd(ns: dict) -> dict:
    """NormLoggingSGD keeps tf.clip_by_global_norm's global norm, on fresh random gradients."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng()
    shapes = [tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(1, 4))))
              for _ in range(int(rng.integers(2, 6)))]  # fmt: skip
    scale = float(rng.uniform(0.5, 20.0))  # mostly above c: clipping rescales a copy
    grads = [tf.constant(scale * rng.standard_normal(s), tf.float32) for s in shapes]
    variables = [keras.Variable(rng.standard_normal(s).astype("float32")) for s in shapes]
    c = float(rng.uniform(0.5, 2.0))
    optimizer = ns["NormLoggingSGD"](float(rng.uniform(0.001, 0.1)), 0.9, global_clipnorm=c)
    optimizer.apply(grads, variables)
    got = float(keras.ops.convert_to_numpy(optimizer.grad_norm))
    want = float(tf.clip_by_global_norm(grads, c)[1])
    return labkit.within(
        f"NormLoggingSGD keeps the gradient's global norm before clipping (tf.clip_by_global_norm"
        f"'s), on {len(shapes)} fresh random tensors with global_clipnorm={c:.2f} (relative "
        "difference)",
        abs(got - want) / want, 1e-5, got=got, want=want,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
