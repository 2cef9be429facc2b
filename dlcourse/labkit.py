"""The lab convention and the lab registry.

A lab is a file ``labs/NN_topic.py`` (NN: 01-09 Unit I, 10-29 Unit II, 30-49 Unit III,
50-69 Unit IV, 70-79 scale) with

* a header docstring of ``Key: value`` lines (``Title``, ``Unit``, ``Notes``, ``Description``),
* one frozen dataclass config deriving from :class:`LabConfig` (or :class:`TrainConfig` when
  it trains a Keras model), each field declared with :func:`arg` so it documents itself,
* its quick mode declared once, as a class attribute ``QUICK`` mapping field names to tiny
  values (``QUICK = labkit.quick(epochs=2, n_train=256)``): ``Config(quick=True)`` (``--quick``,
  what the tests run) replaces those of them left at their defaults with these values (a
  value passed, ``--quick --epochs 3``, is kept), so ``run()`` reads ``cfg.epochs`` and never
  branches on ``cfg.quick`` for a size; it checks
  ``cfg.quick`` only for what is not a setting (e.g. no TensorBoard logs in a smoke test),
* ``run(cfg) -> dict``: the whole lab. It opens with ``out = labkit.start(cfg, LAB)`` (fresh
  Keras state, every seed set, the run folder) and ends by writing ``metrics.json`` with its
  ``claims`` (:func:`claim`) and PNG figures into that folder,
* ``main(argv=None)``: ``return labkit.cli(run, Config, __doc__, argv)``.

``make labs`` (:mod:`dlcourse.labrun`) runs every registered lab in its own process and writes
``runs/REPORT.md``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, ClassVar

from dlcourse import errors
from dlcourse.training import config as training_config
from dlcourse.utils import (
    CHECKS,
    arg,
    check_choice,
    config_parser,
    validate_config,
    write_json,
)

LABS_DIR = Path(__file__).resolve().parent.parent / "labs"
DEFAULT_OUT = "runs"
_LAB_FILE = re.compile(r"^(\d\d)_([a-z0-9_]+)\.py$")


def _check_model(name: str, value: Any) -> None:
    from dlcourse.models import list_models

    check_choice(name, value, tuple(list_models()))


CHECKS["model"] = _check_model  # arg(..., check="model") in lab configs


@dataclass(frozen=True)
class LabConfig:
    """Fields every lab has. Constructing a config validates it (:func:`validate_config`)."""

    out_dir: str = arg(DEFAULT_OUT, "folder that holds one run folder per lab")
    seed: int = arg(42, "seed for Python, NumPy and TensorFlow", check="non_negative")
    quick: bool = arg(False, "tiny settings (few steps, little data) for smoke tests")

    #: Quick mode: field name -> tiny value, applied when ``quick`` is True (a class attribute,
    #: not a field). Each lab declares its own; the values are checked like any other.
    QUICK: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    def __post_init__(self) -> None:
        validate_config(self)  # before any work or folder: a bad value is a one-line error
        if self.quick:
            apply_quick(self)


def quick(**values: Any) -> Mapping[str, Any]:
    """A config's quick mode, ``QUICK = labkit.quick(epochs=2)``: field name -> tiny value."""
    return MappingProxyType(values)


def apply_quick(cfg: LabConfig, keep: Mapping[str, Any] | None = None) -> None:
    """Replace ``cfg``'s fields still at their defaults by its class's ``QUICK`` values, then
    check them again: a field set to another value (``Config(quick=True, epochs=3)``) keeps it,
    and so does every field of ``keep`` (a flag given at its default value) with its value."""
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    unknown = sorted(set(cfg.QUICK) - set(defaults))
    if unknown:
        raise TypeError(f"{type(cfg).__qualname__}.QUICK names no field: {', '.join(unknown)}")
    for name, value in cfg.QUICK.items():
        if getattr(cfg, name) == defaults[name]:
            object.__setattr__(cfg, name, value)  # frozen: fields are set in __post_init__
    for name, value in (keep or {}).items():
        object.__setattr__(cfg, name, value)
    validate_config(cfg)


@dataclass(frozen=True)
class TrainConfig(LabConfig, training_config.TrainConfig):
    """Fields every lab that trains a Keras model has: :class:`LabConfig`'s plus the execution
    switches of :class:`dlcourse.training.TrainConfig` (what ``fit`` takes)."""


# --------------------------------------------------------------------------- claims
#
# A lab's lesson, stated as claims checked on its own results. Each claim is a JSON-safe dict
# ``{"claim": "<one sentence>", "holds": bool, <the numbers it rests on>}`` in the lab's
# ``metrics["claims"]``; ``python -m dlcourse labs check`` fails on any that does not hold.
# ``needs_defaults=True`` marks a claim that needs the lab's default settings: at quick settings
# it is still computed and reported, but the quick tests do not assert it.


