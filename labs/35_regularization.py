"""
Title: Regularization against overfitting: dropout, l2, augmentation, early stopping, l1, MC dropout
Unit: III
Notes: 000 (Unit III: avoiding overfitting through regularization), 003 (bias/variance), 004
Description: Trains a wide MLP (784-512-512-10, SGD with momentum) on 1,000 mnist5k digits, so
that it overfits: it fits its training digits perfectly while its validation loss bottoms out
after a few epochs and then climbs, the network growing ever more confident, also where it is
wrong. Then the same network, from the same initial weights on the same batches, with dropout
(on the inputs and the hidden units, as the notes describe it), with an l2 penalty (the notes'
functools.partial helper), with data augmentation (random shifts through the loader's augment
hook, training data only) and with Keras's EarlyStopping restoring its best weights; measures
what each changes: the train-validation gap (training digits evaluated with dropout off and
without augmentation), the validation cross-entropy (the penalty left out) and accuracy, and the
epoch of the validation-loss minimum; plots training vs validation curves per regularizer with
the gap shaded and the baseline's validation loss with its minimum and the early-stopping point.
Early stopping combined: Keras's EarlyStopping rule (patience 5) replayed on the recorded
validation curves of the dropout, l2 and augmentation runs (early stopping does not change
training before it stops, so the replay keeps what the callback would have kept); each keeps a
lower validation loss than early stopping alone (by 0.043 at least on seeds 0-9 in the runs
that chose the margin 0.02). Dropout's slower convergence: epochs until the training
cross-entropy as trained (dropout on: what the optimizer sees) falls below 0.1, 24-32 with
dropout against 4-5 without. Dropout and underfitting: the overfitting wide network is the one
dropout helps (its gap shrinks); a 784-4-10 network on all 3,500 training digits cannot fit them
(training accuracy 0.64-0.89) and the same dropout usually costs it much of its validation
accuracy (0.13-0.58 on 8 seeds of a probe, 0.29-0.43 on seeds 3, 6 and 8 of the lab), but not
always: on seed 0 the narrow network without dropout trained worse (0.73 training accuracy, a
dead unit's lottery) and dropout gained 0.018. So it is reported (metrics
``underfitting_network``), not claimed. 4 units rather than 16: wider narrow networks already
fit 1,000 digits.
Not claimed: what dropout and l2 do to the validation accuracy (a few points at most, by
different amounts on different seeds: metrics ``val_accuracy``), and the later epoch of their
validation-loss minimum (metrics ``best_epoch``); augmentation is the one claimed to lift the
accuracy. Max-norm (``--max-norm``) is off by default: at r = 1 on the hidden layers it did not
reduce the overfitting here. MC dropout: the dropout network kept stochastic at inference;
compares one pass with the average of many and scrambled digits with real ones.
Sparsity: l1 training plus zeroing tiny weights, the fraction of zeros and the accuracy it costs.
Lesson: An overfitting network's validation loss turns up after a few epochs; dropout and l2 each
shrink its train-validation loss gap, augmentation also lifts its validation accuracy, and early
stopping keeps the weights from the minimum, better still combined with another regularizer.
Dropout slows convergence down. l1 makes weights sparse, and
MC dropout is far more unsure of scrambled digits than of real ones.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import data, labkit, notes_examples, plots
from dlcourse.data.augment import keras_augmenter
from dlcourse.labkit import arg
from dlcourse.layers import MaxNorm, penalty
from dlcourse.models.mlp import deep_mlp
from dlcourse.training import diagnostics as diag
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)
XENT = "cross_entropy"  # the data loss alone: Keras's "loss" adds the l1/l2 penalty


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    n_train: int = arg(1000, "training digits (few, so the wide baseline overfits)",
                       check="positive")  # fmt: skip
    n_val: int = arg(0, "first validation digits used; 0 = all 500", check="non_negative")
    depth: int = arg(2, "hidden layers", check="positive")
    units: int = arg(512, "units per hidden layer (wide, so the baseline overfits)",
                     check="positive")  # fmt: skip
    epochs: int = arg(40, "training epochs per variant", check="positive")
    batch_size: int = arg(64, "mini-batch size", check="positive")
    learning_rate: float = arg(0.05, "SGD learning rate (momentum 0.9)", check="positive")
    dropout: float = arg(0.5, "dropout rate of the hidden units", check="fraction")
    input_dropout: float = arg(0.2, "dropout rate of the input pixels", check="fraction")
    l2: float = arg(3e-3, "l2 penalty factor", check="non_negative")
    shift: float = arg(0.1, "augmentation: random shift up to this fraction of the image",
                       check="fraction")  # fmt: skip
    patience: int = arg(5, "early stopping: epochs without a better validation loss",
                        check="positive")  # fmt: skip
    max_norm: float = arg(0.0, "max-norm r of the hidden layers; 0 = no max-norm run",
                          check="non_negative")  # fmt: skip
    l1: float = arg(1e-4, "l1 penalty factor of the sparsity run", check="non_negative")
    prune_threshold: float = arg(
        1e-2, "weights below this magnitude are set to zero", check="non_negative"
    )
    mc_samples: int = arg(50, "stochastic passes of MC dropout", check="positive")
    narrow_units: int = arg(4, "units of the underfitting network (one hidden layer)",
                            check="positive")  # fmt: skip
    narrow_train: int = arg(0, "training digits of the underfitting network; 0 = all 3,500",
                            check="non_negative")  # fmt: skip
    narrow_epochs: int = arg(12, "training epochs of the underfitting network", check="positive")
    converged_loss: float = arg(
        0.1,
        "convergence: the training cross-entropy (as trained) falls below this",
        check="positive",
    )

    QUICK = labkit.quick(
        n_train=128,
        n_val=128,
        epochs=3,
        max_norm=1.0,
        mc_samples=5,
        narrow_train=128,
        narrow_epochs=1,
    )


def stop_early(curve, patience: int) -> tuple[int, int]:
    """Keras's EarlyStopping rule (mode "min", min_delta 0) replayed on a validation-loss
    ``curve``: returns ``(stopped, best)``, the epoch training stops after and the epoch whose
    weights it restores, both counted from 1 (``stopped = len(curve)`` if it never stops).

    Early stopping does not change training before it stops, so replaying the rule on a run's
    recorded curve gives what the callback would have kept in that run.
    """
    # Walk the curve from epoch 1 with best = inf and wait = 0: a value strictly below the best
    # so far becomes the best (wait = 0); any other adds 1 to wait, and training stops after
    # the epoch where wait reaches `patience`. Return (stopped, best).
    ### BEGIN SOLUTION
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, value in enumerate(curve, start=1):
        if value < best:
            best, best_epoch, wait = value, epoch, 0
            continue
        wait += 1
        if wait >= patience:
            return epoch, best_epoch
    return len(curve), best_epoch
    ### END SOLUTION


def mc_dropout(model: keras.Model, x, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo dropout (Gal & Ghahramani, 2016): ``n_samples`` stochastic passes of
    ``model`` over ``x`` with its dropout layers left on; returns their mean and standard
    deviation, each shaped like one prediction (n, classes)."""
    # Call model(x, training=True) n_samples times (dropout stays on at inference), stack the
    # passes as NumPy arrays (n_samples, n, classes) and return their mean and standard
    # deviation over the passes.
    ### BEGIN SOLUTION
    passes = [keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(n_samples)]
    stack = np.stack(passes)  # (n_samples, n, classes)
    return stack.mean(axis=0), stack.std(axis=0)
    ### END SOLUTION


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: 1,000 of the loader's mnist5k digits (28x28, scaled to [0, 1]), few enough
    # that a wide MLP learns them by heart; a fresh training pipeline per variant, so every
    # variant sees the same batches in the same order.
    train, val = variant_data(
        "mnist5k",
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        take=cfg.n_train,
        eval_take=cfg.n_val or None,
    )
    epochs = cfg.epochs
    shape = val.element_spec[0].shape[1:]  # (28, 28, 1)

    def builder(input_dropout=0.0, depth=cfg.depth, units=cfg.units, **kw):
        def build():
            model = deep_mlp(shape, 10, depth=depth, units=units, **kw)
            if input_dropout:  # the notes drop input pixels too (never the outputs)
                drop = keras.layers.Dropout(input_dropout, name="input_dropout")
                model = keras.Sequential([keras.Input(shape), drop, model], name="dropout_mlp")
            model.compile(
                optimizer=keras.optimizers.SGD(cfg.learning_rate, momentum=0.9),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy", keras.metrics.SparseCategoricalCrossentropy(name=XENT)],
            )
            return model

        return build

    # The same network, regularized one way at a time; l1 for the sparsity comparison.
    builds = {
        "baseline": builder(),
        "dropout": builder(input_dropout=cfg.input_dropout, dropout=cfg.dropout),
        "l2": builder(kernel_regularizer=penalty("l2", cfg.l2)),
    }
    if cfg.max_norm:
        builds["max-norm"] = builder(kernel_constraint=MaxNorm(cfg.max_norm))
    builds["l1 (sparse)"] = builder(kernel_regularizer=penalty("l1", cfg.l1))
    models, hist = train_variants(builds, train, val, epochs=epochs, cfg=cfg, folder=out / "train")

    # Augmentation: random shifts through the loader's augment hook (Keras preprocessing
    # layers, a new shift per digit and epoch) on the training data only, never on validation.
    aug = train(keras_augmenter(rotate=0, shift=cfg.shift, zoom=0, seed=cfg.seed))
    more, more_hist = train_variants(
        {"augmentation": builder()}, aug, val, epochs=epochs, cfg=cfg, folder=out / "train"
    )
    models.update(more)
    hist.update(more_hist)

    # Early stopping: the baseline again, stopped once the validation loss has not improved
    # for `patience` epochs, its best weights restored (Keras's EarlyStopping).
    def stopper(_name):
        return [keras.callbacks.EarlyStopping(
            monitor=f"val_{XENT}", mode="min", patience=cfg.patience, restore_best_weights=True
        )]  # fmt: skip

    stopped, stopped_hist = train_variants(
        {"early stopping": builder()}, train, val, epochs=epochs, cfg=cfg, folder=None,
        callbacks=stopper,
    )  # fmt: skip
    early = _early_stopping(hist["baseline"], stopped_hist["early stopping"],
                            stopped["early stopping"], val)  # fmt: skip

    # Dropout on a network that underfits: one hidden layer of `narrow_units`, trained on all
    # the training digits, too narrow to fit them; without and with the same dropout (reported,
    # not claimed: see the docstring).
    narrow_train, _ = variant_data("mnist5k", batch_size=cfg.batch_size, seed=cfg.seed,
                                   take=cfg.narrow_train or None, eval_take=cfg.n_val or None)  # fmt: skip
    narrow = {
        "narrow": builder(depth=1, units=cfg.narrow_units),
        "narrow + dropout": builder(cfg.input_dropout, 1, cfg.narrow_units, dropout=cfg.dropout),
    }
    narrow, narrow_hist = train_variants(
        narrow, narrow_train, val, epochs=cfg.narrow_epochs, cfg=cfg, folder=None
    )
    underfit = {
        k: {
            "train_accuracy": round(
                float(m.evaluate(narrow_train(), verbose=0, return_dict=True)["accuracy"]), 4
            ),
            "val_accuracy": round(float(narrow_hist[k]["val_accuracy"][-1]), 4),
            "val_loss": round(float(narrow_hist[k][f"val_{XENT}"][-1]), 4),
        }
        for k, m in narrow.items()
    }

    # Results: training vs validation curves per regularizer, the gap shaded (Keras's training
    # curve is measured as it trains: dropout on, augmented digits); the gaps measured after
    # training, on the training digits as they are, dropout off; the baseline's validation loss
    # with its minimum and where early stopping stopped.
    panels = {k: h for k, h in hist.items()}
    plots.save(plots.train_val_gap_panels(panels, XENT, ylabel="cross-entropy",
               title="Training (as trained) vs validation cross-entropy"), out,
               "train_vs_val_loss")  # fmt: skip
    plots.save(plots.train_val_gap_panels(panels, "accuracy",
               title="Training (as trained) vs validation accuracy"), out,
               "train_vs_val_accuracy")  # fmt: skip
    plots.save(plots.early_stopping_curve(hist["baseline"][f"val_{XENT}"],
               train_loss=hist["baseline"][XENT], stopped_at=early["stopped_at_epoch"],
               restored_loss=early["val_loss_restored"],
               title="The unregularized network: early stopping"), out,
               "early_stopping")  # fmt: skip
    on_train = {k: m.evaluate(train(), verbose=0, return_dict=True) for k, m in models.items()}
    metrics: dict = {
        "val_accuracy": final(hist, "val_accuracy"),
        # the mean of the last 5 epochs: one epoch of augmented training can dip by 0.02
        "val_accuracy_last5": {
            k: round(float(np.mean(h["val_accuracy"][-5:])), 4) for k, h in hist.items()
        },
        "val_loss": final(hist, f"val_{XENT}"),
        "train_accuracy": {k: round(float(r["accuracy"]), 4) for k, r in on_train.items()},
        "train_loss": {k: round(float(r[XENT]), 4) for k, r in on_train.items()},
        # validation minus training cross-entropy, training minus validation accuracy
        "train_val_loss_gap": {
            k: round(float(h[f"val_{XENT}"][-1] - on_train[k][XENT]), 4) for k, h in hist.items()
        },
        "train_val_accuracy_gap": {
            k: round(float(on_train[k]["accuracy"] - h["val_accuracy"][-1]), 4)
            for k, h in hist.items()
        },
        "best_epoch": {k: int(np.argmin(h[f"val_{XENT}"])) + 1 for k, h in hist.items()},
        "rise_after_minimum": {
            k: round(float(h[f"val_{XENT}"][-1] - min(h[f"val_{XENT}"])), 4)
            for k, h in hist.items()
        },
        "bias_variance": {
            k: diag.bias_variance(1 - on_train[k]["accuracy"], 1 - h["val_accuracy"][-1])[
                "diagnosis"
            ]
            for k, h in hist.items()
        },
        "early_stopping": early,
        "underfitting_network": underfit,
        # the first epoch whose training cross-entropy (as trained) is below converged_loss
        "epochs_to_converge": {
            k: _first_below(h[XENT], cfg.converged_loss) for k, h in hist.items()
        },
    }

    # Early stopping combined with each regularizer: Keras's rule replayed on the run's
    # recorded validation curve (what the callback would have kept in that run).
    metrics["early_stopping_combined"] = {}
    for k, h in hist.items():
        stopped, best = stop_early(h[f"val_{XENT}"], cfg.patience)
        metrics["early_stopping_combined"][k] = {
            "stopped_at_epoch": stopped,
            "best_epoch": best,
            "val_loss": round(float(h[f"val_{XENT}"][best - 1]), 4),
            "val_accuracy": round(float(h["val_accuracy"][best - 1]), 4),
        }

    # MC dropout: the dropout network kept stochastic at inference (plain Dropout layers
    # called with training=True), many passes averaged; l1 sparsity after pruning tiny weights.
    metrics["mc_dropout"] = _mc_dropout(models["dropout"], val, cfg.mc_samples, cfg.seed, out)
    metrics["sparsity"] = _sparsity(models["l1 (sparse)"], models["baseline"], val, cfg)

    # The notes' worked example (004): dropout samples one of 2^N sub-networks per step.
    metrics["notes_examples"] = notes_examples.dropout_examples(out)

    # The claims, each against the unregularized baseline (same data, initial weights and
    # batches): dropout and l2 shrink the loss gap; augmentation lowers the validation loss and
    # lifts the accuracy; the baseline's validation loss turns up early and early stopping keeps
    # the minimum, better combined with a regularizer; dropout converges slower; l1 makes
    # weights sparse; MC dropout is unsure of scrambled digits.
    gap, vloss, vacc = (
        metrics[k] for k in ("train_val_loss_gap", "val_loss", "val_accuracy_last5")
    )
    conv = metrics["epochs_to_converge"]
    combined = {  # early stopping alone minus early stopping on the regularized run
        k: round(early["val_loss_restored"] - metrics["early_stopping_combined"][k]["val_loss"], 4)
        for k in ("dropout", "l2", "augmentation")
    }
    claims = [
        _smaller(f"Dropout ({cfg.input_dropout:g} on the inputs, {cfg.dropout:g} on the hidden "
                 "units) shrinks the train-validation cross-entropy gap of the unregularized "
                 "network by at least 0.02", gap, "dropout", 0.02),
        _smaller(f"An l2 penalty of {cfg.l2:g} shrinks the train-validation cross-entropy gap of "
                 "the unregularized network by at least 0.05", gap, "l2", 0.05),
        labkit.at_least(
            f"Augmentation (random shifts up to {cfg.shift:g} of the image) cuts the "
            "unregularized network's final validation cross-entropy by at least a fifth "
            "(value: 1 - ratio of the two)",
            round(1 - vloss["augmentation"] / vloss["baseline"], 4), 0.2,
            baseline=vloss["baseline"], regularized=vloss["augmentation"], needs_defaults=True,
        ),
        labkit.beats(
            "Augmentation lifts the validation accuracy (mean of the last 5 epochs) by at least "
            "0.006 (3 of 500 digits)",
            vacc["augmentation"], vacc["baseline"], 0.006, needs_defaults=True,
        ),
        labkit.claim(
            "The unregularized network's validation loss reaches its minimum in the first "
            "third of training and ends at least 0.05 above it",
            early["best_epoch"] <= epochs / 3 and early["rise_after_minimum"] >= 0.05,
            best_epoch=early["best_epoch"], epochs=epochs,
            rise=early["rise_after_minimum"], needs_defaults=True,
        ),
        labkit.beats(
            f"EarlyStopping (patience {cfg.patience}, best weights restored) ends with a "
            "validation loss at least 0.05 lower than training to the end",
            early["val_loss_at_end"], early["val_loss_restored"], 0.05, needs_defaults=True,
        ),
        labkit.at_least(
            "Early stopping works better combined with other regularization: replayed on the "
            f"dropout, l2 and augmentation runs (patience {cfg.patience}), it keeps a validation "
            "cross-entropy at least 0.02 below early stopping alone, on each of the three "
            "(value: the smallest difference)",
            min(combined.values()), 0.02, difference=combined, needs_defaults=True,
        ),
        labkit.at_least(
            "Dropout slows convergence: its training cross-entropy (as trained, dropout on) "
            "takes at least 3 times as many epochs as the unregularized network's to fall below "
            f"{cfg.converged_loss:g} (ratio of epochs; never: epochs + 1)",
            round(conv["dropout"] / conv["baseline"], 2), 3.0, epochs=conv, needs_defaults=True,
        ),
        labkit.at_least(
            "l1 leaves at least twice as many weights below the pruning threshold as the "
            "unregularized network (ratio of zero fractions)",
            round(
                metrics["sparsity"]["l1"]["zero_fraction"]
                / max(metrics["sparsity"]["baseline"]["zero_fraction"], 1e-9),
                3,
            ),
            2.0,
            needs_defaults=True,
        ),
        labkit.at_least(
            "MC dropout spreads at least 1.5 times more on scrambled digits than on real ones",
            metrics["mc_dropout"]["in_vs_out_of_distribution"]["ood_over_test"],
            1.5,
            needs_defaults=True,
        ),
    ]  # fmt: skip
    metrics["claims"] = claims
    labkit.save_metrics(out, metrics)
    return metrics


