"""The benchmark suite runner: topics, BENCHMARKS.md layout, the manual block, failures."""

from __future__ import annotations

import json
import re
import sys
import types

import pytest

from dlcourse.bench import Table
from dlcourse.bench import __main__ as runner
from dlcourse.bench import labs as labs_bench

MANUAL = "<!-- manual -->\n| target | wall |\n|---|---|\n| make labs | 812 s |\n<!-- /manual -->"


def _tables(text: str) -> list[list[str]]:
    """Every markdown table in ``text`` as its lines."""
    return [b.strip().splitlines() for b in re.findall(r"(?:^\|.*\|\n)+", text, re.MULTILINE)]


def _assert_well_formed(text: str) -> None:
    tables = _tables(text)
    assert tables
    for lines in tables:
        widths = {line.count("|") for line in lines}
        assert len(widths) == 1, lines  # header, rule and rows have the same cell count
        assert re.fullmatch(r"\|(---\|)+", lines[1]), lines[1]


def test_quick_run_writes_sections_and_keeps_the_manual_block(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    kept = "<!-- topic: distributed -->\n## distributed\nold figures\n<!-- /topic -->\n"
    out.write_text(f"# old\n\n{MANUAL}\n\n{kept}")
    assert runner.main(["--quick", "--only", "gpu", "labs", "--output", str(out)]) == 0
    text = out.read_text()
    assert MANUAL in text and kept in text  # untouched: hand-written block, topic not re-run
    assert "## Machine" in text and "- CPU: " in text and "TensorFlow 2." in text
    assert re.search(r"- calibration: 200 training steps .* in [\d.]+ s", text)
    assert text.index("## gpu") < text.index("## labs")  # topics in name order
    gpu = re.search(r"## gpu.*?<!-- /topic -->", text, re.DOTALL)[0]
    assert "no GPU on this machine" in gpu or "images/s" in gpu
    labs = re.search(r"## labs.*?<!-- /topic -->", text, re.DOTALL)[0]
    row = next(line for line in labs.splitlines() if line.startswith("| 01_"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["quick", "ok"] and float(cells[3]) > 0 and float(cells[5]) > 0
    before = json.loads(labs_bench.BEFORE.read_text())["labs"]["01_linear_regression"]["wall_s"]
    assert float(cells[4]) == before  # the same lab before issue 24, beside it
    assert re.search(r"took \d+ s of wall time", text)
    _assert_well_formed(text)


def test_a_failing_topic_is_reported_and_fails_the_run(tmp_path, monkeypatch):
    boom = types.ModuleType("dlcourse.bench.boom")
    boom.__doc__ = "A topic that breaks."
    boom.run = lambda quick=False: 1 / 0
    ragged = types.ModuleType("dlcourse.bench.ragged")
    ragged.run = lambda quick=False: [Table("t", ["a", "b"], [[1]])]
    monkeypatch.setitem(sys.modules, "dlcourse.bench.boom", boom)
    monkeypatch.setitem(sys.modules, "dlcourse.bench.ragged", ragged)
    monkeypatch.setattr(runner, "topics", lambda: ["boom", "gpu", "ragged"])
    out = tmp_path / "B.md"
    assert runner.main(["--quick", "--output", str(out)]) == 1
    text = out.read_text()
    assert "**FAILED**" in text and "ZeroDivisionError" in text
    assert "rows [0] do not have 2 cells" in text
    assert "## gpu" in text  # the other topics still ran
    assert "<!-- manual -->" in text  # an empty manual block is created for the coordinator


def test_unknown_topic_is_refused(tmp_path, capsys):
    assert runner.main(["--only", "nope", "--output", str(tmp_path / "x.md")]) == 2
    assert "Received: only=['nope']" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()


def test_topics_are_discovered():
    found = runner.topics()
    assert {"distributed", "gpu", "labs"} <= set(found)
    assert not any(t.startswith("_") for t in found)


@pytest.mark.parametrize(
    "metrics, accuracy",
    [
        ({"val_accuracy": 0.91, "test_accuracy": 0.9}, "test_accuracy: 0.9"),
        ({"mlp": {"val_accuracy": 0.8}, "time_to_val_accuracy_s": 3.0}, "mlp.val_accuracy: 0.8"),
        ({"loss": 0.1}, ""),
    ],
)
def test_lab_headlines(metrics, accuracy):
    assert labs_bench.headline_accuracy(metrics) == accuracy


def test_lab_time_to_accuracy():
    text = labs_bench.time_to_accuracy({"time_to_val_accuracy_s": 2.5, "a": {"time_to_x": None}})
    assert text == "time_to_val_accuracy_s: 2.5 s; a.time_to_x: not reached"


def _conditions(share: float, quick: bool = False) -> dict:
    return {
        "date": "2026-12-04 08:00 UTC",
        "seconds": 12.0,
        "quick": quick,
        "cores": 2,
        "cpu": "Some CPU",
        "gpu": "none",
        "versions": "TensorFlow 2.21.0, Keras 3.15.1",
        "load_before": 0.1,
        "load_after": 1.9,
        "others_share": share,
    }


def test_a_section_states_its_conditions_and_a_caveat_only_under_load():
    quiet = "\n".join(runner.conditions_lines(_conditions(0.02)))
    assert "2026-12-04 08:00 UTC" in quiet and "in 12 s, full mode" in quiet
    assert "load average 0.10 before, 1.90 after" in quiet and "used 2 %" in quiet
    assert "Caveat" not in quiet
    busy = "\n".join(runner.conditions_lines(_conditions(0.4)))
    assert "**Caveat**: other processes used 40 % of the 2 cores' time" in busy


def test_the_full_run_estimate_sums_the_sections_own_times():
    def section(name, c):
        return runner.render_section(runner.Result(name, [], c["seconds"], None, c), c["quick"])

    copied = runner.Result("e", [Table("t", ["a"], [[1]], source="0 of 1 rows measured")], 0.0)
    sections = {
        "e": runner.render_section(copied, False),
        "a": section("a", _conditions(0.0)),
        "b": "<!-- topic: b -->\n_Measured in 30 s, full mode._\n<!-- /topic -->\n",
        "c": section("c", _conditions(0.0, quick=True)),
    }
    text = runner.full_run_estimate(sections, ["a", "b", "c", "d", "e"])
    assert "runs 5 topics" in text and "add up to 42 s" in text
    assert "measured before conditions were recorded: b" in text
    assert "not counted (no full-mode run of all its rows yet): c, d, e" in text


def test_the_meter_measures_real_time_and_load():
    meter = runner.Meter(quick=True)
    c = meter.stop()
    assert c["seconds"] >= 0 and 0 <= c["others_share"] <= 1 and c["cores"] >= 1
    assert c["load_before"] >= 0 and c["versions"].startswith("TensorFlow ")


def test_copied_lab_rows_say_where_they_come_from(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_BENCH_LABS_BUDGET_S", "-1")  # every row past the budget
    monkeypatch.setattr(labs_bench.labkit, "DEFAULT_OUT", str(tmp_path))
    (table,) = labs_bench.run()
    assert table.source.startswith(f"0 of {len(table.rows)} rows measured by this bench run")
    assert "none found" in table.source
    assert {row[1] for row in table.rows} == {"not run (budget)"}


SEEDED_LAB = '''"""Title: a lab"""
from dataclasses import dataclass

from dlcourse import labkit
from dlcourse.labkit import arg


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    n: int = arg(8, "how many")

    QUICK = labkit.quick(n=2)


def run(cfg):
    return {"claims": [labkit.claim("n is 8", cfg.n == 8)]}


### BEGIN HIDDEN TESTS
def check_run(ns):
    return labkit.claim("runs", True)


### END HIDDEN TESTS
'''


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        ("Title: a lab", "Title: a renamed lab", True),  # the header docstring
        ("QUICK = labkit.quick(n=2)", "QUICK = labkit.quick(n=1)", True),  # never read at defaults
        ('claim("runs", True)', 'claim("runs", False)', True),  # a hidden check
        ("arg(8, ", "arg(9, ", False),  # a default: the seeds must run again
        ("cfg.n == 8", "cfg.n >= 8", False),  # the run's code
    ],
)
def test_a_seed_record_is_keyed_by_what_a_run_at_the_defaults_executes(tmp_path, old, new, same):
    from dlcourse.bench.seeds import code_sha256

    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(SEEDED_LAB)
    b.write_text(SEEDED_LAB.replace(old, new))
    assert a.read_text() != b.read_text()
    assert (code_sha256(a) == code_sha256(b)) is same
