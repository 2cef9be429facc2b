"""Rerunning labs: `make labs` carries on after a kill, and the same seed gives the same metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcourse import labkit, labrun

ROOT = Path(__file__).resolve().parent.parent
FIRST, SECOND = "04_representations", "11_activations"  # two quick labs without training


def _runner(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "dlcourse", "labs", "run", "04", "11", "--out-dir", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [*cmd, *extra, "--", "--quick"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the lab child too
    )


def test_labs_run_resumes_after_a_kill_and_skips_completed_labs(tmp_path):
    out = tmp_path / "runs"
    proc = _runner(out)
    first_info = out / FIRST / "run_info.json"
    deadline = time.monotonic() + 300
    while not first_info.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first_info.exists(), proc.communicate()[0]
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and the second lab, mid-run
    proc.wait()
    assert not (out / SECOND / "run_info.json").exists()
    first = json.loads(first_info.read_text())
    assert first["returncode"] == 0 and first["fingerprint"]

    rerun = subprocess.run(
        [sys.executable, "-m", "dlcourse", "labs", "run", "04", "11", "--out-dir", str(out),
         "--", "--quick"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"=== {FIRST}: skipped" in rerun.stdout
    assert f"=== {SECOND}: ok" in rerun.stdout
    assert "2 passed (1 skipped as up to date), 0 failed" in rerun.stdout
    assert json.loads(first_info.read_text()) == first  # the completed lab did not run again
    assert (out / SECOND / "metrics.json").exists()


def test_skip_needs_the_same_arguments_and_code(tmp_path, monkeypatch):
    lab = labkit.find_lab("04")
    folder = tmp_path / lab.name
    folder.mkdir()
    (folder / "metrics.json").write_text("{}")
    info = {"lab": lab.name, "returncode": 0, "fingerprint": labrun.fingerprint(lab, ["--quick"])}
    (folder / "run_info.json").write_text(json.dumps(info))
    assert labrun.completed_run(lab, str(tmp_path), ["--quick"]) is not None
    assert labrun.completed_run(lab, str(tmp_path), []) is None  # other arguments
    (folder / "run_info.json").write_text(json.dumps({**info, "returncode": 1}))
    assert labrun.completed_run(lab, str(tmp_path), ["--quick"]) is None  # it failed
    (folder / "run_info.json").write_text(json.dumps(info))
    changed = tmp_path / "04_representations.py"  # the same lab with its code edited
    changed.write_text(lab.path.read_text() + "\n# edited\n")
    edited = labkit.LabInfo(lab.number, lab.name, changed, lab.header)
    assert labrun.completed_run(edited, str(tmp_path), ["--quick"]) is None


def _measured(metrics: dict) -> dict:
    """The metrics without wall-clock figures (those differ between any two runs)."""
    return {k: v for k, v in labkit.flatten_scalars(metrics).items() if "time" not in k}


@pytest.mark.parametrize("lab", ["30"])
def test_same_seed_same_metrics(lab, tmp_path):
    first = _measured(labkit.run_lab(lab, quick=True, out_dir=str(tmp_path / "a")))
    second = _measured(labkit.run_lab(lab, quick=True, out_dir=str(tmp_path / "b")))
    assert len(first) >= 3 and any(isinstance(v, float) for v in first.values())
    assert first == second


def test_force_reruns_a_completed_lab(tmp_path, monkeypatch, capsys):
    lab = labkit.find_lab("04")
    folder = tmp_path / lab.name
    folder.mkdir()
    (folder / "metrics.json").write_text("{}")
    info = {"lab": lab.name, "returncode": 0, "wall_s": 1.0, "peak_rss_mb": None,
            "fingerprint": labrun.fingerprint(lab, ["--quick"])}  # fmt: skip
    (folder / "run_info.json").write_text(json.dumps(info))
    ran = []
    monkeypatch.setattr(
        labrun, "run_subprocess", lambda lab, *a, **kw: ran.append(lab.name) or info
    )
    labrun.run_all(["04"], out_dir=str(tmp_path), extra_args=["--quick"])
    assert ran == [] and "04_representations: skipped" in capsys.readouterr().out
    labrun.run_all(["04"], out_dir=str(tmp_path), extra_args=["--quick"], force=True)
    assert ran == ["04_representations"]


def test_jobs_run_labs_side_by_side_and_keep_their_order(tmp_path, monkeypatch):
    spans = {}

    def fake(lab, out_dir, extra_args, *, quiet=False):
        start = time.perf_counter()
        time.sleep(0.5 if lab.number == "01" else 0.1)  # the first lab ends last
        spans[lab.name] = (start, time.perf_counter(), quiet)
        return {"lab": lab.name, "returncode": 0, "wall_s": 0.1, "peak_rss_mb": None}

    monkeypatch.setattr(labrun, "run_subprocess", fake)
    results = labrun.run_all(["01", "02", "04"], out_dir=str(tmp_path), jobs=2)
    assert [r["lab"] for r in results] == sorted(spans)
    (a0, a1, quiet), (b0, b1, _) = spans["01_linear_regression"], spans["02_learning_rate"]
    assert quiet and b0 < a1 and a0 < b1, "with jobs=2 the first two labs overlap"
    with pytest.raises(ValueError, match="Received: jobs=0"):
        labrun.run_all(["01"], out_dir=str(tmp_path), jobs=0)


def test_a_quiet_lab_keeps_its_output_and_says_why_it_failed(tmp_path):
    lab = labkit.find_lab("04")
    info = labrun.run_subprocess(lab, str(tmp_path), ["--quick", "--seed", "-1"], quiet=True)
    assert info["returncode"] == 2 and "Received: seed=-1" in info["log_tail"]
    assert not (tmp_path / lab.name).exists()  # refused before any work: no folder, no log


def test_a_lab_gives_the_same_metrics_alone_or_after_another_lab(tmp_path):
    """labkit.start clears Keras' state and reseeds: what ran before in the process is moot."""

    def run_in_one_process(out: Path, *labs: str) -> None:
        calls = [f"labkit.run_lab({lab!r}, quick=True, out_dir={str(out)!r})" for lab in labs]
        code = "\n".join(["from dlcourse import labkit", *calls])
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, check=True)  # fmt: skip

    alone, before = tmp_path / "alone", tmp_path / "before"
    run_in_one_process(alone, "51")  # a fresh process: nothing ran before the lab
    run_in_one_process(before, "14", "51")
    first = json.loads((alone / "51_lenet5" / "metrics.json").read_text())
    after = json.loads((before / "51_lenet5" / "metrics.json").read_text())
    assert _measured(after) == _measured(first)
    assert any(isinstance(v, float) for v in _measured(first).values())
