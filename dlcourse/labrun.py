"""``make labs``: every lab in its own process, up-to-date labs skipped, then ``runs/REPORT.md``.

Each lab runs in its own process (so one failure or one leak does not touch the others, and
its peak memory is its own: the lab writes it through :data:`dlcourse.labkit.PEAK_RSS_ENV`).
``run_info.json`` in the lab's run folder records the exit code, wall time, peak RSS and a
:func:`fingerprint` of the code and arguments; a rerun skips the labs whose last run completed
with the same fingerprint.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlcourse.labkit import (
    DEFAULT_OUT,
    PEAK_RSS_ENV,
    LabInfo,
    TrainConfig,
    failed_claims,
    find_lab,
    flatten_scalars,
    list_labs,
    load_lab,
)
from dlcourse.utils import atomic_path, check_positive, write_json


def run_all(
    keys: Sequence[str] | None = None,
    out_dir: str = DEFAULT_OUT,
    extra_args: Sequence[str] = (),
    *,
    force: bool = False,
    jobs: int = 1,
) -> list[dict]:
    """Run labs one process each, record wall time and peak RSS, then write the report.

    A lab whose last run in ``out_dir`` completed with the same code and arguments (see
    :func:`fingerprint`) is skipped, so rerunning after an interruption carries on where it
    stopped; ``force`` reruns every lab. A lab killed mid-training resumes from its backup.

    ``jobs`` labs run at once (``make labs`` runs two: a lab spends much of its time in one
    thread, importing TensorFlow or stepping a small model, so two share two cores well).
    With more than one job each lab's output goes to ``log.txt`` in its run folder and one line
    per lab says when it starts and how it ended; results come back in the labs' order.
    """
    check_positive("jobs", jobs)
    labs = [find_lab(k) for k in keys] if keys else list_labs()
    results: list[dict | None] = [None] * len(labs)
    todo = []
    for i, lab in enumerate(labs):
        done = None if force else completed_run(lab, out_dir, extra_args)
        if done is None:
            todo.append(i)
            continue
        print(
            f"\n=== [{i + 1}/{len(labs)}] {lab.name}: {lab.title}\n=== {lab.name}: skipped, its "
            "last run completed with the same code and arguments (--force, or FORCE=1 with make, "
            "reruns it)",
            flush=True,
        )
        results[i] = {**done, "skipped": True}

    def one(i: int) -> None:
        lab = labs[i]
        print(f"\n=== [{i + 1}/{len(labs)}] {lab.name}: {lab.title}", flush=True)
        result = run_subprocess(lab, out_dir, extra_args, quiet=jobs > 1)
        rss = result["peak_rss_mb"]
        rss_text = f", peak RSS {rss:.0f} MB" if rss is not None else ""
        status = "ok" if result["returncode"] == 0 else f"FAILED (exit {result['returncode']})"
        print(f"=== {lab.name}: {status} in {result['wall_s']:.1f} s{rss_text}", flush=True)
        if result["returncode"] != 0 and result.get("log_tail"):
            print(result["log_tail"], flush=True)
        results[i] = result

    if jobs == 1 or len(todo) < 2:
        for i in todo:
            one(i)
    else:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for future in [pool.submit(one, i) for i in todo]:
                future.result()
    # No report where no lab got as far as its run folder (e.g. every one refused a bad flag).
    report = write_report(out_dir) if Path(out_dir).is_dir() else "none (nothing ran)"
    failed = [r["lab"] for r in results if r["returncode"] != 0]
    skipped = sum(1 for r in results if r.get("skipped"))
    print(
        f"\n{len(results) - len(failed)} passed ({skipped} skipped as up to date), "
        f"{len(failed)} failed; report: {report}"
    )
    if failed:
        print("failed labs: " + ", ".join(failed))
    return results


def check(
    keys: Sequence[str] | None = None,
    out_dir: str = DEFAULT_OUT,
    extra_args: Sequence[str] = (),
    *,
    force: bool = False,
    jobs: int = 1,
) -> list[str]:
    """``labs check``: run labs (up-to-date runs are reused, as in :func:`run_all`), then
    return one line per problem: a lab that failed or states no claims, a claim that fails."""
    problems = []
    for result in run_all(keys, out_dir, extra_args, force=force, jobs=jobs):
        metrics = _read_json(Path(out_dir) / result["lab"] / "metrics.json")
        if result["returncode"] != 0 or metrics is None:
            problems.append(f"{result['lab']}: the lab failed (exit {result['returncode']})")
        elif not metrics.get("claims"):
            problems.append(f"{result['lab']}: states no claims")
        else:
            quick = "--quick" in extra_args
            problems += [f"{result['lab']}: claim fails: {c['claim']}"
                         for c in failed_claims(metrics, quick=quick)]  # fmt: skip
    return problems


def fingerprint(lab: LabInfo, extra_args: Sequence[str]) -> str:
    """SHA-256 of the lab file, every dlcourse source file and the lab's arguments."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in [lab.path, *sorted(package.rglob("*.py"))]:
        digest.update(str(path.relative_to(path.parents[1])).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(list(extra_args)).encode())
    return digest.hexdigest()


def completed_run(lab: LabInfo, out_dir: str, extra_args: Sequence[str]) -> dict | None:
    """The last run's info if it completed (exit 0, metrics written) with this fingerprint."""
    folder = Path(out_dir) / lab.name
    info = _read_json(folder / "run_info.json")
    if not info or info.get("returncode") != 0 or not (folder / "metrics.json").exists():
        return None
    return info if info.get("fingerprint") == fingerprint(lab, extra_args) else None


