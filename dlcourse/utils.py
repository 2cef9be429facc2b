"""Small shared helpers: atomic file writes, argument checks, dataclass configs."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import numbers
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

import numpy as np


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
    check_number(name, value)
    ok = value > 0 if strict else value >= 0
    if not ok:
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"`{name}` must be {bound}. Received: {name}={value!r}")


def check_number(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a number (not a bool, not a string like "64")."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or not (
        isinstance(value, numbers.Real) or hasattr(value, "__float__")
    ):
        raise TypeError(
            f"`{name}` must be a number. Received: {name}={value!r} (a {type(value).__name__})"
        )


def check_in_range(name: str, value: float, low: float, high: float, *, closed: str = "[)") -> None:
    """Raise ``ValueError`` unless ``value`` lies in the interval ``low``..``high``.

    ``closed`` gives the brackets, e.g. ``"[)"`` for low <= value < high.
    """
    check_number(name, value)
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


# --------------------------------------------------------------------------- dataclass configs


def arg(default: Any, help: str, *, check: Any = None, **kwargs: Any) -> Any:
    """A config field whose ``help`` is both its comment and its ``--flag`` help text.

    ``check`` names the library check its value must pass (``"positive"``, ``"fraction"``,
    ``"model"``, a ``(low, high)`` range ...; see :data:`CHECKS`); ``choices`` lists its allowed
    values. Both apply to every element of a tuple field (:func:`validate_config`).
    """
    return field(default=default, metadata={"help": help, "check": check, **kwargs})


def config_parser(
    cfg_cls: type, description: str | None = None, prog: str | None = None
) -> argparse.ArgumentParser:
    """An argparse parser with one ``--flag`` per dataclass field, help from :func:`arg`."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for f in dataclasses.fields(cfg_cls):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "") + " (default: %(default)s)"
        if f.type in (bool, "bool"):
            action = argparse.BooleanOptionalAction
            parser.add_argument(flag, dest=f.name, action=action, default=f.default, help=help_text)
            continue
        kwargs = {"type": _field_type(f), "choices": f.metadata.get("choices")}
        if isinstance(f.default, tuple):
            kwargs["nargs"] = "+"  # e.g. --hidden 300 100
        parser.add_argument(flag, dest=f.name, default=f.default, help=help_text, **kwargs)
    return parser


def _field_type(f: dataclasses.Field) -> Callable[[str], Any] | None:
    default = f.default
    if isinstance(default, tuple):
        return type(default[0]) if default else str
    if default is None:
        return str
    return type(default)


def to_argv(cfg: Any) -> list[str]:
    """The flags that :func:`config_parser` parses back into ``cfg`` (its inverse)."""
    argv = []
    for f in dataclasses.fields(cfg):
        flag, value = "--" + f.name.replace("_", "-"), getattr(cfg, f.name)
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            argv += [flag, *map(str, value)]
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def parse_config(cfg_cls: type, argv: Sequence[str] | None = None, parser=None) -> Any:
    """Parse ``argv`` with ``parser`` (default: :func:`config_parser`) into a ``cfg_cls``."""
    parser = parser or config_parser(cfg_cls)
    values = vars(parser.parse_args(argv))
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    return cfg_cls(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
    )


# --------------------------------------------------------------------------- config validation


def check_type(name: str, value: Any, expected: type) -> None:
    """Raise ``TypeError`` unless ``value`` is an ``expected`` (an int is a float; a bool is not)."""
    kinds = {int: numbers.Integral, float: numbers.Real, bool: (bool, np.bool_)}
    is_bool = isinstance(value, (bool, np.bool_))
    ok = isinstance(value, kinds.get(expected, expected)) and not (
        is_bool and expected in (int, float)
    )
    if not ok:
        article = "an" if expected.__name__[0] in "aeiou" else "a"
        raise TypeError(
            f"`{name}` must be {article} {expected.__name__}. "
            f"Received: {name}={value!r} (a {type(value).__name__})"
        )


# Named checks that ``arg(..., check=NAME)`` can ask for; a tuple ``(low, high, closed)`` is a
# range (check_in_range) and a callable ``f(name, value)`` is called as it is. Layers above this
# module add their own names (labkit adds "model"), so utils imports nothing of them.
CHECKS: dict[str, Callable[[str, Any], None]] = {
    "positive": check_positive,
    "non_negative": lambda name, value: check_positive(name, value, strict=False),
    "fraction": lambda name, value: check_in_range(name, value, 0, 1, closed="[)"),
    "probability": lambda name, value: check_in_range(name, value, 0, 1, closed="[]"),
}


def validate_config(cfg: Any) -> None:
    """Check every field of the dataclass ``cfg`` against its declaration, in field order.

    The type comes from the annotation (``int``, ``float``, ``bool``, ``str``, ``tuple``; a
    tuple's elements take the type of the default's first element or of ``tuple[T, ...]``),
    then ``choices`` and ``check`` from the field's metadata (see :data:`CHECKS`), applied to
    each element of a tuple. Raises ``TypeError``/``ValueError`` naming the field and value.
    """
    import dataclasses
    import typing

    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value, hint = getattr(cfg, f.name), hints.get(f.name)
        items = [(f.name, value)]
        if typing.get_origin(hint) is tuple or hint is tuple:
            try:
                check_type(f.name, value, tuple)
            except TypeError as err:
                err.field = f.name
                raise
            args = [a for a in typing.get_args(hint) if a is not Ellipsis]
            hint = args[0] if args else (type(f.default[0]) if f.default else None)
            items = [(f"{f.name}[{i}]", v) for i, v in enumerate(value)]
        try:
            for name, item in items:
                if hint in (int, float, bool, str):
                    check_type(name, item, hint)
                if f.metadata.get("choices") is not None:
                    check_choice(name, item, f.metadata["choices"])
                if f.metadata.get("check") is not None:
                    _run_check(f.metadata["check"], name, item)
        except (TypeError, ValueError) as err:
            err.field = f.name  # the command line names the flag: --batch-size
            raise


def _run_check(check: Any, name: str, value: Any) -> None:
    if isinstance(check, tuple):
        low, high, *closed = check
        check_in_range(name, value, low, high, closed=closed[0] if closed else "[]")
    elif callable(check):
        check(name, value)
    else:
        CHECKS[check](name, value)
