"""Every dlcourse module imports on its own, no two modules import each other in a cycle, and
no module imports a higher layer (:data:`LAYERS`).

The checks read the source (``ast``), so imports inside functions count too.
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

#: The house, lowest layer first. A module may import its own layer and the layers below it,
#: never one above. The lab harness (labkit, labrun, notebook and its cells, the exercise modules,
#: cli, bench) stands on the whole library.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("dlcourse", "dlcourse.errors", "dlcourse.utils", "dlcourse.upstream", "dlcourse.launch"),
    ("dlcourse.data", "dlcourse.plots", "dlcourse.scratch"),
    ("dlcourse.layers",),
    ("dlcourse.models",),
    ("dlcourse.training",),
    ("dlcourse.tuning",),
    ("dlcourse.notes_examples",),
    (
        "dlcourse.labkit",
        "dlcourse.labrun",
        "dlcourse.notebook",
        "dlcourse.cells",
        "dlcourse.exercise",
        "dlcourse.checks",
        "dlcourse.release",
        "dlcourse.grade",
        "dlcourse.classroom",
        "dlcourse.cli",
        "dlcourse.bench",
        "dlcourse.__main__",
    ),
)
#: What a NumPy teaching twin may import from dlcourse (its reference checks live in tests/).
SCRATCH_MAY_IMPORT = ("dlcourse.scratch", "dlcourse.utils")


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
    harness = (
        "dlcourse.labkit",
        "dlcourse.labrun",
        "dlcourse.notebook",
        "dlcourse.exercise",
        "dlcourse.checks",
        "dlcourse.release",
        "dlcourse.grade",
        "dlcourse.classroom",
        "dlcourse.cli",
        "dlcourse.bench",
    )  # they run labs
    users = [m for m, edges in graph.items() if "dlcourse.labkit" in edges]
    assert users and not [m for m in users if not m.startswith(harness)], users


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the longest entry that is ``module`` or a package above it."""
    best, index = "", None
    for i, layer in enumerate(LAYERS):
        for entry in layer:
            if (module == entry or module.startswith(entry + ".")) and len(entry) > len(best):
                best, index = entry, i
    if index is None:
        raise ValueError(f"{module} is in no layer: add it to LAYERS in tests/test_imports.py")
    return index


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every ``a -> b`` where ``b`` sits in a higher layer than ``a``."""
    return sorted(f"{a} -> {b}" for a, edges in graph.items() for b in edges
                  if layer_of(b) > layer_of(a))  # fmt: skip


def test_the_layer_check_sees_an_upward_import_and_places_every_module():
    graph = {"dlcourse.data.loader": {"dlcourse.training.strategy", "dlcourse.utils"}}
    assert upward_imports(graph) == ["dlcourse.data.loader -> dlcourse.training.strategy"]
    assert upward_imports({"dlcourse.training.fit": {"dlcourse.data.loader"}}) == []
    assert layer_of("dlcourse.plots.output") == layer_of("dlcourse.data") < layer_of("dlcourse") + 2
    for name in _modules():
        layer_of(name)  # raises for a module no layer holds


def test_no_module_imports_a_higher_layer():
    assert upward_imports(import_graph(_modules())) == []


def test_scratch_stays_numpy_only():
    """The teaching twins import NumPy (and SciPy), never TensorFlow/Keras or the library."""
    bad = []
    for name, path in _modules().items():
        if not name.startswith("dlcourse.scratch"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = [node.module or ""]
            else:
                continue
            for target in targets:
                root = target.split(".")[0]
                own = target.startswith(SCRATCH_MAY_IMPORT)
                if root in ("tensorflow", "keras", "keras_tuner") or (
                    root == "dlcourse" and not own
                ):
                    bad.append(f"{name} imports {target}")
    assert bad == []


def test_bench_and_labs_never_import_a_lab():
    """bench reuses library code, and a lab imports the library, not another lab."""
    sources = [*ROOT.joinpath("bench").glob("*.py"), *ROOT.parent.joinpath("labs").glob("*.py")]
    users = [p.relative_to(ROOT.parent).as_posix() for p in sources
             if "load_lab(" in p.read_text()]  # fmt: skip
    assert users == []


def test_no_module_exceeds_400_lines():
    """Split by subject instead (as plots/ was): a newcomer reads one topic per file."""
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > 400}  # fmt: skip
    assert long == {}
