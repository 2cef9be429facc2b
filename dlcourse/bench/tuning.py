"""Coarse-to-fine vs random search vs the full grid, and the MNIST MLP over seeds.

Table 1: on one search space and one dataset (8x8 digits), with real training in every trial,
the full grid runs once (its scores do not depend on the search seed: every configuration is
trained from the same weight seed) and coarse-to-fine and random search each get a third of the
grid's trials, over 5 search seeds. Goals: coarse-to-fine >= random in at least 4 of 5 seeds,
and coarse-to-fine reaches the grid's best score within its third of the grid's trials.

Table 2: the 784-300-100-10 MLP lab (14) at its defaults over 3 seeds: test accuracy and time
to 0.975 accuracy (goal <= 10 s on 2 CPU cores).
"""

from __future__ import annotations

import tempfile
import time

from dlcourse.bench import Table

# 4 learning rates x 4 widths x 2 depths = 32 grid points (ReLU, Adam, batch 32 throughout).
SPACE = {
    "learning_rate": (1e-4, 1e-1, "log", 10),
    "units": (16, 128, "log", 2),
    "num_layers": (1, 2),
}
QUICK_SPACE = {"units": [16, 32, 64]}
SEEDS = (0, 1, 2, 3, 4)


def _search(
    tuner: str,
    space: dict,
    trials: int | None,
    seed: int,
    splits,
    epochs: int,
    directory: str,
    **kw,
) -> dict:
    import keras_tuner  # noqa: F401  (fail early with a clear import error)

    from dlcourse.tuning import MLPHyperModel, make_tuner, summarize

    (x, y), (xv, yv) = splits["train"], splits["val"]
    hm = MLPHyperModel(x.shape[1:], 10, space=space, seed=0)  # same weights per config
    t = make_tuner(
        tuner,
        hm,
        max_trials=trials,
        seed=seed,
        directory=directory,
        project_name=f"{tuner}_{seed}",
        overwrite=True,
        **kw,
    )
    t.search(x, y, validation_data=(xv, yv), epochs=epochs, verbose=0)
    return summarize(t)


def _first_reaching(result: dict, target: float) -> int | None:
    """1-based number of the first trial whose score reaches ``target``."""
    for i, t in enumerate(sorted(result["trials"], key=lambda t: int(t["trial_id"])), 1):
        if t["score"] is not None and t["score"] >= target - 1e-9:
            return i
    return None


def tuner_table(quick: bool = False) -> Table:
    from dlcourse.tuning.search import prepare

    splits = prepare("digits")
    space = QUICK_SPACE if quick else SPACE
    seeds = SEEDS[:1] if quick else SEEDS
    epochs = 1 if quick else 3
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        grid = _search("grid", space, None, 0, splits, epochs, tmp)
        n_grid = grid["completed"]
        budget = max(n_grid // 3, 1)
        rows, wins, reached = [], 0, 0
        for seed in seeds:
            rnd = _search("random", space, budget, seed, splits, epochs, tmp)
            c2f = _search(
                "coarse-to-fine",
                space,
                budget,
                seed,
                splits,
                epochs,
                tmp,
                rounds=min(2, budget),
                shrink=0.5,
            )
            first = _first_reaching(c2f, grid["best"]["score"])
            wins += c2f["best"]["score"] >= rnd["best"]["score"]
            reached += first is not None
            rows.append(
                [
                    seed,
                    rnd["best"]["score"],
                    c2f["best"]["score"],
                    grid["best"]["score"],
                    "yes" if c2f["best"]["score"] >= rnd["best"]["score"] else "no",
                    first if first is not None else "-",
                ]
            )
    wall = time.perf_counter() - start
    return Table(
        "Hyperparameter search: best validation accuracy, coarse-to-fine vs random vs full grid",
        [
            "seed",
            "random",
            "coarse-to-fine",
            "full grid",
            "c2f >= random",
            "c2f trial reaching grid best",
        ],
        rows,
        notes=[
            (
                f"Search space: {space}; {n_grid} grid trials, {budget} trials each for random and "
                f"coarse-to-fine (a third of the grid); MLP on the 8x8 digits, {epochs} epochs per "
                "trial, every configuration trained from the same weight seed."
            ),
            (
                f"coarse-to-fine >= random in {wins} of {len(seeds)} seeds (goal: >= 4 of 5); "
                f"reached the grid's best ({grid['best']['score']:.4f}) within {budget} trials in "
                f"{reached} of {len(seeds)} seeds."
            ),
            f"Wall time of this table: {wall:.0f} s.",
        ],
    )


def mlp_table(quick: bool = False) -> Table:
    from dlcourse import labkit

    rows = []
    seeds = (0,) if quick else (0, 1, 2)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            m = labkit.run_lab("14", seed=seed, out_dir=tmp, quick=quick)
            rows.append(
                [
                    seed,
                    m["test_accuracy"],
                    m["epochs_to_test_target"] or "-",
                    m["time_to_test_target_s"] or "-",
                    m["time_to_val_target_s"] or "-",
                    m["train_time_s"],
                ]
            )
    return Table(
        "784-300-100-10 MLP on digits28 (lab 14 defaults): accuracy and time to 0.975",
        [
            "seed",
            "test accuracy",
            "epochs to 0.975 (test)",
            "time to 0.975 test (s)",
            "time to 0.975 val (s)",
            "train time (s)",
        ],
        rows,
        notes=[
            "Goal: test accuracy >= 0.975, time to accuracy <= 10 s on 2 CPU cores. The "
            "validation split has 180 images, so 0.975 there means 176 of 180."
            + (" (quick mode: 2 epochs on 512 images)" if quick else "")
        ],
    )


def run(quick: bool = False) -> list[Table]:
    return [tuner_table(quick), mlp_table(quick)]
