"""The tf.data loader stage: three formats, the stage switches, and every bad-input message."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from dlcourse.data import DataFileError, Features, build, from_files, make_dataset, write_all

DIGITS = Features((8, 8, 1), "uint8", "int64", tuple(str(c) for c in range(10)))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_all(root, names=("linear", "digits"))
    return root


def _arrays(ds) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.concatenate(xs), np.concatenate(ys)


def _as_set(x, y) -> list:
    return sorted(zip((r.tobytes() for r in x), y.tolist()))


@pytest.mark.parametrize("fmt", ["tfrecord", "csv", "png"])
def test_every_format_yields_the_embedded_split(data_dir, fmt):
    ds = make_dataset("digits", "val", format=fmt, data_dir=data_dir, batch_size=50, scale=False)
    x, y = _arrays(ds)
    want = build("digits")["val"]
    assert x.dtype == np.uint8 and y.dtype == np.int64 and x.shape == want.x.shape
    assert _as_set(x, y) == _as_set(want.x, want.y)  # shuffled, but the same examples


def test_unshuffled_sequential_read_keeps_the_file_order(data_dir):
    ds = make_dataset(
        "linear",
        "train",
        format="csv",
        data_dir=data_dir,
        batch_size=16,
        shuffle=False,
        cycle_length=1,
    )
    x, y = _arrays(ds)
    want = build("linear")["train"]
    np.testing.assert_array_equal(x, want.x)
    np.testing.assert_array_equal(y, want.y)
    assert x.dtype == np.float32 and y.dtype == np.float32


def test_shuffle_is_seeded_and_scaling_gives_unit_floats(data_dir):
    def first(seed):
        ds = make_dataset("digits", data_dir=data_dir, batch_size=64, seed=seed)
        return next(iter(ds))

    (a, ya), (b, yb), (c, _) = first(1), first(1), first(2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    assert a.dtype == tf.float32 and 0.0 <= float(tf.reduce_min(a)) < float(tf.reduce_max(a)) <= 1
    # A second epoch is reshuffled, reproducibly.
    ds = make_dataset("digits", data_dir=data_dir, batch_size=2000, seed=1)
    e1, e2 = (next(iter(ds))[1].numpy() for _ in range(2))
    assert sorted(e1) == sorted(e2) and not np.array_equal(e1, e2)


def test_shuffle_mixes_the_examples_within_a_shard(data_dir):
    """Not only the shard order: with shards read one at a time, neighbours are mixed too."""
    ds = make_dataset("linear", "train", format="csv", data_dir=data_dir, batch_size=16,
                      cycle_length=1, seed=1)  # fmt: skip
    x, _ = _arrays(ds)
    want = build("linear")["train"].x.astype(np.float32)
    index = {row.tobytes(): i for i, row in enumerate(want)}
    order = np.array([index[row.astype(np.float32).tobytes()] for row in x])
    assert sorted(order) == list(range(len(want)))
    assert np.mean(np.diff(order) == 1) < 0.2  # file order would make nearly every pair adjacent


def test_augment_hook_per_example_and_preprocess_per_batch(data_dir):
    seen = {}

    def augment(image, label):
        seen["augment"] = (image.shape.as_list(), label.shape.as_list())
        return 1.0 - image, label

    def preprocess(x, y):
        seen["preprocess"] = x.shape.as_list()
        return tf.image.resize(x, (16, 16)), y

    ds = make_dataset(
        "digits",
        "train",
        format="csv",
        data_dir=data_dir,
        batch_size=8,
        shuffle=False,
        cycle_length=1,
        augment=augment,
        preprocess=preprocess,
    )
    x, y = next(iter(ds))
    assert seen == {"augment": ([8, 8, 1], []), "preprocess": [None, 8, 8, 1]}
    want = tf.image.resize(1.0 - build("digits")["train"].x[:8] / 255.0, (16, 16))
    np.testing.assert_allclose(x.numpy(), want.numpy(), atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), build("digits")["train"].y[:8])


def test_augmenter_plugs_into_the_hook(data_dir):
    from dlcourse.data.augment import keras_augmenter

    plain = make_dataset("digits", data_dir=data_dir, batch_size=32, seed=3)
    augmented = make_dataset(
        "digits",
        data_dir=data_dir,
        batch_size=32,
        seed=3,
        augment=keras_augmenter(rotate=20, shift=0.2, seed=1),
    )
    (x0, y0), (x1, y1) = next(iter(plain)), next(iter(augmented))
    np.testing.assert_array_equal(y0.numpy(), y1.numpy())  # same examples, same order
    assert x1.shape == (32, 8, 8, 1) and x1.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(x1)) and float(tf.reduce_max(x1)) <= 1.0
    assert float(tf.reduce_mean(tf.abs(x1 - x0))) > 0.01  # the images were changed


def test_keras_layers_augmenter_is_seeded_per_batch_and_varies_per_epoch(data_dir):
    from dlcourse.data.augment import keras_augmenter

    def epochs(seed):
        aug = keras_augmenter(rotate=15, shift=0.1, zoom=0.1, seed=seed)
        ds = make_dataset(
            "digits", "val", data_dir=data_dir, batch_size=60, augment=aug, seed=1, shuffle=False
        )  # fmt: skip (same order every epoch: only transforms vary)
        return [np.concatenate([x.numpy() for x, _ in ds]) for _ in range(2)]

    (a1, a2), (b1, _), (c1, _) = epochs(3), epochs(3), epochs(4)
    np.testing.assert_array_equal(a1, b1)  # same seed, same run: identical
    assert not np.array_equal(a1, a2) and not np.array_equal(a1, c1)  # new epoch / seed: new
    assert a1.shape == (180, 8, 8, 1) and 0.0 <= a1.min() and a1.max() <= 1.0


def test_a_look_at_the_first_batches_leaves_later_epochs_unchanged(data_dir):
    """The transforms depend on the epoch and the batch, not on how far another iterator read
    (fit's input check and a notebook's next(iter(ds)) read a batch, their prefetch more)."""
    from dlcourse.data.augment import keras_augmenter

    def epoch_after_a_look(batches_read):
        aug = keras_augmenter(rotate=15, shift=0.1, zoom=0.1, seed=5)
        ds = make_dataset("digits", data_dir=data_dir, batch_size=16, augment=aug, seed=1)
        look = iter(ds)
        for _ in range(batches_read):
            next(look)
        del look
        return np.concatenate([x.numpy() for x, _ in ds])

    np.testing.assert_array_equal(epoch_after_a_look(1), epoch_after_a_look(5))


def test_take_and_classes_choose_a_fixed_subset(data_dir):
    ds = make_dataset("digits", "val", data_dir=data_dir, batch_size=16, take=20, classes=(7, 3))
    x, y = (np.concatenate(t) for t in zip(*[(a.numpy(), b.numpy()) for a, b in ds]))
    val = build("digits")["val"]
    keep = np.isin(val.y, (7, 3))
    assert len(y) == 20 and set(y) == {0, 1}  # 7 -> 0, 3 -> 1
    order = np.argsort(x.reshape(20, -1).sum(1))  # shuffled within the subset: compare as sets
    want = val.x[keep][:20].reshape(20, -1) / 255.0
    np.testing.assert_allclose(x.reshape(20, -1)[order], want[np.argsort(want.sum(1))], rtol=1e-6)


def test_cache_repeat_and_cpu_prefetch_to_device(data_dir, tmp_path):
    ds = make_dataset(
        "digits",
        "val",
        data_dir=data_dir,
        batch_size=64,
        cache=True,
        repeat=True,
        drop_remainder=True,
        device="/cpu:0",
    )
    batches = list(ds.take(7))  # 180 examples: 2 full batches per epoch, so 3+ epochs
    assert all(b[0].shape == (64, 8, 8, 1) for b in batches)
    on_disk = make_dataset("digits", "val", data_dir=data_dir, cache=str(tmp_path / "c"))
    assert sum(int(b[1].shape[0]) for b in on_disk) == 180
    assert list(tmp_path.glob("c*")), "the file cache was not written"


def test_loader_feeds_the_trainer(data_dir):
    import keras

    from dlcourse.training import fit

    def build_model():
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    train = make_dataset("digits", "train", data_dir=data_dir, batch_size=64)
    assert int(train.cardinality()) == 20  # 1,257 examples: Keras shows "20/20" bars
    val = make_dataset("digits", "val", data_dir=data_dir, batch_size=256, shuffle=False)
    _, history = fit(build_model, train, validation=val, epochs=3, verbose=0)
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.8  # 10 classes: chance is 0.1


# --------------------------------------------------------------------------- bad input


def _copy(data_dir: Path, rel: str, tmp_path: Path) -> Path:
    dst = tmp_path / Path(rel).name
    shutil.copy(data_dir / "digits" / rel, dst)
    return dst


def _edit_line(path: Path, number: int, edit) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("\n".join(lines) + "\n")


def test_pattern_matching_nothing_names_the_pattern(tmp_path):
    pattern = str(tmp_path / "nothing-*.tfrecord")
    with pytest.raises(
        FileNotFoundError,
        match=r"No file matches the pattern\. Received: "
        rf"pattern='{re.escape(pattern)}'\. Run `make data`",
    ):
        from_files(pattern, DIGITS, format="tfrecord")


def test_csv_row_with_missing_field_names_file_and_line(data_dir, tmp_path):
    shard = _copy(data_dir, "csv/val-00000-of-00001.csv", tmp_path)
    _edit_line(shard, 5, lambda line: line.rsplit(",", 1)[0])
    with pytest.raises(DataFileError) as err:
        from_files(shard, DIGITS, format="csv")
    assert str(err.value).startswith(
        f"Cannot read CSV data: {shard}, line 5: expected 65 comma-separated fields, found 64. "
    )
    assert err.value.path == str(shard) and err.value.line == 5
    assert isinstance(err.value, ValueError)


def test_csv_non_numeric_value_names_column_and_line(data_dir, tmp_path):
    shard = _copy(data_dir, "csv/val-00000-of-00001.csv", tmp_path)
    _edit_line(shard, 7, lambda line: ",".join(["0", "0", "0", "abc", *line.split(",")[4:]]))
    with pytest.raises(
        DataFileError,
        match=rf"{re.escape(str(shard))}, line 7: column 'px3' is not a number\. "
        r"Received: 'abc'",
    ):
        from_files(shard, DIGITS, format="csv")


def test_skip_drops_bad_csv_rows_and_says_how_many(data_dir, tmp_path):
    shard = _copy(data_dir, "csv/val-00000-of-00001.csv", tmp_path)
    _edit_line(shard, 3, lambda line: line + ",1")
    _edit_line(shard, 9, lambda line: line.replace(",", ",x", 1))
    with pytest.warns(
        UserWarning,
        match=r"skipped 2 bad record\(s\) of 180: .*line 3: expected "
        r"65 comma-separated fields, found 66; .*line 9: column 'px1'",
    ):
        ds = from_files(shard, DIGITS, format="csv", on_error="skip", batch_size=64)
    x, y = _arrays(ds)
    assert len(y) == 178 and x.shape == (178, 8, 8, 1)


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_tfrecord_names_the_file(data_dir, tmp_path, damage):
    shard = _copy(data_dir, "tfrecord/val-00000-of-00001.tfrecord", tmp_path)
    record = shard.stat().st_size // 180  # digits records all have the same size
    data = bytearray(shard.read_bytes())
    if damage == "truncated":
        data = data[: 100 * record + record // 2]  # 100 whole records, then half of one
    else:
        data[100 * record + record // 2] ^= 0xFF  # record 100's checksum no longer matches
    shard.write_bytes(bytes(data))
    with pytest.raises(
        DataFileError,
        match=rf"Cannot read TFRECORD data: {re.escape(str(shard))}: the file is "
        rf"truncated or corrupt after 100 readable record\(s\) \({damage} record at \d+\)",
    ):
        from_files(shard, DIGITS, format="tfrecord")
    with pytest.warns(UserWarning, match=r"skipped 1 bad record\(s\) of 100: .*truncated"):
        ds = from_files(shard, DIGITS, format="tfrecord", on_error="skip")
    assert len(_arrays(ds)[1]) == 100


def test_record_of_the_wrong_shape_names_file_and_record(tmp_path):
    path = tmp_path / "wrong.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for size in (64, 64, 63):
            feature = {
                "x": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\0" * size])),
                "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    with pytest.raises(
        DataFileError,
        match=rf"{re.escape(str(path))}, record 2: not a tf.train.Example with x "
        r"uint8\[8, 8, 1\] and y int64",
    ):
        from_files(path, DIGITS, format="tfrecord")


def test_undecodable_png_names_the_file(data_dir, tmp_path):
    folder = tmp_path / "png"
    shutil.copytree(data_dir / "digits/png/val", folder)
    bad = folder / "3" / "99999.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(
        DataFileError, match=rf"Cannot read PNG data: {re.escape(str(bad))}: not a decodable PNG"
    ):
        from_files(folder / "*" / "*.png", DIGITS, format="png")
    with pytest.warns(UserWarning, match=r"skipped 1 bad record\(s\) of 181"):
        ds = from_files(folder / "*" / "*.png", DIGITS, format="png", on_error="skip")
    assert len(_arrays(ds)[1]) == 180


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, r"`batch_size` must be > 0\. Received: batch_size=0"),
        ({"shuffle_buffer": -1}, r"`shuffle_buffer` must be > 0\. Received: shuffle_buffer=-1"),
        ({"on_error": "ignore"}, r"Received: on_error='ignore'; expected one of 'raise', 'skip'"),
        ({"format": "xml"}, r"Received: format='xml'; expected one of 'csv', 'tfrecord', 'png'"),
        ({"split": "dev"}, r"Received: split='dev'; expected one of 'train', 'val', 'test'"),
    ],
)
def test_invalid_arguments(data_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset("digits", data_dir=data_dir, **kwargs)


def test_format_the_dataset_does_not_have(data_dir):
    with pytest.raises(ValueError, match=r"'linear' has no png files\. Received: format='png'"):
        make_dataset("linear", format="png", data_dir=data_dir)


def test_multi_worker_shards_by_file_when_every_worker_gets_a_shard(data_dir, monkeypatch):
    from dlcourse.training.loop import shard_by_data

    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"index": 0}}))
    policy = tf.data.experimental.AutoShardPolicy
    four = make_dataset("digits", "train", data_dir=data_dir)  # 4 shards >= 2 workers
    one = make_dataset("digits", "val", data_dir=data_dir)  # 1 shard < 2 workers
    for ds, want in ((four, policy.FILE), (one, policy.DATA)):
        assert ds.options().experimental_distribute.auto_shard_policy == want
        # fit's distributed loop keeps a policy the loader chose
        assert shard_by_data(ds).options().experimental_distribute.auto_shard_policy == want
