"""Every dlcourse module imports on its own, and no two modules import each other in a cycle.

The cycle check reads the source (``ast``), so imports inside functions count too.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import dlcourse

ROOT = Path(dlcourse.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the dlcourse modules it imports anywhere in its source."""
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]  # fmt: skip
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_check_finds_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    src = "def f():\n    from dlcourse import launch\n"
    tree = ast.parse(src)
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))  # walk sees inside f


def test_no_import_cycles_in_dlcourse():
    graph = import_graph(_modules())
    assert "dlcourse.tuning.__main__" in graph["dlcourse.tuning.distributed"]  # edges are seen
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_every_module_imports_in_a_fresh_interpreter():
    names = [n for n in _modules() if importlib.util.find_spec(n) is not None]
    code = (
        "import importlib, sys\n"
        "bad = []\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as err:\n"
        "        bad.append(f'{name}: {type(err).__name__}: {err}')\n"
        "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


def test_readme_package_map_matches_the_tree():
    text = (ROOT.parent / "README.md").read_text()
    block = text[text.index("```\ndlcourse/\n") :].split("```")[1]
    listed = set(re.findall(r"^  (\S+)", block, re.MULTILINE))  # continuation lines: deeper
    tree = {p.name + ("/" if p.is_dir() else "") for p in ROOT.iterdir()}
    tree = {n for n in tree if not n.startswith(("__", "."))}
    assert listed == tree


def test_the_library_never_imports_the_lab_harness():
    graph = import_graph(_modules())
    harness = ("dlcourse.labkit", "dlcourse.labrun", "dlcourse.cli", "dlcourse.bench")  # run labs
    users = [m for m, edges in graph.items() if "dlcourse.labkit" in edges]
    assert users and not [m for m in users if not m.startswith(harness)], users
