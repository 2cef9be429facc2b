"""The loader's check pass: read the files once, name the file and line of a bad record.

tf.data raises errors lazily, mid-epoch, and without file names. :func:`scan` parses every record
once (one vectorized pass; only when that fails, file by file with ``ignore_errors``) and returns
a :class:`ScanReport`, whose :meth:`~ScanReport.error` is one :class:`DataFileError` naming the
file and, for CSV, the line. :func:`dlcourse.data.loader.from_files` runs it with ``check=True``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from dlcourse.data.parse import Features, parser

AUTOTUNE = tf.data.AUTOTUNE


class DataFileError(ValueError):
    """A data file that cannot be read: ``path`` and, where there is one, ``line``."""

    def __init__(self, message: str, path: str, line: int | None = None):
        super().__init__(message)
        self.path, self.line = path, line


def check_csv_shards(paths: list[str]) -> None:
    """Warn about empty or header-only CSV shards; raise when every shard is one (cheap: 2 lines)."""
    empty = []
    for path in paths:
        with tf.io.gfile.GFile(path) as handle:
            header, first_row = handle.readline(), handle.readline()
        if not first_row.strip():
            empty.append(f"{path} ({'header only' if header.strip() else 'empty file'})")
    if empty and len(empty) == len(paths):
        raise ValueError(f"Every CSV file is empty or holds only its header. Received: {empty}")
    if empty:
        warnings.warn(f"Skipping CSV shards without rows: {', '.join(empty)}", stacklevel=3)


@dataclass
class ScanReport:
    """Result of :func:`scan`: records seen and the bad ones as ``(path, line_or_record, why)``."""

    format: str
    records: int
    bad: list[tuple[str, int | None, str]]

    def summary(self) -> str:
        where = "; ".join(_where(p, n, why, self.format) for p, n, why in self.bad[:5])
        more = f" (and {len(self.bad) - 5} more)" if len(self.bad) > 5 else ""
        return (
            f"on_error='skip': skipped {len(self.bad)} bad record(s) of {self.records}: "
            f"{where}{more}"
        )

    def error(self) -> DataFileError:
        path, n, why = self.bad[0]
        more = f" ({len(self.bad) - 1} more bad record(s) after it)" if len(self.bad) > 1 else ""
        return DataFileError(
            f"Cannot read {self.format.upper()} data: {_where(path, n, why, self.format)}{more}. "
            "Fix or delete it and rerun `make data`, or pass on_error='skip' to drop bad records.",
            path,
            n if self.format == "csv" else None,
        )


def _where(path: str, n: int | None, why: str, format: str) -> str:
    if n is None:
        return f"{path}: {why}"
    return f"{path}, {'line' if format == 'csv' else 'record'} {n}: {why}"


def scan(paths: list[str], features: Features, *, format: str) -> ScanReport:
    """Parse every record once and locate the ones that fail.

    Fast path: one vectorized pass over all files (batched parse). Only when that raises are
    the files re-read one by one, record by record with ``ignore_errors``, to name the culprits.
    """
    parse = parser(format, features, scale=False)
    try:
        if format == "png":  # one file per example: parallel per-example decode
            examples = tf.data.Dataset.from_tensor_slices(paths)
            examples = examples.map(parse, num_parallel_calls=AUTOTUNE, deterministic=False)
            batches = examples.batch(4096)
        else:
            batches = _raw(paths, format).batch(4096).map(parse, num_parallel_calls=AUTOTUNE)
        total = int(batches.reduce(np.int64(0), lambda n, xy: n + tf.shape(xy[1], tf.int64)[0]))
        return ScanReport(format, total, [])
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError):
        if format == "png":
            return _scan_png(paths, features)
    total, bad = 0, []
    for path in paths:
        n, file_bad = (_scan_csv if format == "csv" else _scan_tfrecord)(path, features)
        total, bad = total + n, bad + file_bad
    return ScanReport(format, total, bad)


def _raw(paths: list[str], format: str) -> tf.data.Dataset:
    """The raw records of ``paths`` in order, without the CSV header rows."""
    if format == "csv":
        names = tf.data.Dataset.from_tensor_slices(paths)
        return names.flat_map(lambda p: tf.data.TextLineDataset(p).skip(1))
    return tf.data.TFRecordDataset(paths)


def _good_indices(ds: tf.data.Dataset, parse: Callable) -> set[int]:
    """Indices of the elements of ``ds`` that ``parse`` accepts (errors are dropped)."""
    good = ds.enumerate().map(
        lambda i, r: (i, parse(r)), num_parallel_calls=AUTOTUNE, deterministic=False
    )
    return set(good.ignore_errors().map(lambda i, _: i).as_numpy_iterator())


def _count(ds: tf.data.Dataset) -> int:
    return int(ds.reduce(np.int64(0), lambda n, _: n + 1))


def _scan_csv(path: str, features: Features):
    lines = tf.data.TextLineDataset(path).skip(1)
    total = _count(lines)
    good = _good_indices(lines, parser("csv", features, scale=False))
    if len(good) == total:
        return total, []
    text = Path(path).read_text().splitlines()
    header = text[0].split(",") if text else []
    return total, [
        (path, i + 2, _csv_reason(text[i + 1], header, features))
        for i in range(total)
        if i not in good
    ]


def _csv_reason(line: str, header: list[str], features: Features) -> str:
    """Why decode_csv rejected a line, in words (only runs for lines already known bad)."""
    fields = line.split(",")
    if len(fields) != features.n_x + 1:
        return f"expected {features.n_x + 1} comma-separated fields, found {len(fields)}"
    for j, value in enumerate(fields):
        try:
            (int if j == features.n_x and features.y_dtype == "int64" else float)(value)
        except ValueError:
            column = header[j] if j < len(header) else f"#{j + 1}"
            return f"column {column!r} is not a number. Received: {value!r}"
    return f"decode_csv rejected the row. Received: {line[:60]!r}"


def _scan_tfrecord(path: str, features: Features):
    records = tf.data.TFRecordDataset(path)
    try:
        total = _count(records)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
        readable = _count(records.ignore_errors())
        found = re.search(r"(corrupted|truncated) record at \d+", err.message)  # byte offset
        detail = found.group(0) if found else err.message.splitlines()[0]
        why = f"the file is truncated or corrupt after {readable} readable record(s) ({detail})"
        return readable, [(path, None, why)]
    good = _good_indices(records, parser("tfrecord", features, scale=False))
    why = (
        f"not a tf.train.Example with x {features.x_dtype}{list(features.x_shape)} and "
        f"y {features.y_dtype}"
    )
    return total, [(path, i, why) for i in range(total) if i not in good]


def _scan_png(paths: list[str], features: Features) -> ScanReport:
    good = _good_indices(tf.data.Dataset.from_tensor_slices(paths), parser("png", features, False))
    why = f"not a decodable PNG image of shape {tuple(features.x_shape)}"
    bad = [(p, None, why) for i, p in enumerate(paths) if i not in good]
    classes = set(features.classes or ())
    for p in paths:
        if Path(p).parent.name not in classes:
            folder = Path(p).parent.name
            bad.append((p, None, f"its folder {folder!r} is not a class of {sorted(classes)}"))
    return ScanReport("png", len(paths), bad)
