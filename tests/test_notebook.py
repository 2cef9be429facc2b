"""Jupyter: a real ipykernel runs `import dlcourse` and lab 01; figures come back inline."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from nbclient import NotebookClient


@pytest.fixture
def kernel_name(tmp_path, monkeypatch) -> str:
    """A kernelspec that runs this venv's Python, found through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / "dlcourse-test" / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": "dlcourse", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in real Jupyter: the inline backend
    monkeypatch.setenv("DLCOURSE_DATA_DIR", str(tmp_path / "data"))
    return "dlcourse-test"


def test_lab_runs_in_a_notebook_with_inline_figures(kernel_name, tmp_path):
    cells = [
        "import json\nimport dlcourse",
        f"metrics = dlcourse.labkit.run_lab('01', quick=True, out_dir={str(tmp_path / 'runs')!r})",
        (
            "import matplotlib\n"
            "rmse = metrics['normal_equation_numpy']['test_rmse']\n"
            "print(json.dumps({'rmse': rmse, 'backend': matplotlib.get_backend()}))"
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name=kernel_name, timeout=180).execute()

    lab_outputs = nb.cells[1].outputs
    images = [o for o in lab_outputs if o.output_type == "display_data" and "image/png" in o.data]
    pngs = list((tmp_path / "runs" / "01_linear_regression").glob("*.png"))
    assert images and len(images) == len(pngs), [o.output_type for o in lab_outputs]
    printed = json.loads(nb.cells[2].outputs[0].text)
    assert 0.7 < printed["rmse"] < 1.3
    assert "inline" in printed["backend"]
    assert (pngs[0].parent / "metrics.json").exists()
    assert (tmp_path / "data" / "linear" / "manifest.json").exists()  # data/ -> loader -> lab