def _smaller(text: str, gaps: dict, name: str, margin: float) -> dict:
    """Claim: variant ``name``'s gap is at least ``margin`` below the baseline's."""
    return labkit.at_least(text, round(gaps["baseline"] - gaps[name], 4), margin,
                           baseline=gaps["baseline"], regularized=gaps[name],
                           needs_defaults=True)  # fmt: skip


def _first_below(curve, level: float) -> int:
    """The first epoch (from 1) where ``curve`` is below ``level``; ``len(curve) + 1`` if none."""
    return next((i for i, v in enumerate(curve, start=1) if v < level), len(curve) + 1)


def _early_stopping(base: dict, stopped_hist: dict, stopped_model, val) -> dict:
    """Where the baseline's validation loss bottoms out, how far it climbs afterwards, and the
    validation loss of the early-stopped model (best weights restored) against the end's."""
    curve = base[f"val_{XENT}"]
    best = int(np.argmin(curve)) + 1
    restored = stopped_model.evaluate(val, verbose=0, return_dict=True)
    return {
        "best_epoch": best,
        "rise_after_minimum": round(float(curve[-1] - curve[best - 1]), 4),
        "stopped_at_epoch": len(stopped_hist[f"val_{XENT}"]),
        "val_loss_at_end": round(float(curve[-1]), 4),
        "val_loss_restored": round(float(restored[XENT]), 4),
        "val_accuracy_at_end": round(float(base["val_accuracy"][-1]), 4),
        "val_accuracy_restored": round(float(restored["accuracy"]), 4),
    }


