"""Every figure helper in one place.

Helpers return a ``matplotlib.figure.Figure``; :func:`save` writes it atomically as PNG into a
lab's run folder, shows it inline when running under Jupyter, and closes it (labs make many
figures; open figures would pile up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from dlcourse.utils import atomic_path


def in_notebook() -> bool:
    return "ipykernel" in sys.modules


def save(fig: "plt.Figure", folder: str | Path, name: str) -> Path:
    """Write ``fig`` to ``folder/name.png`` atomically; show it inline in Jupyter; close it."""
    path = Path(folder) / f"{name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    if in_notebook():
        from IPython.display import display

        display(fig)
    plt.close(fig)
    return path


def curves(
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    xlabel: str = "epoch",
    ylabel: str = "",
    logy: bool = False,
) -> "plt.Figure":
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
    images: Sequence[np.ndarray], titles: Sequence[str] | None = None, *, cols: int = 8,
    cmap: str = "gray", suptitle: str = "",
) -> "plt.Figure":
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


def bars(values: Mapping[str, float], *, title: str = "", ylabel: str = "") -> "plt.Figure":
    """A labelled bar chart, e.g. accuracy per method."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    names = list(values)
    ax.bar(names, [values[n] for n in names])
    ax.set(title=title, ylabel=ylabel)
    ax.tick_params(axis="x", rotation=30)
    ax.grid(alpha=0.3, axis="y")
    return fig


# ============================================================ Unit I (regression, GD)


def gd_paths(paths: Mapping[str, np.ndarray], optimum: np.ndarray) -> "plt.Figure":
    """Paths of (theta_0, theta_1) taken by several gradient-descent variants."""
    fig, ax = plt.subplots(figsize=(6.4, 4.5))
    for label, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], "-o", ms=2, lw=1, alpha=0.8, label=label)
    ax.plot(*optimum[:2], "k*", ms=14, label="normal equation")
    ax.set(xlabel=r"$\theta_0$", ylabel=r"$\theta_1$", title="Gradient descent paths")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def regression_fit(x: np.ndarray, y: np.ndarray, fits: Mapping[str, np.ndarray]) -> "plt.Figure":
    """Training points and the line of each fitted theta (one feature)."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(x[:, 0], y, "b.", label="training data")
    xs = np.linspace(x.min(), x.max(), 2)
    for label, theta in fits.items():
        ax.plot(xs, theta[0] + theta[1] * xs, lw=1, label=label)
    ax.set(xlabel="x", ylabel="y", title="Fitted lines")
    ax.legend(fontsize=7)
    return fig

# ============================================================ Unit II (neurons, MLPs, tuning)

# ============================================================ Unit III (training deep nets)

# ============================================================ Unit IV (CNNs)

# ============================================================ Scale and benchmarks
