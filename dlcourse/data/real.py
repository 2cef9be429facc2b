"""Real datasets from local files only: MNIST, Fashion-MNIST and CIFAR-10.

``load_real(name)`` looks, in order, in

1. tensorflow-datasets' data folder (``data_dir``, else ``$TFDS_DATA_DIR``, else
   ``~/tensorflow_datasets``), via ``tfds.load(..., download=False)``;
2. Keras' dataset cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``), via
   ``keras.datasets.<name>.load_data()`` when its files are there.

Nothing is downloaded and nothing else is substituted: with no files it raises
:class:`RealDatasetNotFoundError` saying where it looked and how to provide the files. The
result has the shape of :func:`dlcourse.data.load`: ``{"train", "val", "test"}`` splits of uint8
images with a channel axis and int64 labels; ``val`` is the first ``val_size`` training images
(the usual Keras split, e.g. 55,000/5,000 for MNIST).
"""

from __future__ import annotations

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


def load_real(name: str, data_dir: str | os.PathLike | None = None, *, val_size: int = 5000):
    """Load MNIST, Fashion-MNIST or CIFAR-10 from local tfds or Keras files.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
        data_dir: tensorflow-datasets folder (default ``$TFDS_DATA_DIR`` or
            ``~/tensorflow_datasets``).
        val_size: training images moved to the ``val`` split.

    Raises:
        RealDatasetNotFoundError: neither tfds nor Keras has the files.
    """
    check_choice("name", name, tuple(REAL))
    check_positive("val_size", val_size)
    tfds_dir = Path(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")
    tfds_dir = tfds_dir.expanduser()
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
    from keras.src.backend.config import keras_home

    return Path(keras_home()).expanduser() / "datasets"


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
