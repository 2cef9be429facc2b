"""A lab's hidden checks: the student's code against its library twin, on fresh random inputs.

A check is a function ``check_<name>(ns) -> dict`` in the lab's file, between ``### BEGIN HIDDEN
TESTS`` and ``### END HIDDEN TESTS`` (left out of every notebook and student script). It takes
the student's namespace (a notebook's globals, a script's module) and returns a claim
(:func:`dlcourse.labkit.within` ...). The checks always come from the lab's own file (the
reference), so a student never sees them and cannot change them.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from dlcourse import labkit


def load_reference(lab: labkit.LabInfo) -> ModuleType:
    """The lab's own file imported under a private name (its checks and its solution)."""
    name = f"dlcourse_reference_{lab.name}"
    if name in sys.modules:
        return sys.modules[name]
    return labkit.import_file(lab.path, name)


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


def max_abs_diff(got: Any, want: Any) -> float:
    """``max |got - want|`` of a student's array against the reference's; ``inf`` when the
    shapes differ (a wrong shape never passes a tolerance, and never broadcasts into one)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want), initial=0.0)) if got.shape == want.shape else np.inf


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
