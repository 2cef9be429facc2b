"""Grading a class: a folder of submissions, ``--jobs`` at a time, resumable, and its reports.

Each submission is graded by :mod:`dlcourse.grade` in a process of its own, under one timeout
(an endless loop scores 0: "timed out"). Results go to ``--results DIR``, one JSON file per
submission keyed by the file's content and the grading settings: a killed run, started again,
grades only what is left. Nothing stops the class: a bad submission is a 0 and a reason.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlcourse import checks, labkit
from dlcourse.grade import DEFAULT_TIMEOUT, _done, find_lab, zero
from dlcourse.utils import write_json

DEFAULT_RESULTS = "grades"
SUFFIXES = (".ipynb", ".py")


def submissions(paths: Sequence[str | Path]) -> list[Path]:
    """The files to grade: each path, or every ``.ipynb``/``.py`` in a folder (sorted)."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file()
                            and ".ipynb_checkpoints" not in f.parts)  # fmt: skip
        else:
            found.append(p)
    return found


def _key(path: Path, lab_key: str | None, full: bool, seed: int | None) -> str:
    """A result's file name: the submission's name, content and the grading settings."""
    try:
        content = path.read_bytes()
    except OSError:
        content = b""
    digest = hashlib.sha256(
        content + f"\0{path.resolve()}\0{lab_key}\0{full}\0{seed}".encode()
    ).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', path.stem)}-{digest}.json"


def grade_all(
    paths: Sequence[str | Path],
    *,
    lab_key: str | None = None,
    jobs: int = 2,
    results: str | Path = DEFAULT_RESULTS,
    timeout: int = DEFAULT_TIMEOUT,
    full: bool = False,
    seed: int | None = None,
    progress: Any = None,
) -> list[dict]:
    """Grade every submission, ``jobs`` processes at a time, each under ``timeout`` seconds;
    results already in ``results`` (same file, same settings) are reused, not regraded."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    files = submissions(paths)
    out: dict[Path, dict] = {}
    todo = []
    for path in files:
        target = results / _key(path, lab_key, full, seed)
        try:
            out[path] = json.loads(target.read_text())
            out[path]["reused"] = True
        except (OSError, ValueError):
            todo.append((path, target))

    def one(item):
        path, target = item
        cmd = [sys.executable, "-m", "dlcourse.grade", str(path), "--result", str(target),
               "--cell-timeout", str(timeout)]  # fmt: skip
        cmd += ["--lab", lab_key] if lab_key else []
        cmd += ["--full"] if full else []
        cmd += ["--seed", str(seed)] if seed is not None else []
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, text=True)  # fmt: skip
        try:
            _, err = proc.communicate(timeout=timeout)
            try:
                result = json.loads(target.read_text())
            except (OSError, ValueError):
                lab = _lab_or_none(path, lab_key)
                tail = (err or "").strip().split("\n")[-1][:200]
                result = _done(path, lab, zero(lab, f"the grader crashed: {tail}", full=full))
                write_json(target, result)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker's session (its kernel polls it)
            proc.communicate()
            lab = _lab_or_none(path, lab_key)
            result = _done(path, lab, zero(lab, f"timed out after {timeout} s", full=full))
            write_json(target, result)
        result["seconds"] = round(time.monotonic() - start, 1)
        if progress:
            progress(result)
        return path, result

    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        for path, result in pool.map(one, todo):
            out[path] = result
    return [out[p] for p in files]


def _lab_or_none(path: Path, lab_key: str | None) -> labkit.LabInfo | None:
    try:
        nb = None
        if path.suffix == ".ipynb":
            import nbformat

            nb = nbformat.read(path, as_version=4)
        return find_lab(path, nb, lab_key)
    except Exception:  # noqa: BLE001 (a student's code may raise anything)
        return None


def format_result(result: dict) -> str:
    """A submission's report: its score, then one line per claim and check, ✔ or ✗."""
    head = f"{result['submission']}  (lab {result.get('lab') or '?'}"
    head += (
        f", {result.get('settings', 'quick')} settings)  {result['score']}/{result['max_score']}"
    )
    lines = [head]
    if result.get("reason"):
        lines.append(f"  \u2718 {result['reason']}")
    if result.get("stopped"):
        lines.append(f"  the lab stopped: {result['stopped']}")
    for item in result.get("items", []):
        if not item["points"]:
            lines.append(f"  - {item['name']}: {checks.describe(item)} [{item.get('note', '')}]")
            continue
        mark = "\u2714" if item["score"] else "\u2718"
        lines.append(f"  {mark} {item['name']}: {checks.describe(item)}")
    return "\n".join(lines)


def write_csv(results: list[dict], stream) -> None:
    """One row per submission: file, lab, score, max score, reason; one column per item."""
    names = []
    for r in results:
        names += [i["name"] for i in r.get("items", []) if i["name"] not in names]
    writer = csv.writer(stream)
    writer.writerow(["submission", "lab", "score", "max_score", "reason", *names])
    for r in results:
        got = {i["name"]: i["score"] for i in r.get("items", [])}
        reason = r.get("reason") or r.get("stopped") or ""
        writer.writerow([r["submission"], r.get("lab"), r["score"], r["max_score"], reason,
                         *(got.get(n, "") for n in names)])  # fmt: skip
