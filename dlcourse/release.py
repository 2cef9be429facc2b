"""The student versions of the exercise labs: ``labs exercise`` (``make exercises``).

Per lab, the student script and notebook (each solution region a stub), or, with ``--nbgrader``,
the nbgrader source notebook: cell metadata of schema 3 (solution cells, locked cells, graded
cells with points and ``grade_id``s), a graded cell of hidden tests after each exercise (one per
hidden check, :mod:`dlcourse.checks`) and one per claim graded at quick settings.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from dlcourse import checks, exercise, labkit, notebook
from dlcourse.utils import atomic_path


def nbgrader_notebook(lab: labkit.LabInfo) -> nbformat.NotebookNode:
    """The lab's nbgrader source notebook (markers kept, metadata set, graded cells added)."""
    nb = notebook.build(lab, "source")
    result = re.search(r"format_claims\((\w+)", nb.cells[-1].source).group(1)
    nb.cells = _nbgrader_cells(lab, nb.cells, result)
    return nb


def write(
    keys: list[str] | None, out_dir: str | Path, *, nbgrader: bool = False
) -> tuple[list[Path], list[str]]:
    """Write each lab's student script and notebook (``nbgrader``: its nbgrader source notebook,
    ``<out>/source/<lab>/<lab>.ipynb``). Returns the files written and the labs refused, one
    line each (a lab without regions does not stop the others)."""
    labs = [labkit.find_lab(k) for k in keys] if keys else labkit.list_labs()
    out_dir, written, refused = Path(out_dir), [], []
    for lab in labs:
        try:
            if nbgrader:
                path = out_dir / "source" / lab.name / f"{lab.name}.ipynb"
                with atomic_path(path) as tmp:
                    nbformat.write(nbgrader_notebook(lab), str(tmp))
                written.append(path)
                continue
            script = exercise.student_script(lab)
            path = out_dir / f"{lab.name}.py"
            with atomic_path(path) as tmp:
                tmp.write_text(script)
            written += [path, notebook.write(lab, out_dir, mode="student")]
        except (exercise.ExerciseError, notebook.NotebookError) as err:
            refused.append(f"{lab.name}: {err}")
    return written, refused


def _nbgrader_cells(
    lab: labkit.LabInfo, cells: list[nbformat.NotebookNode], result: str
) -> list[nbformat.NotebookNode]:
    """nbgrader's cell metadata (schema 3): exercise cells are solution cells, the others locked;
    a graded cell with hidden tests after each exercise (one per hidden check) and after the
    claims (one per claim graded at quick settings)."""
    names = checks.check_names(lab)
    out = []

    def meta(cell, grade_id, *, solution=False, points=None):
        cell.metadata["nbgrader"] = {
            "grade": points is not None,
            "grade_id": grade_id,
            "locked": not solution,
            "schema_version": 3,
            "solution": solution,
            "task": False,
        } | ({"points": points} if points is not None else {})

    def test_cell(grade_id, call):
        cell = nbformat.v4.new_code_cell(
            f"### BEGIN HIDDEN TESTS\nfrom dlcourse import checks\n{call}\n### END HIDDEN TESTS"
        )
        cell.id = f"{lab.number}-{grade_id}"
        meta(cell, grade_id, points=1)
        return cell

    def check_cell(name):
        return test_cell(
            f"check_{name}", f"checks.assert_check({lab.number!r}, {name!r}, globals())"
        )

    for cell in cells:
        out.append(cell)
        if cell.cell_type != "code" or not exercise.is_exercise_cell(cell.source):
            meta(cell, f"locked-{cell.id}")
            continue
        meta(cell, f"solution-{cell.id}", solution=True)
        for name in [n for n in names if re.search(rf"\b{n}\b", cell.source)]:
            names.remove(name)
            out.append(check_cell(name))
    out += [check_cell(name) for name in names]  # checks of no particular cell: at the end
    for i, claim in enumerate(exercise.static_claims(lab)):
        if not claim["needs_defaults"]:
            out.append(test_cell(f"claim_{i + 1}", f"checks.assert_claim({result}, {i})"))
    return out
