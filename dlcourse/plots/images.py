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