def _mc_dropout(model, val, n_samples, seed, out) -> dict:
    """Compare one stochastic pass of a dropout ``model`` with the average of ``n_samples``
    passes, the spread of right vs wrong predictions, and the spread on scrambled digits vs
    real ones."""
    xv, yv = data.arrays(val)  # fixed validation examples for the MC passes
    mean, std = mc_dropout(model, xv, n_samples)
    single = keras.ops.convert_to_numpy(model(xv, training=True))  # one stochastic pass
    pred = mean.argmax(1)
    right = pred == yv
    spread = std[np.arange(len(pred)), pred]  # std of the predicted class's probability
    plots.save(plots.uncertainty_hist(spread[right], spread[~right]), out, "mc_uncertainty")
    # The same spread on scrambled digits (each digit's pixels shuffled: no digit at all).
    mean_ood, std_ood = mc_dropout(model, diag.scrambled_images(xv, seed), n_samples)
    spread_ood = float(std_ood[np.arange(len(xv)), mean_ood.argmax(1)].mean())
    return {
        "in_vs_out_of_distribution": {
            "mean_std_test": round(float(spread.mean()), 4),
            "mean_std_ood": round(spread_ood, 4),
            "ood_over_test": round(spread_ood / max(float(spread.mean()), 1e-12), 3),
        },
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


### BEGIN HIDDEN TESTS
def check_stop_early(ns: dict) -> dict:
    """stop_early stops and restores where Keras's EarlyStopping does, on fresh random curves
    (values rounded so that ties occur) and patiences."""
    rng = np.random.default_rng()
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    wrong = []
    for _ in range(30):
        n, patience = int(rng.integers(3, 25)), int(rng.integers(1, 7))
        curve = np.round(1 + np.cumsum(rng.normal(-0.05, 0.1, n)), 1).tolist()
        callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
        callback.set_model(model)
        model.stop_training = False
        callback.on_train_begin()
        stopped = n
        for epoch, value in enumerate(curve):
            callback.on_epoch_end(epoch, {"val_loss": value})
            if model.stop_training:
                stopped = epoch + 1
                break
        want = (stopped, callback.best_epoch + 1)
        got = tuple(int(v) for v in ns["stop_early"](curve, patience))
        if got != want:
            wrong.append({"curve": curve, "patience": patience, "got": got, "keras": want})
    return labkit.claim(
        "stop_early stops and restores at Keras's EarlyStopping epochs on 30 fresh random "
        "validation curves (ties included) and patiences 1-6",
        not wrong,
        mismatches=len(wrong),
        first_mismatch=wrong[0] if wrong else None,
    )


def check_mc_dropout(ns: dict) -> dict:
    """mc_dropout's mean and spread match the exact ones of a fresh linear dropout model:
    Dropout(0.5) then Dense, whose output over the masks has mean W^T x + b and variance
    sum_i W_ij^2 x_i^2 (p / (1 - p) = 1). The batch holds 500 copies of 2 inputs, each copy
    with its own masks: averaged over the copies, the student's 20 passes per row give the
    mean of 10,000 passes."""
    rng = np.random.default_rng()
    features, classes, copies, samples = int(rng.integers(4, 9)), int(rng.integers(2, 5)), 500, 20
    model = keras.Sequential(
        [keras.Input((features,)), keras.layers.Dropout(0.5), keras.layers.Dense(classes)]
    )
    w, b = rng.normal(size=(features, classes)), rng.normal(size=classes)
    model.set_weights([w.astype("float32"), b.astype("float32")])
    x = rng.normal(size=(2, features)).astype("float32")
    mean, std = (
        np.asarray(a, dtype=float)
        for a in ns["mc_dropout"](model, np.repeat(x, copies, 0), samples)
    )
    shapes = mean.shape == std.shape == (2 * copies, classes)
    exact_mean, exact_std = x @ w + b, np.sqrt((x**2) @ (w**2))  # (2, classes)
    if shapes:  # average over the copies of each input
        mean, var = (
            mean.reshape(2, copies, classes).mean(1),
            (std**2).reshape(2, copies, classes).mean(1),
        )
        mean_z = float((np.abs(mean - exact_mean) / (exact_std / np.sqrt(copies * samples))).max())
        std_ratio = np.sqrt(var) / exact_std  # np.std's 1/n makes it sqrt(19/20) = 0.975
    else:
        mean_z, std_ratio = np.inf, np.array([np.inf])
    return labkit.claim(
        f"mc_dropout's mean and standard deviation over {samples} passes match the exact ones "
        f"of a fresh linear dropout model ({features} inputs, {classes} outputs): the mean of "
        "10,000 masks within 6 standard errors, the spread within 15 %",
        shapes and mean_z <= 6 and bool(np.all(np.abs(std_ratio - 1) <= 0.15)),
        shapes=shapes,
        mean_error_in_standard_errors=round(mean_z, 2),
        std_ratio_range=[round(float(std_ratio.min()), 3), round(float(std_ratio.max()), 3)],
    )


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
