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
with its library twin on fresh random inputs. :mod:`dlcourse.checks` runs them against the lab's
reference file, so a student never sees them and cannot change them.

The instruction may run over a few comment lines. A region must be balanced, not nested, and
sit under its instruction comment: anything else is an
:class:`ExerciseError` naming the file and the line.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import tokenize
from pathlib import Path

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


# --------------------------------------------------------------------------- hidden checks


# A comment for a tool, not for a student: ruff's "fmt: skip", "fmt: off" and "noqa", isort's
# "isort: split", mypy's "type: ignore[...]", coverage's "pragma: no cover".
_PRAGMA = re.compile(
    r"#\s*(?:fmt:\s*(?:skip|off|on)|isort:\s*\w+|type:\s*ignore(?:\[[^\]]*\])?"
    r"|pragma:\s*no\s*cover|noqa(?::\s*[A-Z]+[0-9]*(?:\s*,\s*[A-Z]+[0-9]*)*)?)\s*"
)


def strip_pragmas(source: str) -> str:
    """``source`` without tool pragmas: a comment that is only a pragma goes (a line holding
    nothing else goes too); a pragma's explanation stays (ruff's ``noqa: F401 (first: ...)``
    becomes ``# first: ...``). Strings are never touched (comments are found by the tokenizer)."""
    try:
        comments = [
            t for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type == tokenize.COMMENT and _PRAGMA.search(t.string)
        ]  # fmt: skip
    except (tokenize.TokenError, SyntaxError):
        return source
    lines: list[str | None] = source.split("\n")
    for tok in reversed(comments):  # one comment per line at most: columns stay valid
        row, col = tok.start
        match = _PRAGMA.search(tok.string)
        before = tok.string[: match.start()].rstrip()  # "# why" before the pragma, or ""
        after = tok.string[match.end() :].strip()  # the pragma's explanation, or ""
        if after.startswith("(") and after.endswith(")"):
            after = after[1:-1].strip()
        comment = " ".join(p for p in (before or ("#" if after else ""), after) if p)
        code = lines[row - 1][:col].rstrip()
        if code or comment:
            lines[row - 1] = f"{code}  {comment}".rstrip() if code else comment
        else:
            lines[row - 1] = None  # a line that held only the pragma
    return "\n".join(line for line in lines if line is not None)


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
                elif isinstance(first, ast.JoinedStr):  # an f-string: its numbers come at run time
                    text = "".join(
                        str(v.value) if isinstance(v, ast.Constant) else "\u2026"
                        for v in first.values
                    )
                needs = any(
                    k.arg == "needs_defaults" and ast.unparse(k.value) == "True"
                    for k in getattr(call, "keywords", [])
                )
                claims.append({"claim": re.sub(r"\s+", " ", text), "needs_defaults": needs})
            return claims
    return []
