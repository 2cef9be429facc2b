"""Small shared helpers: atomic file writes, argument checks, seeding, dataclass configs."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
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


# --------------------------------------------------------------------------- dataclass configs


def arg(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field whose ``help`` is both its comment and its ``--flag`` help text."""
    return field(default=default, metadata={"help": help, **kwargs})


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
