"""
Title: Hyperparameter search: random, grid, coarse-to-fine and Bayesian optimization side by side
Unit: II
Notes: 000 (Unit II: fine-tuning neural network hyperparameters: number of hidden layers,
neurons per layer, activation, learning rate, optimizer, mini-batch size; grid search with cross
validation, randomised search, coarse to fine)
Description: Two views of the same four searches. First a function whose minimum is known
(Branin, the standard 2-D test of hyperparameter optimizers), driven through the real keras-tuner
oracles without any training: simple regret (best found - optimum) against trials, median over
seeds, for random search, a grid, dlcourse's coarse-to-fine and keras-tuner's Bayesian
optimization. Headline: coarse-to-fine's median regret at the full budget is below random
search's. Then the real task at a small budget: the MLP on the embedded digits, validation loss
as the objective, random vs coarse-to-fine vs Bayesian vs Hyperband at equal total epochs.
(Grid search with k-fold cross-validation: ``make tune ARGS='--tuner cv-grid'``.)
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlcourse import labkit, plots
from dlcourse.labkit import arg
from dlcourse.tuning import compare, oracles, testfunctions
from dlcourse.tuning.coarse_to_fine import CoarseToFineOracle

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    function: str = arg(
        "branin",
        "synthetic test function (branin, hartmann3, hartmann6, ...)",
        choices=tuple(testfunctions.FUNCTIONS),
    )
    trials: int = arg(30, "trials per search on the synthetic function", check="positive")
    seeds: int = arg(
        15, "search seeds on the synthetic function (median and quartiles)", check="positive"
    )
    bayes_trials: int = arg(
        12, "Bayesian trials (it refits a Gaussian process every trial)", check="positive"
    )
    dataset: str = arg(
        "digits", "embedded dataset of the real task", choices=("digits", "digits28", "mnist5k")
    )
    task_trials: int = arg(4, "trials per search on the real task", check="positive")
    task_epochs: int = arg(
        2, "epochs per trial (Hyperband: the same total epochs)", check="positive"
    )

    # A smoke test: few seeds, one Gaussian-process step, one short trial.
    QUICK = labkit.quick(seeds=3, trials=15, bayes_trials=7, task_trials=1)


def synthetic_study(cfg: Config, folder: Path) -> dict:
    """Regret curves of the four searches on ``cfg.function``; writes the figure."""
    fn = testfunctions.FUNCTIONS[cfg.function]
    curves: dict[str, list] = {"random": [], "coarse-to-fine": [], "bayesian": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(cfg.seeds):
            common = {"objective": testfunctions.objective(), "seed": seed * 1000}
            for name, oracle in (
                (
                    "random",
                    oracles.RandomSearchOracle(
                        max_trials=cfg.trials, **common, hyperparameters=fn.space()
                    ),
                ),
                (
                    "coarse-to-fine",
                    CoarseToFineOracle(max_trials=cfg.trials, **common, hyperparameters=fn.space()),
                ),
            ):
                oracle.verbose = 0
                curves[name].append(_regret(oracle, fn, tmp, f"{name}{seed}"))
        bayes = oracles.BayesianOptimizationOracle(
            max_trials=cfg.bayes_trials,
            hyperparameters=fn.space(),
            objective=testfunctions.objective(),
            seed=0,
        )
        bayes.verbose = 0
        curves["bayesian"].append(_regret(bayes, fn, tmp, "bayesian"))
        grid = oracles.GridSearchOracle(
            max_trials=cfg.trials,
            hyperparameters=fn.space(cfg.trials),
            objective=testfunctions.objective(),
        )
        grid.verbose = 0
        grid_regret = float(_regret(grid, fn, tmp, "grid")[-1])
    arrays = {k: np.maximum(np.array(v), 1e-9) for k, v in curves.items()}
    fig = plots.regret_curves(arrays, title=f"{cfg.function}: best-so-far regret")
    fig.axes[0].axhline(grid_regret, color="gray", ls="--", label="grid (full)")
    fig.axes[0].legend()
    plots.save(fig, folder, f"regret_{cfg.function}")
    median = {k: float(np.median(v[:, -1])) for k, v in arrays.items()}
    return {
        "function": cfg.function,
        "median_regret": {**median, "grid": grid_regret},
        "trials": {
            "random": cfg.trials,
            "coarse-to-fine": cfg.trials,
            "bayesian": cfg.bayes_trials,
            "grid": cfg.trials,
        },
        "c2f_below_random": median["coarse-to-fine"] < median["random"],
    }


def _regret(oracle, fn, tmp: str, name: str) -> np.ndarray:
    values = testfunctions.drive(oracle, fn, tmp, name)["values"]
    return np.minimum.accumulate(values) - fn.optimum


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    metrics = {"synthetic": synthetic_study(cfg, out)}
    directory = out / "tuning"
    shutil.rmtree(directory, ignore_errors=True)  # a lab run starts afresh
    trials, epochs = cfg.task_trials, cfg.task_epochs
    task = compare.compare(
        dataset=cfg.dataset, trials=trials, epochs=epochs, seed=cfg.seed, directory=directory
    )
    metrics["task"] = {m: {k: v for k, v in r.items() if k != "curve"} for m, r in task.items()}
    plots.save(
        plots.bars(
            {m: r["best_val_loss"] for m, r in task.items()},
            title=f"Best validation loss per search ({trials * epochs} epochs each)",
            ylabel="val loss (lower is better)",
        ),
        out,
        "task_best_val_loss",
    )
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
