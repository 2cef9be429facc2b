"""Every lab at its defaults on seeds 0-4: on how many seeds do all of its claims hold?

Each lab runs once per seed (``python labs/NN.py --seed S``, one process each, through
:func:`dlcourse.labrun.run_all`) and its ``claims`` are read from metrics.json. One JSON record
per lab goes to ``docs/bench/seeds/<lab>.json`` (seeds, claims per seed, wall times, the lab
file's SHA-256 and the git commit it was measured at), and the table is rendered from every
record there, so ``DLCOURSE_BENCH_LABS="36 37"`` remeasures some labs and keeps the others'
rows (``DLCOURSE_BENCH_LABS=none`` measures none and only renders the records). The goal is
5/5 for every lab.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from dlcourse import labkit, labrun
from dlcourse.bench import Table
from dlcourse.utils import write_json

SEEDS = (0, 1, 2, 3, 4)
RECORDS = Path(__file__).resolve().parents[2] / "docs" / "bench" / "seeds"


def run(quick: bool = False) -> list[Table]:
    chosen = os.environ.get("DLCOURSE_BENCH_LABS", "").replace(",", " ").split()
    if chosen == ["none"]:
        labs = []
    else:
        labs = [labkit.find_lab(k) for k in chosen] if chosen else labkit.list_labs()
    if quick and not labs:
        raise ValueError("A quick seeds run measures one lab. Received: DLCOURSE_BENCH_LABS=none")
    if quick:  # a smoke test: one lab, two seeds, quick settings, nothing recorded
        return [_table([measure(labs[0], SEEDS[:2], ["--quick"])])]
    for lab in labs:
        write_json(RECORDS / f"{lab.name}.json", measure(lab, SEEDS))
    table = _table([json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))])
    if len(table.rows) > len(labs):
        table.source = (
            f"{len(labs)} of {len(table.rows)} labs measured by this run; the other rows are "
            "those labs' last records in docs/bench/seeds/, at the commit and date in their row."
        )
    return [table]


def measure(lab: labkit.LabInfo, seeds, extra: list[str] | None = None) -> dict:
    """Run ``lab`` once per seed; its claims and wall time per seed."""
    per_seed = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            out = str(Path(tmp) / f"seed{seed}")
            info = labrun.run_subprocess(lab, out, [*(extra or []), "--seed", str(seed)])
            path = Path(out) / lab.name / "metrics.json"
            metrics = json.loads(path.read_text()) if path.exists() else {}
            per_seed[str(seed)] = {
                "returncode": info["returncode"],
                "wall_s": info["wall_s"],
                "claims": metrics.get("claims", []),
            }
    return {
        "lab": lab.name,
        "seeds": per_seed,
        "lab_sha256": hashlib.sha256(lab.path.read_bytes()).hexdigest(),
        "commit": _commit(),
        "date": f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
    }


def holds(seed_result: dict) -> bool:
    """A seed counts when the lab ran and stated claims, and every one of them held."""
    claims = seed_result["claims"]
    return seed_result["returncode"] == 0 and bool(claims) and all(c["holds"] for c in claims)


def _table(records: list[dict]) -> Table:
    rows = []
    for rec in records:
        seeds = rec["seeds"]
        ok = [s for s, r in seeds.items() if holds(r)]
        failing = sorted({f"seed {s}: {c['claim']}" for s, r in seeds.items()
                          for c in r["claims"] if not c["holds"]})  # fmt: skip
        failing += [f"seed {s}: exit {r['returncode']}" for s, r in seeds.items()
                    if r["returncode"] != 0]  # fmt: skip
        walls = [r["wall_s"] for r in seeds.values()]
        rows.append([
            rec["lab"],
            f"{len(ok)}/{len(seeds)}",
            "; ".join(failing) or "none",
            statistics.median(walls),
            f"{rec.get('commit', '?')[:8]}, {rec.get('date', '?')}",
        ])  # fmt: skip
    return Table(
        "Claims holding per seed, every lab at its defaults",
        [
            "lab",
            "seeds with every claim holding",
            "claims that failed",
            "median wall s",
            "measured at",
        ],
        rows,
        notes=[
            "Seeds 0-4; a seed counts when the lab ran and every one of its claims held.",
            (
                "Each row is the lab's last measurement (docs/bench/seeds/<lab>.json), at the "
                "commit named; `DLCOURSE_BENCH_LABS=\"NN ...\" make bench ARGS='--only seeds'` "
                "remeasures labs."
            ),
        ],
    )


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=RECORDS.parents[2])  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "labs", "dlcourse"],
                               capture_output=True, text=True, cwd=RECORDS.parents[2],
                               check=False).stdout  # fmt: skip
        return out.stdout.strip() + ("+changes" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
