"""Grading students' labs by the lab's own claims and its hidden checks.

``python -m dlcourse labs grade PATH... [--lab NN] [--json|--csv] [--jobs N]`` grades each
submitted notebook (``.ipynb``, run headless by nbclient) or script (``.py``); a folder stands for
every submission in it. Per submission it

1. finds the lab (``--lab``, else the notebook's metadata or the file name's ``NN_``) and checks
   that only the exercise regions were changed (a locked cell edited, deleted or duplicated, or
   a notebook of another lab, scores 0 with one line saying so);
2. runs it at the lab's quick settings (``--full``: at its defaults, where every claim counts),
   in a fresh folder, stopping at the first failing cell;
3. scores one point per claim the lab states (claims that need the defaults are shown but not
   scored at quick settings) and one per hidden check (:mod:`dlcourse.checks`), run even when
   the lab stopped early.

Here one submission is graded, in this process (``python -m dlcourse.grade PATH --result
FILE`` is the worker that :mod:`dlcourse.classroom` starts per submission, under a timeout):
it never raises, a bad submission is a 0 and a one-line reason.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlcourse import checks, exercise, labkit, notebook
from dlcourse.utils import write_json

DEFAULT_TIMEOUT = 600  # seconds per submission, all of it
_MARK = "dlcourse-grade: "


# --------------------------------------------------------------------------- what a lab grades


def score(lab: labkit.LabInfo, metrics: dict | None, found: list[dict], *, full: bool) -> dict:
    """Points per claim and per check; claims that need the defaults count only when ``full``."""
    items = []
    stated = exercise.static_claims(lab)
    ran = (metrics or {}).get("claims", [])
    for i, claim in enumerate(stated):
        got = ran[i] if i < len(ran) else None
        graded = full or not claim["needs_defaults"]
        item = {"kind": "claim", "name": f"claim {i + 1}", **(got or claim)}
        item["points"] = 1 if graded else 0
        item["score"] = int(graded and bool(got and got.get("holds")))
        if got is None:
            item["holds"] = False
            item["raised"] = "not reached: the lab stopped before its claims"
        if not graded:
            item["note"] = "needs the default settings: not graded at quick settings"
        items.append(item)
    for check in found:  # the hidden checks' results
        items.append({"kind": "check", "name": f"check {check['check']}", **check,
                      "points": 1, "score": int(bool(check.get("holds")))})  # fmt: skip
    return {
        "items": items,
        "score": sum(i["score"] for i in items),
        "max_score": sum(i["points"] for i in items),
    }


def zero(lab: labkit.LabInfo | None, reason: str, *, full: bool = False) -> dict:
    """A submission that cannot be graded: every point lost, one line saying why."""
    max_score = 0
    if lab is not None:
        stated = exercise.static_claims(lab)
        max_score = sum(full or not c["needs_defaults"] for c in stated)
        max_score += len(checks.check_names(lab))
    return {"items": [], "score": 0, "max_score": max_score, "reason": reason}


# --------------------------------------------------------------------------- one submission


def find_lab(path: Path, nb: Any = None, lab_key: str | None = None) -> labkit.LabInfo:
    """``--lab``, else the notebook's ``dlcourse.lab`` metadata, else the file name's ``NN_``."""
    if lab_key:
        return labkit.find_lab(lab_key)
    if nb is not None and nb.metadata.get("dlcourse", {}).get("lab"):
        return labkit.find_lab(nb.metadata["dlcourse"]["lab"])
    m = re.match(r"^(\d\d)_", path.name) or re.search(r"(?:^|[^0-9])(\d\d)(?:[^0-9]|$)", path.stem)
    if not m:
        raise ValueError("no lab given (--lab NN) and none in the file's name or metadata")
    return labkit.find_lab(m.group(1))


def outside_regions(template: str, submitted: str) -> int | None:
    """The first line (1-based, of ``template``) that ``submitted`` changed outside the student's
    stubs (the instruction, ``# YOUR CODE HERE`` and ``raise NotImplementedError``), or None."""
    a, b = template.split("\n"), submitted.split("\n")
    free = set()
    for i, line in enumerate(a):
        if line.strip() == exercise.STUB:
            free.update({i - 1, i, i + 1})  # the instruction, the stub, its raise
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, _, _ in sm.get_opcodes():
        if op == "equal":
            continue
        touched = set(range(i1, i2)) or {i1 - 1, i1}  # an insertion: next to a free line
        if (op == "insert" and touched & free) or (op != "insert" and touched <= free):
            continue
        if op == "insert" and i1 == len(a) and not b[-1].strip():
            continue
        return min(touched - free or touched) + 1
    return None


def _check_notebook(lab: labkit.LabInfo, nb: Any) -> str | None:
    """Why a notebook cannot be graded as ``lab``'s (None: it can)."""
    meta_lab = nb.metadata.get("dlcourse", {}).get("lab")
    if meta_lab and meta_lab != lab.number:
        return f"a notebook of lab {meta_lab}, not of lab {lab.number}"
    template = notebook.build(lab, "student")
    expected = {c.id: c for c in template.cells}
    seen: dict[str, int] = {}
    for cell in nb.cells:
        cid = cell.get("id")
        seen[cid] = seen.get(cid, 0) + 1
    for cid, cell in expected.items():
        if seen.get(cid, 0) == 0:
            return f"cell {cid} was deleted (or its id changed)"
        if seen[cid] > 1:
            return f"cell {cid} appears {seen[cid]} times"
    sources = {c.source: c.id for c in template.cells if c.cell_type == "code"}
    for i, cell in enumerate(nb.cells):  # a code cell of its own: a copy, or code added
        if cell.cell_type == "code" and cell.get("id") not in expected:
            twin = sources.get(cell.source)
            if twin:
                return f"cell {twin} appears {1 + seen.get(twin, 0)} times"
            return f"a code cell was added (cell {i + 1}): only the exercise cells may change"
    config_id = next(c.id for c in template.cells if c.source.lstrip().startswith("import os\n"))
    for cell in nb.cells:
        want = expected.get(cell.get("id"))
        if want is None or cell.id == config_id or want.cell_type == "markdown":
            continue
        line = outside_regions(want.source, cell.source)
        if line is not None:
            return f"cell {cell.id} was changed outside its exercise (its line {line})"
    return None


def grade_notebook(path: Path, lab: labkit.LabInfo, *, full: bool, seed: int | None,
                   cell_timeout: int) -> dict:  # fmt: skip
    """Run a submitted notebook in a fresh kernel and folder, then its checks; score it."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    problem = _check_notebook(lab, nb)
    if problem:
        return zero(lab, problem, full=full)
    env_quick = "0" if full else "1"
    os.environ["DLCOURSE_QUICK"] = env_quick  # read by the config cell
    stopped = None
    with tempfile.TemporaryDirectory(prefix="dlcourse-grade-") as work:
        client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                                resources={"metadata": {"path": work}})  # fmt: skip
        with client.setup_kernel(cwd=work):
            cells = list(nb.cells)
            if seed is not None:  # the config cell is the student's: the seed is set after it
                i = next(
                    i for i, c in enumerate(cells) if c.source.lstrip().startswith("import os\n")
                )
                cells.insert(i + 1, nbformat.v4.new_code_cell(
                    f"import dataclasses\ncfg = dataclasses.replace(cfg, seed={seed})"
                ))  # fmt: skip
            for i, cell in enumerate(cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, i)
                except CellTimeoutError:
                    stopped = f"cell {cell.get('id')} ran past {cell_timeout} s"
                    break
                except CellExecutionError as err:
                    stopped = f"cell {cell.get('id')}: {_last_error_line(err)}"
                    break
            probe = nbformat.v4.new_code_cell(
                "import json as _json\nfrom dlcourse import checks as _checks\n"
                f"print({_MARK!r} + _json.dumps(_checks.run_checks({lab.number!r}, globals())))"
            )
            nb.cells.append(probe)
            try:
                client.execute_cell(probe, len(nb.cells) - 1)
                text = "".join(
                    o.get("text", "") for o in probe.outputs if o.get("name") == "stdout"
                )
                found = json.loads(text.split(_MARK, 1)[1].split("\n", 1)[0])
            except (CellExecutionError, CellTimeoutError, IndexError, ValueError) as err:
                found = [{"check": n, "holds": False, "claim": n, "raised": f"not run: {err}"[:200]}
                          for n in checks.check_names(lab)]  # fmt: skip
        metrics = _metrics(Path(work), lab)
    result = score(lab, metrics if stopped is None else None, found, full=full)
    if stopped:
        result["stopped"] = stopped
    return result


def _last_error_line(err: Exception) -> str:
    lines = [line for line in str(err).strip().split("\n") if line.strip()]
    text = re.sub(r"\x1b\[[0-9;]*m", "", lines[-1] if lines else type(err).__name__)
    return text[:200]


def _metrics(work: Path, lab: labkit.LabInfo) -> dict | None:
    path = work / labkit.DEFAULT_OUT / lab.name / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def grade_script(path: Path, lab: labkit.LabInfo, *, full: bool, seed: int | None) -> dict:
    """Import a submitted script, run its ``run`` at quick settings (or the defaults), then the
    checks against its module; score it."""
    text = path.read_text()
    template = exercise.student_script(lab)
    line = outside_regions(template, text)
    if line is not None:
        return zero(lab, f"changed outside its exercises (line {line} of the student script)",
                    full=full)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="dlcourse-grade-") as work:
        try:
            module = labkit.import_file(path, f"dlcourse_submission_{lab.name}")
        except Exception as err:  # noqa: BLE001 (a student's code may raise anything)
            return zero(lab, f"does not import: {checks.one_line(err)}", full=full)
        stopped, metrics = None, None
        try:
            kw = {"quick": not full, "out_dir": work} | ({"seed": seed} if seed is not None else {})
            with _quiet():
                metrics = module.run(module.Config(**kw))
        except Exception as err:  # noqa: BLE001 (a student's code may raise anything)
            stopped = checks.one_line(err)
        with _quiet():
            found = checks.run_checks(lab.number, vars(module))
    result = score(lab, metrics, found, full=full)
    if stopped:
        result["stopped"] = stopped
    return result


@contextlib.contextmanager
def _quiet():
    """The lab's prints and warnings out of the grader's output."""
    import warnings

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def grade_one(path: Path, lab_key: str | None = None, *, full: bool = False,
              seed: int | None = None, cell_timeout: int = DEFAULT_TIMEOUT) -> dict:  # fmt: skip
    """Grade one submission in this process: never raises, a bad file is a 0 and a reason."""
    path = Path(path)
    lab = None
    try:
        nb = None
        if path.suffix == ".ipynb":
            import nbformat

            try:
                nb = nbformat.read(path, as_version=4)
            except Exception as err:  # noqa: BLE001 (a student's code may raise anything)
                lab = labkit.find_lab(lab_key) if lab_key else None
                return _done(
                    path, lab, zero(lab, f"not a readable notebook: {checks.one_line(err)}")
                )
        elif path.suffix != ".py":
            raise ValueError(f"not a notebook or a script: {path.name}")
        lab = find_lab(path, nb, lab_key)
        if nb is not None:
            result = grade_notebook(path, lab, full=full, seed=seed, cell_timeout=cell_timeout)
        else:
            result = grade_script(path, lab, full=full, seed=seed)
    except Exception as err:  # anything else: this submission's 0, never the class's stop  # noqa: BLE001 (a student's code may raise anything)
        result = zero(lab, checks.one_line(err), full=full)
    return _done(path, lab, result | {"settings": "defaults" if full else "quick"})


def _done(path: Path, lab: labkit.LabInfo | None, result: dict) -> dict:
    return {"submission": str(path), "lab": lab.number if lab else None} | result


# --------------------------------------------------------------------------- a class


def _die_with_parent() -> None:
    """In a worker (Linux): SIGKILL when the grader dies, so that a killed class run leaves no
    worker behind (a worker runs in its own session, for its timeout; its kernel polls it)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the grader died before the line above
        sys.exit(1)


# --------------------------------------------------------------------------- reports


# --------------------------------------------------------------------------- one process each


def _worker(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="grade one submission (used by labs grade)")
    parser.add_argument("path")
    parser.add_argument("--result", required=True)
    parser.add_argument("--lab")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--cell-timeout", type=int, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    _die_with_parent()
    result = grade_one(Path(args.path), args.lab, full=args.full, seed=args.seed,
                       cell_timeout=args.cell_timeout)  # fmt: skip
    write_json(Path(args.result), result)
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
