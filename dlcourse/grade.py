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
   scored at quick settings) and one per hidden check (:mod:`dlcourse.exercise`), run even when
   the lab stopped early.

Each submission is graded in its own process, ``--jobs`` at a time, under one timeout (an
infinite loop scores 0: "timed out"). Results go to ``--results DIR`` (one JSON file per
submission, keyed by the file's content): a killed run, started again, grades only what is left.
Nothing stops the class: a syntax error, a deleted cell or an unreadable file is a 0 and a
reason.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import csv
import difflib
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlcourse import exercise, labkit
from dlcourse.utils import write_json

DEFAULT_RESULTS = "grades"
DEFAULT_TIMEOUT = 600  # seconds per submission, all of it
SUFFIXES = (".ipynb", ".py")
_MARK = "dlcourse-grade: "


# --------------------------------------------------------------------------- what a lab grades


def static_claims(lab: labkit.LabInfo) -> list[dict]:
    """The lab's claims as its source states them (``metrics["claims"] = [...]``): their text
    (the first argument's source) and whether they need the defaults. The grader knows the
    maximum score even when a student's run never reaches the claims."""
    tree = ast.parse(source := lab.path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.List)
            and any(
                isinstance(t, ast.Subscript) and ast.unparse(t.slice) in ("'claims'", '"claims"')
                for t in node.targets
            )
        ):
            claims = []
            for call in node.value.elts:
                first = call.args[0] if isinstance(call, ast.Call) and call.args else call
                text = ast.get_source_segment(source, first) or ""
                if isinstance(first, ast.Constant):
                    text = str(first.value)
                needs = any(
                    k.arg == "needs_defaults" and ast.unparse(k.value) == "True"
                    for k in getattr(call, "keywords", [])
                )
                claims.append({"claim": re.sub(r"\s+", " ", text), "needs_defaults": needs})
            return claims
    return []


def score(lab: labkit.LabInfo, metrics: dict | None, checks: list[dict], *, full: bool) -> dict:
    """Points per claim and per check; claims that need the defaults count only when ``full``."""
    items = []
    stated = static_claims(lab)
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
    for check in checks:
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
        stated = static_claims(lab)
        max_score = sum(full or not c["needs_defaults"] for c in stated)
        max_score += len(exercise.check_names(lab))
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
    from dlcourse import notebook

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
                "import json as _json\nfrom dlcourse import exercise as _exercise\n"
                f"print({_MARK!r} + _json.dumps(_exercise.run_checks({lab.number!r}, globals())))"
            )
            nb.cells.append(probe)
            try:
                client.execute_cell(probe, len(nb.cells) - 1)
                text = "".join(
                    o.get("text", "") for o in probe.outputs if o.get("name") == "stdout"
                )
                checks = json.loads(text.split(_MARK, 1)[1].split("\n", 1)[0])
            except (CellExecutionError, CellTimeoutError, IndexError, ValueError) as err:
                checks = [{"check": n, "holds": False, "claim": n, "raised": f"not run: {err}"[:200]}
                          for n in exercise.check_names(lab)]  # fmt: skip
        metrics = _metrics(Path(work), lab)
    result = score(lab, metrics if stopped is None else None, checks, full=full)
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
    import importlib.util

    text = path.read_text()
    template = exercise.student_script(lab)
    line = outside_regions(template, text)
    if line is not None:
        return zero(lab, f"changed outside its exercises (line {line} of the student script)",
                    full=full)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="dlcourse-grade-") as work:
        name = f"dlcourse_submission_{lab.name}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 (a student's code may raise anything)
            return zero(lab, f"does not import: {exercise.one_line(err)}", full=full)
        stopped, metrics = None, None
        try:
            kw = {"quick": not full, "out_dir": work} | ({"seed": seed} if seed is not None else {})
            with _quiet():
                metrics = module.run(module.Config(**kw))
        except Exception as err:  # noqa: BLE001 (a student's code may raise anything)
            stopped = exercise.one_line(err)
        with _quiet():
            checks = exercise.run_checks(lab.number, vars(module))
    result = score(lab, metrics, checks, full=full)
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
                    path, lab, zero(lab, f"not a readable notebook: {exercise.one_line(err)}")
                )
        elif path.suffix != ".py":
            raise ValueError(f"not a notebook or a script: {path.name}")
        lab = find_lab(path, nb, lab_key)
        if nb is not None:
            result = grade_notebook(path, lab, full=full, seed=seed, cell_timeout=cell_timeout)
        else:
            result = grade_script(path, lab, full=full, seed=seed)
    except Exception as err:  # anything else: this submission's 0, never the class's stop  # noqa: BLE001 (a student's code may raise anything)
        result = zero(lab, exercise.one_line(err), full=full)
    return _done(path, lab, result | {"settings": "defaults" if full else "quick"})


def _done(path: Path, lab: labkit.LabInfo | None, result: dict) -> dict:
    return {"submission": str(path), "lab": lab.number if lab else None} | result


# --------------------------------------------------------------------------- a class


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


def _die_with_parent() -> None:
    """In a worker (Linux): SIGKILL when the grader dies, so that a killed class run leaves no
    worker behind (a worker runs in its own session, for its timeout; its kernel polls it)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the grader died before the line above
        sys.exit(1)


def _lab_or_none(path: Path, lab_key: str | None) -> labkit.LabInfo | None:
    try:
        nb = None
        if path.suffix == ".ipynb":
            import nbformat

            nb = nbformat.read(path, as_version=4)
        return find_lab(path, nb, lab_key)
    except Exception:  # noqa: BLE001 (a student's code may raise anything)
        return None


# --------------------------------------------------------------------------- reports


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
            lines.append(f"  - {item['name']}: {exercise.describe(item)} [{item.get('note', '')}]")
            continue
        mark = "\u2714" if item["score"] else "\u2718"
        lines.append(f"  {mark} {item['name']}: {exercise.describe(item)}")
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
