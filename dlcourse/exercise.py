"""Every lab an exercise: its solution regions, its student version, its hidden checks.

A lab marks the code that carries its lesson with nbgrader's own markers, under a one-line
instruction that says what to write::

    def normal_equation_tf(x, y):
        xb = ...
        # Solve theta = (X^T X)^-1 X^T y with TensorFlow matrix ops (tf.transpose, @, tf.linalg.inv).
        ### BEGIN SOLUTION
        xt = tf.transpose(xb)
        theta = tf.linalg.inv(xt @ xb) @ xt @ yt
        ### END SOLUTION
        return ...

The markers are comments: the script runs as before. From the same file come

* the solution notebook (``labs notebook``: markers dropped, instruction kept),
* the student script and notebook (``labs exercise``): each region replaced by a stub,
  ``# YOUR CODE HERE`` and ``raise NotImplementedError(<the instruction>)``,
* nbgrader source notebooks (``labs exercise --nbgrader``: markers kept, cell metadata set).

Hidden checks live in the lab too, at module level between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` (left out of every notebook and of the student script): a function
``check_<name>(ns) -> dict`` takes the student's namespace (a notebook's globals, a script's
module) and returns a claim (:func:`dlcourse.labkit.within` ...) comparing the student's code
with its library twin on fresh random inputs. :func:`run_checks` runs them against the lab's
reference file, so a student never sees them and cannot change them.

The instruction may run over a few comment lines. A region must be balanced, not nested, and
sit under its instruction comment: anything else is an
:class:`ExerciseError` naming the file and the line.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib.util
import io
import os
import re
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from dlcourse import labkit

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE"
TODO = "write this part: see the comment above"
MODES = ("solution", "student", "source")  # markers dropped / regions stubbed / markers kept


class ExerciseError(ValueError):
    """A lab whose solution regions are malformed, naming its file and line."""

    def __init__(self, path: Path | str | None, line: int | None, problem: str):
        where = f"{path}:{line}: " if line else f"{path}: " if path else ""
        super().__init__(f"{where}{problem}")


@dataclasses.dataclass(frozen=True)
class Region:
    """One solution region: 1-based lines of its instruction, BEGIN and END markers."""

    instruction_line: int  # its first line
    begin: int
    end: int
    indent: str
    instruction: str  # the instruction comment's text, without "# "
    function: str | None  # the top-level function (or class) that holds it; None: module level

    @property
    def name(self) -> str:
        """The exercise's name: its function's (``run`` for a step of the lab's body)."""
        return self.function or "module"


def _marker(line: str) -> str | None:
    stripped = line.strip()
    return stripped if stripped in (BEGIN, END, HIDDEN_BEGIN, HIDDEN_END) else None


def regions(source: str, path: Path | str | None = None) -> list[Region]:
    """The solution regions of a lab's ``source``, validated (see the module docstring)."""
    lines = source.splitlines()
    owners = _owners(source, path)
    found, begin = [], None
    hidden = None
    for n, line in enumerate(lines, 1):
        marker = _marker(line)
        if marker == HIDDEN_BEGIN:
            if begin:
                raise ExerciseError(path, begin, f"`{BEGIN}` without its end marker (line {n} "
                                    "opens hidden tests)")  # fmt: skip
            if hidden:
                raise ExerciseError(path, n, f"nested `{HIDDEN_BEGIN}`")
            hidden = n
        elif marker == HIDDEN_END:
            if not hidden:
                raise ExerciseError(path, n, f"`{HIDDEN_END}` without a `{HIDDEN_BEGIN}` above")
            hidden = None
        elif marker == BEGIN:
            if begin:
                raise ExerciseError(path, n, f"nested `{BEGIN}` (the region above, line "
                                    f"{begin}, has no `{END}` yet)")  # fmt: skip
            if hidden:
                raise ExerciseError(path, n, f"`{BEGIN}` inside hidden tests")
            begin = n
        elif marker == END:
            if not begin:
                raise ExerciseError(path, n, f"`{END}` without a `{BEGIN}` above")
            indent = lines[begin - 1][: len(lines[begin - 1]) - len(lines[begin - 1].lstrip())]
            if not line.startswith(indent) or line[len(indent) :] != END:
                raise ExerciseError(
                    path, n, f"`{END}` indented unlike its `{BEGIN}` (line {begin})"
                )
            above = lines[begin - 2] if begin > 1 else ""
            if not above.startswith(indent + "#") or _marker(above):
                raise ExerciseError(
                    path, begin, f"`{BEGIN}` needs a one-line instruction comment right above it"
                )
            if not any(lines[k].strip() for k in range(begin, n - 1)):
                raise ExerciseError(path, begin, "an empty solution region")
            first = begin - 1  # the instruction may run over several comment lines
            while (
                first > 1
                and lines[first - 2].startswith(indent + "#")
                and not _marker(lines[first - 2])
            ):
                first -= 1
            text = " ".join(
                re.sub(r"^#+\s?", "", lines[k - 1].strip()) for k in range(first, begin)
            )
            found.append(Region(first, begin, n, indent, text, owners.get(begin)))
            begin = None
    if begin or hidden:
        what = BEGIN if begin else HIDDEN_BEGIN
        raise ExerciseError(path, begin or hidden, f"`{what}` without its end marker")
    return found


def _owners(source: str, path: Path | str | None) -> dict[int, str]:
    """1-based line -> name of the top-level function or class that spans it."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ExerciseError(path, err.lineno, f"not Python: {err.msg}") from None
    owners = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            owners.update({n: node.name for n in range(node.lineno, node.end_lineno + 1)})
    return owners


def transform(text: str, mode: str) -> str:
    """``text`` (a lab file or one notebook cell) with its hidden tests dropped and its solution
    regions: ``solution``: the markers dropped; ``student``: replaced by a stub under the
    instruction; ``source``: kept as they are (nbgrader's source notebooks)."""
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
    out, skip = [], None
    lines = text.split("\n")
    for line in lines:
        marker = _marker(line)
        if marker == HIDDEN_BEGIN:
            skip = "hidden"
            continue
        if marker == HIDDEN_END:
            skip = None
            continue
        if skip == "hidden":
            continue
        if marker == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            if mode == "source":
                out.append(line)
            elif mode == "student":
                out += [f"{indent}{STUB}", f"{indent}raise NotImplementedError({TODO!r})"]
            skip = "region" if mode == "student" else None
            continue
        if marker == END:
            skip = None
            if mode == "source":
                out.append(line)
            continue
        if skip != "region":
            out.append(line)
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(out))


def is_exercise_cell(source: str) -> bool:
    """Whether a notebook cell holds a solution region (markers or a student's stub)."""
    return any(_marker(line) in (BEGIN,) or line.strip() == STUB for line in source.split("\n"))


# --------------------------------------------------------------------------- the student script


def student_script(lab: labkit.LabInfo) -> str:
    """The lab's file with each region stubbed and its hidden tests left out."""
    source = lab.path.read_text()
    if not regions(source, lab.path):
        raise ExerciseError(lab.path, None, "no solution regions: this lab is no exercise yet")
    return transform(source, "student")


def solution_script(lab: labkit.LabInfo) -> str:
    """The lab's file as a student who solved every exercise hands it in: the markers and the
    hidden tests left out (what :func:`student_script` is once filled in)."""
    return transform(lab.path.read_text(), "solution")


def write(
    keys: list[str] | None, out_dir: str | Path, *, nbgrader: bool = False
) -> tuple[list[Path], list[str]]:
    """Write each lab's student script and notebook (``nbgrader``: its nbgrader source notebook,
    ``<out>/source/<lab>/<lab>.ipynb``). Returns the files written and the labs refused, one
    line each (a lab without regions does not stop the others)."""
    from dlcourse import notebook
    from dlcourse.utils import atomic_path

    labs = [labkit.find_lab(k) for k in keys] if keys else labkit.list_labs()
    out_dir, written, refused = Path(out_dir), [], []
    for lab in labs:
        try:
            if nbgrader:
                written.append(notebook.write(
                    lab, out_dir / "source" / lab.name, mode="nbgrader"
                ))  # fmt: skip
                continue
            script = student_script(lab)
            path = out_dir / f"{lab.name}.py"
            with atomic_path(path) as tmp:
                tmp.write_text(script)
            written += [path, notebook.write(lab, out_dir, mode="student")]
        except (ExerciseError, notebook.NotebookError) as err:
            refused.append(f"{lab.name}: {err}")
    return written, refused


# --------------------------------------------------------------------------- hidden checks


def load_reference(lab: labkit.LabInfo) -> ModuleType:
    """The lab's own file imported under a private name (its checks and its solution)."""
    name = f"dlcourse_reference_{lab.name}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, lab.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def check_names(lab: labkit.LabInfo) -> list[str]:
    """The names of the lab's hidden checks, in file order (``check_backward`` -> ``backward``),
    read from its source without importing it."""
    tree = ast.parse(lab.path.read_text())
    return [
        node.name[len("check_") :]
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("check_")
    ]


def run_check(lab_key: str, name: str, ns: Mapping[str, Any]) -> dict:
    """One hidden check of a lab against the namespace ``ns``: a claim dict with ``check``
    (its name) and, when the student's code raised, ``raised`` (one line)."""
    lab = labkit.find_lab(lab_key)
    fn = getattr(load_reference(lab), f"check_{name}")
    try:
        result = dict(fn(ns))
    except Exception as err:  # noqa: BLE001 (the student's code raised: this check fails, the rest go on)
        result = {"claim": (fn.__doc__ or name).strip().split("\n")[0], "holds": False,
                  "raised": one_line(err)}  # fmt: skip
    return {"check": name, **result}


def run_checks(lab_key: str, ns: Mapping[str, Any]) -> list[dict]:
    """Every hidden check of the lab against ``ns`` (see :func:`run_check`)."""
    return [run_check(lab_key, name, ns) for name in check_names(labkit.find_lab(lab_key))]


def one_line(err: BaseException) -> str:
    """``err`` as one line: its type, message and where in the student's code it was raised."""
    frames = traceback.extract_tb(err.__traceback__)
    where = next(
        (f" (line {f.lineno} of {Path(f.filename).name})" for f in reversed(frames)
         if "dlcourse" not in Path(f.filename).parts and "site-packages" not in f.filename
         and not f.filename.startswith("<frozen")),
        "",
    )  # fmt: skip
    text = f"{type(err).__name__}: {err}".split("\n")[0]
    return (text[:200] + "...") if len(text) > 200 else text + where


def assert_check(lab_key: str, name: str, ns: Mapping[str, Any]) -> None:
    """nbgrader's hidden test: raise ``AssertionError`` naming the check when it fails.

    Silent otherwise: nbgrader gives a graded cell 0 for any output on stderr, so warnings and
    TensorFlow's log lines (written to file descriptor 2) go nowhere while the check runs.
    """
    with _silent_stderr():
        result = run_check(lab_key, name, ns)
    if not result["holds"]:
        raise AssertionError(f"check {name}: {describe(result)}")


def assert_claim(metrics: Mapping[str, Any], index: int) -> None:
    """nbgrader's test of the lab's claim number ``index`` (0-based) in ``metrics``."""
    claims = metrics.get("claims", [])
    if index >= len(claims):
        raise AssertionError(f"claim {index + 1}: not stated (the lab has {len(claims)} claims)")
    if not claims[index]["holds"]:
        raise AssertionError(f"claim {index + 1}: {describe(claims[index])}")


@contextlib.contextmanager
def _silent_stderr() -> Iterator[None]:
    """stderr (Python's and file descriptor 2) and warnings discarded inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            os.dup2(null.fileno(), 2)
            with contextlib.redirect_stderr(io.StringIO()):
                yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def describe(item: Mapping[str, Any]) -> str:
    """One line for a claim or check: its text and the numbers behind it."""
    text = item.get("claim", "")
    if item.get("raised"):
        return f"{text} ({item['raised']})"
    hidden = {"claim", "holds", "check", "needs_defaults", "raised", "points", "kind", "name",
              "score", "note"}  # fmt: skip
    numbers = {k: v for k, v in item.items() if k not in hidden and not isinstance(v, dict)}
    shown = ", ".join(f"{k} {_num(v)}" for k, v in numbers.items())
    return f"{text}: {shown}" if shown else text


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
