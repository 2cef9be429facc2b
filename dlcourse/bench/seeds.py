"""Every lab at its defaults on seeds 0-9: on how many seeds do all of its claims hold?

Each lab runs once per seed (``python labs/NN.py --seed S``, one process each, through
:func:`dlcourse.labrun.run_all`) and its ``claims`` are read from metrics.json. One JSON record
per lab goes to ``docs/bench/seeds/<lab>.json`` (seeds, claims per seed, wall times, the lab
file's SHA-256 and the git commit it was measured at), and the table is rendered from every
record there, so ``DLCOURSE_BENCH_LABS="36 37"`` remeasures some labs and keeps the others'
rows (``DLCOURSE_BENCH_LABS=none`` measures none and only renders the records). The goal is
10/10 for every lab.

A seed already in a lab's record, measured on the same lab code (the SHA-256 of the file
without its header docstring, hidden tests and quick settings: :func:`code_sha256`), is kept
rather than run again, so an interrupted run picks up where it stopped and growing
:data:`SEEDS` runs only the new seeds; each seed keeps the commit it was measured at. Editing the lab's code remeasures all of its
seeds (``DLCOURSE_BENCH_FRESH=1``: always); editing its docstring does not.
"""

from __future__ import annotations

import ast
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

SEEDS = tuple(range(10))
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
        path = RECORDS / f"{lab.name}.json"
        keep = os.environ.get("DLCOURSE_BENCH_FRESH") != "1" and path.exists()
        previous = json.loads(path.read_text()) if keep else None
        write_json(path, measure(lab, SEEDS, previous=previous, record=path))
    table = _table([json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))])
    if len(table.rows) > len(labs):
        table.source = (
            f"{len(labs)} of {len(table.rows)} labs measured by this run; the other rows are "
            "those labs' last records in docs/bench/seeds/, at the commit and date in their row."
        )
    return [table]


def measure(
    lab: labkit.LabInfo,
    seeds,
    extra: list[str] | None = None,
    *,
    previous: dict | None = None,
    record: Path | None = None,
) -> dict:
    """Run ``lab`` once per seed; its claims and wall time per seed.

    Seeds of ``previous`` (the lab's last record) measured on the same lab file are kept; after
    each new seed the record so far is written to ``record``, so a killed run loses nothing."""
    sha = hashlib.sha256(lab.path.read_bytes()).hexdigest()
    code = code_sha256(lab.path)
    same = previous and (previous.get("code_sha256") or previous.get("lab_sha256")) in (code, sha)
    old = previous["seeds"] if same else {}
    commit = previous.get("commit", "?") if old else None
    result = {"lab": lab.name, "seeds": {}, "lab_sha256": sha, "code_sha256": code}
    if old:  # what the record says about its kept seeds (e.g. a note on how they were kept)
        own = ("lab", "seeds", "lab_sha256", "code_sha256", "commit", "date")
        result |= {k: v for k, v in previous.items() if k not in own}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            if str(seed) in old:
                result["seeds"][str(seed)] = {"commit": commit, **old[str(seed)]}
                print(f"{lab.name} seed {seed}: kept from its record", flush=True)
                continue
            out = str(Path(tmp) / f"seed{seed}")
            info = labrun.run_subprocess(lab, out, [*(extra or []), "--seed", str(seed)])
            path = Path(out) / lab.name / "metrics.json"
            metrics = json.loads(path.read_text()) if path.exists() else {}
            result["seeds"][str(seed)] = {
                "returncode": info["returncode"],
                "wall_s": info["wall_s"],
                "claims": metrics.get("claims", []),
                "commit": _commit(),
            }
            result["date"] = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
            if record is not None:
                write_json(record, _with_commit(result))
    return _with_commit(result | {"date": result.get("date") or previous.get("date", "?")})


def code_sha256(path: Path) -> str:
    """SHA-256 of a lab's code without its header docstring, its hidden tests and its quick
    settings (``ast.dump`` of the rest): editing the prose (the title, the lesson, the
    description, comments such as the exercise markers), the grader's ``check_*`` functions and
    their helpers, which the lab's run never calls, or ``Config.QUICK``, which a run at the
    defaults never reads, keeps the seeds measured on the code."""
    text = path.read_text()
    tree = ast.parse(text)
    if ast.get_docstring(tree) is not None:
        tree.body = tree.body[1:]
    hidden = _hidden_lines(text)
    tree.body = [
        node
        for node in tree.body
        if node.lineno not in hidden
        and not (isinstance(node, ast.FunctionDef) and node.name.startswith("check_"))
    ]
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Config":
            node.body = [n for n in node.body if not _assigns(n, "QUICK")]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def _assigns(node: ast.stmt, name: str) -> bool:
    return isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in node.targets
    )


def _hidden_lines(text: str) -> set[int]:
    """Line numbers between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (the
    grader's checks and their helpers, which a lab's run never calls)."""
    lines, inside = set(), False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped == "### BEGIN HIDDEN TESTS":
            inside = True
        elif stripped == "### END HIDDEN TESTS":
            inside = False
        elif inside:
            lines.add(number)
    return lines


def _with_commit(result: dict) -> dict:
    """The record's ``commit``: the one every seed was measured at, else the newest one."""
    commits = [r.get("commit", "?") for r in result["seeds"].values()]
    return result | {"commit": commits[-1] if commits else "?"}


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
            f"{_commits(rec)}, {rec.get('date', '?')}",
        ])  # fmt: skip
    kept = [r["lab"][:2] for r in records if r.get("seeds_kept_note")]
    rerun = [r["lab"][:2] for r in records if r.get("seeds_rerun_note")]
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
            (
                f"Seeds {SEEDS[0]}-{SEEDS[-1]}; a seed counts when the lab ran and every one of "
                "its claims held."
            ),
            (
                "Each row is the lab's last measurement (docs/bench/seeds/<lab>.json), at the "
                "commit named; `DLCOURSE_BENCH_LABS=\"NN ...\" make bench ARGS='--only seeds'` "
                "remeasures labs."
            ),
        ]
        + [
            (
                f"Labs {', '.join(kept)}: some seeds were measured on a lab file that differs "
                "from today's (an added import line, a docstring, a claim dropped since, its "
                "results removed, or code refactored to the same computation, checked on a seed "
                "or on the weights); each record's seeds_kept_note says which."
            )
        ][: bool(kept)]
        + [
            (
                f"Lab{'s' * (len(rerun) > 1)} {', '.join(rerun)}: a seed was run again after a failure that came from "
                "the machine, not the lab (a throughput claim under a load of 15-30); each "
                "record's seeds_rerun_note keeps the first result."
            )
        ][: bool(rerun)],
    )


def _commits(record: dict) -> str:
    """The commits a record's seeds were measured at, short, in seed order."""
    seen = [r.get("commit") or record.get("commit", "?") for r in record["seeds"].values()]
    return " + ".join(dict.fromkeys(c[:8] for c in seen))


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
