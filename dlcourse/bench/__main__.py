"""``python -m dlcourse.bench`` (``make bench``): run every benchmark topic, rewrite BENCHMARKS.md.

    python -m dlcourse.bench                      # every topic, full size (time: see the footer)
    python -m dlcourse.bench --quick              # tiny sizes into runs/BENCHMARKS-quick.md
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
import json
import pkgutil
import re
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dlcourse.bench as bench_pkg
from dlcourse.bench import Table
from dlcourse.bench._conditions import CALIBRATION, Meter, _reset_keras, calibrate, machine
from dlcourse.utils import atomic_path

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_OUTPUT = ROOT / "BENCHMARKS.md"
QUICK_OUTPUT = ROOT / "runs" / "BENCHMARKS-quick.md"  # make bench-quick
MANUAL = ("<!-- manual -->", "<!-- /manual -->")
_SECTION = re.compile(r"<!-- topic: (?P<name>[\w]+) -->\n.*?<!-- /topic -->\n", re.DOTALL)
RECORD = re.compile(r"<!-- measured: (\{.*?\}) -->")  # a section's measured conditions
OLD_TIMING = re.compile(r"_Measured in (\d+) s, full mode\._")  # before conditions were recorded
BUSY_SHARE = 0.10  # other processes' share of the cores' time above which a section says so


@dataclass
class Result:
    topic: str
    tables: list[Table]
    seconds: float
    error: str | None = None
    conditions: dict | None = None  # what the machine was doing meanwhile: see Meter


def topics() -> list[str]:
    """Every benchmark module in dlcourse/bench/, in name order."""
    return sorted(
        m.name for m in pkgutil.iter_modules(bench_pkg.__path__) if not m.name.startswith("_")
    )


def run_topic(name: str, quick: bool) -> Result:
    """Import and run one topic; an exception becomes the result's ``error``."""
    meter = Meter(quick)
    try:
        module = importlib.import_module(f"dlcourse.bench.{name}")
        tables = list(module.run(quick=quick))
        for t in tables:
            _check_table(t)
        error = None
    except Exception:  # noqa: BLE001 (reported in BENCHMARKS.md and by the exit code)
        tables, error = [], traceback.format_exc(limit=6)
    finally:
        _reset_keras()
    conditions = meter.stop()
    return Result(name, tables, conditions["seconds"], error, conditions)


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
    lines += [*conditions_lines(result.conditions or {"seconds": result.seconds, "quick": quick})]
    lines += [f"_Rows: {t.source}_" for t in result.tables if t.source] + [""]
    if result.error:
        lines += ["**FAILED**:", "", "```", result.error.rstrip(), "```", ""]
    lines += [t.to_markdown() for t in result.tables]
    return "\n".join(lines).rstrip() + "\n<!-- /topic -->\n"


def conditions_lines(c: dict) -> list[str]:
    """The measured-conditions line of a section, its record and, only where the measured
    load calls for it, a caveat."""
    mode = "quick mode (smoke-test sizes, not a measurement)" if c["quick"] else "full mode"
    if "date" not in c:  # a section rendered without a Meter (tests)
        return [f"_Measured in {c['seconds']:.0f} s, {mode}._"]
    lines = [
        (
            f"_Measured {c['date']} in {c['seconds']:.0f} s, {mode}, on {c['cores']} cores "
            f"({c['cpu']}; GPU: {c['gpu']}), {c['versions']}. 1-minute load average "
            f"{c['load_before']:.2f} before, {c['load_after']:.2f} after; other processes used "
            f"{100 * c['others_share']:.0f} % of the cores' time meanwhile._"
        ),
        f"<!-- measured: {json.dumps(c, sort_keys=True)} -->",
    ]
    if c["others_share"] >= BUSY_SHARE:
        lines.append(
            f"**Caveat**: other processes used {100 * c['others_share']:.0f} % of the "
            f"{c['cores']} cores' time while this section ran, so its absolute figures (seconds, "
            "examples/s) are slower and noisier than on an idle machine; figures measured side "
            "by side in it (ratios) are less affected."
        )
    return lines


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
            "run. Each section says when it was measured, on which cores, CPU, GPU and library "
            "versions, and under what load; the machine of the last bench run:"
        ),
        "",
        "## Machine of the last bench run",
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


def full_run_estimate(sections: dict[str, str], known: list[str]) -> str:
    """What one full ``make bench`` takes, from each section's own measured time."""
    full, undated, missing = {}, [], []
    for name in known:
        text = sections.get(name, "")
        record, old = RECORD.search(text), OLD_TIMING.search(text)
        if "\n_Rows: " in text:  # some rows were not measured by that run: its time is short
            missing.append(name)
        elif record and not json.loads(record[1])["quick"]:
            full[name] = json.loads(record[1])["seconds"]
        elif old:
            full[name] = float(old[1])
            undated.append(name)
        else:
            missing.append(name)
    total = sum(full.values())
    text = (
        f"_A full `make bench` runs {len(known)} topics; their sections' last full-mode times "
        f"add up to {total:.0f} s ({total / 60:.0f} min)"
    )
    if undated:
        text += f"; measured before conditions were recorded: {', '.join(undated)}"
    if missing:
        text += f"; not counted (no full-mode run of all its rows yet): {', '.join(missing)}"
    return text + "._"


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
        default=None,
        help=(
            "file to rewrite (default: BENCHMARKS.md at the repository root; with --quick, "
            f"{QUICK_OUTPUT.relative_to(ROOT)}, so a smoke run never replaces measurements)"
        ),
    )
    p.add_argument("--list", action="store_true", help="list the topics and exit")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help=f"time the calibration workload ({CALIBRATION}) and exit",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.output is None:
        args.output = QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT
    known = topics()
    if args.list:
        print("\n".join(known))
        return 0
    if args.calibrate:
        print(f"calibration: {CALIBRATION} in {calibrate():.2f} s")
        return 0
    chosen = args.only or known
    unknown = [t for t in chosen if t not in known]
    if unknown:
        print(
            f"error: Unknown benchmark topic. Received: only={unknown}; known: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    manual, sections = read_existing(args.output)
    calibration_s = calibrate()
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
    now = datetime.datetime.now(datetime.UTC)
    footer = (
        f"_Last bench run ({scope}{', quick mode' if args.quick else ''}), ended "
        f"{now:%Y-%m-%d %H:%M} UTC, took {total:.0f} s of wall time._"
    )
    if not args.quick:
        footer += " " + full_run_estimate(sections, known)
    text = render(
        machine(calibration_s), manual, sections, known + sorted(set(sections) - set(known)), footer
    )
    with atomic_path(args.output) as tmp:
        tmp.write_text(text)
    print(f"wrote {args.output}" + (f"; failed topics: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    from dlcourse.errors import run_main

    sys.exit(run_main(main))
