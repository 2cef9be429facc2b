"""Multi-worker training on 127.0.0.1: correctness against one process, and kill/resume.

Each test starts a real 2-worker ``MultiWorkerMirroredStrategy`` cluster (one TensorFlow
process per worker, ~5-10 s to start on 2 cores), bounded by timeouts; every process is reaped.
"""

from __future__ import annotations

import json
import re
import signal
import time

import numpy as np
import pytest

from dlcourse.training import distributed as dist

TIMEOUT = 240  # seconds per cluster run; a hung collective fails the test instead of CI


_weights = dist.load_weights


def test_weight_file_comparisons(tmp_path):
    arrays = [np.arange(12, dtype="float32").reshape(3, 4), np.ones(4, "float32")]
    paths = [tmp_path / f"weights_worker{i}.npz" for i in range(3)]
    for path, shift in zip(paths, (0.0, 0.0, 1e-3), strict=True):
        np.savez(path, *[a + shift for a in arrays])
    assert [a.shape for a in dist.load_weights(paths[0])] == [(3, 4), (4,)]
    assert dist.same_weights(paths[:2]) and not dist.same_weights(paths)
    assert dist.max_weight_difference(paths[0], paths[1]) == 0.0
    assert dist.max_weight_difference(paths[0], paths[2]) == pytest.approx(1e-3, rel=1e-3)


def _all_reaped(cluster) -> bool:
    return all(p.poll() is not None for p in cluster.procs.values())


def test_two_workers_agree_and_match_one_process(tmp_path):
    # DATA sharding: each worker keeps its slice of the global batches one process would see.
    job = dist.Job(
        epochs=2,
        batch_size=32,
        limit=320,
        hidden=(32,),
        sharding="data",
        out_dir=str(tmp_path / "c"),
    )
    results = dist.launch(2, job, timeout=TIMEOUT, quiet=True)
    assert [r["worker"] for r in results] == [0, 1]
    assert all(r["workers"] == 2 and r["replicas"] == 2 for r in results)
    assert results[0]["iterations"] == 2 * 10  # 320 images / global batch 32, 2 epochs
    w0, w1 = (_weights(tmp_path / "c" / f"weights_worker{i}.npz") for i in (0, 1))
    for a, b in zip(w0, w1, strict=True):
        np.testing.assert_array_equal(a, b)  # the all-reduce keeps replicas bit-identical

    # The same job in this process, one device, same global batch, seed and data order.
    ref = dist.train_worker(
        job.replace(out_dir=str(tmp_path / "ref")),
        strategy="default",
        loop="custom",
    )
    wr = _weights(tmp_path / "ref" / "weights_worker0.npz")
    # Tolerance: summing two half-batch gradients instead of one full-batch gradient changes
    # float32 rounding only (~1e-7 relative per step); after 20 SGD steps it stays below 1e-4.
    for a, b in zip(w0, wr, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    np.testing.assert_allclose(results[0]["history"]["loss"], ref["history"]["loss"], rtol=1e-4)
    assert ref["iterations"] == results[0]["iterations"]


def test_sigkill_one_worker_then_resume(tmp_path):
    """Kill worker 1 mid-training; the restarted cluster resumes from the last checkpoint."""
    out = tmp_path / "ft"
    job = dist.Job(
        epochs=4, batch_size=32, limit=256, hidden=(32,), pause_after_epoch=0.5, out_dir=str(out)
    )
    index = out / "backup" / "checkpoint"
    with dist.start_cluster(2, job, quiet=True) as cluster:
        deadline = time.monotonic() + TIMEOUT
        while not (index.exists() and "ckpt-2" in index.read_text()):
            assert time.monotonic() < deadline, "no checkpoint of epoch 2 in time"
            assert all(p.poll() is None for p in cluster.procs.values()), cluster.log_tail(
                "worker0"
            )
            time.sleep(0.1)
        cluster.kill("worker1", signal.SIGKILL)
        codes = cluster.wait(timeout=60)
    assert codes["worker1"] == -signal.SIGKILL and codes["worker0"] != 0  # chief stopped too
    assert _all_reaped(cluster)
    last = int(
        re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', index.read_text(), re.MULTILINE)[1]
    )
    assert last >= 2
    before = json.loads((out / "backup" / "history.json").read_text())

    results = dist.launch(2, job, timeout=TIMEOUT, quiet=True)
    chief = results[0]
    assert chief["initial_epoch"] == last  # resumed from the last checkpoint
    history = chief["history"]
    assert len(history["loss"]) == 4
    assert history["loss"][:last] == before["loss"][:last]  # no completed epoch lost
    assert chief["iterations"] == 4 * 8  # 256 / 32 steps per epoch: the expected total
    assert results[1]["iterations"] == chief["iterations"]
    # FILE sharding (the default): different examples per worker, identical weights after
    # every all-reduced step.
    w0, w1 = (_weights(out / f"weights_worker{i}.npz") for i in (0, 1))
    for a, b in zip(w0, w1, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not (out / "backup").exists()
    assert not list(out.glob(".backup-worker*.tmp")), "non-chief temp checkpoints removed"


def test_launcher_bad_input():
    with pytest.raises(ValueError, match="Received: workers=0"):
        dist.start_cluster(0, dist.Job())
    with pytest.raises(ValueError, match="Received: epochs=0"):
        dist.Job(epochs=0)
    assert dist.main(["--workers", "0"]) == 2
    assert dist.main(["--workers", "2", "--batch-size", "-1"]) == 2
