"""The lab convention, the lab registry and the report.

A lab is a file ``labs/NN_topic.py`` (NN: 01-09 Unit I, 10-29 Unit II, 30-49 Unit III,
50-69 Unit IV, 70-79 scale) with

* a header docstring of ``Key: value`` lines (``Title``, ``Unit``, ``Notes``, ``Description``),
* one frozen dataclass config deriving from :class:`LabConfig` (or :class:`TrainConfig` when
  it trains a Keras model), each field declared with :func:`arg` so it documents itself,
* its quick mode declared once, as a class attribute ``QUICK`` mapping field names to tiny
  values (``QUICK = labkit.quick(epochs=2, n_train=256)``): ``Config(quick=True)`` (``--quick``,
  what the tests run) replaces those fields with these values, whatever was passed, so
  ``run()`` reads ``cfg.epochs`` and never branches on ``cfg.quick`` for a size; it checks
  ``cfg.quick`` only for what is not a setting (e.g. no TensorBoard logs in a smoke test),
* ``run(cfg, datasets=None) -> dict``: the whole lab; tests pass tiny data through
  ``datasets``; it writes ``metrics.json`` and PNG figures into :func:`run_dir`,
* ``main(argv=None)``: ``return labkit.cli(run, Config, __doc__, argv)``.

``make labs`` runs every registered lab in its own process (so one failure or one leak does not
touch the others, and each lab's peak memory is measured) and writes ``runs/REPORT.md``.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
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
    atomic_path,
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


def apply_quick(cfg: LabConfig) -> None:
    """Replace ``cfg``'s fields by its class's ``QUICK`` values, then check them again."""
    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(cfg.QUICK) - names)
    if unknown:
        raise TypeError(f"{type(cfg).__qualname__}.QUICK names no field: {', '.join(unknown)}")
    for name, value in cfg.QUICK.items():
        object.__setattr__(cfg, name, value)  # a frozen dataclass sets fields in __post_init__
    validate_config(cfg)


@dataclass(frozen=True)
class TrainConfig(LabConfig, training_config.TrainConfig):
    """Fields every lab that trains a Keras model has: :class:`LabConfig`'s plus the execution
    switches of :class:`dlcourse.training.TrainConfig` (what ``fit`` takes)."""


# --------------------------------------------------------------------------- running one lab


def run_dir(cfg: LabConfig, lab: str) -> Path:
    """The lab's output folder ``<cfg.out_dir>/<lab>/``, created if missing."""
    path = Path(cfg.out_dir) / lab
    path.mkdir(parents=True, exist_ok=True)
    return path


def lab_name(module_file: str) -> str:
    """``labs/01_normal_equation.py`` -> ``01_normal_equation`` (a lab's run-folder name)."""
    return Path(module_file).stem


def save_metrics(folder: Path, metrics: dict) -> Path:
    """Write ``metrics.json`` atomically and return its path."""
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
    if os.environ.get(_PEAK_RSS_ENV):  # run by run_all: report this process's own peak
        atexit.register(_write_peak_rss, Path(os.environ[_PEAK_RSS_ENV]))
    parser = config_parser(cfg_cls, description=doc)
    values = vars(parser.parse_args(argv))
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        cfg = cfg_cls(**values)
    except (TypeError, ValueError) as err:  # a bad flag value: a usage error
        flag = getattr(err, "field", None)
        where = f" (flag --{flag.replace('_', '-')})" if flag else ""
        raise errors.UsageError(f"{err}{where}") from err
    module = sys.modules.get(run.__module__)
    lab = lab_name(module.__file__) if getattr(module, "__file__", None) else None
    with _no_empty_folder(Path(cfg.out_dir) / lab if lab else None):
        metrics = run(cfg)
    print(json.dumps(flatten_scalars(metrics), indent=2, default=str))
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
    spec = importlib.util.spec_from_file_location(mod_name, lab.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


def run_lab(key: str, datasets: Any = None, **overrides: Any) -> dict:
    """Run a lab in this process: ``run_lab("01", quick=True, out_dir="/tmp/runs")``."""
    module = load_lab(key)
    cfg = module.Config(**overrides)
    with _no_empty_folder(Path(cfg.out_dir) / find_lab(key).name):
        return module.run(cfg, datasets=datasets)


def describe(key: str) -> str:
    """The lab's header and its flags, as the ``--help`` text shows them."""
    lab = find_lab(key)
    module = load_lab(key)
    return config_parser(module.Config, module.__doc__, prog=lab.path.name).format_help()


def _read_header(path: Path) -> dict[str, str]:
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    header, key = {}, None
    for line in doc.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]*):\s*(.*)$", line)
        if m:
            key = m.group(1)
            header[key] = m.group(2).strip()
        elif key and line.strip() and key == "Description":
            header[key] += " " + line.strip()
        elif not line.strip():
            key = None
    return header


# --------------------------------------------------------------------------- run all + report


