"""Search results: score per trial, regret curves over seeds, coarse-to-fine ranges per round."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def tuning_scores(
    scores: Sequence[float | None],
    *,
    groups: Sequence[int] | None = None,
    title: str = "",
    ylabel: str = "score",
    direction: str = "max",
) -> plt.Figure:
    """Score of every trial (colored by round when ``groups`` is given) and the running best
    (the running minimum when ``direction="min"``, e.g. for a loss)."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    idx = [i for i, s in enumerate(scores) if s is not None]
    vals = [scores[i] for i in idx]
    if groups is not None:
        sc = ax.scatter(idx, vals, c=[groups[i] for i in idx], cmap="viridis", s=25, zorder=3)
    else:
        ax.scatter(idx, vals, color="tab:blue", s=25, zorder=3)
    if vals:
        best = np.minimum if direction == "min" else np.maximum
        ax.plot(idx, best.accumulate(vals), "k-", lw=1, label="best so far")
        ax.legend()
    if groups is not None and idx:
        fig.colorbar(sc, ax=ax, label="round")
    ax.set(title=f"{title}: score per trial", xlabel="trial", ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig


def regret_curves(
    curves: Mapping[str, np.ndarray], *, title: str = "", ylabel: str = "simple regret"
) -> plt.Figure:
    """Median (line) and quartiles (band) of best-so-far regret against trials, per method;
    ``curves[name]`` has shape (seeds, trials). Log y axis."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, c in curves.items():
        trials = np.arange(1, c.shape[1] + 1)
        q1, med, q3 = np.percentile(c, [25, 50, 75], axis=0)
        (line,) = ax.plot(trials, med, lw=1.5, label=f"{name} ({c.shape[0]} seeds)")
        ax.fill_between(trials, q1, q3, color=line.get_color(), alpha=0.15)
    ax.set(title=title, xlabel="trials", ylabel=ylabel, yscale="log")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def c2f_ranges(
    round_log: Sequence[Mapping], values: Sequence[Mapping], groups: Sequence[int] | None
) -> plt.Figure:
    """Coarse-to-fine: each numeric hyperparameter's range per round (bars) and the values the
    trials of that round sampled (dots); log axes where the range spans a decade or more."""
    names = list(round_log[0]["ranges"]) if round_log else []
    fig, axes = plt.subplots(
        1, max(len(names), 1), figsize=(2.6 * max(len(names), 1), 3.4), squeeze=False
    )
    for ax, name in zip(axes.flat, names):
        for r in round_log:
            lo, hi = r["ranges"][name]
            ax.plot([r["round"]] * 2, [lo, hi], lw=8, alpha=0.35, color="tab:blue")
        for v, g in zip(values, groups or [0] * len(values)):
            if name in v:
                ax.plot(g, v[name], "k.", ms=4)
        lo, hi = round_log[0]["ranges"][name]
        if lo > 0 and hi / lo >= 10:
            ax.set_yscale("log")
        ax.set(title=name, xlabel="round", xticks=[r["round"] for r in round_log])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
