"""
Title: Transfer learning: which layers to reuse, digits 0-4 to digits 5-9
Unit: III
Notes: 000 (Unit III: reusing pretrained layers), 003 (transfer learning)
Description: Trains model A, a small CNN with two convolutional layers and one dense layer, on
the real MNIST digits 0-4 (mnist5k). The new task, digits 5-9, has only a few labelled images
per class. Three networks learn it: the same CNN from scratch; model A's convolutional layers
(cloned, frozen) under a new softmax; and model A's convolutional and dense layers (cloned,
frozen) under a new softmax. The few-label part is repeated over several disjoint label draws
and compared on the mean, with the spread of the draws shown. Checks that model A is unchanged
and computes precision, recall and F1 of the best network, checked against scikit-learn.
Lesson: Reuse the lower layers of a trained network and replace the upper, task-specific ones:
with a handful of labels, the frozen convolutional layers of a CNN trained on other digits beat
the same CNN trained from scratch, while reusing its dense layer as well throws the gain away.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier
from dlcourse.training import diagnostics, transfer
from dlcourse.training.variants import label_draws, train_variants

LAB = labkit.lab_name(__file__)
TASK_A, TASK_B = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    per_class: int = arg(3, "labelled images per class of the new task (5-9)", check="positive")
    draws: int = arg(
        5, "disjoint label draws of the new task (claims use the mean)", check="positive"
    )
    epochs_a: int = arg(5, "epochs of model A on digits 0-4", check="positive")
    epochs_b: int = arg(20, "epochs of each new-task network on each draw", check="positive")
    reuse: int = arg(
        2, "lower weight layers of model A reused (2: both conv layers)", check="positive"
    )
    batch_size: int = arg(32, "mini-batch size of model A", check="positive")
    batch_size_b: int = arg(8, "mini-batch size of the new task (a few images)", check="positive")
    learning_rate: float = arg(
        3e-3, "Adam learning rate of every new-task network", check="positive"
    )

    QUICK = labkit.quick(epochs_a=1, epochs_b=2, draws=1)  # a smoke test


def cnn(input_shape, classes: int, name: str = "cnn") -> keras.Model:
    """Two conv blocks (the general feature detectors), one dense layer, a softmax."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),  # (26, 26, 32)
            keras.layers.MaxPooling2D(2, name="pool1"),  # (13, 13, 32)
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),  # (11, 11, 64)
            keras.layers.MaxPooling2D(2, name="pool2"),  # (5, 5, 64)
            keras.layers.Flatten(name="flatten"),  # (1600,)
            keras.layers.Dense(128, activation="relu", name="dense"),  # task-specific features
            keras.layers.Dense(classes, activation="softmax", name="output"),
        ],
        name=name,
    )


