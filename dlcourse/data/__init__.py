"""Data: the embedded offline datasets, their files in data/, the tf.data loader stage.

The straight line: scikit-learn's shipped files -> :mod:`~dlcourse.data.embedded` (fixed,
stratified splits) -> files in ``data/`` (:mod:`~dlcourse.data.files`: CSV, TFRecord, PNG,
manifest) -> the tf.data loader (:mod:`~dlcourse.data.loader`) -> a model.

* ``load(name)`` is what labs call: ``{"train": Split(x, y), "val": ..., "test": ...}`` as
  NumPy arrays (uint8 images with a channel axis, int64 labels), read from ``data/`` through the
  loader (the files are written first when missing).
* ``make_dataset(name, split, format=..., batch_size=...)`` is the batched tf.data pipeline.
* ``write_all()`` is ``make data``; ``load_real("mnist")`` reads real datasets from local files.
* ``import dlcourse.data.tfds_digits`` registers the ``dlcourse_digits`` tfds builder.

The data folder is ``data_dir`` when given, else ``$DLCOURSE_DATA_DIR``, else the repository's
``data/``. Everything that needs TensorFlow is imported lazily.
"""

from __future__ import annotations

import importlib
import os

from dlcourse.data.embedded import SPLITS, Split, Splits, build
from dlcourse.data.files import DATASETS, ENV_VAR, data_root, write_all, write_dataset

DATA_DIR = data_root()

_LAZY = {
    "make_dataset": "loader",
    "from_files": "loader",
    "file_pattern": "loader",
    "Features": "loader",
    "DataFileError": "loader",
    "scan": "loader",
    "load_real": "real",
    "RealDatasetNotFoundError": "real",
}


def load(name: str, *, data_dir: str | os.PathLike | None = None) -> Splits:
    """Load an embedded dataset's splits as NumPy arrays, read from its TFRecord files.

    Returns exactly what :func:`dlcourse.data.embedded.build` builds (same dtypes, shapes and
    order); the files are written first when they are missing or incomplete.
    """
    from dlcourse.data import files, loader

    manifest = files.ensure(name, data_dir)
    feats = loader.Features.from_manifest(manifest)
    out = {}
    for split in SPLITS:
        rows = manifest["splits"][split]["rows"]
        ds = loader.make_dataset(
            name,
            split,
            format="tfrecord",
            data_dir=data_dir,
            batch_size=rows,
            shuffle=False,
            cycle_length=1,
            scale=False,
            check=False,
            device=None,
        )
        x, y = ds.get_single_element()
        out[split] = Split(x.numpy().astype(feats.x_dtype), y.numpy())
    return out


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASETS",
    "DATA_DIR",
    "ENV_VAR",
    "SPLITS",
    "DataFileError",
    "Features",
    "RealDatasetNotFoundError",
    "Split",
    "Splits",
    "build",
    "file_pattern",
    "from_files",
    "load",
    "load_real",
    "make_dataset",
    "scan",
    "write_all",
    "write_dataset",
]
