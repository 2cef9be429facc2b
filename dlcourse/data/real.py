"""Real datasets from local files only: MNIST, Fashion-MNIST and CIFAR-10.

``load_real(name)`` looks, in order, in

1. tensorflow-datasets' data folder (``data_dir``, else ``$TFDS_DATA_DIR``, else
   ``~/tensorflow_datasets``), via ``tfds.load(..., download=False)``;
2. Keras' dataset cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``), via
   ``keras.datasets.<name>.load_data()`` when its files are there.

Nothing is downloaded unless asked (``download=True``, a lab's ``--download`` flag, or
``make fetch DATA=mnist``, which runs ``python -m dlcourse.data.real mnist``: tensorflow-datasets
downloads and prepares the dataset in its data folder), and nothing else is substituted: with
no files it raises :class:`RealDatasetNotFoundError` saying where it looked and how to provide
the files; a failed download raises the same error with the reason. The
result has the shape of :func:`dlcourse.data.load`: ``{"train", "val", "test"}`` splits of uint8
images with a channel axis and int64 labels; ``val`` is the first ``val_size`` training images
(the usual Keras split, e.g. 55,000/5,000 for MNIST).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from dlcourse.data.embedded import Split
from dlcourse.utils import check_choice, check_positive

# name -> (tfds name, keras.datasets module, files in the Keras cache's datasets/ folder)
REAL = {
    "mnist": ("mnist", "mnist", ("mnist.npz",)),
    "fashion_mnist": (
        "fashion_mnist",
        "fashion_mnist",
        (
            "fashion-mnist/train-labels-idx1-ubyte.gz",
            "fashion-mnist/train-images-idx3-ubyte.gz",
            "fashion-mnist/t10k-labels-idx1-ubyte.gz",
            "fashion-mnist/t10k-images-idx3-ubyte.gz",
        ),
    ),
    "cifar10": ("cifar10", "cifar10", ("cifar-10-batches-py-target_archive",)),
}


class RealDatasetNotFoundError(FileNotFoundError):
    """A real dataset has no local files (and there is no network to fetch them)."""


def load_real(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    val_size: int = 5000,
    download: bool = False,
):
    """Load MNIST, Fashion-MNIST or CIFAR-10 from local tfds or Keras files.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
        data_dir: tensorflow-datasets folder (default ``$TFDS_DATA_DIR`` or
            ``~/tensorflow_datasets``).
        val_size: training images moved to the ``val`` split.
        download: first fetch and prepare the dataset with tensorflow-datasets (network).

    Raises:
        RealDatasetNotFoundError: neither tfds nor Keras has the files (or the download
            failed).
    """
    check_choice("name", name, tuple(REAL))
    check_positive("val_size", val_size)
    tfds_dir = tfds_data_dir(data_dir)
    if download:
        fetch(name, tfds_dir)
    arrays = _from_tfds(name, tfds_dir)
    if arrays is None:
        arrays = _from_keras(name)
    if arrays is None:
        raise RealDatasetNotFoundError(_missing_message(name, tfds_dir))
    (x_train, y_train), (x_test, y_test) = arrays
    if not 0 < val_size < len(x_train):
        raise ValueError(
            f"`val_size` must be in (0, {len(x_train)}) for {name}. Received: val_size={val_size}"
        )
    return {
        "train": _split(x_train[val_size:], y_train[val_size:]),
        "val": _split(x_train[:val_size], y_train[:val_size]),
        "test": _split(x_test, y_test),
    }


def tfds_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``."""
    return Path(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets").expanduser()


def fetch(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Download and prepare ``name`` with tensorflow-datasets into its data folder.

    Raises:
        RealDatasetNotFoundError: the download failed (e.g. no network), with the reason.
    """
    import tensorflow_datasets as tfds

    check_choice("name", name, tuple(REAL))
    tfds_dir = tfds_data_dir(data_dir)
    builder = tfds.builder(REAL[name][0], data_dir=str(tfds_dir))
    existed = tfds_dir.exists()
    try:
        builder.download_and_prepare()
    except Exception as err:  # network, DNS, disk: all end in the same clear error
        _remove_partial_download(tfds_dir, existed)
        raise RealDatasetNotFoundError(
            f"Downloading {name!r} through tensorflow-datasets into {tfds_dir} failed "
            f"({type(err).__name__}: {err}). " + _missing_message(name, tfds_dir)
        ) from err
    return tfds_dir


def _remove_partial_download(tfds_dir: Path, existed: bool) -> None:
    """A failed download leaves nothing behind: the folder it created, or its ``.tmp`` files."""
    import shutil

    if not existed:
        shutil.rmtree(tfds_dir, ignore_errors=True)
        return
    for tmp in (tfds_dir / "downloads").rglob("*.tmp.*"):
        tmp.unlink(missing_ok=True)


def as_dataset(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    batch_size: int = 32,
    shuffle: bool = True,
    take: int | None = None,
    classes: tuple[int, ...] | None = None,
    per_class: int | None = None,
    augment=None,
    preprocess=None,
    seed: int = 42,
    cache: bool = True,
):
    """One split of a real dataset as the loader's batched ``(x in [0, 1], y)`` dataset.

    The same stages and switches as :func:`dlcourse.data.loader.from_files` (subset, shuffle,
    augment, batch, scale, prefetch), over the arrays :func:`load_real` read from local files.
    """
    import tensorflow as tf

    x, y = _cached(name, None if data_dir is None else str(data_dir), download)[split]
    if classes is not None:
        keep = np.isin(y, classes)
        lookup = {c: i for i, c in enumerate(classes)}
        x, y = x[keep], np.array([lookup[int(v)] for v in y[keep]], np.int64)
    if per_class is not None:
        first = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in np.unique(y)])
        x, y = x[np.sort(first)], y[np.sort(first)]
    x, y = (x[:take], y[:take]) if take else (x, y)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b))
    per_batch = augment is not None and getattr(augment, "per_batch", False)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if augment is not None and not per_batch:
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if per_batch:  # each batch from its own seed: see dlcourse.data.augment
        ds = augment.map_batches(ds)
    if preprocess is not None:
        ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


@functools.lru_cache(maxsize=2)
def _cached(name: str, data_dir: str | None, download: bool):
    return load_real(name, data_dir, download=download)


def _split(x: np.ndarray, y: np.ndarray) -> Split:
    x = np.asarray(x, np.uint8)
    return Split(x[..., None] if x.ndim == 3 else x, np.asarray(y, np.int64).reshape(-1))


def _from_tfds(name: str, tfds_dir: Path):
    import tensorflow_datasets as tfds

    try:
        splits = tfds.load(
            REAL[name][0],
            split=["train", "test"],
            data_dir=str(tfds_dir),
            download=False,
            as_supervised=True,
        )
    except AssertionError:  # tfds: "could not find data in <dir>"
        return None
    return tuple(_to_numpy(ds) for ds in splits)


def _to_numpy(ds) -> tuple[np.ndarray, np.ndarray]:
    """All ``(image, label)`` pairs of a tfds split as two arrays (read in large batches)."""
    xs, ys = zip(*ds.batch(10_000).as_numpy_iterator())
    return np.concatenate(xs), np.concatenate(ys)


def keras_datasets_dir() -> Path:
    """Where ``keras.datasets`` caches its files (``$KERAS_HOME/datasets``)."""
    from dlcourse import upstream

    return Path(upstream.keras_home()).expanduser() / "datasets"


def _from_keras(name: str):
    folder = keras_datasets_dir()
    if not all((folder / f).exists() for f in REAL[name][2]):
        return None
    import importlib

    module = importlib.import_module(f"keras.datasets.{REAL[name][1]}")
    return module.load_data()


def _missing_message(name: str, tfds_dir: Path) -> str:
    tfds_name, keras_name, keras_files = REAL[name]
    keras_dir = keras_datasets_dir()
    looked = "; ".join(str(keras_dir / f) for f in keras_files)
    return (
        f"Real dataset {name!r} is not on this machine, and dlcourse never downloads it at run "
        f"time nor substitutes other data. Looked in: tensorflow-datasets {tfds_dir / tfds_name} "
        f"(no prepared version), Keras cache {looked} (missing). To provide it, on a machine "
        f"with network either run `tfds build {tfds_name}` and copy ~/tensorflow_datasets/"
        f"{tfds_name} into {tfds_dir} (or pass data_dir= / set TFDS_DATA_DIR), or run "
        f'`python -c "import keras; keras.datasets.{keras_name}.load_data()"` and copy '
        f"~/.keras/datasets into {keras_dir.parent}."
    )


def main(argv=None) -> None:
    """``python -m dlcourse.data.real mnist`` (``make fetch DATA=mnist``)."""
    import argparse

    parser = argparse.ArgumentParser(description="Download a real dataset with tfds.")
    parser.add_argument("name", choices=tuple(REAL))
    parser.add_argument("--data-dir", default=None, help="tfds data folder")
    args = parser.parse_args(argv)
    print(f"{args.name}: prepared in {fetch(args.name, args.data_dir)}")


if __name__ == "__main__":
    import sys

    from dlcourse.errors import run_main

    sys.exit(run_main(main))
