"""Every tuner resumes after ``kill -9``: completed trials keep their scores, none runs twice,
the search finishes its budget, and the trials match an uninterrupted run.

One subprocess runs all six tuners (the import of TensorFlow is paid once): for each, a forked
child searches with a trivially cheap ``run_trial`` and SIGKILLs itself at the start of the
third trial, after two completed; the parent then reruns the same search and an uninterrupted
reference, and writes what it saw as JSON for the tests below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dlcourse.tuning import TUNERS

SCRIPT = r"""
import json, os, signal, sys, types
import keras_tuner
import numpy as np
from dlcourse.tuning import make_tuner, summarize

root = sys.argv[1]
KILL_AFTER = 2

class Space(keras_tuner.HyperModel):  # no Keras model: run_trial below never builds one
    def build(self, hp):
        hp.Int("units", 1, 4)
        hp.Choice("act", ["relu", "tanh"])

def score(values):
    return values["units"] / 4 - (values["act"] == "tanh") * 0.3

def run_trial(self, trial, *args, **kwargs):
    log = os.path.join(self.project_dir, "..", self.project_name + ".log")
    done = open(log).read().split().count("done") if os.path.exists(log) else 0
    if os.environ.get("KILL") and done == KILL_AFTER:
        os.kill(os.getpid(), signal.SIGKILL)
    with open(log, "a") as f:
        f.write(f"done {trial.trial_id}\n")
    return {"val_accuracy": score(trial.hyperparameters.values)}

def search(name, project):
    kw = {"bayesian": {"max_trials": 7}, "coarse-to-fine": {"max_trials": 6, "rounds": 2},
          "hyperband": {"max_epochs": 3}, "cv-grid": {"max_trials": 6, "folds": 2}}
    tuner = make_tuner(name, Space(), directory=root, project_name=project,
                       **kw.get(name, {"max_trials": 6}))
    tuner.run_trial = types.MethodType(run_trial, tuner)
    x, y = np.zeros((8, 2)), np.array([0, 1] * 4)
    tuner.search(x, y, verbose=0) if name == "cv-grid" else tuner.search(verbose=0)
    return summarize(tuner)

out = {}
for name in sys.argv[2:]:
    pid = os.fork()
    if pid == 0:
        os.environ["KILL"] = "1"
        search(name, name)
        os._exit(0)  # not reached when the kill fires
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    before = {}
    for d in sorted(os.listdir(os.path.join(root, name))):
        if d.startswith("trial_"):
            t = json.load(open(os.path.join(root, name, d, "trial.json")))
            before[t["trial_id"]] = t["score"]
    resumed, reference = search(name, name), search(name, name + "_ref")
    log = open(os.path.join(root, name + ".log")).read().split()
    out[name] = {"killed": killed, "before": before, "resumed": resumed,
                 "reference": reference, "done": log[1::2]}
json.dump(out, open(os.path.join(root, "out.json"), "w"))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    script = root / "resume.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, str(script), str(root), *TUNERS],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((root / "out.json").read_text())


@pytest.mark.parametrize("name", TUNERS)
def test_search_resumes_after_kill_9(runs, name):
    run = runs[name]
    assert run["killed"], "the child was not killed by SIGKILL"
    completed_before = {t: s for t, s in run["before"].items() if s is not None}
    assert len(completed_before) == 2  # killed at the start of the third trial
    trials = {t["trial_id"]: t for t in run["resumed"]["trials"]}
    for tid, score in completed_before.items():  # kept, with their scores
        assert trials[tid]["status"] == "COMPLETED" and trials[tid]["score"] == score
    assert sorted(run["done"]) == sorted(set(run["done"]))  # no trial ran twice
    ref = run["reference"]
    assert run["resumed"]["completed"] == ref["completed"]  # the budget was finished
    assert [t["values"] for t in run["resumed"]["trials"]] == [t["values"] for t in ref["trials"]]
