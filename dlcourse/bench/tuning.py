"""Searches on a real task.

The MLP on ``DATASET`` (the largest real embedded dataset; data from the loader) with
validation loss as the objective (accuracy saturates on small validation splits: two images
apart), 5 search seeds, equal budgets: random vs coarse-to-fine vs keras-tuner's Bayesian
optimization, ``TRIALS`` trials of ``EPOCHS`` epochs each, and Hyperband at the same total
epochs. Median best validation loss and wall time per method. (The MLP's test accuracy and
time to accuracy are in the ``mnist5k`` topic.)
"""

from __future__ import annotations

import tempfile

import numpy as np

from dlcourse.bench import Table

DATASET = "mnist5k"  # the largest real embedded dataset: 3,500 training digits
SEEDS = (0, 1, 2, 3, 4)
TRIALS, EPOCHS = 8, 2  # 5 seeds x 4 methods x 16 epochs (the section records its duration)


def task_table(quick: bool = False, dataset: str = DATASET) -> Table:
    from dlcourse.tuning import compare

    seeds = SEEDS[:1] if quick else SEEDS
    trials, epochs = (2, 2) if quick else (TRIALS, EPOCHS)
    runs = {m: [] for m in compare.METHODS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            result = compare.compare(
                dataset=dataset,
                trials=trials,
                epochs=epochs,
                seed=seed,
                directory=tmp,
            )
            for m, r in result.items():
                runs[m].append(r)
    rows = []
    for m, rs in runs.items():
        loss = [r["best_val_loss"] for r in rs]
        rows.append(
            [
                m,
                float(np.median(loss)),
                f"{np.percentile(loss, 25):.3g} - {np.percentile(loss, 75):.3g}",
                float(np.median([r["seconds"] for r in rs])),
                int(np.median([r["epochs"] for r in rs])),
                int(np.median([r["trials"] for r in rs])),
            ]
        )
    best = min(rows, key=lambda r: r[1])[0]
    return Table(
        f"Real task: best validation loss of the MLP on {dataset} per search method",
        ["method", "median best val loss", "quartiles", "median wall s", "epochs", "trials"],
        rows,
        notes=[
            (
                f"{len(seeds)} seeds; {trials} trials x {epochs} epochs per method, Hyperband at "
                f"the same total epochs; space: {compare.TASK_SPACE}. Lowest median: {best}."
            ),
            (
                "Wall times were measured one after another: compare ratios (the section's header "
                "gives the machine's measured load)."
            ),
        ],
    )


def run(quick: bool = False) -> list[Table]:
    return [task_table(quick)]
