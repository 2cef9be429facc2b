"""Benchmarks: scripts, not tests. ``make bench`` (``python -m dlcourse.bench``) runs them all.

Every module in this package whose name does not start with ``_`` is one topic. It exposes

    def run(quick: bool = False) -> list[Table]

and measures every ratio it reports within that one call, on this machine. ``quick`` shrinks
the work to a smoke test (the test suite runs it to check the tables are well formed).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    """One result table of BENCHMARKS.md."""

    title: str
    columns: list[str]
    rows: list[list[object]]
    notes: list[str] = field(default_factory=list)
    source: str = ""  # where the rows come from, when not (all) from this run's measurement

    def to_markdown(self) -> str:
        head = [f"### {self.title}", ""]
        head += ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in self.rows]
        notes = [""] + [f"- {n}" for n in self.notes] if self.notes else []
        return "\n".join(head + body + notes) + "\n"


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)
