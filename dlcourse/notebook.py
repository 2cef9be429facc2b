"""Every lab as a Jupyter notebook, generated from the lab's own file.

``python -m dlcourse labs notebook [NN ...] [--out DIR]`` (``make notebooks``) writes
``NN_topic.ipynb`` per lab, without outputs. The cells come from ``labs/NN_topic.py``:

1. a markdown title cell: the header docstring (Title, Lesson, Description, Notes ...);
2. a code cell with the lab's imports and module-level definitions (``Config``, helpers): the
   module minus ``run``, ``main`` and the ``if __name__`` block, with
   ``LAB = labkit.lab_name(__file__)`` written as the literal lab name (a kernel has no
   ``__file__``); a function holding an exercise (:mod:`dlcourse.exercise`) gets a cell of its own;
3. the config cell the student edits: ``cfg = Config(...)`` with every field at its default, one
   per line with its help as a comment, and ``quick`` on when ``DLCOURSE_QUICK=1``;
4. the body of ``run(cfg)`` split at its narrative comment blocks (a comment block at the body's
   top indentation preceded by a blank line): each block a markdown cell, the code up to the next
   block a code cell, dedented, so the variables of every step stay in the kernel; the final
   ``return metrics`` is dropped (:mod:`dlcourse.cells`; a comment at that indentation right under
   code would stay hidden in a code cell, so it is refused);
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
:class:`NotebookError` naming the lab file and the line. Tool pragmas (``fmt: skip``, ``noqa``,
``isort: split`` ...) never reach a cell. ``build(lab, "student")`` is the student's notebook
(``labs exercise``): the same cells, each solution region a stub.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import nbformat

from dlcourse import exercise, labkit
from dlcourse.cells import (
    NotebookError,
    attached_comments,
    is_docstring,
    span,
    steps,
    tidy,
)
from dlcourse.utils import atomic_path

DEFAULT_OUT = "notebooks"
QUICK_ENV = "DLCOURSE_QUICK"  # "1": the notebook's config cell turns the lab's quick mode on
_LAB_LINE = "LAB = labkit.lab_name(__file__)"


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


MODES = exercise.MODES  # "solution", "student", "source" (nbgrader: dlcourse.release)


def build(lab: labkit.LabInfo, mode: str = "solution") -> nbformat.NotebookNode:
    """The notebook of ``lab``: title, definitions, config, one cell per step, claims.

    ``mode``: ``solution`` (the lab as it is; solution markers and hidden tests left out),
    ``student`` (each solution region a stub, :mod:`dlcourse.exercise`) or ``source`` (the
    markers kept: what :func:`dlcourse.release.nbgrader_notebook` starts from).
    """
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
    step_cells, result = steps(run, lines, lab.path, exercise_lines)
    cells = [
        nbformat.v4.new_markdown_cell(_title(lab, mode)),
        *(nbformat.v4.new_code_cell(c) for c in _definitions(tree, lines, lab, regions)),
        nbformat.v4.new_code_cell(_config_cell(_load(lab))),
        *step_cells,
        nbformat.v4.new_code_cell(f"print(labkit.format_claims({result}, quick=cfg.quick))"),
    ]
    for i, cell in enumerate(cells):  # stable ids: an unchanged lab gives an unchanged file
        cell.id = f"{lab.number}-{i:02d}"
        if cell.cell_type == "code":
            cell.source = exercise.transform(cell.source, mode)
    return nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "dlcourse": {"generated_from": f"labs/{lab.path.name}", "lab": lab.number}
            | ({} if mode == "solution" else {"version": mode}),
        },
    )


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
        first, last = span(node)
        if isinstance(node, ast.FunctionDef) and node.name in ("run", "main"):
            first = attached_comments(lines, first)
        elif ast.unparse(node) == _LAB_LINE:
            lab_line = first - 1
        elif not (
            (i == 0 and is_docstring(node))
            or (isinstance(node, ast.If) and "__name__" in ast.unparse(node.test))
        ):
            _no_file(node, lab.path)  # kept in the cell
            if exercise_lines & set(range(first, last + 1)):
                cuts.update((attached_comments(lines, first) - 1, last))
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
    return [text for text in map(tidy, cells) if text.strip()]


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


# --------------------------------------------------------------------------- helpers


def _function(tree: ast.Module, name: str, path: Path) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise NotebookError(path, None, f"no top-level `def {name}(cfg)`")


def _no_file(node: ast.AST, path: Path) -> None:
    """Refuse ``__file__`` in code that runs in the kernel, which has none."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == "__file__":
            raise NotebookError(
                path, sub.lineno, f"`__file__` outside `{_LAB_LINE}` (a kernel has none)"
            )


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
