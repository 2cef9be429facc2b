"""The one process layer: roles, ports, prefixed output, and nothing left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcourse import launch

# Each worker starts a grandchild (same process group) and records both pids, then sleeps.
SLEEPER = (
    "import os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "with open(os.path.join(sys.argv[1], f'{os.getpid()}.pids'), 'w') as f:\n"
    "    f.write(f'{os.getpid()} {child.pid}')\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "single"),
        ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_TUNER_ID": "chief"}, "chief"),
        ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_TUNER_ID": "tuner1"}, "worker"),
        ({"TF_CONFIG": launch.tf_config([1, 2], 0)}, "chief"),
        ({"TF_CONFIG": launch.tf_config([1, 2], 1)}, "worker"),
        ({"TF_CONFIG": launch.tf_config([1], 0)}, "single"),
        (
            {
                "TF_CONFIG": json.dumps(
                    {
                        "cluster": {"chief": ["h:1"], "worker": ["h:2"]},
                        "task": {"type": "worker", "index": 0},
                    }
                )
            },
            "worker",
        ),
    ],
)
def test_role_is_worked_out_in_one_place(env, expected):
    assert launch.role(env) == expected


def test_role_of_one_system_ignores_the_other():
    both = {"TF_CONFIG": launch.tf_config([1, 2], 0), **launch.tuner_env("tuner0", 1)}
    assert launch.role(both) == launch.role(both, of="keras_tuner") == "worker"
    assert launch.role(both, of="tf_config") == "chief"
    assert launch.role({"TF_CONFIG": launch.tf_config([1, 2], 0)}, of="keras_tuner") == "single"
    with pytest.raises(ValueError, match="Received: of='mpi'"):
        launch.role({}, of="mpi")


def test_num_workers_and_worker_count_count_the_chief_too():
    chief_and_two = {"cluster": {"chief": ["h:1"], "worker": ["h:2", "h:3"], "ps": ["h:4"]}}
    assert launch.num_workers(chief_and_two) == 3  # a parameter server does not train
    assert launch.num_workers(json.loads(launch.tf_config([1, 2], 1))) == 2
    assert launch.num_workers(None) == 1

    class Resolver:
        def cluster_spec(self):
            return type("Spec", (), {"as_dict": lambda _: chief_and_two["cluster"]})()

    assert launch.worker_count(type("Multi", (), {"cluster_resolver": Resolver()})()) == 3
    assert launch.worker_count(object()) == 1  # a strategy without a cluster: one worker


def test_free_ports_are_distinct_and_tf_config_names_them():
    ports = launch.free_ports(3)
    assert len(set(ports)) == 3
    config = json.loads(launch.tf_config(ports, 2))
    assert config["cluster"]["worker"][2] == f"127.0.0.1:{ports[2]}"
    assert config["task"] == {"type": "worker", "index": 2}


def test_cluster_output_is_prefixed_logged_and_a_failure_stops_the_rest(tmp_path, capfd):
    code = (
        "import json, os, sys, time\n"
        "i = json.loads(os.environ['TF_CONFIG'])['task']['index']\n"
        "print(f'step 1\\rhello from {i}', flush=True)\n"  # a progress bar redraws after a CR
        "sys.exit(3) if i == 1 else time.sleep(60)\n"
    )
    start = time.monotonic()
    codes = launch.run_cluster([sys.executable, "-c", code], 2, timeout=30, log_dir=tmp_path)
    assert codes["worker1"] == 3 and codes["worker0"] == -signal.SIGTERM  # stopped, not waited
    assert time.monotonic() - start < 20
    assert "[worker0] step 1\r[worker0] hello from 0\n" in capfd.readouterr().out
    assert (tmp_path / "worker1.log").read_bytes() == b"step 1\rhello from 1\n"  # as written
    with pytest.raises(ValueError, match="Received: workers=0"):
        launch.run_cluster(["true"], 0)


def test_sigint_to_the_launcher_leaves_no_process_behind(tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "dlcourse.launch", "--workers", "2", "--",
         sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.pids"))) < 2:
            assert launcher.poll() is None, launcher.communicate()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        pids = [int(p) for f in tmp_path.glob("*.pids") for p in f.read_text().split()]
        assert all(_alive(pid) for pid in pids)
        launcher.send_signal(signal.SIGINT)
        out, err = launcher.communicate(timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 130, err
    assert "interrupted: every process stopped" in err
    assert "[worker0] ready" in out and "[worker1] ready" in out
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _alive(pid)], "a worker or its child survived"
