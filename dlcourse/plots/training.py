"""Training curves and comparisons: learning curves, cost per iteration, per-layer gradient
norms, train vs validation panels, the LR finder, MC-dropout spread, labelled scatters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


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


def bars(values: Mapping[str, float], *, title: str = "", ylabel: str = "") -> plt.Figure:
    """A labelled bar chart, e.g. accuracy per method."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    names = list(values)
    ax.bar(names, [values[n] for n in names])
    ax.set(title=title, ylabel=ylabel)
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
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


def train_val_curve(
    xs: Sequence[float],
    train: Sequence[float],
    val: Sequence[float],
    *,
    xlabel: str,
    ylabel: str = "accuracy",
    title: str = "",
    logx: bool = True,
) -> plt.Figure:
    """Training and validation score against a setting (training-set size, width ...), one point
    per trained network, the gap between them shaded: a learning curve or a capacity curve."""
    xs, train, val = (np.asarray(v, np.float64) for v in (xs, train, val))
    if not len(xs) == len(train) == len(val):
        raise ValueError(
            "`xs`, `train` and `val` must have the same length. "
            f"Received: lengths {len(xs)}, {len(train)}, {len(val)}"
        )
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(xs, train, "-o", label="training")
    ax.plot(xs, val, "-o", label="validation")
    ax.fill_between(xs, train, val, alpha=0.2, color="C3", label="gap (variance)")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.minorticks_off()
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def gradient_vs_probability(
    p_true: np.ndarray, grads: Mapping[str, np.ndarray], *, title: str = ""
) -> plt.Figure:
    """Per-example gradient norm of each loss with respect to the logits against the
    probability the network gives the true class (logit scale, so that both ends show): where
    it is confidently wrong (left) a loss whose gradient vanishes cannot correct it. Gradients
    below 1e-4 (confidently right digits) are off the plot."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, g in grads.items():
        ax.scatter(p_true, g, s=8, alpha=0.5, label=label)
    ax.set(
        xlabel="predicted probability of the true class",
        ylabel="||dLoss/dlogits|| (one example)",
        title=title or "Gradient at the output vs how right the network is",
        yscale="log",
    )
    ax.set_xscale("logit", nonpositive="clip")  # stretches both ends: p near 0 and near 1
    ticks = [1e-4, 1e-2, 0.5, 0.99, 0.9999]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(bottom=1e-4)  # confidently right digits have vanishing gradients under both
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def versus(
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    xlabel: str = "",
    title: str = "",
    logy: Sequence[str] = (),
) -> plt.Figure:
    """One panel per measured quantity (its y label), one marked line per named series, all
    against the same ``x`` (e.g. training loss and validation accuracy vs depth, plain vs
    residual: the degradation curve). Panels named in ``logy`` get a log y axis."""
    if not panels or any(len(ys) != len(x) for p in panels.values() for ys in p.values()):
        raise ValueError(
            "`panels` must map each y label to series of len(x) values. "
            f"Received: len(x)={len(x)}, panels={ {k: list(v) for k, v in panels.items()} }"
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (ylabel, series) in zip(axes.flat, panels.items()):
        for label, ys in series.items():
            ax.plot(x, ys, "-o", ms=5, label=label)
        ax.set(xlabel=xlabel, ylabel=ylabel, xticks=list(x))
        if ylabel in logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def function_fits(
    x: np.ndarray, target: np.ndarray, fits: Mapping[str, np.ndarray], *, title: str = ""
) -> plt.Figure:
    """A target function of one variable (thick grey) and the named networks' outputs on ``x``."""
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    ax.plot(x, target, color="0.75", lw=4, label="target")
    for label, y in fits.items():
        ax.plot(x, y, lw=1, label=label)
    ax.set(xlabel="x", ylabel="output", title=title)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return fig
