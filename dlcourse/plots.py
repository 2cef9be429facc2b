"""Every figure helper in one place.

Helpers return a ``matplotlib.figure.Figure``; :func:`save` writes it atomically as PNG into a
lab's run folder, shows it inline when running under Jupyter, and closes it (labs make many
figures; open figures would pile up).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from dlcourse.utils import atomic_path


def in_notebook() -> bool:
    return "ipykernel" in sys.modules


def save(fig: plt.Figure, folder: str | Path, name: str) -> Path:
    """Write ``fig`` to ``folder/name.png`` atomically; show it inline in Jupyter; close it."""
    path = Path(folder) / f"{name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    if in_notebook():  # the saved PNG itself, inline whatever matplotlib's backend (even Agg)
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    plt.close(fig)
    return path


def curves(
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    xlabel: str = "epoch",
    ylabel: str = "",
    logy: bool = False,
) -> plt.Figure:
    """One line per named series (learning curves, losses, learning rates ...)."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, ys in series.items():
        ax.plot(np.arange(1, len(ys) + 1), ys, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return fig


def image_grid(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    cols: int = 8,
    cmap: str = "gray",
    suptitle: str = "",
) -> plt.Figure:
    """Images (H, W) or (H, W, C) in a grid, e.g. feature maps or augmented samples."""
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            img = np.asarray(images[i])
            ax.imshow(img.squeeze(), cmap=cmap if img.ndim == 2 or img.shape[-1] == 1 else None)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def bars(values: Mapping[str, float], *, title: str = "", ylabel: str = "") -> plt.Figure:
    """A labelled bar chart, e.g. accuracy per method."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    names = list(values)
    ax.bar(names, [values[n] for n in names])
    ax.set(title=title, ylabel=ylabel)
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
    return fig


# ============================================================ Unit I (regression, GD)


def gd_paths(paths: Mapping[str, np.ndarray], optimum: np.ndarray) -> plt.Figure:
    """Paths of (theta_0, theta_1) taken by several gradient-descent variants."""
    fig, ax = plt.subplots(figsize=(6.4, 4.5))
    for label, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], "-o", ms=2, lw=1, alpha=0.8, label=label)
    ax.plot(*optimum[:2], "k*", ms=14, label="normal equation")
    ax.set(xlabel=r"$\theta_0$", ylabel=r"$\theta_1$", title="Gradient descent paths")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def regression_fit(x: np.ndarray, y: np.ndarray, fits: Mapping[str, np.ndarray]) -> plt.Figure:
    """Training points and the line of each fitted theta (one feature)."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(x[:, 0], y, "b.", label="training data")
    xs = np.linspace(x.min(), x.max(), 2)
    for label, theta in fits.items():
        ax.plot(xs, theta[0] + theta[1] * xs, lw=1, label=label)
    ax.set(xlabel="x", ylabel="y", title="Fitted lines")
    ax.legend(fontsize=7)
    return fig


def cost_curves(
    costs: Mapping[str, np.ndarray],
    *,
    optimum: float | None = None,
    points: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    title: str = "Cost vs iteration",
    ylabel: str = "cost",
) -> plt.Figure:
    """Cost per iteration (iteration 0 = start), log y; ``points`` adds marker series (x, y)."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, c in costs.items():
        c = np.asarray(c, np.float64)
        ax.plot(np.arange(len(c)), c, lw=1.5, label=label)
        if len(c) and not np.isfinite(c[-1]) or (len(c) > 1 and c[-1] > 1e3 * c[0]):
            ax.plot(len(c) - 1, c[np.isfinite(c)][-1], "rx", ms=10)  # where it blew up
    for label, (xs, ys) in (points or {}).items():
        ax.plot(xs, ys, "o", mfc="none", ms=7, label=label)
    if optimum is not None:
        ax.axhline(optimum, color="k", ls="--", lw=1, label="optimum")
    ax.set(title=title, xlabel="iteration", ylabel=ylabel, yscale="log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def gd_lines(
    x: np.ndarray, y: np.ndarray, paths: Mapping[str, np.ndarray], *, n_lines: int = 10
) -> plt.Figure:
    """One panel per run: the data and the lines of its first ``n_lines`` GD steps."""
    fig, axes = plt.subplots(1, len(paths), figsize=(4 * len(paths), 3.6), squeeze=False)
    xs = np.array([x.min(), x.max()])
    for ax, (label, path) in zip(axes[0], paths.items()):
        ax.plot(x[:, 0], y, "b.", ms=4)
        for i, theta in enumerate(path[: n_lines + 1]):
            ax.plot(xs, theta[0] + theta[1] * xs, "r--" if i == 0 else "g-", lw=1, alpha=0.8)
        ax.set(title=label, xlabel="x", ylim=(min(0.0, y.min()) - 1, y.max() + 3))
    axes[0, 0].set_ylabel("y")
    return fig


def weight_images(
    weights: Mapping[str, np.ndarray], shape: tuple[int, int], *, title: str = ""
) -> plt.Figure:
    """Weight vectors reshaped to images on one symmetric colour scale (red +, blue -)."""
    vmax = max(float(np.abs(w).max()) for w in weights.values()) or 1.0
    fig, axes = plt.subplots(1, len(weights), figsize=(3 * len(weights), 3.2), squeeze=False)
    for ax, (label, w) in zip(axes[0], weights.items()):
        im = ax.imshow(np.reshape(w, shape), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def two_representations(
    spaces: Mapping[str, np.ndarray],
    y: np.ndarray,
    lines: Mapping[str, tuple[np.ndarray, float]],
    axis_labels: Mapping[str, tuple[str, str]],
    accuracy: Mapping[str, float],
) -> plt.Figure:
    """The same labelled points in several 2-D representations, each with its linear boundary.

    ``lines[name] = (w, b)`` draws w . u + b = 0 in that space.
    """
    fig, axes = plt.subplots(1, len(spaces), figsize=(5 * len(spaces), 4.4), squeeze=False)
    for ax, (name, u) in zip(axes[0], spaces.items()):
        for cls, marker in ((0, "bo"), (1, "g^")):
            ax.plot(u[y == cls, 0], u[y == cls, 1], marker, ms=3, alpha=0.6, label=f"class {cls}")
        (w, b), lo, hi = lines[name], u.min(0), u.max(0)
        if abs(w[1]) > abs(w[0]):  # mostly horizontal boundary: solve for the 2nd coordinate
            us = np.linspace(lo[0], hi[0], 2)
            ax.plot(us, -(w[0] * us + b) / w[1], "k-", lw=2, label="linear boundary")
        else:
            vs = np.linspace(lo[1], hi[1], 2)
            ax.plot(-(w[1] * vs + b) / w[0], vs, "k-", lw=2, label="linear boundary")
        ax.set(
            xlim=(lo[0], hi[0]),
            ylim=(lo[1], hi[1]),
            xlabel=axis_labels[name][0],
            ylabel=axis_labels[name][1],
            title=f"{name}: accuracy {accuracy[name]:.2f}",
        )
        ax.legend(fontsize=7, loc="upper right")
    return fig


# ============================================================ Unit II (neurons, MLPs, tuning)


def activation_table(
    z: np.ndarray, table: Mapping[str, tuple[np.ndarray, np.ndarray]], *, cols: int = 4
) -> plt.Figure:
    """One panel per activation: f(z) and its derivative f'(z) (the notes' activation table)."""
    rows = int(np.ceil(len(table) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
    for ax, (name, (f, df)) in zip(axes.flat, table.items()):
        ax.plot(z, f, label="f(z)")
        ax.plot(z, df, "--", label="f'(z)")
        ax.set_title(name, fontsize=9)
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(table) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def decision_regions(
    panels: Mapping[str, tuple],
    *,
    grid: int = 200,
    unit_square: bool = True,
    labels: tuple[str, str] = ("$x_1$", "$x_2$"),
) -> plt.Figure:
    """For each ``name: (predict, x, y)`` the 0/1 regions of ``predict`` and the labelled points.

    ``unit_square`` (logic gates, XOR) draws the square [0, 1]^2, slightly padded; otherwise the
    points' own range plus a 10 % margin (e.g. the iris petals).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3), squeeze=False)
    for ax, (name, (predict, x, y)) in zip(axes.flat, panels.items()):
        if unit_square:
            lo, hi = np.array([-0.25, -0.25]), np.array([1.25, 1.25])
        else:
            margin = 0.1 * (x.max(axis=0) - x.min(axis=0))
            lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
        xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
        pts = np.c_[xx.ravel(), yy.ravel()]
        ax.contourf(
            xx,
            yy,
            np.asarray(predict(pts)).reshape(xx.shape),
            levels=[-0.5, 0.5, 1.5],
            colors=["#f4cccc", "#cfe2f3"],
        )
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="bwr_r", edgecolors="k", s=60, vmin=0, vmax=1)
        ax.set(title=name, xlabel=labels[0], ylabel=labels[1])
        if unit_square:
            ax.set(xticks=[0, 1], yticks=[0, 1])
    fig.tight_layout()
    return fig


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


