"""Parameter and input spaces (Units I-II): gradient-descent paths, fitted lines, decision
regions, two representations of the same points, the activation table."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np


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
