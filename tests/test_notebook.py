"""Every lab as a notebook: generated from its file, executed top to bottom in a real ipykernel
at quick settings (``DLCOURSE_QUICK=1``), figures inline. This is the quick run of every lab in
the test suite: one test per lab, so pytest-xdist spreads the kernels over the cores."""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from lessons_doc import fragments_by_lab, missing_fragments, read_rows
from nbclient import NotebookClient

from dlcourse import checks, classroom, cli, grade, labkit, notebook

LABS = [lab.name for lab in labkit.list_labs()]
SAME_AS_SCRIPT = ("01_linear_regression", "04_representations")  # cheap, and no wall times
_MARK = "metrics as JSON: "
LESSON_FRAGMENTS = fragments_by_lab(read_rows())  # lab number -> what docs/lessons.md quotes

# A lab with every shape the generator meets: narrative blocks (one of two lines), a nested
# function, a comment inside a block, a multi-line string, a figure, a claim, non-ASCII text.
TOY_LAB = '''"""
Title: A toy lab
Unit: I
Lesson: Doubling doubles.
Description: Every shape the generator meets,
in one small lab.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlcourse import labkit, plots
from dlcourse.labkit import arg

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    n: int = arg(8, "how many numbers", check="positive")
    label: str = arg("2·x", "the curve's label")

    QUICK = labkit.quick(n=4)


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the first n numbers,
    # and a string whose indentation is its own.
    x = np.arange(cfg.n)
    note = """a string
    indented inside"""

    # Doubling, in a helper defined inside run.
    def double(v):
        return 2 * v  # a return in a nested function is fine

    y = double(x)
    if cfg.quick:
        # a comment inside a block stays in the code
        y = y + 0

    # The figure and the claim.
    plots.save(plots.curves({cfg.label: y.tolist()}, title="y = 2·x"), out, "double")
    claims = [labkit.claim("Doubling doubles.", bool((y == 2 * x).all()))]
    metrics = {"total": int(y.sum()), "note": note, "claims": claims}
    labkit.save_metrics(out, metrics)  # the last step
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
'''


@pytest.fixture(scope="session")
def kernel(tmp_path_factory) -> Iterator[KernelManager]:
    """One ipykernel per test worker, running this venv's Python at quick settings with the
    inline figure backend, as in real Jupyter. Each notebook starts from an empty namespace
    (see :func:`execute`) and each lab from a fresh Keras state (``labkit.start``), as the labs
    did when they all ran in the test process; the kernel's imports (TensorFlow ...) are paid
    once per worker, not once per lab."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / "dlcourse-test" / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": "dlcourse", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | {notebook.QUICK_ENV: "1"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(jupyter))
        km = KernelManager(kernel_name="dlcourse-test")
        km.start_kernel(env=env, cwd=str(jupyter))
    yield km
    km.shutdown_kernel(now=True)


def execute(path: Path, km: KernelManager, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in ``km``'s kernel, from an empty namespace
    and in the folder ``cwd``; the notebook's own cells are returned, executed, plus a last one
    that prints ``metrics`` as JSON."""
    nb = nbformat.read(path, as_version=4)
    fresh = f"%reset -f\nimport os\nos.chdir({str(cwd)!r})"
    shown = f"import json\nprint({_MARK!r} + json.dumps(metrics))"
    nb.cells = [nbformat.v4.new_code_cell(fresh), *nb.cells, nbformat.v4.new_code_cell(shown)]
    if not km.is_alive():  # a previous notebook killed it
        km.restart_kernel(now=True)
    # A cell's time limit under pytest-timeout's 300 s for the test; on any failure the kernel
    # is interrupted, so that the next notebook does not queue behind a cell still running.
    client = NotebookClient(nb, km=km, timeout=240, interrupt_on_timeout=True)
    try:
        client.execute()
    except BaseException:
        km.interrupt_kernel()
        raise
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    nb.cells = nb.cells[1:]
    return nb