def claim(text: str, holds: bool, *, needs_defaults: bool = False, **evidence: Any) -> dict:
    """One claim of a lab's lesson: ``text``, whether it ``holds`` and the numbers behind it."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"`text` must be a non-empty sentence. Received: text={text!r}")
    record = {"claim": text, "holds": bool(holds)}
    if needs_defaults:
        record["needs_defaults"] = True
    return record | {k: _json_safe(v) for k, v in evidence.items()}


def at_least(text: str, value: float, bound: float, **kw: Any) -> dict:
    """A target: ``value >= bound`` (e.g. test accuracy >= 0.955)."""
    return claim(text, value >= bound, value=value, bound=bound, **kw)


def beats(text: str, better: float, worse: float, margin: float = 0.0, **kw: Any) -> dict:
    """A comparison with a margin: ``better - worse >= margin`` (higher is better)."""
    return claim(text, better - worse >= margin, better=better, worse=worse, margin=margin, **kw)


def within(text: str, error: float, tolerance: float, **kw: Any) -> dict:
    """A match with a reference: ``error <= tolerance`` (e.g. max |numpy - keras|)."""
    return claim(text, error <= tolerance, error=error, tolerance=tolerance, **kw)


def failed_claims(metrics: Mapping[str, Any], *, quick: bool = False) -> list[dict]:
    """The claims of ``metrics`` that do not hold (at ``quick``: only those asserted there)."""
    return [
        c
        for c in metrics.get("claims", [])
        if not c["holds"] and not (quick and c.get("needs_defaults"))
    ]


def format_claims(metrics: Mapping[str, Any], *, quick: bool = False) -> str:
    """The claims, one line each, ✔ or ✗ (``quick``: claims that need the defaults say so)."""
    lines = []
    for c in metrics.get("claims", []):
        mark = "\u2714" if c["holds"] else "\u2718"
        note = " (needs the default settings)" if quick and c.get("needs_defaults") else ""
        lines.append(f"{mark} {c['claim']}{note}")
    return "\n".join(lines) or "(this lab states no claims)"


def _json_safe(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


# --------------------------------------------------------------------------- running one lab


def start(cfg: LabConfig, lab: str) -> Path:
    """The first line of every lab's ``run``: a fresh start, then the run folder.

    Clears Keras's global state and seeds Python, NumPy, TensorFlow and Keras with
    ``cfg.seed``, so a lab gives the same results whatever ran before it in the same process
    (a notebook kernel, a test session); prints where it trains; returns :func:`run_dir`.
    """
    import keras

    from dlcourse.training import strategy

    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    print(f"{lab}: {strategy.describe_devices(cfg)}", flush=True)
    return run_dir(cfg, lab)


def run_dir(cfg: LabConfig, lab: str) -> Path:
    """The lab's output folder ``<cfg.out_dir>/<lab>/``, created if missing."""
    path = Path(cfg.out_dir) / lab
    path.mkdir(parents=True, exist_ok=True)
    return path


def lab_name(module_file: str) -> str:
    """``labs/01_normal_equation.py`` -> ``01_normal_equation`` (a lab's run-folder name)."""
    return Path(module_file).stem


def save_metrics(folder: Path, metrics: dict) -> Path:
    """Write ``metrics.json`` (with the lab's ``claims``) atomically; return its path."""
    return write_json(Path(folder) / "metrics.json", metrics)


def cli(
    run: Callable[..., dict], cfg_cls: type, doc: str | None, argv: Sequence[str] | None = None
):
    """``main()`` of every lab: parse flags into a config, run, print where outputs went.

    From the command line (``argv`` None) errors follow :mod:`dlcourse.errors`: one line on
    stderr, exit 2 for a bad flag value, 1 for a failed run; ``--debug`` shows the traceback.
    """
    if argv is not None:
        return _cli(run, cfg_cls, doc, argv)
    with errors.command_line():
        return _cli(run, cfg_cls, doc, errors.strip_debug(sys.argv[1:]))


def _cli(run: Callable[..., dict], cfg_cls: type, doc: str | None, argv: Sequence[str]):
    if os.environ.get(PEAK_RSS_ENV):  # run by run_all: report this process's own peak
        atexit.register(_write_peak_rss, Path(os.environ[PEAK_RSS_ENV]))
    parser = config_parser(cfg_cls, description=doc)
    unset = object()  # the flags not given keep it: the config's defaults apply
    fields = argparse.Namespace(**{f.name: unset for f in dataclasses.fields(cfg_cls)})
    given = vars(parser.parse_args(argv, namespace=fields))
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not unset}
    try:
        cfg = cfg_cls(**values)
        if cfg.quick:  # a flag given with --quick wins over QUICK, even at its default value
            apply_quick(cfg, keep={k: v for k, v in values.items() if k in cfg.QUICK})
    except (TypeError, ValueError) as err:  # a bad flag value: a usage error
        flag = getattr(err, "field", None)
        where = f" (flag --{flag.replace('_', '-')})" if flag else ""
        raise errors.UsageError(f"{err}{where}") from err
    module = sys.modules.get(run.__module__)
    lab = lab_name(module.__file__) if getattr(module, "__file__", None) else None
    with _no_empty_folder(Path(cfg.out_dir) / lab if lab else None):
        metrics = run(cfg)
    print(json.dumps(flatten_scalars(metrics), indent=2, default=str))
    print(format_claims(metrics, quick=cfg.quick))
    return metrics


