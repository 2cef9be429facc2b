"""Search algorithms on standard synthetic HPO functions, through the real keras-tuner oracles
(create_trial / update_trial / end_trial, no model): simple regret (best found - known optimum)
of random search, grid search, coarse-to-fine and keras-tuner's Bayesian optimization at 10, 20
and 50 trials, and each oracle's own seconds per trial.

Goal (issue 12): coarse-to-fine's median regret <= random's at every budget on every function,
and strictly lower at 20 and 50 trials on at least 4 of the 5 functions. Random search and
Bayesian optimization are anytime algorithms (trial n does not depend on the budget), so one run
of 50 trials gives all three budgets; coarse-to-fine plans its rounds from the budget and the grid
is laid out for it, so they run once per budget. keras-tuner's Bayesian oracle refits a Gaussian
process (20 optimizer restarts) and runs 50 L-BFGS-B starts for every trial (seconds per trial
on 2 busy cores), so it gets ``BAYES_SEEDS`` seeds up to ``BAYES_BUDGET`` trials (environment
variables ``DLCOURSE_BENCH_BAYES_SEEDS`` / ``_BUDGET`` raise them) to keep the topic to minutes.
The figures live in ``docs/bench/search_<function>.png``.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from dlcourse.bench import Table

BUDGETS = (10, 20, 50)
SEEDS = 30
BAYES_SEEDS = int(os.environ.get("DLCOURSE_BENCH_BAYES_SEEDS", "3"))
BAYES_BUDGET = int(os.environ.get("DLCOURSE_BENCH_BAYES_BUDGET", "20"))
METHODS = ("random", "grid", "coarse-to-fine", "bayesian")
RAM = "/dev/shm"  # the oracles' JSON bookkeeping goes to memory where Linux offers it
SEED_STRIDE = 1000  # keras-tuner seeds trial t's k-th value with seed + k + t * (number of hps),
# so seeds 0, 1, 2, ... would replay shifted copies of one stream: space them apart.
FIGURES = Path(__file__).resolve().parent.parent.parent / "docs" / "bench"


def make_oracle(method: str, fn, budget: int, seed: int):
    """The oracle of ``method`` on ``fn``'s space (``None``: a grid that does not fit)."""
    from dlcourse.tuning import oracles, testfunctions
    from dlcourse.tuning.coarse_to_fine import CoarseToFineOracle

    common = {"objective": testfunctions.objective(), "max_trials": budget, "seed": seed}
    if method == "grid":
        if fn.grid is None or len(next(iter(fn.grid(budget).values()))) < 2:
            return None
        return oracles.GridSearchOracle(hyperparameters=fn.space(budget), **common)
    classes = {
        "random": oracles.RandomSearchOracle,
        "coarse-to-fine": CoarseToFineOracle,
        "bayesian": oracles.BayesianOptimizationOracle,
    }
    return classes[method](hyperparameters=fn.space(), **common)


def run_one(job: tuple) -> tuple:
    """``(function, method, budget, seed)`` -> (job, regret curve, oracle seconds per trial)."""
    from dlcourse.tuning import testfunctions

    name, method, budget, seed = job
    fn = testfunctions.FUNCTIONS[name]
    oracle = make_oracle(method, fn, budget, seed * SEED_STRIDE)
    if oracle is None:
        return job, None, None
    oracle.verbose = 0
    with tempfile.TemporaryDirectory(dir=RAM if os.path.isdir(RAM) else None) as tmp:
        out = testfunctions.drive(oracle, fn, tmp)
    curve = np.minimum.accumulate(out["values"]) - fn.optimum
    return job, curve, out["seconds"] / max(len(out["values"]), 1)


def jobs(functions, seeds: int, bayes_seeds: int, budgets=BUDGETS) -> list[tuple]:
    top = max(budgets)
    out = []
    for name in functions:
        out += [(name, "grid", b, 0) for b in budgets]  # a grid does not depend on the seed
        for seed in range(seeds):
            out.append((name, "random", top, seed))
            out += [(name, "coarse-to-fine", b, seed) for b in budgets]
        bayes_top = min(top, BAYES_BUDGET)
        out += [(name, "bayesian", bayes_top, seed) for seed in range(bayes_seeds)]
    return out


def at_budget(results: dict, name: str, method: str, budget: int) -> np.ndarray:
    """Regrets over seeds of ``method`` on ``name`` after ``budget`` trials."""
    anytime = method in ("random", "bayesian")
    rows = []
    for (f, m, b, _), (curve, _) in results.items():
        if f != name or m != method or curve is None:
            continue
        if anytime and len(curve) >= budget:
            rows.append(curve[budget - 1])
        elif not anytime and b == budget:  # a grid may hold fewer points than the budget
            rows.append(curve[-1])
    return np.array(rows)


