"""docs/lessons.md, read: its table rows, and the claim texts each lab's file can produce.

Shared by test_lessons.py (the static check: every fragment a row names is in its lab's claim
texts, read from the lab file with :mod:`ast`, no training) and test_notebook.py (the runtime
check: every fragment is in some claim of the lab's quick run).

A row's "checked by" cell is exactly one of

* ``lab NN: "fragment"`` (several, separated by ``; ``): the claim of lab NN whose text holds
  that literal fragment checks the lesson;
* ``not checked: <reason>``: why it cannot be checked here;
* ``TODO lab NN``: a lab is being changed to check it (the test fails until it is filled in).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "docs" / "lessons.md"
COLUMNS = ("lesson", "notes", "checked by")
CLAIM_FUNCTIONS = ("claim", "at_least", "beats", "within")  # dlcourse.labkit's claim makers

_REF = re.compile(r'lab (\d\d): "([^"]+)"')
_REFS = re.compile(rf"{_REF.pattern}(?:; {_REF.pattern})*")
_NOT_CHECKED = re.compile(r"not checked: \S.*")
_TODO = re.compile(r"TODO lab (\d\d)")


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line in the file
    lesson: str
    notes: str
    checked_by: str

    @property
    def kind(self) -> str:
        """``"lab"``, ``"not checked"``, ``"todo"``, or ``"bad"`` (no form of the cell)."""
        cell = self.checked_by
        if _REFS.fullmatch(cell):
            return "lab"
        if _NOT_CHECKED.fullmatch(cell):
            return "not checked"
        if _TODO.fullmatch(cell):
            return "todo"
        return "bad"

    @property
    def refs(self) -> list[tuple[str, str]]:
        """``[(lab number, fragment), ...]`` of a ``lab NN: "fragment"`` cell, else ``[]``."""
        return _REF.findall(self.checked_by) if self.kind == "lab" else []


def rows(text: str) -> list[Row]:
    """Every row of every ``| lesson | notes | checked by |`` table in ``text``."""
    found, in_table = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if tuple(c.lower() for c in cells) == COLUMNS:
            in_table = True
        elif in_table and not set("".join(cells)) <= set("-: "):
            if len(cells) != len(COLUMNS):
                raise ValueError(f"lessons.md:{number}: {len(cells)} cells, expected 3: {line}")
            found.append(Row(number, *cells))
    return found


def read_rows(path: Path = LESSONS) -> list[Row]:
    return rows(path.read_text())


def fragments_by_lab(table: Iterable[Row]) -> dict[str, list[str]]:
    """Lab number -> the fragments the table names for it."""
    by_lab: dict[str, list[str]] = {}
    for row in table:
        for number, fragment in row.refs:
            by_lab.setdefault(number, []).append(fragment)
    return by_lab


# --------------------------------------------------------------------------- claim texts


def claim_strings(source: str) -> set[str]:
    """The literal pieces of every claim text a lab's source can produce, read statically.

    A claim text is the first argument (or ``text=``) of a call to ``labkit.claim``,
    ``at_least``, ``beats`` or ``within``. Its pieces are the string constants in that argument
    (implicit concatenation is one constant) and the literal parts of its f-strings; a name
    there is followed to what is assigned to it, and a parameter of a helper function to the
    arguments of the helper's calls, so a claim built in a helper still counts.
    """
    tree = ast.parse(source)
    assigned: dict[str, list[ast.expr]] = {}
    params: dict[str, list[tuple[str, int]]] = {}  # parameter name -> (function, position)
    calls: dict[str, list[ast.Call]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.FunctionDef):
            for position, a in enumerate(node.args.posonlyargs + node.args.args):
                params.setdefault(a.arg, []).append((node.name, position))
            for a in node.args.kwonlyargs:
                params.setdefault(a.arg, []).append((node.name, -1))
        elif isinstance(node, ast.Call) and _called(node):
            calls.setdefault(_called(node), []).append(node)

    pieces: set[str] = set()
    seen: set[str] = set()

    def collect(expr: ast.expr) -> None:
        for node in _walk_outside_fields(expr):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                pieces.add(node.value)
            elif isinstance(node, ast.Name) and node.id not in seen:
                seen.add(node.id)
                for value in assigned.get(node.id, []):
                    collect(value)
                for function, position in params.get(node.id, []):
                    for call in calls.get(function, []):
                        collect_argument(call, position, node.id)

    def collect_argument(call: ast.Call, position: int, name: str) -> None:
        if 0 <= position < len(call.args):
            collect(call.args[position])
        for kw in call.keywords:
            if kw.arg == name:
                collect(kw.value)

    for function in CLAIM_FUNCTIONS:
        for call in calls.get(function, []):
            collect_argument(call, 0, "text")
    return pieces


def lab_claim_strings(path: Path) -> set[str]:
    return claim_strings(Path(path).read_text())


def missing_fragments(fragments: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The fragments that are in none of ``texts``."""
    texts = list(texts)
    return [f for f in fragments if not any(f in t for t in texts)]


def _called(call: ast.Call) -> str:
    """The name a call calls: ``f(...)`` and ``module.f(...)`` -> ``"f"``."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _walk_outside_fields(expr: ast.expr) -> Iterator[ast.AST]:
    """The nodes of ``expr``, not entering an f-string's replacement fields ``{...}`` (what is
    formatted in is a value, not the claim's wording) nor a lambda or comprehension."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FormattedValue | ast.Lambda | ast.comprehension):
            continue
        stack.extend(ast.iter_child_nodes(node))
