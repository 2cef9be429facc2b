"""tfds: the dlcourse_digits builder, offline; real datasets from local files only."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_datasets as tfds

import dlcourse.data.tfds_digits  # noqa: F401  (registers "dlcourse_digits")
from dlcourse.data import RealDatasetNotFoundError, build, load_real
from dlcourse.data import real as real_mod


def _as_set(x, y) -> list:
    return sorted(zip((r.tobytes() for r in np.asarray(x)), np.asarray(y).tolist()))


def test_builder_generates_the_embedded_digits_offline(tmp_path):
    splits = tfds.load(
        "dlcourse_digits",
        data_dir=tmp_path,
        as_supervised=True,
        batch_size=-1,
        split=["train", "val", "test"],
    )
    builder = tfds.builder("dlcourse_digits", data_dir=tmp_path)
    assert builder.info.features["label"].num_classes == 10
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == {
        "train": 1257,
        "val": 180,
        "test": 360,
    }
    for (x, y), name in zip(splits, ("train", "val", "test")):
        want = build("digits")[name]
        assert x.shape == want.x.shape and x.dtype == "uint8" and y.dtype == "int64"
        assert _as_set(x, y) == _as_set(want.x, want.y)


@pytest.fixture
def no_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(real_mod, "keras_datasets_dir", lambda: tmp_path / "keras" / "datasets")
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    return tmp_path


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_real_dataset_says_where_it_looked_and_how_to_fix(no_keras_cache, name):
    tfds_dir = no_keras_cache / "tfds"
    with pytest.raises(RealDatasetNotFoundError) as err:
        load_real(name, data_dir=tfds_dir)
    msg = str(err.value)
    assert f"Real dataset {name!r} is not on this machine" in msg
    assert f"tensorflow-datasets {tfds_dir / name} (no prepared version)" in msg
    assert str(no_keras_cache / "keras" / "datasets") in msg
    assert f"`tfds build {name}`" in msg and f"keras.datasets.{name}.load_data()" in msg
    assert isinstance(err.value, FileNotFoundError)


def test_present_real_dataset_is_read_through_tfds(no_keras_cache):
    with tfds.testing.mock_data(num_examples=12):
        splits = load_real("mnist", data_dir=no_keras_cache / "tfds", val_size=4)
    assert [len(s.y) for s in splits.values()] == [8, 4, 12]
    assert splits["train"].x.shape == (8, 28, 28, 1) and splits["train"].x.dtype == np.uint8
    assert splits["test"].y.dtype == np.int64 and set(splits["test"].y) <= set(range(10))
    with tfds.testing.mock_data(num_examples=3):
        cifar = load_real("cifar10", data_dir=no_keras_cache / "tfds", val_size=1)
    assert cifar["val"].x.shape == (1, 32, 32, 3)


def test_real_dataset_arguments_are_checked(no_keras_cache):
    with pytest.raises(ValueError, match=r"Received: name='svhn'; expected one of 'mnist'"):
        load_real("svhn")
    too_big = r"`val_size` must be in \(0, 3\) for mnist\. Received: val_size=3"
    with tfds.testing.mock_data(num_examples=3), pytest.raises(ValueError, match=too_big):
        load_real("mnist", data_dir=no_keras_cache, val_size=3)


class _FakeBuilder:
    """Stands in for ``tfds.builder``: records the call, never touches the network."""

    def __init__(self, fail: bool):
        self.fail, self.calls = fail, []

    def __call__(self, name, data_dir):
        self.calls.append((name, data_dir))
        return self

    def download_and_prepare(self):
        if self.fail:
            raise ConnectionError("no network")


def test_download_flag_fetches_through_tfds_and_fails_clearly_offline(no_keras_cache, monkeypatch):
    offline = _FakeBuilder(fail=True)
    monkeypatch.setattr(tfds, "builder", offline)
    with pytest.raises(RealDatasetNotFoundError, match=r"Downloading 'mnist'.*ConnectionError"):
        load_real("mnist", data_dir=no_keras_cache / "tfds", download=True)
    assert offline.calls == [("mnist", str(no_keras_cache / "tfds"))]
    with pytest.raises(RealDatasetNotFoundError):  # default: no download attempted
        load_real("mnist", data_dir=no_keras_cache / "tfds")
    assert len(offline.calls) == 1
    online = _FakeBuilder(fail=False)
    monkeypatch.setattr(tfds, "builder", online)
    with tfds.testing.mock_data(num_examples=6):  # what the prepared files would hold
        splits = load_real("cifar10", data_dir=no_keras_cache / "tfds", val_size=2, download=True)
    assert online.calls == [("cifar10", str(no_keras_cache / "tfds"))]
    assert len(splits["val"].y) == 2
