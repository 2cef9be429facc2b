"""Distributed keras-tuner on loopback: a chief and 2 workers, every trial exactly once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dlcourse import launch
from dlcourse.tuning import distributed

WORKER_SCRIPT = """
import os, sys, types
sys.path.insert(0, {tests!r})
from test_tuning import _hypermodel, objective
from dlcourse import launch
from dlcourse.tuning import make_tuner
from dlcourse.tuning.search import search_in_role

folder, log = sys.argv[1], sys.argv[2]

def run_trial(self, trial, *args, **kwargs):
    with open(log, "a") as f:
        f.write(os.environ["KERASTUNER_TUNER_ID"] + " " + trial.trial_id + "\\n")
    return {{"val_accuracy": objective(trial.hyperparameters.values)}}

tuner = make_tuner("random", _hypermodel(), max_trials=8, seed=1, directory=folder)
tuner.run_trial = types.MethodType(run_trial, tuner)
search_in_role(tuner, verbose=0)
if launch.role() == "chief":
    done = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    with open(log, "a") as f:
        f.write("chief completed " + str(len(done)) + "\\n")
"""


def test_chief_and_two_workers_run_every_trial_exactly_once(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(WORKER_SCRIPT.format(tests=str(Path(__file__).parent)))
    log = tmp_path / "log.txt"
    codes = distributed.launch(
        [sys.executable, str(script), str(tmp_path / "proj"), str(log)],
        workers=2,
        timeout=120,
        env={"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert codes == {"chief": 0, "tuner0": 0, "tuner1": 0}  # every process exited, cleanly
    lines = log.read_text().splitlines()
    assert lines[-1] == "chief completed 8"
    ran = [line.split() for line in lines[:-1]]
    assert sorted(t for _, t in ran) == [str(i) for i in range(8)]  # each trial exactly once
    assert {who for who, _ in ran} <= {"tuner0", "tuner1"}  # the chief only serves


def test_launch_reaps_everything_when_a_process_fails(tmp_path):
    code = (
        "import os, sys, time; sys.exit(3) if os.environ['KERASTUNER_TUNER_ID'] == 'tuner1' "
        "else time.sleep(60)"
    )
    codes = distributed.launch(
        [sys.executable, "-c", code], workers=2, timeout=30, port=launch.free_ports(1)[0]
    )
    assert codes["tuner1"] == 3
    assert codes["chief"] != 0 and codes["tuner0"] != 0  # terminated, not left running


def test_launch_starts_no_worker_when_the_chief_dies_before_listening():
    codes = distributed.launch([sys.executable, "-c", "import sys; sys.exit(4)"], timeout=30)
    assert codes == {"chief": 4}


def test_launch_bad_input():
    with pytest.raises(ValueError, match="Received: workers=0"):
        distributed.launch(["true"], workers=0)
