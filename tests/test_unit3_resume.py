"""A training run killed mid-training resumes at the first epoch it had not completed, and
``fit`` returns the same history from both loops as an uninterrupted run would."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np, tensorflow as tf
from dlcourse.training import TrainConfig, fit
from dlcourse.layers import MaxNorm

folder, kill_at, loop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = os.path.join(folder, "epochs.log")

class Log(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        with open(log, "a") as f:
            f.write(f"{epoch}\n")
        if epoch == kill_at:  # epochs 0..kill_at-1 are complete and backed up
            open(os.path.join(folder, "marker"), "w").close()
            time.sleep(120)

def build():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, "relu",
                          kernel_constraint=MaxNorm(2.0)), keras.layers.Dense(1)])
    m.compile(keras.optimizers.SGD(0.01), "mse")
    return m

def train(run_dir, callbacks):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, x.sum(1, keepdims=True))).batch(16)  # fixed order
    return fit(build, ds, validation=ds, epochs=5, cfg=TrainConfig(), folder=run_dir, verbose=0,
               callbacks=callbacks, loop=loop)[1]

hist = train(folder, [Log()])
with open(os.path.join(folder, "history.json"), "w") as f:
    json.dump({"resumed": hist, "uninterrupted": train(os.path.join(folder, "ref"), [])}, f)
"""


@pytest.mark.parametrize("loop", ["keras", "custom"])
def test_killed_run_resumes_with_the_history_of_an_uninterrupted_one(tmp_path, loop):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), "3", loop],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "marker").exists():
            assert proc.poll() is None, "first run exited before reaching epoch 3"
            assert time.monotonic() < deadline, "first run too slow"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "backup").exists()
    assert not (tmp_path / "history.json").exists()
    # Rerun: no epoch index to kill at, so it runs to the end (then an uninterrupted run).
    rerun = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "-1", loop],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert "resuming from epoch 4 of 5" in rerun.stdout
    epochs = [int(e) for e in Path(tmp_path / "epochs.log").read_text().split()]
    assert epochs == [0, 1, 2, 3, 3, 4]  # killed in epoch 3; epochs 0-2 were not redone
    runs = json.loads((tmp_path / "history.json").read_text())
    resumed, whole = runs["resumed"], runs["uninterrupted"]
    assert sorted(resumed) == sorted(whole) == ["loss", "time_s", "val_loss"]
    assert len(resumed["loss"]) == len(resumed["time_s"]) == 5  # every epoch of the run
    for key in ("loss", "val_loss"):
        assert resumed[key] == pytest.approx(whole[key], rel=1e-5)
    times = resumed["time_s"]
    assert all(b > a for a, b in itertools.pairwise(times)), times  # counts on across the resume
    assert not (tmp_path / "backup").exists()  # backup removed after a finished run
