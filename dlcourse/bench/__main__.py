"""``python -m dlcourse.bench`` (``make bench``): run every benchmark topic, rewrite BENCHMARKS.md.

    python -m dlcourse.bench                      # every topic, full size (< 30 min on 2 cores)
    python -m dlcourse.bench --quick              # tiny sizes: a smoke test, not a measurement
    python -m dlcourse.bench --only gpu labs      # some topics; the other sections are kept
    python -m dlcourse.bench --list

A topic is a module of :mod:`dlcourse.bench` (found with ``pkgutil``) with
``run(quick=False) -> list[Table]``. The file gets: the machine description, the hand-recorded
section between ``<!-- manual -->`` and ``<!-- /manual -->`` (kept as it is), one section per
topic, and the wall time of the run. A topic that raises is reported in its section with the
error, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import pkgutil
import platform
import re
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dlcourse.bench as bench_pkg
from dlcourse.bench import Table
from dlcourse.utils import atomic_path

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_OUTPUT = ROOT / "BENCHMARKS.md"
MANUAL = ("<!-- manual -->", "<!-- /manual -->")
_SECTION = re.compile(r"<!-- topic: (?P<name>[\w]+) -->\n.*?<!-- /topic -->\n", re.DOTALL)
MEASURED = re.compile(r"_Measured in (\d+) s, full mode\._")  # a section's own timing line


@dataclass
class Result:
    topic: str
    tables: list[Table]
    seconds: float
    error: str | None = None


def topics() -> list[str]:
    """Every benchmark module in dlcourse/bench/, in name order."""
    return sorted(
        m.name for m in pkgutil.iter_modules(bench_pkg.__path__) if not m.name.startswith("_")
    )


def run_topic(name: str, quick: bool) -> Result:
    """Import and run one topic; an exception becomes the result's ``error``."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"dlcourse.bench.{name}")
        tables = list(module.run(quick=quick))
        for t in tables:
            _check_table(t)
        return Result(name, tables, time.perf_counter() - start)
    except Exception:  # noqa: BLE001 (reported in BENCHMARKS.md and by the exit code)
        return Result(name, [], time.perf_counter() - start, traceback.format_exc(limit=6))
    finally:
        _reset_keras()


def _check_table(t: Table) -> None:
    if not isinstance(t, Table):
        raise ValueError(  # noqa: TRY004 (the project's one error type)
            f"A topic must return Table objects. Received: {type(t).__name__}"
        )
    bad = [i for i, row in enumerate(t.rows) if len(row) != len(t.columns)]
    if bad:
        raise ValueError(
            f"Table {t.title!r}: rows {bad} do not have {len(t.columns)} cells ({t.columns})"
        )


def _reset_keras() -> None:
    if "keras" in sys.modules:
        import keras

        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def machine() -> list[str]:
    """Where the figures were measured: CPU, cores, RAM, OS, Python, TF/Keras, GPU, date."""
    import keras
    import psutil
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    now = datetime.datetime.now(datetime.UTC)
    return [
        f"- CPU: {_cpu_model()}",
        f"- cores: {os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical",
        f"- RAM: {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- OS: {platform.platform()}",
        (
            f"- Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__}"
        ),
        f"- GPU: {', '.join(names) if names else 'none'}",
        f"- date: {now:%Y-%m-%d %H:%M} UTC",
    ]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def read_existing(path: Path) -> tuple[str | None, dict[str, str]]:
    """The manual block and the topic sections of an existing BENCHMARKS.md."""
    text = path.read_text() if path.exists() else ""
    manual = None
    start, end = text.find(MANUAL[0]), text.find(MANUAL[1])
    if 0 <= start < end:
        manual = text[start : end + len(MANUAL[1])]
    sections = {m["name"]: m.group(0) for m in _SECTION.finditer(text)}
    return manual, sections


def render_section(result: Result, quick: bool) -> str:
    doc = _topic_doc(result.topic)
    lines = [f"<!-- topic: {result.topic} -->", f"## {result.topic}", ""]
    if doc:
        lines += [doc, ""]
    mode = "quick (smoke-test sizes, not representative)" if quick else "full"
    lines += [f"_Measured in {result.seconds:.0f} s, {mode} mode._", ""]
    if result.error:
        lines += ["**FAILED**:", "", "```", result.error.rstrip(), "```", ""]
    lines += [t.to_markdown() for t in result.tables]
    return "\n".join(lines).rstrip() + "\n<!-- /topic -->\n"


def _topic_doc(name: str) -> str:
    module = sys.modules.get(f"dlcourse.bench.{name}")
    doc = (getattr(module, "__doc__", None) or "").strip()
    return doc.split("\n\n")[0].replace("\n", " ") if doc else ""


def render(
    machine_lines: list[str],
    manual: str | None,
    sections: dict[str, str],
    order: list[str],
    footer: str,
) -> str:
    manual = manual or f"{MANUAL[0]}\n_(make labs / make test wall times go here)_\n{MANUAL[1]}"
    parts = [
        "# dlcourse benchmarks",
        "",
        (
            "Written by `make bench` (`python -m dlcourse.bench`); every ratio is measured within one "
            "run, every absolute figure on the machine below."
        ),
        "",
        "## Machine",
        "",
        *machine_lines,
        "",
        "## Recorded by hand",
        "",
        manual,
        "",
    ]
    parts += [sections[name] for name in order if name in sections]
    parts += ["", footer, ""]
    return "\n".join(parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m dlcourse.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    p.add_argument("--only", nargs="+", metavar="TOPIC", help="run only these topics")
    p.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="file to rewrite (default: BENCHMARKS.md at the repository root)",
    )
    p.add_argument("--list", action="store_true", help="list the topics and exit")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    known = topics()
    if args.list:
        print("\n".join(known))
        return 0
    chosen = args.only or known
    unknown = [t for t in chosen if t not in known]
    if unknown:
        print(
            f"error: Unknown benchmark topic. Received: only={unknown}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    manual, sections = read_existing(args.output)
    start = time.perf_counter()
    failed = []
    for i, name in enumerate(chosen, 1):
        print(f"=== bench [{i}/{len(chosen)}] {name}", flush=True)
        result = run_topic(name, args.quick)
        if result.error:
            failed.append(name)
            print(result.error, file=sys.stderr)
        print(
            f"=== {name}: {'FAILED' if result.error else 'ok'} in {result.seconds:.1f} s",
            flush=True,
        )
        sections[name] = render_section(result, args.quick)
    total = time.perf_counter() - start
    scope = "every topic" if not args.only else "topics " + ", ".join(chosen)
    footer = (
        f"_Last bench run ({scope}{', quick mode' if args.quick else ''}) took "
        f"{total:.0f} s of wall time._"
    )
    if args.only:  # what one full `make bench` would take, from the sections' own timings
        timed = [int(m) for text in sections.values() for m in MEASURED.findall(text)]
        footer += f" _The sections' measured times add up to {sum(timed)} s._"
    text = render(machine(), manual, sections, known + sorted(set(sections) - set(known)), footer)
    with atomic_path(args.output) as tmp:
        tmp.write_text(text)
    print(f"wrote {args.output}" + (f"; failed topics: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    from dlcourse.errors import run_main

    sys.exit(run_main(main))
