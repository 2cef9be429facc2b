"""Data: the embedded offline datasets, their files in data/, the tf.data loader stage.

``load(name)`` is what labs call: it returns ``{"train": Split(x, y), "val": ..., "test": ...}``
as NumPy arrays. See :mod:`dlcourse.data.embedded` for the datasets and their splits.
"""

from __future__ import annotations

from pathlib import Path

from dlcourse.data.embedded import SPLITS, Split, Splits, build

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"


def load(name: str, *, data_dir: str | Path | None = None) -> Splits:
    """Load an embedded dataset's splits as NumPy arrays."""
    return build(name)


def write_all(data_dir: str | Path | None = None, *, force: bool = False) -> Path:
    """Write every embedded dataset into ``data_dir`` (default ``data/``)."""
    raise NotImplementedError("the data writers are not written yet")


__all__ = ["DATA_DIR", "SPLITS", "Split", "Splits", "load", "write_all"]
