"""Every lab as a Jupyter notebook, generated from the lab's own file.

``python -m dlcourse labs notebook [NN ...] [--out DIR]`` (``make notebooks``) writes
``NN_topic.ipynb`` per lab, without outputs. The cells come from ``labs/NN_topic.py``:

1. a markdown title cell: the header docstring (Title, Lesson, Description, Notes ...);
2. a code cell with the lab's imports and module-level definitions (``Config``, helpers): the
   module minus ``run``, ``main`` and the ``if __name__`` block, with
   ``LAB = labkit.lab_name(__file__)`` written as the literal lab name (a kernel has no
   ``__file__``);
3. the config cell the student edits: ``cfg = Config(...)`` with every field at its default, one
   per line with its help as a comment, and ``quick`` on when ``DLCOURSE_QUICK=1``;
4. the body of ``run(cfg)`` split at its narrative comment blocks (a comment block at the body's
   top indentation preceded by a blank line): each block a markdown cell, the code up to the next
   block a code cell, dedented, so the variables of every step stay in the kernel; the final
   ``return metrics`` is dropped;
5. a last cell printing the lab's claims with ✔/✗ (:func:`dlcourse.labkit.format_claims`).

Why cells are generated from the lab's source rather than the lab written in jupytext's percent
format (``# %%`` markers): a lab's ``run(cfg) -> dict`` is the seam that the tests, ``make labs``
and the bench call, and its steps live inside that function. Percent cells inside ``run`` cannot
execute one by one (they are indented function code), and percent cells at module level would
turn the steps into top-level script code and lose the seam. The body of ``run`` already is the
sequence of steps, and its narrative comments already are the prose, so the generator only reads
them: the lab stays a plain, readable script with no notebook markup, nothing is written twice,
no code lives in comments, and nothing needs jupytext. A notebook is never edited by hand: it is
regenerated from its lab, so the two cannot drift.

A lab that cannot be split cleanly (``run`` with an early ``return``, not ending in ``return
<name>``, ``__file__`` used outside the ``LAB`` line ...) is refused with a
:class:`NotebookError` naming the lab file and the line.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import io
import json
import re
import sys
import tokenize
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

import nbformat

from dlcourse import labkit
from dlcourse.utils import atomic_path

DEFAULT_OUT = "notebooks"
QUICK_ENV = "DLCOURSE_QUICK"  # "1": the notebook's config cell turns the lab's quick mode on
_LAB_LINE = "LAB = labkit.lab_name(__file__)"


class NotebookError(ValueError):
    """A lab whose source cannot be turned into notebook cells, naming its file and line."""

    def __init__(self, path: Path | None, line: int | None, problem: str):
        where = f"{path}:{line}: " if line else f"{path}: " if path else ""
        super().__init__(f"{where}cannot make a notebook: {problem}")


# --------------------------------------------------------------------------- writing notebooks


def write_all(
    keys: Sequence[str] | None = None,
    out_dir: str | Path = DEFAULT_OUT,
    labs_dir: Path = labkit.LABS_DIR,
) -> list[Path]:
    """Write one notebook per lab (``keys``: lab numbers or names; None: every lab).

    A lab that cannot be converted does not stop the others: they are written, then one
    :class:`NotebookError` lists every refused lab with its line.
    """
    labs = labkit.list_labs(labs_dir)
    if keys:
        labs = [labkit.find_lab(k, labs_dir) for k in keys]
    paths, refused = [], []
    for lab in labs:
        try:
            paths.append(write(lab, out_dir))
        except NotebookError as err:
            refused.append(str(err))
    if refused:
        raise NotebookError(
            None, None, f"{len(paths)} written, {len(refused)} refused:\n" + "\n".join(refused)
        )
    return paths


def write(lab: labkit.LabInfo, out_dir: str | Path = DEFAULT_OUT, mode: str = "solution") -> Path:
    """Write ``<out_dir>/<lab.name>.ipynb`` atomically, without outputs; return its path."""
    nb = build(lab, mode)
    path = Path(out_dir) / f"{lab.name}.ipynb"
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))
    return path


MODES = ("solution", "student", "nbgrader")


def build(lab: labkit.LabInfo, mode: str = "solution") -> nbformat.NotebookNode:
    """The notebook of ``lab``: title, definitions, config, one cell per step, claims.

    ``mode``: ``solution`` (the lab as it is; solution markers and hidden tests left out),
    ``student`` (each solution region a stub, :mod:`dlcourse.exercise`) or ``nbgrader`` (an
    nbgrader source notebook: markers kept, cell metadata, graded cells for checks and claims).
    """
    from dlcourse import exercise

    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
    source = lab.path.read_text()
    tree = ast.parse(source, filename=str(lab.path))
    try:
        regions = exercise.regions(source, lab.path)
    except exercise.ExerciseError as err:
        raise NotebookError(None, None, str(err)) from None
    if mode != "solution" and not regions:
        raise NotebookError(lab.path, None, "no solution regions: this lab is no exercise yet")
    run = _function(tree, "run", lab.path)
    lines = source.splitlines()
    exercise_lines = {n for r in regions for n in range(r.instruction_line, r.end + 1)}
    steps, result = _steps(run, lines, lab.path, exercise_lines)
    cells = [
        nbformat.v4.new_markdown_cell(_title(lab, mode)),
        *(nbformat.v4.new_code_cell(c) for c in _definitions(tree, lines, lab, regions)),
        nbformat.v4.new_code_cell(_config_cell(_load(lab))),
        *steps,
        nbformat.v4.new_code_cell(f"print(labkit.format_claims({result}, quick=cfg.quick))"),
    ]
    kind = {"solution": "solution", "student": "student", "nbgrader": "source"}[mode]
    for i, cell in enumerate(cells):  # stable ids: an unchanged lab gives an unchanged file
        cell.id = f"{lab.number}-{i:02d}"
        if cell.cell_type == "code":
            cell.source = exercise.transform(cell.source, kind)
    if mode == "nbgrader":
        cells = _nbgrader_cells(lab, cells, result)
    return nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "dlcourse": {"generated_from": f"labs/{lab.path.name}", "lab": lab.number}
            | ({} if mode == "solution" else {"version": mode}),
        },
    )


def _nbgrader_cells(
    lab: labkit.LabInfo, cells: list[nbformat.NotebookNode], result: str
) -> list[nbformat.NotebookNode]:
    """nbgrader's cell metadata (schema 3): exercise cells are solution cells, the others locked;
    a graded cell with hidden tests after each exercise (one per hidden check) and after the
    claims (one per claim graded at quick settings)."""
    from dlcourse import exercise, grade

    checks = exercise.check_names(lab)
    out = []

    def meta(cell, grade_id, *, solution=False, points=None):
        cell.metadata["nbgrader"] = {
            "grade": points is not None,
            "grade_id": grade_id,
            "locked": not solution,
            "schema_version": 3,
            "solution": solution,
            "task": False,
        } | ({"points": points} if points is not None else {})

    def test_cell(grade_id, call):
        cell = nbformat.v4.new_code_cell(
            f"### BEGIN HIDDEN TESTS\nfrom dlcourse import exercise\n{call}\n### END HIDDEN TESTS"
        )
        cell.id = f"{lab.number}-{grade_id}"
        meta(cell, grade_id, points=1)
        return cell

    for cell in cells:
        out.append(cell)
        if cell.cell_type != "code" or not exercise.is_exercise_cell(cell.source):
            meta(cell, f"locked-{cell.id}")
            continue
        meta(cell, f"solution-{cell.id}", solution=True)
        for name in [c for c in checks if re.search(rf"\bdef {c}\b|\b{c}\b", cell.source)]:
            checks.remove(name)
            out.append(test_cell(f"check_{name}", f"exercise.assert_check({lab.number!r}, "
                                 f"{name!r}, globals())"))  # fmt: skip
    for name in checks:  # checks of no particular cell: at the end
        out.append(test_cell(f"check_{name}", f"exercise.assert_check({lab.number!r}, {name!r}, "
                             "globals())"))  # fmt: skip
    for i, claim in enumerate(grade.static_claims(lab)):
        if not claim["needs_defaults"]:
            out.append(test_cell(f"claim_{i + 1}", f"exercise.assert_claim({result}, {i})"))
    return out


# --------------------------------------------------------------------------- the cells


def _title(lab: labkit.LabInfo, mode: str = "solution") -> str:
    header = dict(lab.header)
    parts = [f"# {header.pop('Title', lab.name)}"]
    unit = header.pop("Unit", None)
    parts.append(
        f"Lab {lab.number}" + (f" · Unit {unit}" if unit else "") + f" · `labs/{lab.path.name}`"
    )
    for key in ("Lesson", "Description"):
        if key in header:
            parts.append(("**Lesson:** " if key == "Lesson" else "") + header.pop(key))
    parts += [f"**{key}:** {value}" for key, value in header.items()]
    if mode != "solution":
        parts.append(
            "**Exercise.** Fill in each cell marked `# YOUR CODE HERE` (delete the `raise "
            "NotImplementedError(...)` line), following the comment above it, then run every "
            "cell in order. Your work is graded by the lab's claims (the last cell prints them, "
            "✔ or ✗) and by hidden checks of your code on inputs you have not seen."
        )
    target = "make notebooks" if mode == "solution" else "make exercises"
    parts.append(
        f"Generated from `labs/{lab.path.name}` by `{target}`: edit the lab, not this "
        "notebook, which is rewritten. Change a setting in the `cfg = Config(...)` cell and run "
        "the cells in order; each figure shows under the cell that draws it and is saved, with "
        f"`metrics.json`, in `<out_dir>/{lab.name}/` (`out_dir` is relative to this notebook)."
    )
    return "\n\n".join(parts)


def _definitions(
    tree: ast.Module, lines: list[str], lab: labkit.LabInfo, regions: Sequence = ()
) -> list[str]:
    """The module's source minus its docstring, ``run``, ``main`` and ``if __name__``: one cell,
    or, when functions hold solution regions, one cell per such function (the student edits
    that cell) and one for the code between them."""
    drop: set[int] = set()  # 0-based line numbers left out
    cuts: set[int] = set()  # 0-based lines where a new cell starts
    exercise_lines = {r.begin for r in regions}
    lab_line = None
    for i, node in enumerate(tree.body):
        first, last = _span(node)
        if isinstance(node, ast.FunctionDef) and node.name in ("run", "main"):
            first = _attached_comments(lines, first)
        elif ast.unparse(node) == _LAB_LINE:
            lab_line = first - 1
        elif not (
            (i == 0 and _is_docstring(node))
            or (isinstance(node, ast.If) and "__name__" in ast.unparse(node.test))
        ):
            _no_file(node, lab.path)  # kept in the cell
            if exercise_lines & set(range(first, last + 1)):
                cuts.update((_attached_comments(lines, first) - 1, last))
            continue
        drop.update(range(first - 1, last))
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            _no_file(node, lab.path)  # its body becomes the step cells
    cells: list[list[str]] = [[]]
    for i, line in enumerate(lines):
        if i in cuts:
            cells.append([])
        if i == lab_line:
            cells[-1].append(
                f'LAB = "{lab.name}"  # the run folder\'s name ({_LAB_LINE} in the script)'
            )
        elif i not in drop:
            cells[-1].append(line)
    return [text for text in map(_tidy, cells) if text.strip()]


def _config_cell(module: ModuleType) -> str:
    """``cfg = Config(...)``: the lab's own fields first, then the common ones, then quick."""
    config = module.Config
    own = set(vars(config).get("__annotations__", {}))
    fields = [f for f in dataclasses.fields(config) if f.name != "quick"]
    fields.sort(key=lambda f: f.name not in own)  # stable: declaration order within each group
    body = [
        "import os",
        "",
        "# The lab's settings: change a value, then run the cells below.",
        "cfg = Config(",
    ]
    for i, f in enumerate(fields):
        if i and f.name not in own and fields[i - 1].name in own:
            body.append("    # Common to every lab:")
        value = _literal(f, module)
        body.append(f"    {f.name}={value},  # {f.metadata.get('help', '')}".rstrip(" #"))
    body += [
        f'    quick=os.environ.get("{QUICK_ENV}") == "1",  # tiny settings, for a smoke test',
        ")",
    ]
    return "\n".join(body)


