"""A training run killed mid-training resumes at the first epoch it had not completed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np
from dlcourse.labkit import TrainConfig
from dlcourse.training import fit
from dlcourse.layers import MaxNorm

folder, kill_at = sys.argv[1], int(sys.argv[2])
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

rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = x.sum(1, keepdims=True)
model, hist = fit(build, (x, y), epochs=5, cfg=TrainConfig(), folder=folder, verbose=0,
                  callbacks=[Log()])
with open(os.path.join(folder, "history.json"), "w") as f:
    json.dump(hist, f)
"""


def test_killed_run_resumes_from_last_completed_epoch(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), "3"],
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
    # Rerun: no epoch index to kill at, so it runs to the end.
    subprocess.run(
        [sys.executable, str(script), str(tmp_path), "-1"],
        env=env,
        check=True,
        timeout=90,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    epochs = [int(e) for e in Path(tmp_path / "epochs.log").read_text().split()]
    assert epochs == [0, 1, 2, 3, 3, 4]  # killed in epoch 3; epochs 0-2 were not redone
    import json

    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["loss"]) == 2  # the resumed run trained only epochs 3 and 4
    assert not (tmp_path / "backup").exists()  # backup removed after a finished run
