"""nbgrader, the real one: a course directory with lab 01's source notebook, generate_assignment
and autograde through nbgrader's Python API, then the gradebook: the solution gets the maximum
score, the released blank notebook 0. Needs the ``grading`` extra (``make test`` installs it)."""

from __future__ import annotations

import copy
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from dlcourse import exercise, labkit, release

nbgrader = pytest.importorskip(
    "nbgrader", reason="nbgrader is not installed: pip install -e '.[grading]'"
)

ASSIGNMENT = "lab01"


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "course"
    lab = labkit.find_lab("01")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    nbformat.write(release.nbgrader_notebook(lab), source / f"{lab.name}.ipynb")
    # The kernels nbgrader starts run this Python (alembic, its gradebook's migrations, too),
    # at the lab's quick settings, with TensorFlow's log lines off (stderr costs the points).
    bin_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("DLCOURSE_QUICK", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    monkeypatch.chdir(root)
    return root


def _api(root: Path):
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = "dlcourse"
    config.Execute.timeout = 300  # per cell (nbgrader's default is 30 s)
    return NbGraderAPI(config=config)


def _solved(release_nb: nbformat.NotebookNode, source: nbformat.NotebookNode):
    """The released notebook with its solution cells filled in from the source (markers
    dropped), as a student who solved it hands it in."""
    solutions = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in release_nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solutions:
            cell.source = exercise.transform(solutions[gid], "solution")
    return release_nb


@pytest.mark.timeout(900)  # two autogrades, each starting a kernel that imports TensorFlow
@pytest.mark.filterwarnings("ignore:Object of type")  # nbgrader's own SQLAlchemy warnings
def test_nbgrader_grades_the_solution_full_and_the_blank_zero(course):
    lab = labkit.find_lab("01")
    api = _api(course)
    generated = api.generate_assignment(ASSIGNMENT, force=True)
    assert generated["success"], generated.get("log")
    released = course / "release" / ASSIGNMENT / f"{lab.name}.ipynb"
    blank = nbformat.read(released, as_version=4)
    assert not any(exercise.BEGIN in c.source or "HIDDEN TESTS" in c.source for c in blank.cells)
    assert sum(exercise.STUB in c.source for c in blank.cells if c.cell_type == "code") == 2

    source = nbformat.read(course / "source" / ASSIGNMENT / f"{lab.name}.ipynb", as_version=4)
    for student, nb in (("solver", _solved(copy.deepcopy(blank), source)), ("blank", blank)):
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(released, folder / released.name)
        nbformat.write(nb, folder / released.name)
        graded = api.autograde(ASSIGNMENT, student, force=True, create=True)
        assert graded["success"], graded.get("log")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        solver = gb.find_submission(ASSIGNMENT, "solver")
        empty = gb.find_submission(ASSIGNMENT, "blank")
        assert solver.max_score == 3  # two hidden checks and the claim graded at quick settings
        assert solver.score == solver.max_score, _failed(course, "solver", lab)
        assert empty.score == 0


def _failed(root: Path, student: str, lab: labkit.LabInfo) -> str:
    path = root / "autograded" / student / ASSIGNMENT / f"{lab.name}.ipynb"
    if not path.exists():
        return "no autograded notebook"
    nb = nbformat.read(path, as_version=4)
    return "\n".join(
        f"{c.metadata['nbgrader']['grade_id']}: {o}"
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
        for o in c.get("outputs", [])
    )
