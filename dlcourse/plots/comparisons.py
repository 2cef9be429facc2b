"""Figures that compare one setting with another on the same network: the train-validation gap
per regularizer, where early stopping stops, a value per learning rate or weight scale, and
training with and without gradient clipping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def train_val_gap_panels(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str = "loss",
    *,
    title: str = "",
    ylabel: str = "",
) -> plt.Figure:
    """One panel per model: training vs validation ``metric`` per epoch, the gap between them
    shaded (the overfitting a regularizer should shrink); panels share their y axis."""
    n = len(histories)
    if n == 0:
        raise ValueError("`histories` must hold at least one model. Received: histories={}")
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False, sharey=True
    )
    for ax, (label, hist) in zip(axes.flat, histories.items()):
        train, val = np.asarray(hist[metric]), np.asarray(hist[f"val_{metric}"])
        ep = np.arange(1, len(train) + 1)
        ax.plot(ep, train, label="train")
        ax.plot(ep, val, label="validation")
        ax.fill_between(ep, train, val, color="tab:red", alpha=0.15, label="gap")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].set_ylabel(ylabel or metric)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title or f"train vs validation {metric}, the gap shaded")
    fig.tight_layout()
    return fig


def early_stopping_curve(
    val_loss: Sequence[float],
    *,
    stopped_at: int,
    restored_loss: float,
    train_loss: Sequence[float] | None = None,
    title: str = "Early stopping",
) -> plt.Figure:
    """A validation loss per epoch with its minimum marked, the epoch where early stopping
    stopped (``stopped_at``, 1-based) and the loss of the restored best weights."""
    val_loss = np.asarray(val_loss, np.float64)
    if val_loss.size == 0:
        raise ValueError("`val_loss` must hold at least one epoch. Received: val_loss=[]")
    ep = np.arange(1, len(val_loss) + 1)
    best = int(np.argmin(val_loss)) + 1
    fig, ax = plt.subplots(figsize=(6.4, 4))
    if train_loss is not None:
        ax.plot(ep, train_loss, color="0.6", lw=1, label="training loss")
    ax.plot(ep, val_loss, color="tab:orange", label="validation loss")
    ax.plot(best, val_loss[best - 1], "o", color="tab:green", ms=8,
            label=f"minimum (epoch {best})")  # fmt: skip
    ax.axvline(stopped_at, color="k", ls="--", lw=1, label=f"early stopping (epoch {stopped_at})")
    ax.axhline(restored_loss, color="tab:green", ls=":", lw=1,
               label=f"restored best weights: {restored_loss:.3f}")  # fmt: skip
    ax.plot(ep[-1], val_loss[-1], "x", color="tab:red", ms=9,
            label=f"trained to the end: {val_loss[-1]:.3f}")  # fmt: skip
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def sweep(
    series: Mapping[str, Mapping[float, float | None]],
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
    reference: tuple[float, str] | None = None,
) -> plt.Figure:
    """One line per named series of ``{setting: value}`` (e.g. final loss per learning rate).

    A ``None`` or non-finite value (a run that diverged) is drawn as an ``x`` at the top of
    the axes, so a blown-up run shows where it happened instead of vanishing from the plot;
    ``reference`` adds a labelled horizontal line ``(y, label)``, e.g. the chance level.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4))
    finite = [
        v for s in series.values() for v in s.values() if v is not None and np.isfinite(v)
    ] + ([reference[0]] if reference else [])
    top = 1.1 * max(finite, default=1.0)
    for label, points in series.items():
        xs = np.array(sorted(points), np.float64)
        ys = np.array([np.nan if points[x] is None else points[x] for x in xs], np.float64)
        (line,) = ax.plot(xs, np.where(np.isfinite(ys), ys, np.nan), "-o", ms=4, label=label)
        bad = ~np.isfinite(ys)
        if bad.any():
            ax.plot(xs[bad], np.full(bad.sum(), top), "x", ms=10, mew=2, color=line.get_color())
    if reference is not None:
        ax.axhline(reference[0], color="k", ls="--", lw=1, label=reference[1])
    if any(v is None or not np.isfinite(v) for s in series.values() for v in s.values()):
        ax.plot([], [], "kx", label="diverged (NaN/inf)")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
        ax.minorticks_off()
    settings = sorted({x for s in series.values() for x in s})
    ax.set_xticks(settings, [f"{x:g}" for x in settings])  # the settings tried, as written
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def clipping_panels(
    losses: Mapping[str, Sequence[float]],
    grad_norms: Mapping[str, Sequence[float]],
    threshold: float,
    *,
    title: str = "",
) -> plt.Figure:
    """Left: training loss per epoch; right: the raw gradient norm per step, with the clipping
    ``threshold``; both log y. Where a series becomes NaN/inf (it exploded) an ``x`` marks its
    last finite value (a series never finite: at step 1, level with the panel's highest value)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, series, xlabel, ylabel, style in (
        (axes[0], losses, "epoch", "training loss", "-o"),
        (axes[1], grad_norms, "step", "||gradient|| before clipping", "-"),
    ):
        values = [np.asarray(ys, np.float64) for ys in series.values()]
        top = max((v[np.isfinite(v)].max() for v in values if np.isfinite(v).any()), default=1.0)
        for label, ys in zip(series, values):
            xs = np.arange(1, len(ys) + 1)
            finite = np.where(np.isfinite(ys), ys, np.nan)
            (line,) = ax.plot(xs, finite, style, lw=1.2, ms=3, label=label)
            ok = np.flatnonzero(np.isfinite(ys))
            if len(ok) < len(ys):  # NaN/inf from step 1 on: the x goes at the top, at step 1
                last, y = (ok[-1], ys[ok[-1]]) if len(ok) else (0, top)
                ax.plot(xs[last], y, "x", ms=10, mew=2, color=line.get_color())
        ax.set(xlabel=xlabel, ylabel=ylabel, yscale="log")
        ax.grid(alpha=0.3)
    axes[1].axhline(threshold, color="k", ls="--", lw=1, label=f"clipping threshold {threshold:g}")
    axes[0].plot([], [], "kx", label="NaN/inf after this")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(title or "Exploding gradients, with and without clipping")
    fig.tight_layout()
    return fig
