"""
Title: Hyperparameter search with keras-tuner: grid, random, coarse-to-fine, grid with k-fold CV
Unit: II
Notes: 000 (Unit II: fine-tuning neural network hyperparameters: number of hidden layers,
neurons per layer, activation, learning rate, optimizer, mini-batch size; grid search with cross
validation, randomised search, coarse to fine)
Description: Searches MLP hyperparameters on the embedded 8x8 digits with four keras-tuner
tuners from dlcourse.tuning: GridSearch over a small grid, RandomSearch and the coarse-to-fine
oracle over the notes' full space (log-sampled learning rate), and grid search scored by
stratified k-fold cross-validation (mean and spread over folds). Each tuner's project, results
table and figures live under tuning/<tuner>/ in this lab's folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from dlcourse import labkit, plots
from dlcourse.labkit import arg
from dlcourse.tuning import run_search
from dlcourse.tuning.search import prepare

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    tuners: tuple = arg(
        ("grid", "random", "coarse-to-fine", "cv-grid"), "tuners to compare", check="tuner"
    )
    max_trials: int = arg(
        16, "trials per tuner (the grid tuners run their full 16-point grid)", check="positive"
    )
    epochs: int = arg(8, "training epochs per trial", check="positive")
    rounds: int = arg(3, "coarse-to-fine rounds", check="positive")
    shrink: float = arg(0.5, "coarse-to-fine range shrink factor per round", check=(0, 1, "()"))
    folds: int = arg(3, "folds of the cross-validated grid search", check=(2, 1000000))


def run(cfg: Config, datasets: dict | None = None) -> dict:
    out = labkit.run_dir(cfg, LAB)
    splits = prepare("digits")
    if datasets and "digits" in datasets:
        splits = {k: (s.x.astype("float32") / 255.0, s.y) for k, s in datasets["digits"].items()}
    directory = out / "tuning"
    shutil.rmtree(directory, ignore_errors=True)  # a lab run starts afresh
    trials, epochs = (1, 1) if cfg.quick else (cfg.max_trials, cfg.epochs)
    metrics, best = {}, {}
    for tuner in cfg.tuners:
        extra = {}
        if tuner == "coarse-to-fine":
            extra = {"rounds": min(cfg.rounds, trials), "shrink": cfg.shrink}
        if tuner == "cv-grid":
            extra = {"folds": 2 if cfg.quick else cfg.folds}
        grid = tuner in ("grid", "cv-grid")
        result = run_search(
            tuner,
            max_trials=trials if (cfg.quick or not grid) else None,
            epochs=epochs,
            seed=cfg.seed,
            directory=directory,
            overwrite=True,
            splits=splits,
            verbose=0 if cfg.quick else 1,
            **extra,
        )
        key = tuner.replace("-", "_")
        metrics[key] = {
            "best_val_accuracy": result["best"]["score"],
            "trials": result["completed"],
            "best_values": result["best"]["values"],
        }
        if tuner == "cv-grid":
            metrics[key]["best_val_accuracy_std"] = result["best"]["metrics"]["val_accuracy_std"]
        if "round_log" in result:
            groups = [
                sum(int(t["trial_id"]) >= r["first_trial"] for r in result["round_log"]) - 1
                for t in result["trials"]
            ]
            plots.save(
                plots.c2f_ranges(
                    result["round_log"], [t["values"] for t in result["trials"]], groups
                ),
                out,
                "coarse_to_fine_ranges",
            )
        best[tuner] = result["best"]["score"]
    plots.save(
        plots.bars(
            best,
            title="Best validation accuracy per tuner",
            ylabel="val accuracy (cv-grid: mean over folds)",
        ),
        out,
        "best_per_tuner",
    )
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
