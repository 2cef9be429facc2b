"""docs/lessons.md cannot drift from the labs: every lesson's "checked by" cell has one of its
three forms, names labs that exist, and quotes claim text those labs still state.

Static (the claim texts are read from the lab files with :mod:`ast`), so it trains nothing; the
quick run of each lab (test_notebook.py) checks the same fragments against the claims it states.
"""

from __future__ import annotations

import pytest
from lessons_doc import (
    LESSONS,
    Row,
    claim_strings,
    fragments_by_lab,
    lab_claim_strings,
    missing_fragments,
    read_rows,
    rows,
)

from dlcourse import labkit

TABLE = read_rows()
HEADER = "| lesson | notes | checked by |\n|---|---|---|\n"


def _problems(table: list[Row]) -> list[str]:
    """Every reason a table is wrong: a bad cell, a TODO, an unknown lab, a missing fragment."""
    problems, labs, claims = [], {}, {}
    for row in table:
        where = f"lessons.md:{row.line} ({row.lesson[:50]}...)"
        if row.kind == "bad":
            problems.append(f"{where}: 'checked by' has no known form: {row.checked_by!r}")
        elif row.kind == "todo":
            problems.append(f"{where}: still {row.checked_by!r}")
        for number, fragment in row.refs:
            if number not in labs:
                try:
                    labs[number] = labkit.find_lab(number)
                except ValueError:
                    labs[number] = None
            lab = labs[number]
            if lab is None:
                problems.append(f"{where}: there is no lab {number}")
                continue
            if number not in claims:
                claims[number] = lab_claim_strings(lab.path)
            if missing_fragments([fragment], claims[number]):
                problems.append(f"{where}: no claim of {lab.name} says {fragment!r}")
    return problems


def test_the_page_has_lessons_in_every_unit():
    assert len(TABLE) >= 64, f"{LESSONS} lists only {len(TABLE)} lessons"
    text = LESSONS.read_text()
    for unit in ("Unit I:", "Unit II:", "Unit III:", "Unit IV:"):
        assert f"## {unit}" in text
    assert len({row.lesson for row in TABLE}) == len(TABLE), "a lesson is listed twice"


def test_every_lesson_is_checked_by_a_lab_claim_or_says_why_not():
    problems = _problems(TABLE)
    assert not problems, "\n".join(problems)


def test_a_claim_that_disappears_from_its_lab_is_caught():
    good = '| x | 000 | lab 01: "Batch gradient descent converges to the normal equation" |\n'
    assert not _problems(rows(HEADER + good))
    gone = '| x | 000 | lab 01: "Batch gradient descent diverges" |\n'
    problem = "lessons.md:3 (x...): no claim of 01_linear_regression says 'Batch gradient "
    assert _problems(rows(HEADER + gone)) == [problem + "descent diverges'"]
    # One good fragment does not hide a missing one in the same cell.
    both = good.replace('" |', '"; lab 01: "never stated anywhere" |')
    assert len(_problems(rows(HEADER + both))) == 1


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("TODO lab 35", "still 'TODO lab 35'"),
        ('lab 98: "anything"', "there is no lab 98"),
        ("checked by lab 01", "no known form"),
        ("lab 01: Batch gradient descent", "no known form"),  # no quotes
        ('lab 1: "Batch gradient descent"', "no known form"),  # a two-digit number
        ('lab 01: "Batch gradient descent", lab 02: "Too small"', "no known form"),  # not `; `
        ("not checked:", "no known form"),  # no reason
        ("", "no known form"),
    ],
)
def test_a_malformed_or_unfinished_row_is_rejected(cell, problem):
    table = rows(HEADER + f"| a lesson | 000 | {cell} |\n")
    assert len(table) == 1
    found = _problems(table)
    assert len(found) == 1 and problem in found[0], found


def test_the_three_forms_parse():
    table = rows(
        HEADER + '| a | 000 | lab 01: "x"; lab 02: "y z" |\n'
        "| b | 001 | not checked: needs ImageNet |\n"
        "| c | 002 | TODO lab 55 |\n"
    )
    assert [r.kind for r in table] == ["lab", "not checked", "todo"]
    assert table[0].refs == [("01", "x"), ("02", "y z")] and table[1].refs == table[2].refs == []
    assert fragments_by_lab(table) == {"01": ["x"], "02": ["y z"]}
    with pytest.raises(ValueError, match="lessons.md:3: 2 cells"):
        rows(HEADER + "| a | b |\n")
    # Tables with other columns, and text around the tables, are not rows.
    assert rows("| a | b |\n|---|---|\n| 1 | 2 |\n\ntext | with a bar\n") == []


def test_claim_texts_are_read_from_the_claim_calls_only():
    source = '''
"""Lesson: the docstring is not a claim."""
from dlcourse import labkit

HELP = "a help string is not a claim"
SHARED = "a text kept in a module constant"


def check(text, value):
    return labkit.at_least(text, value, 1.0)


def run(cfg, name="relu"):
    prefix = "Prefix, " if cfg else "Other prefix, "
    return [
        labkit.claim("A plain " "concatenated text", True),
        labkit.beats(f"After {cfg.epochs} epochs, {name} beats sigmoid", 1, 0),
        labkit.within(text=prefix + "then the rest", error=0, tolerance=1),
        labkit.claim(SHARED, True),
        check("Built in a helper", 2),
    ]
'''
    strings = claim_strings(source)
    assert {
        "A plain concatenated text",
        "After ",
        " epochs, ",
        " beats sigmoid",
        "Prefix, ",
        "Other prefix, ",
        "then the rest",
        "a text kept in a module constant",
        "Built in a helper",
    } <= strings
    assert not missing_fragments(["epochs, ", "plain concatenated", "in a helper"], strings)
    for not_a_claim in ("the docstring", "help string", "relu", "1.0"):
        assert missing_fragments([not_a_claim], strings) == [not_a_claim]