def inline_images(nb: nbformat.NotebookNode) -> list[int]:
    """The index of the cell under each inline PNG."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]


@pytest.mark.parametrize("name", LABS)
def test_lab_notebook_runs_at_quick_settings(name, kernel, tmp_path):
    path = notebook.write(labkit.find_lab(name), tmp_path)
    assert not any(cell.get("outputs") for cell in nbformat.read(path, as_version=4).cells)
    nb = execute(path, kernel, tmp_path)
    nbformat.write(nb, tmp_path / f"{name}.executed.ipynb")  # to read when a test fails

    folder = tmp_path / "runs" / name
    saved = json.loads((folder / "metrics.json").read_text())
    printed = nb.cells[-1].outputs[-1].text.split(_MARK, 1)[1]
    assert saved and labkit.flatten_scalars(saved) == pytest.approx(
        labkit.flatten_scalars(json.loads(printed))
    )
    assert not list(folder.glob(".*.tmp")), "a temporary file was left behind"
    # Every figure the lab saves shows inline too, under the cell that drew it (a step's cell).
    pngs, images = sorted(folder.glob("*.png")), inline_images(nb)
    assert len(images) >= len(pngs), f"{len(pngs)} PNGs in {folder}, {len(images)} inline"
    if name in SAME_AS_SCRIPT:  # the script's main() at the same settings: the same metrics.json
        script = tmp_path / "script"
        labkit.load_lab(name).main(["--quick", "--out-dir", str(script)])
        assert json.loads((script / name / "metrics.json").read_text()) == saved
    # Every lab states its lesson as claims; those that do not need the defaults hold here.
    assert saved["claims"], f"{name} states no claims"
    assert not labkit.failed_claims(saved, quick=True), labkit.format_claims(saved, quick=True)
    assert labkit.format_claims(saved, quick=True) in nb.cells[-2].outputs[0].text
    # The claims docs/lessons.md names for this lab are ones this run states.
    lab = labkit.find_lab(name)
    quoted = LESSON_FRAGMENTS.get(lab.number, [])
    missing = missing_fragments(quoted, [c["claim"] for c in saved["claims"]])
    assert not missing, f"docs/lessons.md quotes claims {name} does not state: {missing}"
    # An exercise lab's solution scores full marks on this very run (its claims, and its hidden
    # checks on the solution's code): tests/test_grade.py grades blanks and mutants.
    if checks.check_names(lab):
        found = checks.run_checks(lab.number, vars(checks.load_reference(lab)))
        result = grade.score(lab, saved, found, full=False)
        report = classroom.format_result(result | {"submission": name, "lab": lab.number})
        assert result["score"] == result["max_score"] > 0, report


def test_every_lab_has_a_notebook(tmp_path, capsys):
    assert cli.main(["labs", "notebook", "--out", str(tmp_path)]) == 0
    written = sorted(p.stem for p in tmp_path.glob("*.ipynb"))
    assert written == LABS
    for path in tmp_path.glob("*.ipynb"):  # plain Python cells, written without outputs
        cells = nbformat.read(path, as_version=4).cells
        for cell in cells:
            if cell.cell_type == "code":
                ast.parse(cell.source)
                assert not cell.outputs and cell.execution_count is None
    assert capsys.readouterr().out.split() == [str(tmp_path / f"{n}.ipynb") for n in LABS]


def test_a_notebook_has_the_labs_steps_and_settings(tmp_path):
    nb = notebook.build(labkit.find_lab("14"))
    kinds = "".join(cell.cell_type[0] for cell in nb.cells)
    assert kinds.startswith("mcc") and kinds.endswith("c") and "mc" in kinds[3:]
    title = nb.cells[0].source
    config_at = next(i for i, c in enumerate(nb.cells) if c.source.startswith("import os\n"))
    definitions = "\n".join(c.source for c in nb.cells[1:config_at])
    config = nb.cells[config_at].source
    assert title.startswith("# The MNIST MLP") and "**Notes:** 000" in title
    assert 'LAB = "14_mlp_digits"' in definitions and "__file__" not in definitions.split("#")[0]
    assert "def run(" not in definitions and "__main__" not in definitions
    assert "    epochs=50,  # training epochs" in config
    assert 'quick=os.environ.get("DLCOURSE_QUICK") == "1"' in config
    steps = "\n".join(cell.source for cell in nb.cells[config_at + 1 :])
    assert steps.startswith("out = labkit.start(cfg, LAB)") and "return metrics" not in steps
    assert (
        "\n    " not in nb.cells[config_at + 1].source
    )  # dedented: the step's variables are the kernel's
    # A step that ends on an expression does not echo its value (here a path) under the cell.
    assert nb.cells[-2].source.endswith("labkit.save_metrics(out, metrics);")
    assert nb.cells[-1].source == "print(labkit.format_claims(metrics, quick=cfg.quick))"


def test_an_edited_lab_shows_in_its_regenerated_notebook(tmp_path):
    labs = tmp_path / "labs"
    labs.mkdir()
    lab_file = Path(shutil.copy(labkit.find_lab("01").path, labs))
    out = tmp_path / "notebooks"
    notebook.write_all(out_dir=out, labs_dir=labs)
    before = (out / "01_linear_regression.ipynb").read_text()
    notebook.write_all(out_dir=out, labs_dir=labs)  # regenerating an unchanged lab changes nothing
    assert (out / "01_linear_regression.ipynb").read_text() == before

    text = lab_file.read_text()
    text = text.replace('eta: float = arg(0.1, "batch', 'eta: float = arg(0.05, "batch')
    text = text.replace("    # Figures: the paths", "    # Figures, redrawn: the paths")
    lab_file.write_text(text)
    files = sorted(tmp_path.rglob("*"))
    notebook.write_all(out_dir=out, labs_dir=labs)
    assert sorted(tmp_path.rglob("*")) == files  # no other file written
    after = nbformat.read(out / "01_linear_regression.ipynb", as_version=4)
    sources = [cell.source for cell in after.cells]
    assert any("    eta=0.05,  # batch GD learning rate" in s for s in sources)
    assert any("Figures, redrawn: the paths in (theta0, theta1)" in s for s in sources)


def test_a_lab_that_cannot_be_split_is_refused_naming_the_line(tmp_path):
    labs = tmp_path / "labs"
    labs.mkdir()
    lab_file = Path(shutil.copy(labkit.find_lab("01").path, labs))
    text = lab_file.read_text()
    lab_file.write_text(
        text.replace("    test = splits", "    if cfg.quick:\n        return {}\n    test = splits")
    )
    line = text[: text.index("    test = splits")].count("\n") + 2
    shutil.copy(labkit.find_lab("04").path, labs)  # a lab that converts: still written
    error = rf"1 written, 1 refused:\n.*01_linear_regression.py:{line}: .*early `return`"
    with pytest.raises(notebook.NotebookError, match=error):
        notebook.write_all(out_dir=tmp_path / "out", labs_dir=labs)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["04_representations.ipynb"]


def test_a_lab_of_every_shape_runs_as_its_notebook_as_its_script(kernel, tmp_path):
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "99_toy.py").write_text(TOY_LAB)
    lab = labkit.list_labs(tmp_path / "labs")[0]
    nb = notebook.build(lab)
    src = [cell.source for cell in nb.cells]
    assert "".join(cell.cell_type[0] for cell in nb.cells) == "mcccmcmcmcc"
    assert src[0].startswith("# A toy lab\n\nLab 99 · Unit I · `labs/99_toy.py`\n\n**Lesson:**")
    assert "Every shape the generator meets, in one small lab." in src[0]
    assert '    label="2·x",  # the curve\'s label\n' in src[2]
    assert src[4] == "The data: the first n numbers,\nand a string whose indentation is its own."
    assert 'note = """a string\n    indented inside"""' in src[5]  # the string is unchanged
    assert "def double(v):\n    return 2 * v" in src[7]
    assert "\n    # a comment inside a block stays in the code\n" in src[7]
    assert src[9].endswith("labkit.save_metrics(out, metrics);  # the last step")
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(nb, path)

    ran = execute(path, kernel, tmp_path)
    assert inline_images(ran) == [9]  # under the cell that draws it
    assert ran.cells[-2].outputs[0].text == "\u2714 Doubling doubles.\n"
    saved = json.loads((tmp_path / "runs" / "99_toy" / "metrics.json").read_text())
    script = notebook._load(lab).main(["--quick", "--out-dir", str(tmp_path / "script")])
    assert saved == json.loads(json.dumps(script)) and script["total"] == 12