def _fmt(r: np.ndarray) -> str:
    if not len(r):
        return "-"
    q1, med, q3 = np.percentile(r, [25, 50, 75])
    return f"{med:.3g} [{q1:.3g}, {q3:.3g}]"


def function_table(results: dict, name: str, budgets, figure: str | None) -> tuple[Table, dict]:
    rows, verdict = [], {}
    for b in budgets:
        reg = {m: at_budget(results, name, m, b) for m in METHODS}
        c2f, rnd = np.median(reg["coarse-to-fine"]), np.median(reg["random"])
        verdict[b] = (c2f <= rnd, c2f < rnd)
        bayes = np.median(reg["bayesian"]) if len(reg["bayesian"]) else np.nan
        best = min((np.median(v), m) for m, v in reg.items() if len(v))[1]
        rows.append(
            [b, *(_fmt(reg[m]) for m in METHODS), "yes" if c2f <= rnd else "**no**", best]
            + ["-" if np.isnan(bayes) else "yes" if bayes < c2f else "no"]
        )
    notes = ["Cells: median [25th, 75th percentile] of simple regret over seeds (lower is better)."]
    if figure:
        notes.append(f"Regret against trials: ![{name}]({figure})")
    table = Table(
        f"Search on {name}: simple regret by budget",
        ["trials", *METHODS, "c2f <= random", "best median", "Bayesian < c2f"],
        rows,
        notes=notes,
    )
    return table, verdict


def run(quick: bool = False) -> list[Table]:
    from dlcourse import plots
    from dlcourse.tuning import testfunctions

    functions = list(testfunctions.FUNCTIONS)
    seeds, bayes_seeds, budgets = (2, 1, (5, 10)) if quick else (SEEDS, BAYES_SEEDS, BUDGETS)
    todo = jobs(functions, seeds, bayes_seeds, budgets)
    workers = min(os.cpu_count() or 1, 4)
    with ProcessPoolExecutor(workers) as pool:
        results = {job: (c, s) for job, c, s in pool.map(run_one, todo, chunksize=4)}
    folder = Path(tempfile.mkdtemp()) if quick else FIGURES
    tables, verdicts = [], {}
    for name in functions:
        curves = {
            m: np.array(
                [
                    c
                    for (f, mm, b, _), (c, _) in results.items()
                    if f == name
                    and mm == m
                    and c is not None
                    and b == (min(max(budgets), BAYES_BUDGET) if m == "bayesian" else max(budgets))
                ]
            )
            for m in ("random", "coarse-to-fine", "bayesian")
        }
        fig = plots.regret_curves(
            {m: np.maximum(c, 1e-9) for m, c in curves.items() if len(c)},
            title=f"{name}: best-so-far regret (median, quartiles)",
        )
        path = plots.save(fig, folder, f"search_{name}")
        rel = None if quick else f"docs/bench/{path.name}"
        table, verdicts[name] = function_table(results, name, budgets, rel)
        tables.append(table)
    return [summary_table(verdicts, budgets, functions), *tables, overhead_table(results)]


def summary_table(verdicts: dict, budgets, functions) -> Table:
    rows = [
        [
            name,
            *(
                "< (better)" if v[b][1] else "= (tie)" if v[b][0] else "**> (worse)**"
                for b in budgets
            ),
        ]
        for name, v in verdicts.items()
    ]
    hi = [b for b in budgets if b >= 20] or list(budgets)[-1:]
    strict = sum(all(verdicts[n][b][1] for b in hi) for n in functions)
    never_worse = all(verdicts[n][b][0] for n in functions for b in budgets)
    met = never_worse and strict >= 4
    return Table(
        "Coarse-to-fine vs random search: median simple regret, per function and budget",
        ["function", *(f"{b} trials" for b in budgets)],
        rows,
        notes=[
            (
                f"Goal: never worse than random (met: {'yes' if never_worse else 'no'}), and "
                f"strictly better at {' and '.join(map(str, hi))} trials on >= 4 of "
                f"{len(functions)} functions (strictly better on {strict}). "
                f"Verdict: goal {'MET' if met else 'NOT met'}."
            )
        ],
    )


def overhead_table(results: dict) -> Table:
    per = {}
    for (_, m, _, _), (_, s) in results.items():
        if s is not None:
            per.setdefault(m, []).append(s * 1000)
    base = np.median(per["random"])
    rows = [[m, float(np.median(v)), float(np.median(v) / base)] for m, v in per.items()]
    return Table(
        "Oracle overhead per trial (create_trial + update_trial + end_trial, incl. its JSON writes)",
        ["method", "median ms per trial", "x random"],
        rows,
        notes=[
            (
                "Measured side by side in one run, in parallel worker processes; the ratios are "
                "what to compare (the section's header gives the machine's measured load)."
            )
        ],
    )