@contextlib.contextmanager
def _no_empty_folder(folder: Path | None) -> Iterator[None]:
    """On failure, remove ``folder`` (and new empty parents) if this block created it empty."""
    new = [] if folder is None else [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        yield
    except BaseException:
        for path in new:  # deepest first
            with contextlib.suppress(OSError):
                path.rmdir()  # only succeeds when empty
        raise


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class LabInfo:
    number: str  # "01"
    name: str  # "01_normal_equation": run-folder and module name
    path: Path
    header: dict[str, str]  # Title, Unit, Notes, Description from the docstring

    @property
    def title(self) -> str:
        return self.header.get("Title", self.name)


def list_labs(labs_dir: Path = LABS_DIR) -> list[LabInfo]:
    """Every ``NN_topic.py`` under ``labs/``, in number order."""
    labs = []
    for path in sorted(Path(labs_dir).glob("[0-9][0-9]_*.py")):
        m = _LAB_FILE.match(path.name)
        if m:
            labs.append(LabInfo(m.group(1), path.stem, path, _read_header(path)))
    return labs


def find_lab(key: str, labs_dir: Path = LABS_DIR) -> LabInfo:
    """Look a lab up by number (``"01"``, ``"1"``), full name or topic."""
    labs = list_labs(labs_dir)
    key = str(key)
    for lab in labs:
        topic = lab.name[3:]
        if key in (lab.number, lab.name, topic) or (key.isdigit() and int(key) == int(lab.number)):
            return lab
    known = ", ".join(lab.number for lab in labs) or "(none)"
    raise ValueError(
        f"Unknown lab. Received: lab={key!r}; expected a lab number ({known}) or name "
        "(`python -m dlcourse labs list` lists them)"
    )


def load_lab(key: str) -> ModuleType:
    """Import a lab module from ``labs/`` (works from scripts, tests and Jupyter)."""
    lab = find_lab(key)
    mod_name = f"dlcourse_lab_{lab.name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    return import_file(lab.path, mod_name)


def import_file(path: Path, mod_name: str) -> ModuleType:
    """Import the Python file ``path`` as module ``mod_name`` (registered in ``sys.modules``,
    where dataclasses look their module up; removed again if the file raises)."""
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


def run_lab(key: str, **overrides: Any) -> dict:
    """Run a lab in this process: ``run_lab("01", quick=True, out_dir="/tmp/runs")``."""
    module = load_lab(key)
    cfg = module.Config(**overrides)
    with _no_empty_folder(Path(cfg.out_dir) / find_lab(key).name):
        return module.run(cfg)


def describe(key: str) -> str:
    """The lab's header and its flags, as the ``--help`` text shows them."""
    lab = find_lab(key)
    module = load_lab(key)
    return config_parser(module.Config, module.__doc__, prog=lab.path.name).format_help()


HEADER_KEYS = ("Title", "Unit", "Notes", "Description", "Lesson")  # a lab docstring's header


def _read_header(path: Path) -> dict[str, str]:
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    header, key = {}, None
    for line in doc.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]*):\s*(.*)$", line)
        if m and m.group(1) in HEADER_KEYS:
            key = m.group(1)
            header[key] = m.group(2).strip()
        elif key and line.strip():  # a value continues on the next lines
            header[key] += " " + line.strip()
        elif not line.strip():
            key = None
    return header


# --------------------------------------------------------------------------- in the lab's process

# Set by dlcourse.labrun for each lab process: the file that receives the lab's peak RSS.
PEAK_RSS_ENV = "DLCOURSE_PEAK_RSS_FILE"


def peak_rss_mb() -> float | None:
    """This process's peak RSS, from ``VmHWM`` (Linux; None elsewhere).

    Not ``ru_maxrss``: Linux carries the parent's high-water mark into a child across fork and
    exec, so a child of a large process would report the parent's peak as its own.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return None if kib is None else round(int(kib) / 1024, 1)


def _write_peak_rss(path: Path) -> None:
    peak = peak_rss_mb()
    if peak is not None:
        path.write_text(str(peak))


def flatten_scalars(metrics: dict, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``a.b`` keys, keeping numbers, strings and booleans."""
    flat = {}
    for k, v in metrics.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flatten_scalars(v, key + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            flat[key] = v
    return flat
