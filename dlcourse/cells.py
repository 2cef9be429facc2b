"""``run()``'s body as notebook cells: the step split of :mod:`dlcourse.notebook`.

A comment block at the body's top indentation after a blank line starts a step (a markdown
cell, its text the comment); the code up to the next one is a code cell, dedented. A comment at
that indentation right under code is refused, naming the lab file and line (it would silently
stay inside a code cell), and tool pragmas never reach a cell (:func:`dlcourse.exercise.strip_pragmas`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat

from dlcourse.exercise import strip_pragmas


class NotebookError(ValueError):
    """A lab whose source cannot be turned into notebook cells, naming its file and line."""

    def __init__(self, path: Path | None, line: int | None, problem: str):
        where = f"{path}:{line}: " if line else f"{path}: " if path else ""
        super().__init__(f"{where}cannot make a notebook: {problem}")


def steps(
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
    if body and is_docstring(body[0]):
        body = body[1:]
    last = body[-1] if body else run
    if not (isinstance(last, ast.Return) and isinstance(last.value, ast.Name)):
        raise NotebookError(path, last.lineno, "`run` must end with `return metrics`")
    body = body[:-1]
    _check_flat(body, path)
    if not body:
        raise NotebookError(path, run.lineno, "`run` has no steps before its `return`")
    indent = body[0].col_offset
    spans = [span(node) for node in body]
    start = attached_comments(lines, spans[0][0], indent)
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
        source = tidy(
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


def span(node: ast.stmt) -> tuple[int, int]:
    """1-based first and last line of ``node``, decorators included."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno


def attached_comments(lines: list[str], first: int, indent: int = 0) -> int:
    """Move ``first`` (1-based) up over comment lines at ``indent`` directly above it."""
    while first > 1 and re.match(rf"^ {{{indent}}}#", lines[first - 2]):
        first -= 1
    return first


def is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def tidy(lines: list[str]) -> str:
    """Join ``lines``: no leading or trailing blank lines, at most two blank lines in a row, no
    tool pragmas (:func:`strip_pragmas`)."""
    text = "\n".join(line.rstrip() for line in lines)
    text = strip_pragmas(text)
    return re.sub(r"\n{4,}", "\n\n\n", text).strip("\n")
