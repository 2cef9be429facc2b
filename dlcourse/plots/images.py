"""Images and feature maps: image grids, weight vectors as images, dropout masks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


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


def dropout_masks(masks: np.ndarray, *, title: str = "") -> plt.Figure:
    """Every keep-mask of N droppable units as one row (black = dropped), notes 004."""
    fig, ax = plt.subplots(figsize=(2 + 0.4 * masks.shape[1], 0.25 * len(masks) + 1))
    ax.imshow(masks, cmap="gray", vmin=0, vmax=1, aspect="auto")
    ax.set(xlabel="unit", ylabel="sub-network", title=title)
    ax.set_xticks(range(masks.shape[1]))
    return fig


def accuracy_vs_shift(accuracy: Mapping[str, Sequence[float]], *, title: str = "") -> plt.Figure:
    """Test accuracy against the shift of the test images (0, 1, 2 ... pixels), one line per
    network, e.g. a CNN and an MLP trained on unshifted digits."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, acc in accuracy.items():
        ax.plot(np.arange(len(acc)), acc, marker="o", label=label)
    ax.set(title=title, xlabel="shift (pixels)", ylabel="test accuracy", ylim=(0, 1.02))
    ax.set_xticks(np.arange(max(len(a) for a in accuracy.values())))
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def shifted_maps(
    images: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    shifts: Sequence[int],
    *,
    title: str = "A shifted digit and a feature map shifting along",
) -> plt.Figure:
    """Top row: one image shifted right by each of ``shifts`` pixels; bottom row: a feature
    map of each (same height and width). A dashed line marks the unshifted image's centre of
    mass (of the unshifted map in the bottom row), a solid one each panel's own, so the map is
    seen moving with the image."""
    fig, axes = plt.subplots(2, len(images), figsize=(2.2 * len(images), 4.6), squeeze=False)
    for col, (img, fmap, k) in enumerate(zip(images, maps, shifts)):
        for row, (panel, cmap) in enumerate(((img, "gray"), (fmap, "viridis"))):
            ax = axes[row, col]
            ax.imshow(np.asarray(panel).squeeze(), cmap=cmap)
            ax.axvline(_centre_column((images, maps)[row][0]), color="w", ls="--", lw=1)
            ax.axvline(_centre_column(panel), color="r", lw=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(f"shift {k} px", fontsize=9)
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("feature map")
    fig.suptitle(title)
    return fig


def _centre_column(image: np.ndarray) -> float:
    """Column of an image's centre of mass (of its absolute values)."""
    weights = np.abs(np.asarray(image).squeeze()).sum(axis=0)
    return float((np.arange(len(weights)) * weights).sum() / max(weights.sum(), 1e-12))
