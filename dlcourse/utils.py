"""Small shared helpers: atomic file writes, argument checks, seeding."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A reader never sees a half-written file: an interrupted or failing write leaves the
    old file (or nothing) in place and removes the temporary one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as pretty JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    return Path(path)


def _json_default(obj: Any) -> Any:
    # NumPy scalars and arrays, Paths.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def check_positive(name: str, value: float, *, strict: bool = True) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` > 0 (>= 0 if not strict)."""
    ok = value > 0 if strict else value >= 0
    if not ok:
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"`{name}` must be {bound}. Received: {name}={value!r}")


def check_in_range(name: str, value: float, low: float, high: float, *, closed: str = "[)") -> None:
    """Raise ``ValueError`` unless ``value`` lies in the interval ``low``..``high``.

    ``closed`` gives the brackets, e.g. ``"[)"`` for low <= value < high.
    """
    lo_ok = value >= low if closed[0] == "[" else value > low
    hi_ok = value <= high if closed[1] == "]" else value < high
    if not (lo_ok and hi_ok):
        raise ValueError(
            f"`{name}` must be in {closed[0]}{low}, {high}{closed[1]}. Received: {name}={value!r}"
        )


def check_choice(name: str, value: Any, choices) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        known = ", ".join(repr(c) for c in choices)
        raise ValueError(f"Unknown `{name}`. Received: {name}={value!r}; expected one of {known}")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (through Keras) in one call."""
    import keras

    keras.utils.set_random_seed(seed)
