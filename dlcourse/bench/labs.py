"""Every lab in its own process: wall time, peak memory (RSS) and headline results.

Each lab runs at its default settings (what ``make labs`` runs) into a temporary runs folder,
one process per lab (``dlcourse.labkit``'s subprocess helper), so its peak RSS is its own.
Headline: the lab's test (else validation) accuracy and its time-to-accuracy figures from
metrics.json. The goal is every lab under 2 GB of RSS on a CPU. The labs run in number order
within a budget of 12 minutes (``DLCOURSE_BENCH_LABS_BUDGET_S``); labs that do not fit are
filled from ``runs/<lab>/run_info.json`` of the last ``make labs`` when there is one, and are
marked so.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from dlcourse import labkit, labrun
from dlcourse.bench import Table

BUDGET_S = 720.0
# The same labs before a round of work, to compare with (wall s and peak RSS per lab).
BEFORE = Path(__file__).resolve().parents[2] / "docs" / "bench" / "labs" / "before_issue24.json"
RSS_GOAL_MB = 2048
QUICK_LABS = 1  # --quick: only the first lab, in its quick mode


def run(quick: bool = False) -> list[Table]:
    budget = float(os.environ.get("DLCOURSE_BENCH_LABS_BUDGET_S", BUDGET_S))
    labs = labkit.list_labs()[:QUICK_LABS] if quick else labkit.list_labs()
    extra = ["--quick"] if quick else []
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for lab in labs:
            if time.perf_counter() - start > budget:
                rows.append(_from_make_labs(lab))
                continue
            info = labrun.run_subprocess(lab, tmp, extra)
            metrics = _read(Path(tmp) / lab.name / "metrics.json")
            mode = "quick" if quick else "default"
            rows.append(_row(lab.name, mode, info, metrics))
    measured = sum(1 for r in rows if r[1] in ("default", "quick"))
    copied = sorted(r[1].removeprefix("make labs ") for r in rows if r[1].startswith("make labs"))
    source = ""
    if measured < len(rows):
        when = f"dated {copied[0]} to {copied[-1]} UTC" if copied else "none found"
        source = (
            f"{measured} of {len(rows)} rows measured by this bench run; past its {budget:.0f} s "
            f"budget, {len(copied)} copied from the runs/<lab>/run_info.json of `make labs` "
            f"({when}): wall time and peak RSS as that run measured them, under a load it did "
            "not record."
        )
        if any((_read(Path(labkit.DEFAULT_OUT) / r[0] / "run_info.json") or {}).get("side_by_side")
               for r in rows if r[1].startswith("make labs")):  # fmt: skip
            source += " That run ran two labs at a time (JOBS=2): each shared the cores."
    before = _read(BEFORE) or {"labs": {}}
    for row in rows:
        row.insert(4, before["labs"].get(row[0], {}).get("wall_s", "new"))
    notes = [
        (
            "run: default (or quick) = run by this bench at those settings; "
            "make labs DATE = copied from that run's runs/<lab>/run_info.json, its date."
        )
    ]
    if before["labs"]:
        notes.append(f"before s: {before['what']} ({BEFORE.name}); new = no such lab then.")
    return [
        Table(
            "Per lab: wall time, peak RSS, headline accuracy and time-to-accuracy",
            [
                "lab",
                "run",
                "status",
                "wall s",
                "before s",
                "peak RSS MB",
                f"< {RSS_GOAL_MB} MB",
                "accuracy",
                "time to accuracy",
            ],
            rows,
            notes=notes,
            source=source,
        )
    ]


def _row(name: str, mode: str, info: dict, metrics: dict | None) -> list:
    ok = info.get("returncode") == 0 and metrics is not None
    rss = info.get("peak_rss_mb")
    rss = "" if rss is None else rss
    return [
        name,
        mode,
        "ok" if ok else f"FAILED (exit {info.get('returncode')})",
        info.get("wall_s", ""),
        rss,
        ("yes" if rss < RSS_GOAL_MB else "NO") if rss != "" else "",
        headline_accuracy(metrics or {}),
        time_to_accuracy(metrics or {}),
    ]


def _from_make_labs(lab) -> list:
    folder = Path(labkit.DEFAULT_OUT) / lab.name
    info = _read(folder / "run_info.json")
    if info is None:
        return [lab.name, "not run (budget)", "", "", "", "", "", ""]
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime((folder / "run_info.json").stat().st_mtime))
    return _row(lab.name, f"make labs {when}", info, _read(folder / "metrics.json"))


def headline_accuracy(metrics: dict) -> str:
    """``key: value`` of the lab's test accuracy, else its validation accuracy, else ''."""
    flat = {k: v for k, v in labkit.flatten_scalars(metrics).items() if isinstance(v, (int, float))}
    for suffix in ("test_accuracy", "val_accuracy", "accuracy"):
        for key, value in flat.items():
            if key.split(".")[-1].endswith(suffix) and "time" not in key:
                return f"{key}: {value:.4g}"
    return ""


def time_to_accuracy(metrics: dict) -> str:
    flat = labkit.flatten_scalars(metrics)
    found = [
        f"{k}: {v:.3g} s" if isinstance(v, (int, float)) else f"{k}: not reached"
        for k, v in flat.items()
        if "time_to" in k and not isinstance(v, bool)
    ]
    return "; ".join(found[:2])


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
