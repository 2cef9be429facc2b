"""The tf.data loader stage vs a naive pipeline, and loader-fed vs in-memory training.

Notes 004 (tf.data, prefetching): reading, parsing and preprocessing in parallel and ahead of
the model should (a) beat a sequential one-example-at-a-time pipeline and (b) keep training as
fast as if the data were already in memory. Both comparisons run in one call, on the same
shards of ``digits28`` (the files ``make data`` writes), with the same preprocessing:

    parse -> decode uint8 pixels -> scale to [0, 1] -> bilinear resize 28x28 -> 32x32

* naive: ``TFRecordDataset(files)`` read in order, ``map`` one example at a time without
  ``num_parallel_calls``, ``batch``, no prefetch (likewise ``TextLineDataset`` + ``decode_csv``
  for CSV and ``read_file`` + ``decode_png`` for PNG).
* loader: :func:`dlcourse.data.loader.from_files`: seeded file shuffle, ``interleave``,
  ``shuffle``, parse after ``batch`` (vectorized; PNG per example in parallel), the resize as
  its per-batch ``preprocess``, ``prefetch``.
* training: a small CNN fed by the loader vs fed by the same preprocessed examples held in
  memory (``from_tensor_slices`` -> shuffle -> batch -> prefetch).
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from dlcourse.bench import Table

SIZE = 32  # resize target: LeNet-5's input
BATCH = 128


def run(quick: bool = False) -> list[Table]:
    import tensorflow as tf

    from dlcourse.data import files, loader

    passes, epochs = (1, 1) if quick else (8, 4)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = None if not quick and files.is_complete("digits28", verify=False) else tmp
        manifest = files.ensure("digits28", data_dir)
        feats = loader.Features.from_manifest(manifest)
        n = manifest["splits"]["train"]["rows"]
        rows = []
        for fmt in ("tfrecord", "csv", "png"):
            pattern = loader.file_pattern("digits28", "train", fmt, data_dir)
            naive = _naive(tf, loader.match_files(pattern), fmt, feats, passes)
            fast = _loader(tf, loader, pattern, fmt, feats, passes)
            naive_s, fast_s = _examples_per_s(naive, n * passes), _examples_per_s(fast, n * passes)
            ratio = fast_s / naive_s
            rows.append([fmt, round(naive_s), round(fast_s), round(ratio, 2), _meets(ratio, 2.0)])
        pattern = loader.file_pattern("digits28", "train", "tfrecord", data_dir)
        fed, memory = _training(tf, loader, pattern, feats, epochs)
    ratio = fed / memory
    return [
        Table(
            "tf.data loader vs naive pipeline (digits28 train shards, examples/s)",
            ["format", "naive", "loader", "ratio", ">= 2x"],
            rows,
            notes=[
                (
                    f"{n} examples x {passes} passes, batch {BATCH}; both pipelines parse, decode, "
                    f"scale to [0, 1] and resize 28x28 -> {SIZE}x{SIZE} (bilinear), so their output "
                    "is the same; timed from a fresh iterator to the last batch, after one untimed "
                    "warm-up pass."
                ),
                (
                    "naive: files read in order, map without num_parallel_calls, no prefetch. "
                    "loader: dlcourse.data.loader.from_files (interleave 4 shards, shuffle, parse "
                    "after batch, AUTOTUNE parallelism, prefetch)."
                ),
                (
                    "The 2x target is the TFRecord/CSV path, where parsing happens once per batch. "
                    "PNG is one file per example: its only gain is parallel decoding, bounded by the "
                    "cores that training and other work leave; it is reported, not targeted."
                ),
            ],
        ),
        Table(
            "Training fed by the loader vs fed from memory (small CNN on digits28)",
            ["feed", "examples/s", "ratio", ">= 0.97x"],
            [
                ["in memory (preprocessed tensors)", round(memory), 1.0, ""],
                [
                    "loader (TFRecord files each epoch)",
                    round(fed),
                    round(ratio, 3),
                    _meets(ratio, 0.97),
                ],
            ],
            notes=[
                (
                    f"Conv(16)-Pool-Conv(32)-Pool-Dense(10) on {SIZE}x{SIZE}, Adam, batch {BATCH}; "
                    f"{epochs} timed epochs of model.fit after one warm-up epoch; best of 2 rounds "
                    "per feed, rounds alternated."
                ),
                (
                    "in memory: the loader's own output, materialized once, then from_tensor_slices "
                    "-> shuffle -> batch -> prefetch."
                ),
            ],
        ),
    ]


def _meets(ratio: float, target: float) -> str:
    return "yes" if ratio >= target else "no"


def _resize(tf, x, y):
    return tf.image.resize(x, (SIZE, SIZE)), y


def _naive(tf, paths: list[str], fmt: str, feats, passes: int):
    """Sequential reads, one example at a time, no parallel map, no prefetch."""
    from dlcourse.data import loader

    parse = loader._parser(fmt, feats, scale=True)
    if fmt == "tfrecord":
        ds = tf.data.TFRecordDataset(paths)
    elif fmt == "csv":
        ds = tf.data.Dataset.from_tensor_slices(paths)
        ds = ds.flat_map(lambda p: tf.data.TextLineDataset(p).skip(1))
    else:
        ds = tf.data.Dataset.from_tensor_slices(paths)
    ds = ds.map(lambda r: _resize(tf, *parse(r)))
    return ds.repeat(passes).batch(BATCH)


def _loader(tf, loader, pattern: str, fmt: str, feats, passes: int):
    ds = loader.from_files(
        pattern,
        feats,
        format=fmt,
        batch_size=BATCH,
        repeat=True,
        check=False,
        preprocess=lambda x, y: _resize(tf, x, y),
    )
    return ds


def _examples_per_s(ds, total: int) -> float:
    """Examples/s over ``total`` examples, timed from a fresh iterator to the last batch.

    One untimed pass first traces the functions and warms the OS file cache, for both
    pipelines alike; the timed pass includes every read (e.g. filling the shuffle buffer).
    """
    batches = -(-total // BATCH)
    for _ in ds.take(batches):
        pass
    start = time.perf_counter()
    count = sum(int(y.shape[0]) for _, y in ds.take(batches))
    return count / (time.perf_counter() - start)


def _training(tf, loader, pattern: str, feats, epochs: int) -> tuple[float, float]:
    """Examples/s of model.fit fed by the loader vs by the same examples in memory.

    Both feeds repeat and fit runs ``steps_per_epoch`` steps, so each keeps one iterator (and
    its prefetch buffer) across epochs, as a training run would.
    """
    import keras

    def from_loader(repeat: bool):
        return loader.from_files(
            pattern,
            feats,
            format="tfrecord",
            batch_size=BATCH,
            shuffle_buffer=512,
            repeat=repeat,
            drop_remainder=repeat,
            preprocess=lambda x, y: _resize(tf, x, y),
        )

    x, y = (np.concatenate(a) for a in zip(*from_loader(False).as_numpy_iterator()))
    steps = len(x) // BATCH
    feeds = {
        "loader": lambda: from_loader(True),
        "memory": lambda: (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=42)
            .repeat()
            .batch(BATCH, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        ),
    }
    best = dict.fromkeys(feeds, 0.0)
    for _ in range(2):
        for name, make in feeds.items():
            keras.utils.set_random_seed(0)
            model = _cnn(keras)
            ds = make()
            model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)  # warm-up: tracing
            start = time.perf_counter()
            model.fit(ds, epochs=epochs, steps_per_epoch=steps, verbose=0)
            examples = epochs * steps * BATCH
            best[name] = max(best[name], examples / (time.perf_counter() - start))
    return best["loader"], best["memory"]


def _cnn(keras):
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


if __name__ == "__main__":
    for table in run(quick="--quick" in __import__("sys").argv):
        print(table.to_markdown())
