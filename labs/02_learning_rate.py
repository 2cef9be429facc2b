"""
Title: The learning rate: too small, about right, too large
Unit: I
Notes: 000 (Unit I: gradient descent, "eta too small => many iterations to converge, eta too high
=> algorithm diverges"; Unit III: learning rate scheduling)
Description: Runs batch gradient descent on y = 4 + 3x + noise with three learning rates and plots
the cost per iteration and the first fitted lines of each run. Divergence is detected, not
assumed: a run that blows up is stopped and reported with the iteration where it happened, and
the verdicts are checked against theory (GD on the MSE diverges exactly when eta exceeds
2 / lambda_max of the Hessian (2/m) X^T X).
Lesson: Too small a learning rate converges slowly and too large a one diverges; the boundary is
not a matter of luck but the curvature of the cost, which predicts exactly which rates diverge.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.scratch import regression as reg

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    etas: tuple[float, ...] = arg(
        (0.02, 0.1, 0.5),
        "learning rates to compare: too small, about right, too large",
        check="positive",
    )
    n_iterations: int = arg(1000, "batch GD updates per learning rate", check="positive")
    n_lines: int = arg(10, "GD steps drawn as fitted lines in each panel", check="positive")
    tolerance: float = arg(
        1e-3, "converged once MSE <= (1 + tolerance) * optimal MSE", check="positive"
    )
    blow_up: float = arg(
        1e6, "diverged (and stopped) once MSE > blow_up * starting MSE", check="positive"
    )

    QUICK = labkit.quick(n_iterations=500)  # enough for the verdicts and the claims


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: y = 4 + 3x + noise, as NumPy arrays (batch GD here is NumPy, as in lab 01).
    splits = data.load("linear")
    x, y = splits["train"].x.astype(np.float64), splits["train"].y.astype(np.float64)

    # The target every run is judged against: the normal-equation optimum (lab 01).
    optimum = reg.mse(x, y, reg.normal_equation(x, y))
    start = reg.mse(x, y, np.zeros(x.shape[1] + 1))
    limit = reg.stability_limit(x)
    metrics: dict = {"optimal_mse": optimum, "stability_limit_eta": limit}
    paths, costs, labels = {}, {}, {}

    # One batch-GD run per learning rate, stopped early if it blows up; its cost curve says
    # whether it converged or diverged, and the Hessian's largest eigenvalue says which it should.
    for eta in cfg.etas:
        stop = cfg.blow_up * start
        _, path = reg.batch_gd(x, y, eta=eta, n_epochs=cfg.n_iterations, stop_above=stop)
        cost = reg.mse_path(x, y, path)
        verdict = _judge(cost, cfg.n_iterations, optimum, cfg.tolerance)
        verdict["predicted_to_diverge"] = bool(eta > limit)
        verdict["agrees_with_theory"] = verdict["diverged"] == verdict["predicted_to_diverge"]
        key = "eta_" + f"{eta:g}".replace(".", "_").replace("-", "m")
        metrics[key] = {"eta": eta, **verdict}
        labels[key] = f"eta = {eta:g}: {_describe(verdict)}"
        paths[labels[key]], costs[labels[key]] = path, cost
        print(labels[key])
    metrics["all_agree_with_theory"] = all(
        m["agrees_with_theory"] for m in metrics.values() if isinstance(m, dict)
    )

    # Figures: the cost curves against the optimum, and the first fitted lines of each run.
    title = f"Batch GD cost (theory: diverges for eta > {limit:.3f})"
    plots.save(plots.cost_curves(costs, optimum=optimum, title=title, ylabel="MSE"), out, "cost")
    plots.save(plots.gd_lines(x, y, paths, n_lines=cfg.n_lines), out, "fitted_lines")

    # The claims, on the smallest, the middle and the largest rate: theory predicts every
    # verdict, the smallest is slow next to the middle one, the largest blows up.
    runs = sorted((metrics[k] for k in labels), key=lambda r: r["eta"])
    small, middle, large = runs[0], runs[len(runs) // 2], runs[-1]
    slow = small["converged_at_iteration"] or cfg.n_iterations  # not yet: a lower bound
    metrics["claims"] = [
        labkit.within(
            "Gradient descent diverges exactly for the rates above 2 / lambda_max of the cost's "
            "Hessian (rates whose verdict disagrees with the theory)",
            sum(not r["agrees_with_theory"] for r in runs),
            0,
            stability_limit_eta=limit,
        ),
        labkit.at_least(
            f"Too small a rate is slow: eta = {small['eta']:g} needs at least 3 times the "
            f"updates of eta = {middle['eta']:g} to converge",
            slow / (middle["converged_at_iteration"] or np.inf),
            3.0,
        ),
        labkit.claim(
            f"Too large a rate diverges: at eta = {large['eta']:g} the MSE grows without bound",
            large["diverged"],
            stopped_at_iteration=large["stopped_at_iteration"],
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


def _judge(cost: np.ndarray, n_iterations: int, optimum: float, tolerance: float) -> dict:
    """What happened in one run, read off its cost curve.

    On the MSE (a convex quadratic) the cost of a stable run never rises, so a run diverged if
    it was stopped for blowing up or its cost is still rising at the last update.
    """
    stopped_at = len(cost) - 1 if len(cost) - 1 < n_iterations else None
    rising = bool(len(cost) > 1 and not cost[-1] <= cost[-2])
    hits = np.flatnonzero(cost <= (1 + tolerance) * optimum)
    final = float(cost[-1]) if np.isfinite(cost[-1]) else None  # JSON has no inf
    return {
        "diverged": stopped_at is not None or rising,
        "stopped_at_iteration": stopped_at,
        "converged_at_iteration": int(hits[0]) if hits.size else None,
        "final_mse": final,
    }


def _describe(verdict: dict) -> str:
    if verdict["diverged"]:
        where = verdict["stopped_at_iteration"]
        return f"diverged (stopped at step {where})" if where is not None else "diverging"
    if verdict["converged_at_iteration"] is not None:
        return f"converged in {verdict['converged_at_iteration']} steps"
    return "not converged yet"


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
