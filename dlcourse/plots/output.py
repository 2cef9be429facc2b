"""Writing a figure: atomically as PNG into a run folder, inline under Jupyter, then closed."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt

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
