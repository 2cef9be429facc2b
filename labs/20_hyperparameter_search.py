"""
Title: Hyperparameter search: random, grid, coarse-to-fine and Bayesian optimization side by side
Unit: II
Notes: 000 (Unit II: fine-tuning neural network hyperparameters: number of hidden layers,
neurons per layer, activation, learning rate, optimizer, mini-batch size; grid search with cross
validation, randomised search, coarse to fine)
Lesson: Narrowing the search around the best trials so far finds a better point than sampling
blindly with the same budget, and a search is an experiment that repeats exactly when its seed
fixes both what it tries and how each trial trains.
Description: Two views of the same four searches. First a function whose minimum is known
(Branin, the standard 2-D test of hyperparameter optimizers), driven through the real keras-tuner
oracles without any training: simple regret (best found - optimum) against trials, median over
search seeds, for random search, a grid, dlcourse's coarse-to-fine and keras-tuner's Bayesian
optimization. Then the real task at a small budget: the MLP on the embedded digits, validation
loss as the objective, random vs coarse-to-fine vs Bayesian vs Hyperband at equal total epochs,
and coarse-to-fine run a second time at the same seed to show that it repeats exactly.
(Grid search with k-fold cross-validation: ``make tune ARGS='--tuner cv-grid'``.)
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

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
    trials: int = arg(50, "trials per search on the synthetic function", check="positive")
    seeds: int = arg(
        20, "search seeds on the synthetic function (median and quartiles)", check="positive"
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


def search_seeds(cfg: Config) -> list[int]:
    """The synthetic study's search seeds: ``cfg.seeds`` of them, a block per lab seed.

    Spaced 1000 apart: keras-tuner seeds trial t's k-th value with seed + k + t * (number of
    hyperparameters), so consecutive seeds would replay shifted copies of one random stream.
    """
    return [(cfg.seed * cfg.seeds + i) * 1000 for i in range(cfg.seeds)]


def synthetic_study(cfg: Config, folder: Path) -> dict:
    """Regret curves of the four searches on ``cfg.function``; writes the figure."""
    fn = testfunctions.FUNCTIONS[cfg.function]
    curves: dict[str, list] = {"random": [], "coarse-to-fine": [], "bayesian": []}
    ram = "/dev/shm" if Path("/dev/shm").is_dir() else None  # the oracles' JSON bookkeeping
    with tempfile.TemporaryDirectory(dir=ram) as tmp:
        for seed in search_seeds(cfg):
            common = {"objective": testfunctions.objective(), "seed": seed}
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
            seed=search_seeds(cfg)[0],
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
    # The simple regret after each trial (a NumPy array, one entry per trial): the best value
    # found so far (the objective is minimized) minus the function's known minimum fn.optimum.
    ### BEGIN SOLUTION
    return np.minimum.accumulate(values) - fn.optimum
    ### END SOLUTION


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The synthetic study: every search on a function whose minimum is known, through the real
    # keras-tuner oracles (no training), so the regret of each search can be measured exactly.
    # Its search seeds follow from the lab's seed, so another --seed draws other searches.
    metrics = {"synthetic": synthetic_study(cfg, out)}
    regret = metrics["synthetic"]["median_regret"]

    # The real task: the MLP on the embedded digits from the loader, validation loss as the
    # objective, every search at the same total number of training epochs.
    directory = out / "tuning"
    shutil.rmtree(directory, ignore_errors=True)  # a lab run starts afresh
    trials, epochs = cfg.task_trials, cfg.task_epochs
    task = compare.compare(
        dataset=cfg.dataset, trials=trials, epochs=epochs, seed=cfg.seed, directory=directory
    )
    metrics["task"] = {m: {k: v for k, v in r.items() if k != "curve"} for m, r in task.items()}

    # Coarse-to-fine again at the same seed: its next trials depend on the scores of the
    # earlier ones, so it repeats only if every trial trains deterministically.
    again = compare.compare(
        dataset=cfg.dataset,
        methods=("coarse-to-fine",),
        trials=trials,
        epochs=epochs,
        seed=cfg.seed,
        directory=out / "tuning_again",
    )["coarse-to-fine"]
    first = task["coarse-to-fine"]["curve"]
    rerun_gap = float(np.max(np.abs(np.subtract(first, again["curve"]))))
    metrics["task"]["coarse-to-fine"]["rerun_gap"] = rerun_gap

    # The figure of the real task: the best validation loss each search found.
    plots.save(
        plots.bars(
            {m: r["best_val_loss"] for m, r in task.items()},
            title=f"Best validation loss per search ({trials * epochs} epochs each)",
            ylabel="val loss (lower is better)",
        ),
        out,
        "task_best_val_loss",
    )

    # The claims, checked on this run's own results.
    metrics["claims"] = [
        labkit.beats(
            f"Coarse-to-fine's median regret on {cfg.function} after {cfg.trials} trials is "
            f"below random search's (median over {cfg.seeds} search seeds)",
            better=-regret["coarse-to-fine"],
            worse=-regret["random"],
            needs_defaults=True,  # 3 search seeds at --quick: a median of 3 is mostly noise
        ),
        labkit.within(
            "Coarse-to-fine rerun at the same seed on the real task finds exactly the same "
            "best-so-far validation losses, trial by trial",
            rerun_gap,
            0.0,
        ),
    ]
    shutil.rmtree(out / "tuning_again", ignore_errors=True)
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def check_regret(ns: dict) -> dict:
    """_regret's best-so-far regret, on a fresh random search of a fresh test function."""
    rng = np.random.default_rng()
    name = str(rng.choice(sorted(testfunctions.FUNCTIONS)))
    fn = testfunctions.FUNCTIONS[name]
    trials, seed = int(rng.integers(8, 13)), int(rng.integers(1e6))  # 8+: never sorted by luck

    def oracle():  # two identical searches: the student's regret and the reference values
        o = oracles.RandomSearchOracle(objective=testfunctions.objective(), max_trials=trials,
                                       seed=seed, hyperparameters=fn.space())  # fmt: skip
        o.verbose = 0
        return o

    with tempfile.TemporaryDirectory() as tmp:
        got = np.asarray(ns["_regret"](oracle(), fn, tmp, "student"), dtype=float)
        values = testfunctions.drive(oracle(), fn, tmp, "reference")["values"]
    want = np.array([min(values[: t + 1]) for t in range(len(values))]) - fn.optimum
    return labkit.within(
        f"_regret: the best-so-far value minus the optimum after each of {trials} random "
        f"trials on {name}",
        checks.max_abs_diff(got, want),
        1e-9,
        regret=got.tolist(),
        expected=want.tolist(),
    )


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
