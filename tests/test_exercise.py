"""Solution regions, student versions and the notebook's explicit cell split."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from dlcourse import checks, cli, exercise, labkit, notebook, release

EXERCISE_LABS = [lab.name for lab in labkit.list_labs() if exercise.BEGIN in lab.path.read_text()]

SOURCE = """def f(x):
    y = x + 1
    # Return twice y.
    ### BEGIN SOLUTION
    z = 2 * y
    ### END SOLUTION
    return z


### BEGIN HIDDEN TESTS
def check_f(ns):
    return {"claim": "f doubles", "holds": ns["f"](1) == 4}
### END HIDDEN TESTS
"""


def test_regions_are_found_with_their_instruction_and_function():
    (region,) = exercise.regions(SOURCE, "toy.py")
    assert (region.instruction_line, region.begin, region.end) == (3, 4, 6)
    assert region.instruction == "Return twice y."
    assert region.function == "f" and region.indent == "    "


@pytest.mark.parametrize(
    "edit, line, problem",
    [
        (("    ### END SOLUTION\n", ""), 4, "without its end marker"),
        (("    ### BEGIN SOLUTION\n", ""), 5, "without a `### BEGIN SOLUTION` above"),
        (("    z = 2 * y\n", "    ### BEGIN SOLUTION\n    z = 2 * y\n"), 5, "nested"),
        (("    # Return twice y.\n", ""), 3, "instruction comment right above"),
        (("    z = 2 * y\n", ""), 4, "empty solution region"),
        (("    ### END SOLUTION", "  ### END SOLUTION"), 6, "indented unlike"),
        (("### END HIDDEN TESTS\n", ""), 10, "without its end marker"),
    ],
)
def test_a_malformed_region_is_an_error_naming_the_file_and_line(edit, line, problem):
    with pytest.raises(exercise.ExerciseError, match=rf"^toy.py:{line}: .*{problem}"):
        exercise.regions(SOURCE.replace(*edit), "toy.py")


def test_transform_drops_stubs_or_keeps_the_regions_and_always_drops_hidden_tests():
    solution = exercise.transform(SOURCE, "solution")
    assert "### " not in solution and "    z = 2 * y\n" in solution and "check_f" not in solution
    assert "    # Return twice y.\n" in solution
    student = exercise.transform(SOURCE, "student")
    assert "z = 2 * y" not in student and "check_f" not in student
    assert f"    # Return twice y.\n    {exercise.STUB}\n    raise NotImplementedError(" in student
    ns: dict = {}
    exec(compile(student, "student.py", "exec"), ns)  # noqa: S102 (the student version runs)
    with pytest.raises(NotImplementedError, match="see the comment above"):
        ns["f"](1)
    source = exercise.transform(SOURCE, "source")
    assert exercise.BEGIN in source and "check_f" not in source
    with pytest.raises(ValueError, match="mode"):
        exercise.transform(SOURCE, "teacher")


# --------------------------------------------------------------------------- the cell split


def _toy_lab(tmp_path: Path, body_edit: tuple[str, str] | None = None) -> labkit.LabInfo:
    labs = tmp_path / "labs"
    labs.mkdir(exist_ok=True)
    text = Path(labkit.find_lab("01").path).read_text()
    if body_edit:
        assert body_edit[0] in text
        text = text.replace(*body_edit)
    (labs / "01_linear_regression.py").write_text(text)
    return labkit.list_labs(labs)[0]


def test_a_section_comment_that_starts_no_cell_is_an_error_naming_file_and_line(tmp_path):
    edit = ("    }\n\n    # The iterative fits", "    }\n    # The iterative fits")
    lab = _toy_lab(tmp_path, edit)
    line = lab.path.read_text().splitlines().index("    # The iterative fits: batch GD at a "
                                                   "fixed rate; stochastic and mini-batch GD "
                                                   "on a schedule.") + 1  # fmt: skip
    with pytest.raises(notebook.NotebookError, match=rf"01_linear_regression.py:{line}: .*blank"):
        notebook.build(lab)


def test_tool_pragmas_stay_out_of_the_notebook_cells():
    src = (
        "import dlcourse  # noqa: F401 (first: reasons)\n\n# isort: split\n\n"
        'x = f(1,\n      2)  # fmt: skip\ns = "# noqa: a string"  # type: ignore[arg-type]\n'
        "y = 1  # why  # noqa: E501\n"
    )
    assert exercise.strip_pragmas(src) == (
        'import dlcourse  # first: reasons\n\n\nx = f(1,\n      2)\ns = "# noqa: a string"\n'
        "y = 1  # why\n"
    )
    for name in EXERCISE_LABS:  # every cell of the labs this suite owns, in every form
        lab = labkit.find_lab(name)
        for nb in [*(notebook.build(lab, mode) for mode in notebook.MODES),
                   release.nbgrader_notebook(lab)]:  # fmt: skip
            for cell in nb.cells:
                assert not exercise._PRAGMA.search(cell.source), (name, cell.source)


# --------------------------------------------------------------------------- student versions


@pytest.mark.parametrize("name", EXERCISE_LABS)
def test_each_exercise_lab_has_a_student_script_and_notebook(name):
    lab = labkit.find_lab(name)
    source = lab.path.read_text()
    regions = exercise.regions(source, lab.path)
    assert 1 <= len(regions) <= 4
    assert checks.check_names(lab), f"{name} has no hidden checks"
    script = exercise.student_script(lab)
    ast.parse(script)
    assert script.count(exercise.STUB) == len(regions) and "def check_" not in script
    for region in regions:  # the solution is gone, the instruction stays
        solution = source.splitlines()[region.begin : region.end - 1]
        assert "\n".join(solution) not in script
        assert source.splitlines()[region.begin - 2] in script
    nb = notebook.build(lab, "student")
    stubs = [c for c in nb.cells if c.cell_type == "code" and exercise.STUB in c.source]
    assert sum(c.source.count(exercise.STUB) for c in stubs) == len(regions)
    assert all(exercise.BEGIN not in c.source and "def check_" not in c.source for c in nb.cells)
    solution_nb = notebook.build(lab, "solution")  # `labs notebook`: same cells, solved
    assert [c.id for c in solution_nb.cells] == [c.id for c in nb.cells]
    assert all(exercise.BEGIN not in c.source for c in solution_nb.cells)


@pytest.mark.parametrize("name", EXERCISE_LABS)
def test_the_nbgrader_source_notebook_has_schema_3_metadata(name):
    lab = labkit.find_lab(name)
    nb = release.nbgrader_notebook(lab)
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert all(m["schema_version"] == 3 for m in meta)
    ids = [m["grade_id"] for m in meta]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    solutions = [c for c in nb.cells if c.metadata["nbgrader"]["solution"]]
    assert solutions and all(exercise.BEGIN in c.source for c in solutions)
    tests = [c for c in nb.cells if c.metadata["nbgrader"]["grade"]]
    assert all(c.metadata["nbgrader"]["points"] == 1 and c.metadata["nbgrader"]["locked"]
               for c in tests)  # fmt: skip
    assert all("### BEGIN HIDDEN TESTS" in c.source for c in tests)
    names = {c.metadata["nbgrader"]["grade_id"] for c in tests}
    assert {f"check_{n}" for n in checks.check_names(lab)} <= names
    # Each check's cell follows the cell of its exercise.
    for i, cell in enumerate(nb.cells):
        gid = cell.metadata["nbgrader"]["grade_id"]
        if gid.startswith("check_"):
            before = [c for c in nb.cells[:i] if c.metadata["nbgrader"]["solution"]]
            assert before, f"{gid} comes before any exercise"


def test_every_lab_is_an_exercise():
    assert EXERCISE_LABS == [lab.name for lab in labkit.list_labs()]
    for lab in labkit.list_labs():
        assert 1 <= lab.path.read_text().count(exercise.BEGIN) <= 4, lab.name
        assert checks.check_names(lab), f"{lab.name} has no hidden check"


def test_labs_exercise_writes_student_files_and_reports_a_lab_without_regions(
    tmp_path, capsys, monkeypatch
):
    assert cli.main(["labs", "exercise", EXERCISE_LABS[0], "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [f"{EXERCISE_LABS[0]}.ipynb", f"{EXERCISE_LABS[0]}.py"]
    nbformat.validate(nbformat.read(tmp_path / written[0], as_version=4))
    assert cli.main(["labs", "exercise", "--nbgrader", EXERCISE_LABS[0], "--out",
                     str(tmp_path / "course")]) == 0  # fmt: skip
    assert (tmp_path / "course" / "source" / EXERCISE_LABS[0] / written[0]).exists()
    # A lab without regions (lab 01 with its markers taken out) is refused by name.
    labs = tmp_path / "plain"
    labs.mkdir()
    lab_file = Path(shutil.copy(labkit.find_lab("01").path, labs))
    lines = lab_file.read_text().splitlines(keepends=True)
    lab_file.write_text("".join(l for l in lines if "### BEGIN SOLUTION" not in l
                                and "### END SOLUTION" not in l))  # fmt: skip
    plain = labkit.list_labs(labs)[0]
    monkeypatch.setattr(labkit, "find_lab", lambda key, labs_dir=None: plain)
    assert cli.main(["labs", "exercise", "01", "--out", str(tmp_path / "x")]) == 1
    assert "no solution regions" in capsys.readouterr().err


def test_a_malformed_region_stops_the_notebook_naming_the_line(tmp_path):
    labs = tmp_path / "labs"
    labs.mkdir()
    lab_file = Path(shutil.copy(labkit.find_lab("01").path, labs))
    text = lab_file.read_text()
    lab_file.write_text(text.replace("        ### END SOLUTION\n", "", 1))
    with pytest.raises(notebook.NotebookError, match=r"01_linear_regression.py:\d+: .*end marker"):
        notebook.build(labkit.list_labs(labs)[0])
