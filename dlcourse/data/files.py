"""The embedded datasets as files: CSV shards, TFRecord shards, PNG folders and a manifest.

Layout of one dataset (``data/<name>/``)::

    manifest.json                          written LAST: its presence means "complete"
    csv/train-00000-of-00004.csv           header row, then one example per line
    tfrecord/train-00000-of-00004.tfrecord tf.train.Example records
    png/train/<class>/00000.png            one folder per class (image datasets only)

Formats:

* CSV: images are flattened row-major pixels, header ``px0,...,pxN,label``; tabular data is
  ``x0,...,xD,y``. Floats are written with ``%.9g``, which round-trips float32 exactly.
  ``sample_images`` has no CSV: 427x640x3 = 819,840 columns per row would be silly.
* TFRecord: features ``x`` and ``y``. Images store ``x`` as the raw uint8 bytes (row-major
  ``(H, W, C)``, shape in the manifest), so a whole batch decodes with one vectorized
  ``tf.io.decode_raw`` after ``tf.io.parse_example``; tabular ``x`` is a float list. ``y`` is an
  int64 class id (float for regression). Examples are serialized with ``deterministic=True``.
* PNG: lossless, written by Pillow with fixed options (no timestamps), file name = row index
  within the split, folder name = class name (``0``..``9``; ``china``/``flower``).

Writing is deterministic (two runs give byte-identical files), atomic (each file is written
under a temporary name and renamed; a PNG split is written to a temporary folder and renamed;
the manifest, with every file's sha256, comes last, so an interrupted write is detected and
redone) and idempotent (a complete dataset whose checksums match is skipped). A lock file
serializes writers of the same dataset (e.g. parallel labs).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from dlcourse.data import embedded
from dlcourse.utils import atomic_path, check_choice, write_json

FORMAT_VERSION = 2  # 2: per-shard row counts
SHARD_ROWS = 320  # rows per shard: digits' 1,257 training rows -> 4 shards to interleave,
# mnist5k's 3,500 -> 11
DATASETS = tuple(embedded.BUILDERS)
CLASS_NAMES = {
    "sample_images": ("china", "flower"),
    "iris": ("setosa", "versicolor", "virginica"),
}
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"
ENV_VAR = "DLCOURSE_DATA_DIR"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$DLCOURSE_DATA_DIR``, else the repository's ``data/``."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DATA_DIR)


def dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    check_choice("name", name, DATASETS)
    return data_root(data_dir) / name


def formats_of(name: str) -> tuple[str, ...]:
    if name == "sample_images":
        return ("tfrecord", "png")
    if name.startswith("digits") or name == "mnist5k":
        return ("csv", "tfrecord", "png")
    return ("csv", "tfrecord")


def read_manifest(name: str, data_dir: str | os.PathLike | None = None) -> dict | None:
    """The dataset's manifest, or None when it is missing or unreadable (= incomplete)."""
    try:
        manifest = json.loads((dataset_dir(name, data_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("format_version") == FORMAT_VERSION else None


def is_complete(name: str, data_dir: str | os.PathLike | None = None, *, verify: bool = True):
    """True when the manifest exists and every file it lists matches its checksum.

    With ``verify=False`` only sizes are compared (cheap; used by :func:`ensure`).
    """
    manifest = read_manifest(name, data_dir)
    if manifest is None:
        return False
    root = dataset_dir(name, data_dir)
    for split in manifest["splits"].values():
        for entries in split["files"].values():
            for entry in entries:
                if not _entry_ok(root / entry["path"], entry, verify):
                    return False
    return True


def _entry_ok(path: Path, entry: dict, verify: bool) -> bool:
    if path.is_dir():
        return entry.get("files") == sum(1 for _ in path.rglob("*.png")) and (
            not verify or _tree_sha256(path) == entry["sha256"]
        )
    if not path.is_file() or path.stat().st_size != entry["bytes"]:
        return False
    return not verify or _sha256(path) == entry["sha256"]


def ensure(name: str, data_dir: str | os.PathLike | None = None) -> dict:
    """Write ``name`` if it is missing or incomplete; return its manifest."""
    if not is_complete(name, data_dir, verify=False):
        write_dataset(name, data_dir)
    return read_manifest(name, data_dir)


_MKDIR_ERRORS = {
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.EEXIST: "a file of that name exists",
}


def write_all(
    data_dir: str | os.PathLike | None = None,
    *,
    force: bool = False,
    names: Sequence[str] = DATASETS,
) -> Path:
    """Write every embedded dataset into ``data_dir`` (default ``data/``); return the folder."""
    root = data_root(data_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        why = _MKDIR_ERRORS.get(err.errno, "the file system refused to create it")
        raise OSError(
            f"Cannot create the data folder ({why}). Received: data_dir='{root}'"
        ) from err
    print(f"dlcourse data: {len(names)} datasets in {root}", flush=True)
    start = time.perf_counter()
    for name in names:
        write_dataset(name, root, force=force)
    print(f"dlcourse data: done in {time.perf_counter() - start:.1f} s", flush=True)
    return root


def write_dataset(
    name: str, data_dir: str | os.PathLike | None = None, *, force: bool = False
) -> Path:
    """Write one dataset's shards and manifest (skipped when complete and checksum-valid)."""
    root = dataset_dir(name, data_dir)
    with _lock(root):
        if not force and is_complete(name, data_dir, verify=True):
            print(f"  {name}: complete, checksums match; skipped", flush=True)
            return root
        start = time.perf_counter()
        if root.exists():  # stale or partial: start clean so no orphan shard survives
            shutil.rmtree(root)
        splits = embedded.build(name)
        manifest = _manifest_head(name, splits)
        for split, data in splits.items():
            manifest["splits"][split] = {"rows": len(data.x), "files": {}}
            for fmt in formats_of(name):
                entries = _WRITERS[fmt](root, name, split, data)
                manifest["splits"][split]["files"][fmt] = entries
        write_json(root / "manifest.json", manifest)  # last: marks the dataset complete
        rows = sum(s["rows"] for s in manifest["splits"].values())
        print(
            f"  {name}: {rows} rows as {', '.join(formats_of(name))} "
            f"in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
    return root


@contextlib.contextmanager
def _lock(root: Path) -> Iterator[None]:
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _manifest_head(name: str, splits: embedded.Splits) -> dict:
    x, y = splits["train"]
    classes = CLASS_NAMES.get(name)
    if classes is None and y.dtype == np.int64:
        classes = tuple(str(c) for c in range(int(y.max()) + 1))
    head = {
        "dataset": name,
        "format_version": FORMAT_VERSION,
        "features": {
            "x": {"shape": list(x.shape[1:]), "dtype": str(x.dtype)},
            "y": {"shape": [], "dtype": str(y.dtype)},
        },
        "classes": list(classes) if classes else None,
        "csv_header": csv_header(x.shape[1:], str(x.dtype)) if "csv" in formats_of(name) else None,
        "splits": {},
    }
    if name in embedded.PROVENANCE:
        head["provenance"] = embedded.PROVENANCE[name]
    return head


def csv_header(x_shape: Sequence[int], x_dtype: str) -> list[str]:
    """``px0..pxN,label`` for uint8 images, ``x0..xD,y`` for float features."""
    n = int(np.prod(x_shape))
    if x_dtype == "uint8":
        return [f"px{i}" for i in range(n)] + ["label"]
    return [f"x{i}" for i in range(n)] + ["y"]


def shard_name(split: str, index: int, count: int, ext: str) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.{ext}"


def _shards(n_rows: int) -> list[np.ndarray]:
    count = max(1, -(-n_rows // SHARD_ROWS))
    return np.array_split(np.arange(n_rows), count)


def _entry(root: Path, path: Path, rows: int) -> dict:
    path.chmod(0o644)  # mkstemp made it private; data files are for everyone to read
    return {
        "path": path.relative_to(root).as_posix(),
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": _sha256(path),
    }


# --------------------------------------------------------------------------- the writers


def _write_csv(root: Path, name: str, split: str, data: embedded.Split) -> list[dict]:
    x = data.x.reshape(len(data.x), -1)
    header = ",".join(csv_header(data.x.shape[1:], str(data.x.dtype)))
    xfmt = "%d" if data.x.dtype == np.uint8 else "%.9g"
    yfmt = "%d" if data.y.dtype == np.int64 else "%.9g"
    shards, entries = _shards(len(x)), []
    for i, rows in enumerate(shards):
        path = root / "csv" / shard_name(split, i, len(shards), "csv")
        table = np.concatenate([x[rows].astype(object), data.y[rows, None].astype(object)], 1)
        buf = io.StringIO()
        np.savetxt(
            buf, table, fmt=[xfmt] * x.shape[1] + [yfmt], delimiter=",", header=header, comments=""
        )
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue())
        entries.append(_entry(root, path, len(rows)))
    return entries


def _write_tfrecord(root: Path, name: str, split: str, data: embedded.Split) -> list[dict]:
    import tensorflow as tf

    shards, entries = _shards(len(data.x)), []
    for i, rows in enumerate(shards):
        path = root / "tfrecord" / shard_name(split, i, len(shards), "tfrecord")
        with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
            for r in rows:
                example = _example(tf, data.x[r], data.y[r])
                writer.write(example.SerializeToString(deterministic=True))
        entries.append(_entry(root, path, len(rows)))
    return entries


def _example(tf, x: np.ndarray, y):
    """One tf.train.Example with features ``x`` and ``y``."""
    train = tf.train
    if x.dtype == np.uint8:
        fx = train.Feature(bytes_list=train.BytesList(value=[x.tobytes()]))
    else:
        fx = train.Feature(float_list=train.FloatList(value=x.ravel().tolist()))
    if isinstance(y, np.integer):
        fy = train.Feature(int64_list=train.Int64List(value=[int(y)]))
    else:
        fy = train.Feature(float_list=train.FloatList(value=[float(y)]))
    return train.Example(features=train.Features(feature={"x": fx, "y": fy}))


def _write_png(root: Path, name: str, split: str, data: embedded.Split) -> list[dict]:
    from PIL import Image

    classes = CLASS_NAMES.get(name) or [str(c) for c in range(int(data.y.max()) + 1)]
    final = root / "png" / split
    tmp = final.parent / f".{split}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for c in classes:
        (tmp / c).mkdir(parents=True)
    for i, (img, label) in enumerate(zip(data.x, data.y)):
        pixels = img[..., 0] if img.shape[-1] == 1 else img  # (h, w) grey or (h, w, 3) RGB
        Image.fromarray(pixels).save(
            tmp / classes[label] / f"{i:05d}.png", format="PNG", optimize=False, compress_level=6
        )
    os.replace(tmp, final)
    entry = {
        "path": final.relative_to(root).as_posix(),
        "files": len(data.x),
        "sha256": _tree_sha256(final),
    }
    return [entry]


_WRITERS = {"csv": _write_csv, "tfrecord": _write_tfrecord, "png": _write_png}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tree_sha256(folder: Path) -> str:
    """One checksum for a folder of PNGs: sha256 over sorted (relative path, file sha256)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.png")):
        digest.update(f"{path.relative_to(folder).as_posix()}:{_sha256(path)}\n".encode())
    return digest.hexdigest()