def _literal(f: dataclasses.Field, module: ModuleType) -> str:
    """``f``'s default as Python source (strings in double quotes), checked to round-trip."""
    value = f.default
    text = _source(value)
    try:
        ok = value is not dataclasses.MISSING and ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        ok = False
    if not ok:
        raise NotebookError(
            Path(module.__file__), None, f"Config.{f.name}'s default is not a literal: {value!r}"
        )
    return text


def _source(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        items = [_source(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(value)


# --------------------------------------------------------------------------- run()'s steps


def _steps(
    run: ast.FunctionDef, lines: list[str], path: Path, exercise_lines: set[int] = frozenset()
) -> tuple[list[nbformat.NotebookNode], str]:
    """``run``'s body as alternating markdown and code cells, and the name it returns.

    A comment block at the body's top indentation after a blank line starts a step (a markdown
    cell); one right under code is refused (it would silently stay in a code cell). An
    exercise's instruction and markers (``exercise_lines``) are code.
    """
    body = list(run.body)
    if [a.arg for a in run.args.args] != ["cfg"] or run.args.kwonlyargs or run.args.vararg:
        raise NotebookError(path, run.lineno, "`run` must take exactly one argument, `cfg`")
    if body and _is_docstring(body[0]):
        body = body[1:]
    last = body[-1] if body else run
    if not (isinstance(last, ast.Return) and isinstance(last.value, ast.Name)):
        raise NotebookError(path, last.lineno, "`run` must end with `return metrics`")
    body = body[:-1]
    _check_flat(body, path)
    if not body:
        raise NotebookError(path, run.lineno, "`run` has no steps before its `return`")
    indent = body[0].col_offset
    spans = [_span(node) for node in body]
    start = _attached_comments(lines, spans[0][0], indent)
    end = spans[-1][1]
    inside = {n for first, last in spans for n in range(first, last + 1)}  # 1-based, code lines
    verbatim = _string_lines(body)  # continuation lines of multi-line strings: never dedented
    ends = {node.end_lineno: node for node in body}  # the line where each statement ends
    prefix = " " * indent
    cells: list[nbformat.NotebookNode] = []
    code: list[int] = []  # 1-based numbers of the lines of the next code cell

    def flush() -> None:
        # A cell that ends on an expression (`plots.save(...)`) ends with `;`: Jupyter would
        # echo the value (a path) that the script drops.
        text = {n: lines[n - 1] for n in code}
        last = ends.get(max((n for n in code if n in ends), default=0))
        if isinstance(last, ast.Expr):
            line, col = text[last.end_lineno].encode(), last.end_col_offset  # col: in bytes
            text[last.end_lineno] = (line[:col] + b";" + line[col:]).decode()
        source = _tidy(
            [text[n] if n in verbatim else _dedent(text[n], prefix, path, n) for n in code]
        )
        if source:
            cells.append(nbformat.v4.new_code_cell(source))
        code.clear()

    n = start
    while n <= end:
        line = lines[n - 1]
        narrative = n not in inside and n not in exercise_lines and line.startswith(prefix + "#")
        if narrative and n != start and lines[n - 2].strip():
            raise NotebookError(
                path,
                n,
                "a comment at `run`'s top level that does not start a notebook cell: put a "
                "blank line above it (a new step, shown as prose) or move it into the "
                "statement it explains",
            )
        if not narrative:
            code.append(n)
            n += 1
            continue
        comment = []
        while (
            n <= end
            and n not in inside
            and n not in exercise_lines
            and lines[n - 1].startswith(prefix + "#")
        ):
            comment.append(re.sub(r"^# ?", "", lines[n - 1][indent:]))
            n += 1
        flush()
        cells.append(nbformat.v4.new_markdown_cell("\n".join(comment).strip()))
    flush()
    return cells, last.value.id


def _check_flat(body: list[ast.stmt], path: Path) -> None:
    """No ``return``, ``yield``, ``global`` or ``nonlocal`` in run's own code (nested
    functions and classes are free to return)."""
    todo = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        problem = {
            ast.Return: "an early `return` (a notebook runs every step; end `run` with one "
            "`return metrics`)",
            ast.Yield: "`yield` in `run`",
            ast.YieldFrom: "`yield from` in `run`",
            ast.Global: "`global` in `run` (its variables are the kernel's globals already)",
            ast.Nonlocal: "`nonlocal` in `run`",
        }.get(type(node))
        if problem:
            raise NotebookError(path, node.lineno, problem)
        todo.extend(ast.iter_child_nodes(node))


def _dedent(line: str, prefix: str, path: Path, n: int) -> str:
    if not line.strip():
        return ""
    if not line.startswith(prefix):
        raise NotebookError(path, n, "a line of `run` indented less than its body")
    return line[len(prefix) :]


def _string_lines(nodes: Iterable[ast.AST]) -> set[int]:
    """1-based numbers of the lines that continue a multi-line string literal."""
    lines = set()
    for node in nodes:
        for sub in ast.walk(node):
            string = isinstance(sub, ast.JoinedStr) or (
                isinstance(sub, ast.Constant) and isinstance(sub.value, (str, bytes))
            )
            if string and sub.end_lineno > sub.lineno:
                lines.update(range(sub.lineno + 1, sub.end_lineno + 1))
    return lines


# --------------------------------------------------------------------------- helpers


def _function(tree: ast.Module, name: str, path: Path) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise NotebookError(path, None, f"no top-level `def {name}(cfg)`")


def _span(node: ast.stmt) -> tuple[int, int]:
    """1-based first and last line of ``node``, decorators included."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno


def _attached_comments(lines: list[str], first: int, indent: int = 0) -> int:
    """Move ``first`` (1-based) up over comment lines at ``indent`` directly above it."""
    while first > 1 and re.match(rf"^ {{{indent}}}#", lines[first - 2]):
        first -= 1
    return first


def _no_file(node: ast.AST, path: Path) -> None:
    """Refuse ``__file__`` in code that runs in the kernel, which has none."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == "__file__":
            raise NotebookError(
                path, sub.lineno, f"`__file__` outside `{_LAB_LINE}` (a kernel has none)"
            )


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _tidy(lines: list[str]) -> str:
    """Join ``lines``: no leading or trailing blank lines, at most two blank lines in a row, no
    tool pragmas (:func:`strip_pragmas`)."""
    text = "\n".join(line.rstrip() for line in lines)
    text = strip_pragmas(text)
    return re.sub(r"\n{4,}", "\n\n\n", text).strip("\n")


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


def _load(lab: labkit.LabInfo) -> ModuleType:
    """Import the lab's file under a name of its own (its ``Config`` gives the defaults)."""
    name = f"dlcourse_notebook_{lab.name}_{abs(hash(str(lab.path)))}"
    if name in sys.modules:
        del sys.modules[name]  # the file may have changed since: read it again
    spec = importlib.util.spec_from_file_location(name, lab.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module