# ============================================================ Unit III (training deep nets)


def layer_gradient_norms(norms: Mapping[str, Mapping[str, float]]) -> plt.Figure:
    """Per-layer gradient norm (log scale), bottom layer first, one line per network."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, per_layer in norms.items():
        ax.plot(np.arange(1, len(per_layer) + 1), list(per_layer.values()), "-o", ms=3, label=label)
    ax.set(
        xlabel="layer (1 = next to the input)",
        ylabel="||dJ/dW|| (one batch)",
        title="Gradient norm per layer",
        yscale="log",
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def train_val_panels(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str = "loss",
    *,
    title: str = "",
) -> plt.Figure:
    """One small panel per model: training vs validation ``metric`` per epoch."""
    n = len(histories)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharey=True
    )
    for ax, (label, hist) in zip(axes.flat, histories.items()):
        ep = np.arange(1, len(hist[metric]) + 1)
        ax.plot(ep, hist[metric], label="train")
        ax.plot(ep, hist[f"val_{metric}"], label="validation")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title or f"train vs validation {metric}")
    fig.tight_layout()
    return fig


def lr_finder(rates: Sequence[float], losses: Sequence[float], suggestion: float) -> plt.Figure:
    """Learning-rate range test: smoothed loss against a log-scaled learning rate."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(rates, losses)
    ax.axvline(suggestion, color="k", ls="--", lw=1, label=f"suggested {suggestion:.2g}")
    ax.set(
        xscale="log", xlabel="learning rate", ylabel="smoothed loss", title="Learning-rate finder"
    )
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def uncertainty_hist(std_right: np.ndarray, std_wrong: np.ndarray) -> plt.Figure:
    """MC dropout: spread of the predicted class probability, right vs wrong predictions."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    bins = np.linspace(
        0, max(float(np.max(std_right, initial=0)), float(np.max(std_wrong, initial=0)), 1e-3), 30
    )
    ax.hist(std_right, bins=bins, alpha=0.6, density=True, label="right predictions")
    ax.hist(std_wrong, bins=bins, alpha=0.6, density=True, label="wrong predictions")
    ax.set(
        xlabel="std of the predicted class probability over MC passes",
        ylabel="density",
        title="MC dropout uncertainty",
    )
    ax.legend()
    return fig


# ============================================================ Unit IV (CNNs)


def labelled_scatter(
    points: Mapping[str, tuple[float, float]],
    *,
    sizes: Mapping[str, float] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
    logy: bool = False,
) -> plt.Figure:
    """One labelled point per name, e.g. parameters vs accuracy of each architecture; optional
    ``sizes`` scale the markers (e.g. step time)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.5))
    biggest = max(sizes.values()) if sizes else 1.0
    for name, (x, y) in points.items():
        s = 30 + 400 * (sizes[name] / biggest) if sizes else 40
        ax.scatter([x], [y], s=s, alpha=0.6)
        ax.annotate(name, (x, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    return fig


# ============================================================ Scale and benchmarks


def ewma_bias_correction(
    series: Sequence[float], averages: Mapping[str, Sequence[float]], *, title: str = ""
) -> plt.Figure:
    """A noisy series as dots and its exponentially weighted averages as lines (notes 003)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(series) + 1), series, ".", color="0.6", ms=3, label="values")
    for label, avg in averages.items():
        ax.plot(np.arange(1, len(avg) + 1), avg, label=label)
    ax.set(xlabel="t", ylabel="value", title=title)
    ax.legend(fontsize=8)
    return fig


def dropout_masks(masks: np.ndarray, *, title: str = "") -> plt.Figure:
    """Every keep-mask of N droppable units as one row (black = dropped), notes 004."""
    fig, ax = plt.subplots(figsize=(2 + 0.4 * masks.shape[1], 0.25 * len(masks) + 1))
    ax.imshow(masks, cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax.set(xlabel="unit", ylabel="sub-network", title=title)
    ax.set_xticks(range(masks.shape[1]))
    return fig
