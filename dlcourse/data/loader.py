"""The tf.data loader stage: file pattern -> batched, prefetched ``(x, y)`` dataset.

Notes 004 (tf.data): ``list_files`` -> ``interleave`` -> ``shuffle`` -> ``map`` -> ``batch`` ->
``prefetch``. One function family serves the three file formats of :mod:`dlcourse.data.files`:

* :func:`from_files` builds the pipeline from any file pattern plus a
  :class:`~dlcourse.data.parse.Features` spec,
* :func:`make_dataset` looks the pattern and spec up in a dataset's ``manifest.json``:
  ``make_dataset("digits28", split="train", format="tfrecord", batch_size=64)``.

The stages, in order (each one a keyword argument):

1. ``tf.data.Dataset.list_files(pattern, shuffle=shuffle, seed=seed)``: shard order.
2. ``interleave`` over the shards (``cycle_length``, ``num_parallel_calls=AUTOTUNE``,
   ``deterministic``); PNG has one file per example, so it maps ``read_file`` instead.
3. ``cache`` (optional): keeps the raw records in memory (or in a file) after the first epoch.
4. ``shuffle(shuffle_buffer, seed)``, then ``repeat`` (optional).
5. parse + scale (:mod:`dlcourse.data.parse`): CSV lines through ``tf.io.decode_csv`` and TFRecords through
   ``tf.io.parse_example`` *after* ``batch`` (one vectorized op per batch); PNGs through
   ``tf.io.decode_png`` per example with ``num_parallel_calls=AUTOTUNE``. uint8 images become
   float32 in [0, 1] unless ``scale=False``.
6. ``augment`` hook (optional, training data only): ``augment(image, label) -> (image, label)``
   is mapped per example after parsing and scaling, before batching. ``image`` is one example,
   ``(H, W, C)`` float32 in [0, 1] (uint8 with ``scale=False``), ``label`` a scalar int64.
   Giving it switches CSV/TFRecord parsing to per example (still parallel). An augmenter with
   ``per_batch = True`` (:func:`dlcourse.data.augment.keras_augmenter`: Keras preprocessing
   layers) runs instead on whole batches right after ``batch``, through its ``map_batches``
   (each batch drawn from its own seed, statelessly, so the transforms are reproducible).
7. ``batch(batch_size)``, then ``preprocess(x, y) -> (x, y)`` (optional) on whole batches.
8. ``prefetch(AUTOTUNE)``, then :func:`to_device` (``device``): with one visible GPU
   ``tf.data.experimental.prefetch_to_device`` copies batches ahead to it. This is the one
   device-prefetch implementation; :func:`dlcourse.training.fit` calls it for its input.

Subsets: ``take=n`` keeps the first ``n`` examples and ``classes=(5, 6, ...)`` keeps those
classes, relabelled ``0..k-1`` in the order given. Both read the shards in file order
(``list_files`` unshuffled, ``cycle_length=1``) and parse per example before ``cache`` and
``shuffle``, so the subset is the same every epoch and every run; ``shuffle`` then shuffles
within it.

Distribution: every dataset carries an ``AutoShardPolicy``: ``FILE`` (each worker reads its own
shards) when there are at least as many shard files as workers (``TF_CONFIG``'s cluster, or the
active strategy), else ``DATA`` (every worker reads everything and keeps its slice of each
batch). With one worker the policy is never consulted.

Bad files: tf.data raises errors lazily, mid-epoch, and without file names. So with
``check=True`` (the default) the check pass (:mod:`dlcourse.data.check`) first parses every
record once; any record that did not parse is located and reported as one
:class:`~dlcourse.data.check.DataFileError` (a ``ValueError``) naming the file and, for CSV,
the line. ``on_error="skip"`` drops the bad records instead and warns how many were skipped.

Modules: this one holds the pipeline, the subset stage, sharding and device prefetch;
:mod:`~dlcourse.data.parse` the per-format parsers; :mod:`~dlcourse.data.check` the check pass.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import tensorflow as tf

from dlcourse.data import files
from dlcourse.data.check import check_csv_shards, scan
from dlcourse.data.parse import Features, parser
from dlcourse.utils import check_choice, check_positive

AUTOTUNE = tf.data.AUTOTUNE
FORMATS = ("csv", "tfrecord", "png")

Transform = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


# --------------------------------------------------------------------------- public API


def make_dataset(
    name: str,
    split: str = "train",
    *,
    format: str = "tfrecord",
    data_dir: str | os.PathLike | None = None,
    **kwargs,
) -> tf.data.Dataset:
    """The loader pipeline over an embedded dataset's files (written first if missing).

    Args:
        name: embedded dataset, e.g. ``"digits28"`` (see :mod:`dlcourse.data.embedded`).
        split: ``"train"``, ``"val"`` or ``"test"``.
        format: ``"tfrecord"``, ``"csv"`` or ``"png"`` (what the dataset has; see
            :mod:`dlcourse.data.files`).
        data_dir: data folder (default ``$DLCOURSE_DATA_DIR`` or the repository's ``data/``).
        **kwargs: the stage switches of :func:`from_files`.
    """
    check_choice("split", split, ("train", "val", "test"))
    check_choice("format", format, FORMATS)
    manifest = files.ensure(name, data_dir)
    if format not in manifest["splits"][split]["files"]:
        have = ", ".join(manifest["splits"][split]["files"])
        raise ValueError(
            f"Dataset {name!r} has no {format} files. Received: format={format!r}; "
            f"expected one of {have}"
        )
    return from_files(
        file_pattern(name, split, format, data_dir),
        Features.from_manifest(manifest),
        format=format,
        **kwargs,
    )


def file_pattern(
    name: str, split: str, format: str, data_dir: str | os.PathLike | None = None
) -> str:
    """The glob pattern of a split's files, e.g. ``data/digits/tfrecord/train-*.tfrecord``."""
    root = files.dataset_dir(name, data_dir)
    if format == "png":
        return str(root / "png" / split / "*" / "*.png")
    return str(root / format / f"{split}-*.{format}")


def from_files(
    pattern: str | os.PathLike,
    features: Features,
    *,
    format: str,
    batch_size: int | None = 32,
    shuffle: bool = True,
    shuffle_buffer: int = 2048,
    seed: int = 42,
    cycle_length: int = 4,
    deterministic: bool = True,
    cache: bool | str = False,
    repeat: bool = False,
    take: int | None = None,
    classes: tuple[int, ...] | None = None,
    per_class: int | None = None,
    scale: bool = True,
    augment: Transform | None = None,
    preprocess: Transform | None = None,
    drop_remainder: bool = False,
    check: bool = True,
    on_error: str = "raise",
    shard_policy: str = "auto",
    device: str | None = None,
) -> tf.data.Dataset:
    """Build the loader pipeline over the files matching ``pattern`` (stages: module docstring).

    Args:
        pattern: glob pattern of the files, e.g. ``"data/digits/csv/train-*.csv"``.
        features: shape and dtypes of one example.
        format: ``"csv"``, ``"tfrecord"`` or ``"png"``.
        batch_size: examples per batch; ``None`` for unbatched examples.
        shuffle: shuffle the shard order (seeded) and the examples (``shuffle_buffer``).
        shuffle_buffer: examples held by ``shuffle``.
        seed: seed of both shuffles; each epoch reshuffles, reproducibly.
        cycle_length: shards read at once by ``interleave`` (1 reads them in order).
        deterministic: keep the order fixed under parallelism (False may be faster).
        cache: True caches the raw records in memory after the first epoch; a string caches
            them in that file.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        take: keep only the first ``take`` examples (a fixed subset; module docstring).
        classes: keep only these class ids, relabelled ``0..len(classes)-1``.
        per_class: keep only the first ``per_class`` examples of each class (few-shot data).
        scale: uint8 images -> float32 in [0, 1].
        augment: ``(image, label) -> (image, label)`` for training data: per example, or per
            batch when it has ``per_batch = True`` (:mod:`dlcourse.data.augment`).
        preprocess: per-batch ``(x, y) -> (x, y)``, e.g. a resize.
        drop_remainder: drop the last, smaller batch.
        check: read the files once first and raise ``DataFileError`` on a bad record.
        on_error: ``"raise"`` or ``"skip"`` (drop bad records, warn how many).
        shard_policy: how workers of a multi-worker strategy split the data: ``"auto"``
            (``"file"`` when every worker gets at least one file, else ``"data"``), ``"file"``
            (each worker reads only its files) or ``"data"`` (every worker reads all files
            in the same seeded order and keeps its slice of each global batch: exactly the
            batches of one process).
        device: ``None`` (default: :func:`dlcourse.training.fit` prefetches to the device
            itself), ``"auto"`` (the GPU when exactly one is visible) or a device name such as
            ``"/gpu:0"``; see :func:`to_device`.

    Raises:
        FileNotFoundError: no file matches ``pattern``.
        DataFileError: ``check=True``, ``on_error="raise"`` and a record is bad.
    """
    check_choice("format", format, FORMATS)
    check_choice("on_error", on_error, ("raise", "skip"))
    check_choice("shard_policy", shard_policy, ("auto", "file", "data"))
    for arg_name, value in (("shuffle_buffer", shuffle_buffer), ("cycle_length", cycle_length)):
        check_positive(arg_name, value)
    if batch_size is not None:
        check_positive("batch_size", batch_size)
    paths = match_files(pattern)
    if format == "png" and features.classes is None:  # label = index of the sorted folder names
        features = replace(features, classes=tuple(sorted({Path(p).parent.name for p in paths})))
    if format == "csv":
        check_csv_shards(paths)
    records = None  # known after a clean check: gives Keras a progress bar with a total
    if check or on_error == "skip":
        report = scan(paths, features, format=format)
        if report.records == 0:
            raise ValueError(f"The files hold no examples. Received: pattern={str(pattern)!r}")
        if report.bad and on_error == "raise":
            raise report.error()
        if report.bad:
            warnings.warn(report.summary(), stacklevel=2)
        else:
            records = report.records
    select = take is not None or classes is not None or per_class is not None
    for arg_name, value in (("take", take), ("per_class", per_class)):
        if value is not None:
            check_positive(arg_name, value)
    batch_augment = augment is not None and getattr(augment, "per_batch", False)
    if batch_augment and batch_size is None:
        raise ValueError("A per-batch augmenter needs batches. Received: batch_size=None")
    per_example = select or on_error == "skip" or format == "png"
    per_example = per_example or (augment is not None and not batch_augment)
    ds = _records(
        str(pattern),
        format,
        shuffle and not select,
        seed,
        1 if select else cycle_length,
        deterministic,
        on_error,
    )
    parse = parser(format, features, scale)
    if select:  # parse first: the subset is chosen on labels, in file order
        ds = ds.map(parse, num_parallel_calls=AUTOTUNE, deterministic=True)
        ds = _select(ds, take, classes, per_class, len(classes or features.classes or ()))
        if records is not None:  # count the subset once: Keras then knows the epoch length
            records = int(ds.reduce(0, lambda n, _: n + 1))
    if cache:
        ds = ds.cache("" if cache is True else str(cache))
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if per_example:
        if not select:
            ds = ds.map(parse, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
        if on_error == "skip":
            ds = ds.ignore_errors()
        if augment is not None and not batch_augment:
            ds = ds.map(augment, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if not per_example:  # vectorized: one parse per batch
        ds = ds.map(parse, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if batch_augment:  # each batch from its own seed: see dlcourse.data.augment
        ds = augment.map_batches(ds)
    if preprocess is not None:
        ds = ds.map(preprocess, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    workers = _worker_count()
    if shard_policy == "auto":
        shard_policy = "file" if len(paths) >= workers else "data"
    # The epoch length is known unless FILE sharding gives each worker a part of it. Knowing
    # it matters: a loop that must count the batches would read (and reshuffle) one epoch.
    if records is not None and not repeat and (workers == 1 or shard_policy == "data"):
        size = batch_size or 1
        count = records // size if drop_remainder else -(-records // size)
        ds = ds.apply(tf.data.experimental.assert_cardinality(count))
    ds = ds.with_options(_shard_options(shard_policy)).prefetch(AUTOTUNE)
    return to_device(ds, device)


def to_device(ds: tf.data.Dataset, device: str | None = "auto", buffer_size: int = 2):
    """Prefetch batches onto ``device`` so the accelerator never waits for a host-to-device copy.

    The one device-prefetch stage of dlcourse (the loader and ``fit`` both use it).
    ``device``: ``"auto"`` (the GPU when exactly one is visible and no multi-device strategy is
    active, whose ``experimental_distribute_dataset`` prefetches to its devices itself),
    ``None`` (nothing) or a device name. ``prefetch_to_device`` must be the last stage of a
    pipeline, so a dataset that already ends with it is returned unchanged.
    """
    target = prefetch_device(device)
    if target is None or getattr(ds, "_dlcourse_device", None):
        return ds
    out = ds.apply(tf.data.experimental.prefetch_to_device(target, buffer_size))
    out._dlcourse_device = target  # marks the pipeline as finished (see above)
    return out


def prefetch_device(device: str | bool | None = "auto") -> str | None:
    """Resolve a device switch to a device name or None.

    ``"auto"`` (or True): the GPU when exactly one is visible and no strategy is active;
    ``"on"``: that GPU, else ``/CPU:0`` (exercises the stage on a CPU); ``"off"``, False or
    None: no device prefetch; any other string is taken as a device name (``"/gpu:0"``).
    """
    if device in (None, False, "off"):
        return None
    if device is True or device in ("auto", "on"):
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) == 1 and not tf.distribute.has_strategy():
            return gpus[0].name
        return "/CPU:0" if device == "on" else None
    if not isinstance(device, str) or not device.startswith("/"):
        raise ValueError(
            "`device` must be 'auto', 'on', 'off', None or a device name such as '/gpu:0'. "
            f"Received: device={device!r}"
        )
    return device


def _select(ds, take: int | None, classes, per_class: int | None, n_classes: int):
    """Keep ``classes`` (relabelled 0..k-1 in the given order), the first ``per_class`` of each
    class, then the first ``take``."""
    if classes is not None:
        keep = tf.constant(list(classes), tf.int64)
        ds = ds.filter(lambda x, y: tf.reduce_any(tf.equal(tf.cast(y, tf.int64), keep)))
        ds = ds.map(
            lambda x, y: (x, tf.argmax(tf.cast(tf.equal(tf.cast(y, tf.int64), keep), tf.int32)))
        )
    if per_class is not None:
        if n_classes < 1:
            raise ValueError("`per_class` needs known classes. Received: classes=None")

        def count(seen, example):  # seen: (n_classes,) examples kept so far per class
            y = tf.cast(example[1], tf.int32)
            keep = seen[y] < per_class
            return seen + tf.one_hot(y, n_classes, dtype=tf.int32), (*example, keep)

        def kept(x, y, keep):
            return keep

        def drop_flag(x, y, keep):
            return x, y

        # Named functions, not two lambdas on one line: AutoGraph finds a lambda by its source
        # line and cannot tell two with the same arguments apart (it warns and skips them).
        ds = ds.scan(tf.zeros([n_classes], tf.int32), count)
        ds = ds.filter(kept).map(drop_flag)
    return ds if take is None else ds.take(take)


def _worker_count() -> int:
    """Workers of the cluster this process belongs to: the active strategy or ``TF_CONFIG``."""
    if tf.distribute.has_strategy():
        from dlcourse.launch import worker_count

        return worker_count(tf.distribute.get_strategy())
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except ValueError:
        return 1
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))


def _shard_options(shard_policy: str) -> tf.data.Options:
    """``AutoShardPolicy.FILE`` for ``"file"``, ``DATA`` for ``"data"``."""
    policy = tf.data.experimental.AutoShardPolicy
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        policy.FILE if shard_policy == "file" else policy.DATA
    )
    return options


def match_files(pattern: str | os.PathLike) -> list[str]:
    """The sorted files matching ``pattern``; FileNotFoundError naming it when there are none."""
    paths = sorted(tf.io.gfile.glob(str(pattern)))
    if not paths:
        raise FileNotFoundError(
            f"No file matches the pattern. Received: pattern={str(pattern)!r}. Run `make data` "
            "to write the embedded datasets, or check the folder and the file extension."
        )
    return paths


# --------------------------------------------------------------------------- the stages


def _records(pattern, format, shuffle, seed, cycle_length, deterministic, on_error):
    """Stages 1-2: shard order and interleaved reading; yields raw lines/records/PNG paths."""
    shards = tf.data.Dataset.list_files(pattern, shuffle=shuffle, seed=seed)
    if format == "png":
        return shards  # one file per example: the parse stage reads and decodes it

    def read(path):
        if format == "csv":
            return tf.data.TextLineDataset(path).skip(1)  # skip the header row
        ds = tf.data.TFRecordDataset(path)
        return ds.ignore_errors() if on_error == "skip" else ds  # a truncated tail ends it

    return shards.interleave(
        read, cycle_length=cycle_length, num_parallel_calls=AUTOTUNE, deterministic=deterministic
    )