def reuse_frozen(model_a: keras.Model, n_layers: int, classes: int) -> keras.Model:
    """A network for the new task: model A's layers below its (n_layers + 1)-th layer with
    weights (pooling and flatten follow the weight layer they belong to), copied and frozen,
    under a new ``Dense(classes)`` softmax."""
    # Copy model A (keras.models.clone_model, then set_weights: training the copy must leave A
    # alone); `base` = keras.Model(copy.inputs, <output of the layer just below the copy's
    # (n_layers + 1)-th layer with weights, or of its last layer if it has no such layer>).
    ### BEGIN SOLUTION
    copy = keras.models.clone_model(model_a)
    copy.set_weights(model_a.get_weights())
    layers = [layer for layer in copy.layers if not isinstance(layer, keras.layers.InputLayer)]
    weighted = [i for i, layer in enumerate(layers) if layer.weights]
    end = weighted[n_layers] if n_layers < len(weighted) else len(layers)
    base = keras.Model(copy.inputs, layers[end - 1].output)
    ### END SOLUTION
    # Freeze every layer of `base` (layer.trainable = False) and put a new Dense(classes,
    # softmax) on its output: return the keras.Model from base's inputs to the new softmax.
    ### BEGIN SOLUTION
    for layer in base.layers:
        layer.trainable = False
    outputs = keras.layers.Dense(classes, activation="softmax", name="new_task_output")(base.output)
    return keras.Model(base.inputs, outputs, name="new_task")
    ### END SOLUTION


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # Task A comes from the loader: mnist5k's digits 0-4, relabelled 0..4, all of them. Task B
    # is digits 5-9: several disjoint draws of a few labelled images per class for training,
    # and the full test split of 5-9 to score every draw on the same images.
    a = data.datasets("mnist5k", classes=TASK_A, batch_size=cfg.batch_size, seed=cfg.seed)
    b_test = data.datasets("mnist5k", classes=TASK_B, splits=("test",))["test"]
    b_draws = label_draws("mnist5k", classes=TASK_B, per_class=cfg.per_class, draws=cfg.draws,
                          batch_size=cfg.batch_size_b, seed=cfg.seed)  # fmt: skip
    shape = a["val"].element_spec[0].shape[1:]  # (28, 28, 1), x in [0, 1]

    # Model A: the CNN trained on digits 0-4, with plenty of labels.
    models_a, hist_a = train_variants(
        {"model A (0-4)": lambda: compile_classifier(cnn(shape, 5, "model_a"))},
        a["train"],
        a["val"],
        epochs=cfg.epochs_a,
        cfg=cfg,
        folder=out / "train",
    )
    model_a = models_a["model A (0-4)"]
    a_weights = [w.copy() for w in model_a.get_weights()]

    # Three networks for digits 5-9, each trained on every label draw: the CNN from scratch,
    # A's lower (convolutional) layers frozen under a new softmax, and A's every hidden layer
    # (the dense one too) frozen under a new softmax. reuse_layers counts layers with weights.
    # All three train alike (same optimizer, epochs and batches); no logs for these short runs.
    def scratch():
        return compile_classifier(cnn(shape, 5), keras.optimizers.Adam(cfg.learning_rate))

    def reused(n_layers):
        def build():
            model = reuse_frozen(model_a, n_layers, 5)
            return compile_classifier(model, keras.optimizers.Adam(cfg.learning_rate))

        return build

    n_hidden = len(transfer.weight_layers(model_a)) - 1  # every weight layer but the output
    builds = {
        "from scratch": scratch,
        f"reuse {cfg.reuse} lower layers": reused(cfg.reuse),
        f"reuse all {n_hidden} hidden layers": reused(n_hidden),
    }
    acc = {k: [] for k in builds}
    models_b = {}
    for r, train in enumerate(b_draws):
        print(f"=== label draw {r + 1} of {cfg.draws}", flush=True)
        models_b, _ = train_variants(builds, train, None, epochs=cfg.epochs_b, cfg=cfg, folder=None)
        for k, m in models_b.items():
            acc[k].append(round(float(m.evaluate(b_test, verbose=0)[1]), 4))
    mean = {k: round(float(np.mean(v)), 4) for k, v in acc.items()}
    sd = {k: round(float(np.std(v)), 4) for k, v in acc.items()}

    # Results: test accuracy of each network on every draw (the spread) and their means.
    plots.save(
        plots.curves(acc, xlabel="label draw", ylabel="test accuracy (5-9)",
                     title=f"{cfg.per_class} labels per class, {cfg.draws} draws"),
        out,
        "test_accuracy_per_draw",
    )  # fmt: skip
    plots.save(
        plots.bars(mean, title=f"Digits 5-9, mean of {cfg.draws} draws", ylabel="test accuracy"),
        out,
        "test_accuracy_mean",
    )

    # Notes 003: precision, recall and F1 = 2 / (1/P + 1/R) of the best network (last draw),
    # computed by dlcourse and by scikit-learn.
    best = max(mean, key=mean.get)
    y_test = data.arrays(b_test)[1]  # the test split is read in file order, unshuffled
    pred = models_b[best].predict(b_test, verbose=0).argmax(1)
    prf = diagnostics.precision_recall_f1(y_test, pred)
    sk = precision_recall_fscore_support(y_test, pred, average="macro", zero_division=0)[:3]
    prf_error = float(np.max(np.abs(np.array([prf["precision"], prf["recall"], prf["f1"]]) - sk)))

    metrics = {
        "model_a_val_accuracy": round(float(hist_a["model A (0-4)"]["val_accuracy"][-1]), 4),
        "n_train_new_task_per_draw": cfg.per_class * len(TASK_B),
        "test_accuracy_per_draw": acc,
        "test_accuracy_mean": mean,
        "test_accuracy_sd": sd,
        "trainable_params": {k: transfer.n_trainable(m) for k, m in models_b.items()},
        "model_a_unchanged": all(
            np.array_equal(w, v) for w, v in zip(a_weights, model_a.get_weights())
        ),
        "precision_recall_f1": {"model": best, **prf},
    }

    # The claims: reusing the lower layers beats starting from scratch; reusing the
    # task-specific dense layer as well loses to reusing the lower layers only (means over the
    # draws); the reused layers were cloned; precision/recall/F1 match scikit-learn.
    lower, every = f"reuse {cfg.reuse} lower layers", f"reuse all {n_hidden} hidden layers"
    metrics["claims"] = [
        labkit.beats(
            f"Model A's frozen lower layers ({cfg.reuse}) under a new softmax beat the same CNN "
            f"from scratch by at least 3 points (mean test accuracy of {cfg.draws} draws)",
            mean[lower], mean["from scratch"], 0.03, needs_defaults=True, sd=sd,
        ),
        labkit.beats(
            "Reusing the task-specific dense layer as well loses at least 10 points against "
            "reusing the lower layers only (mean test accuracy)",
            mean[lower], mean[every], 0.10, needs_defaults=True, sd=sd,
        ),
        labkit.claim(
            "Training the new networks left model A's weights unchanged (reused layers are "
            "cloned)",
            metrics["model_a_unchanged"],
        ),
        labkit.within(
            "Macro precision, recall and F1 match scikit-learn's",
            prf_error, 1e-6,
        ),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_reuse_frozen(ns: dict) -> dict:
    """reuse_frozen copies, cuts and freezes like the library, on a fresh random network."""
    rng = np.random.default_rng()
    widths = [int(w) for w in rng.integers(3, 9, size=3)]
    model_a = keras.Sequential(
        [keras.Input((int(rng.integers(4, 9)),))]
        + [keras.layers.Dense(w, activation="relu") for w in widths]
        + [keras.layers.Dense(4, activation="softmax")]
    )
    before = [w.copy() for w in model_a.get_weights()]
    n_layers, classes = int(rng.integers(1, 4)), int(rng.integers(2, 6))
    got = ns["reuse_frozen"](model_a, n_layers, classes)
    want = transfer.add_head(transfer.freeze(transfer.reuse_layers(model_a, n_layers)), classes)
    reused = got.get_weights()[: 2 * n_layers]
    copied = all(np.array_equal(a, b) for a, b in zip(reused, before))
    for w in got.weights:  # the copy's weights are its own: A must not move
        w.assign(w + 1.0)
    kept = all(np.array_equal(a, b) for a, b in zip(model_a.get_weights(), before))
    shapes = [tuple(w.shape) for w in got.weights] == [tuple(w.shape) for w in want.weights]
    trainable = transfer.n_trainable(got)
    return labkit.claim(
        f"reuse_frozen keeps A's lower {n_layers} of {len(widths)} hidden layers, copied and "
        f"frozen, under a new {classes}-way softmax (a fresh random network)",
        copied and kept and shapes and trainable == transfer.n_trainable(want),
        weights_copied=copied, model_a_unchanged=kept, same_shapes=shapes,
        trainable_params=trainable, expected_trainable_params=transfer.n_trainable(want),
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