def run_subprocess(
    lab: LabInfo, out_dir: str, extra_args: Sequence[str], *, quiet: bool = False
) -> dict:
    """Run one lab in its own process; record exit code, wall time and peak RSS.

    ``quiet``: the lab's output goes to ``log.txt`` in its run folder (nowhere if the lab
    stopped before creating it) instead of this process's, and the record keeps its last lines.
    """
    cmd = [sys.executable, str(lab.path), "--out-dir", out_dir, *extra_args]
    folder = Path(out_dir) / lab.name
    (folder / "run_info.json").unlink(missing_ok=True)  # a killed rerun must not look complete
    key = fingerprint(lab, extra_args)
    fd, rss_file = tempfile.mkstemp(prefix=".peak_rss_mb.")  # not in the lab's own folder
    os.close(fd)
    rss_file = Path(rss_file)
    start = time.perf_counter()
    env = {**os.environ, PEAK_RSS_ENV: str(rss_file)}
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True} if quiet else {}
    try:
        # A failing lab is recorded, not raised.
        proc = subprocess.run(cmd, check=False, env=env, **output)
        rss_text = rss_file.read_text()
    finally:
        rss_file.unlink(missing_ok=True)
    info = {
        "lab": lab.name,
        "command": " ".join(cmd),
        "returncode": proc.returncode,
        "wall_s": round(time.perf_counter() - start, 2),
        # None when the lab died before it could report (e.g. killed by a signal).
        "peak_rss_mb": float(rss_text) if rss_text else None,
        "fingerprint": key,
        "side_by_side": quiet,  # run next to another lab (make labs' JOBS=2): shared cores
    }
    if folder.is_dir():  # a lab that stopped before creating its folder leaves nothing behind
        if quiet:
            (folder / "log.txt").write_text(proc.stdout)
        write_json(folder / "run_info.json", info)
    if quiet:
        info["log_tail"] = "\n".join(proc.stdout.splitlines()[-5:])
    return info


def write_report(out_dir: str = DEFAULT_OUT) -> Path:
    """``runs/REPORT.md``: one section per lab with its metrics, run info and figures."""
    out = Path(out_dir)
    lines = ["# dlcourse lab report", ""]
    claims = ["## Claims", "", "| lab | claim | evidence | holds |", "|---|---|---|---|"]
    summary = ["| lab | title | status | wall (s) | peak RSS (MB) |", "|---|---|---|---|---|"]
    sections = []
    for lab in list_labs():
        folder = out / lab.name
        metrics = _read_json(folder / "metrics.json")
        info = _read_json(folder / "run_info.json")
        if metrics is None and info is None:
            continue
        ok = metrics is not None and (info is None or info.get("returncode") == 0)
        status = "ok" if ok else "failed"
        wall = info.get("wall_s", "") if info else ""
        rss = info.get("peak_rss_mb", "") if info else ""
        summary.append(f"| [{lab.name}](#{lab.name}) | {lab.title} | {status} | {wall} | {rss} |")
        sections += [f"## {lab.name}", "", f"**{lab.title}**", ""]
        if lab.header.get("Description"):
            sections += [lab.header["Description"], ""]
        if lab.header.get("Notes"):
            sections += [f"Notes: {lab.header['Notes']}", ""]
        for c in (metrics or {}).get("claims", []):
            evidence = ", ".join(f"{k} {_fmt(v)}" for k, v in flatten_scalars(c).items()
                                 if k not in ("claim", "holds", "needs_defaults"))  # fmt: skip
            mark = "\u2714" if c["holds"] else "\u2718 fails"
            claims.append(f"| {lab.number} | {c['claim']} | {evidence} | {mark} |")
        if metrics:
            sections += ["| metric | value |", "|---|---|"]
            sections += [f"| {k} | {_fmt(v)} |" for k, v in flatten_scalars(metrics).items()]
            sections.append("")
        for png in sorted(folder.glob("*.png")):
            sections += [f"![{png.stem}]({lab.name}/{png.name})", ""]
    lines += claims + ["", "## Runs", ""] + summary + [""] + sections
    path = out / "REPORT.md"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


README = Path(__file__).resolve().parents[1] / "README.md"
LAB_TABLE = (
    "<!-- lab table: written by dlcourse.labrun.write_lab_table -->",
    "<!-- /lab table -->",
)


def takes_fit_flags(lab: LabInfo) -> bool:
    """Whether the lab takes ``fit``'s execution flags (``--strategy``, ``--precision``,
    ``--jit-compile``, ``--steps-per-execution``): its Config derives from TrainConfig."""
    return issubclass(load_lab(lab.name).Config, TrainConfig)


def lab_table() -> str:
    """README's table of labs, from each lab's header (Title, Lesson) and Config."""
    lines = ["| lab | title | lesson | `fit` flags |", "|---|---|---|---|"]
    for lab in list_labs():
        cells = [
            f"[{lab.number}](labs/{lab.path.name})",
            lab.title,
            lab.header.get("Lesson", ""),
            "yes" if takes_fit_flags(lab) else "",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def write_lab_table(readme: Path | None = None) -> Path:
    """Rewrite the lab table between README's lab-table markers (after labs change)."""
    readme = readme or README
    text = readme.read_text()
    start, end = (text.index(m) for m in LAB_TABLE)
    new = text[: start + len(LAB_TABLE[0])] + "\n" + lab_table() + "\n" + text[end:]
    with atomic_path(readme) as tmp:
        tmp.write_text(new)
    return readme


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