def run_all(
    keys: Sequence[str] | None = None,
    out_dir: str = DEFAULT_OUT,
    extra_args: Sequence[str] = (),
    *,
    force: bool = False,
) -> list[dict]:
    """Run labs one process each, record wall time and peak RSS, then write the report.

    A lab whose last run in ``out_dir`` completed with the same code and arguments (see
    :func:`fingerprint`) is skipped, so rerunning after an interruption carries on where it
    stopped; ``force`` reruns every lab. A lab killed mid-training resumes from its backup.
    """
    labs = [find_lab(k) for k in keys] if keys else list_labs()
    results = []
    for i, lab in enumerate(labs, 1):
        print(f"\n=== [{i}/{len(labs)}] {lab.name}: {lab.title}", flush=True)
        done = None if force else _completed_run(lab, out_dir, extra_args)
        if done is not None:
            print(
                f"=== {lab.name}: skipped, its last run completed with the same code and "
                "arguments (--force, or FORCE=1 with make, reruns it)",
                flush=True,
            )
            results.append({**done, "skipped": True})
            continue
        result = run_subprocess(lab, out_dir, extra_args)
        results.append(result)
        status = "ok" if result["returncode"] == 0 else f"FAILED (exit {result['returncode']})"
        rss = result["peak_rss_mb"]
        rss_text = f", peak RSS {rss:.0f} MB" if rss is not None else ""
        print(f"=== {lab.name}: {status} in {result['wall_s']:.1f} s{rss_text}", flush=True)
    # No report where no lab got as far as its run folder (e.g. every one refused a bad flag).
    report = write_report(out_dir) if Path(out_dir).is_dir() else "none (nothing ran)"
    failed = [r["lab"] for r in results if r["returncode"] != 0]
    skipped = sum(1 for r in results if r.get("skipped"))
    print(
        f"\n{len(results) - len(failed)} passed ({skipped} skipped as up to date), "
        f"{len(failed)} failed; report: {report}"
    )
    if failed:
        print("failed labs: " + ", ".join(failed))
    return results


def fingerprint(lab: LabInfo, extra_args: Sequence[str]) -> str:
    """SHA-256 of the lab file, every dlcourse source file and the lab's arguments."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in [lab.path, *sorted(package.rglob("*.py"))]:
        digest.update(str(path.relative_to(path.parents[1])).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(list(extra_args)).encode())
    return digest.hexdigest()


def _completed_run(lab: LabInfo, out_dir: str, extra_args: Sequence[str]) -> dict | None:
    """The last run's info if it completed (exit 0, metrics written) with this fingerprint."""
    folder = Path(out_dir) / lab.name
    info = _read_json(folder / "run_info.json")
    if not info or info.get("returncode") != 0 or not (folder / "metrics.json").exists():
        return None
    return info if info.get("fingerprint") == fingerprint(lab, extra_args) else None


_PEAK_RSS_ENV = "DLCOURSE_PEAK_RSS_FILE"


def _peak_rss_mb() -> float | None:
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
    peak = _peak_rss_mb()
    if peak is not None:
        path.write_text(str(peak))


def run_subprocess(lab: LabInfo, out_dir: str, extra_args: Sequence[str]) -> dict:
    """Run one lab in its own process; record exit code, wall time and peak RSS."""
    cmd = [sys.executable, str(lab.path), "--out-dir", out_dir, *extra_args]
    folder = Path(out_dir) / lab.name
    (folder / "run_info.json").unlink(missing_ok=True)  # a killed rerun must not look complete
    key = fingerprint(lab, extra_args)
    fd, rss_file = tempfile.mkstemp(prefix=".peak_rss_mb.")  # not in the lab's own folder
    os.close(fd)
    rss_file = Path(rss_file)
    start = time.perf_counter()
    env = {**os.environ, _PEAK_RSS_ENV: str(rss_file)}
    try:
        proc = subprocess.run(cmd, check=False, env=env)  # a failing lab is recorded, not raised
        rss_text = rss_file.read_text()
    finally:
        rss_file.unlink(missing_ok=True)
    info = {
        "lab": lab.name,
        "command": " ".join(cmd),
        "returncode": proc.returncode,
        "wall_s": round(time.perf_counter() - start, 2),
        # None when the lab died before it could report (e.g. killed by a signal).
        "peak_rss_mb": float(rss_text) if rss_text else None,
        "fingerprint": key,
    }
    if folder.is_dir():  # a lab that stopped before creating its folder leaves nothing behind
        write_json(folder / "run_info.json", info)
    return info


def write_report(out_dir: str = DEFAULT_OUT) -> Path:
    """``runs/REPORT.md``: one section per lab with its metrics, run info and figures."""
    out = Path(out_dir)
    lines = ["# dlcourse lab report", ""]
    summary = ["| lab | title | status | wall (s) | peak RSS (MB) |", "|---|---|---|---|---|"]
    sections = []
    for lab in list_labs():
        folder = out / lab.name
        metrics = _read_json(folder / "metrics.json")
        info = _read_json(folder / "run_info.json")
        if metrics is None and info is None:
            continue
        ok = metrics is not None and (info is None or info.get("returncode") == 0)
        status = "ok" if ok else "failed"
        wall = info.get("wall_s", "") if info else ""
        rss = info.get("peak_rss_mb", "") if info else ""
        summary.append(f"| [{lab.name}](#{lab.name}) | {lab.title} | {status} | {wall} | {rss} |")
        sections += [f"## {lab.name}", "", f"**{lab.title}**", ""]
        if lab.header.get("Description"):
            sections += [lab.header["Description"], ""]
        if lab.header.get("Notes"):
            sections += [f"Notes: {lab.header['Notes']}", ""]
        if metrics:
            sections += ["| metric | value |", "|---|---|"]
            sections += [f"| {k} | {_fmt(v)} |" for k, v in flatten_scalars(metrics).items()]
            sections.append("")
        for png in sorted(folder.glob("*.png")):
            sections += [f"![{png.stem}]({lab.name}/{png.name})", ""]
    lines += summary + [""] + sections
    path = out / "REPORT.md"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


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


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
