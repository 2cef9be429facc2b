"""
Title: Regularization compared: l2, dropout, max-norm, MC dropout, augmentation, early stopping
Unit: III
Notes: 000 (Unit III: avoiding overfitting through regularization), 003 (bias/variance), 004
Description: Trains a wide MLP on a small slice of the 8x8 digits so that it overfits, then
the same network with an l2 penalty (the notes' functools.partial helper), dropout, dlcourse's
max-norm constraint (and its callback form, which must end with the same weights), data
augmentation (the loader's augment hook: seeded Keras preprocessing layers, training data only)
and early stopping; plots training vs validation curves of each and diagnoses bias and
variance from train and dev error. MC dropout: a network whose dropout stays on at inference;
compares one stochastic pass with the average of many, shows that wrong predictions are the
uncertain ones, and that scrambled digits spread more than real ones. Sparsity: l1 training
plus zeroing tiny weights, reporting the fraction of zeros and the accuracy it costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.data.augment import keras_augmenter
from dlcourse.labkit import arg
from dlcourse.layers import MaxNorm, MaxNormClipper, mc_predict, penalty
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.scratch import notes_examples
from dlcourse.training import diagnostics as diag
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)
# Trained besides the baseline and "l1 (sparse)" (which the sparsity comparison needs).
VARIANTS = ("l2", "dropout", "max-norm", "augmentation", "early stopping", "max-norm (callback)")


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    n_train: int = arg(300, "training examples (few, so the baseline overfits)", check="positive")
    depth: int = arg(3, "hidden layers", check="positive")
    units: int = arg(
        256, "units per hidden layer (wide, so the baseline overfits)", check="positive"
    )
    epochs: int = arg(40, "training epochs per variant", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    l2: float = arg(1e-3, "l2 penalty factor", check="non_negative")
    dropout: float = arg(0.3, "dropout rate", check="fraction")
    max_norm: float = arg(1.0, "max-norm r", check="positive")
    l1: float = arg(1e-4, "l1 penalty factor of the sparsity run", check="non_negative")
    prune_threshold: float = arg(
        1e-2, "weights below this magnitude are set to zero", check="non_negative"
    )
    mc_samples: int = arg(50, "stochastic passes of MC dropout", check="positive")
    n_val: int = arg(0, "first validation examples used; 0 = all", check="non_negative")
    variants: tuple[str, ...] = arg(
        VARIANTS, "regularized variants trained besides the baseline and l1", choices=VARIANTS
    )

    QUICK = labkit.quick(n_train=128, n_val=128, epochs=2, mc_samples=5, variants=("augmentation",))


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    # The data: a small slice of the loader's 8x8 digits, so that a wide MLP overfits; a fresh
    # training pipeline per variant, so every variant sees the same batches.
    train, val = variant_data(
        "digits",
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        take=cfg.n_train,
        eval_take=cfg.n_val or None,
    )

    epochs = cfg.epochs
    shape = val.element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1] (scaled by the loader)

    def builder(**kw):
        def build():
            model = deep_mlp(shape, 10, depth=cfg.depth, units=cfg.units, **kw)
            return compile_classifier(model, keras.optimizers.Adam(1e-3))

        return build

    # The same network, regularized one way at a time.
    builds = {
        "baseline": builder(),
        "l2": builder(kernel_regularizer=penalty("l2", cfg.l2)),
        "dropout": builder(dropout=cfg.dropout),
        "max-norm": builder(kernel_constraint=MaxNorm(cfg.max_norm)),
        "l1 (sparse)": builder(kernel_regularizer=penalty("l1", cfg.l1)),
    }
    builds = {k: b for k, b in builds.items() if k in ("baseline", "l1 (sparse)", *cfg.variants)}
    models, hist = train_variants(builds, train, val, epochs=epochs, cfg=cfg, folder=out / "train")
    # Augmentation: the loader's augment hook (Keras preprocessing layers, seeded) on the
    # training data only; validation is not augmented.
    if "augmentation" in cfg.variants:
        aug = train(keras_augmenter(rotate=12, shift=0.1, zoom=0.1, seed=cfg.seed))
        more, more_hist = train_variants(
            {"augmentation": builder()}, aug, val, epochs=epochs, cfg=cfg, folder=out / "train"
        )
        models.update(more)
        hist.update(more_hist)
    # Early stopping: the baseline, stopped when validation loss stops improving.
    if "early stopping" in cfg.variants:
        stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
        es, es_hist = train_variants(
            {"early stopping": builder()},
            train,
            val,
            epochs=epochs,
            cfg=cfg,
            folder=out / "train",
            callbacks=lambda _: [stop],
        )
        models.update(es)
        hist.update(es_hist)
    # Max-norm's callback form: clip after every training step, same seeds and batches.
    diff = None
    if {"max-norm", "max-norm (callback)"} <= set(cfg.variants):
        hidden = [f"hidden{i}" for i in range(1, cfg.depth + 1)]
        clip, _ = train_variants(
            {"max-norm (callback)": builder()},
            train,
            val,
            epochs=epochs,
            cfg=cfg,
            folder=out / "train",
            callbacks=lambda _: [MaxNormClipper(cfg.max_norm, layers=hidden)],
        )
        diff = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(
                models["max-norm"].get_weights(), clip["max-norm (callback)"].get_weights()
            )
        )
    plots.save(plots.train_val_panels(hist, "loss"), out, "train_vs_val_loss")
    plots.save(plots.train_val_panels(hist, "accuracy"), out, "train_vs_val_accuracy")

    metrics: dict = {
        "val_accuracy": final(hist, "val_accuracy"),
        "best_val_accuracy": max(final(hist, "val_accuracy").values()),
        "train_accuracy": final(hist, "accuracy"),
        "bias_variance": {
            k: diag.bias_variance(1 - h["accuracy"][-1], 1 - h["val_accuracy"][-1])["diagnosis"]
            for k, h in hist.items()
        },
        "early_stopping_epochs": len(hist["early stopping"]["loss"])
        if "early stopping" in hist
        else None,
        # constraint vs callback form of max-norm, trained identically: ~0 (float round-off)
        "max_norm_constraint_vs_callback_max_abs_diff": diff,
    }
    metrics["mc_dropout"] = _mc_dropout(cfg, shape, train, val, epochs, cfg.mc_samples, out)
    metrics["sparsity"] = _sparsity(models["l1 (sparse)"], models["baseline"], val, cfg)
    # The notes' worked example (004): dropout samples one of 2^N sub-networks per step.
    metrics["notes_examples"] = notes_examples.dropout_examples(out)
    labkit.save_metrics(out, metrics)
    return metrics


def _mc_dropout(cfg, shape, train, val, epochs, n_samples, out) -> dict:
    """Train with MCDropout layers (dropout stays on at inference); compare one stochastic pass
    with the average of ``n_samples`` passes, the spread of right vs wrong predictions, and the
    spread on scrambled digits vs real ones."""

    def build():
        model = deep_mlp(
            shape, 10, depth=cfg.depth, units=cfg.units, dropout=cfg.dropout, mc_dropout=True
        )
        return compile_classifier(model, keras.optimizers.Adam(1e-3))

    models, _ = train_variants(
        {"mc dropout": build},
        train,
        val,
        epochs=epochs,
        cfg=cfg,
        folder=out / "train",
    )
    model = models["mc dropout"]
    xv, yv = data.arrays(val)  # fixed validation examples for the MC passes
    mean, std = mc_predict(model, xv, n_samples=n_samples)
    single = keras.ops.convert_to_numpy(model(xv, training=True))  # one stochastic pass
    pred = mean.argmax(1)
    right = pred == yv
    spread = std[np.arange(len(pred)), pred]  # std of the predicted class's probability
    plots.save(plots.uncertainty_hist(spread[right], spread[~right]), out, "mc_uncertainty")
    return {
        "in_vs_out_of_distribution": diag.mc_spread_in_vs_out(model, xv, n_samples, cfg.seed),
        "one_pass_accuracy": round(float((single.argmax(1) == yv).mean()), 4),
        "mc_mean_accuracy": round(float(right.mean()), 4),
        "mean_std_right": round(float(spread[right].mean()), 4) if right.any() else None,
        "mean_std_wrong": round(float(spread[~right].mean()), 4) if (~right).any() else None,
    }


def _sparsity(l1_model, dense_model, val, cfg) -> dict:
    def acc(m):
        return round(float(m.evaluate(val, verbose=0, return_dict=True)["accuracy"]), 4)

    before = {"l1": acc(l1_model), "baseline": acc(dense_model)}
    zeros = {
        "l1": diag.prune_small_weights(l1_model, cfg.prune_threshold),
        "baseline": diag.prune_small_weights(dense_model, cfg.prune_threshold),
    }
    return {
        k: {
            "zero_fraction": round(zeros[k], 4),
            "accuracy_before": before[k],
            "accuracy_after_pruning": acc(m),
        }
        for k, m in (("l1", l1_model), ("baseline", dense_model))
    }


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
