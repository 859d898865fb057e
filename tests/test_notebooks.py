"""The analysts' notebooks run top to bottom on the embedded defaults and each draws a plot.

The kernel is this interpreter, declared in a private ``JUPYTER_PATH`` (nothing is
installed for the user). The notebooks share one simulated organisation and its store
(``DETECTOR_NOTEBOOK_DATA``): the first to run builds it, the others reuse it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
STORIES = [
    "01-triage-an-alert",
    "02-tune-thresholds",
    "03-evaluate-detectors",
    "04-secret-inventory",
]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A ``python3`` kernelspec for this interpreter, and the notebooks' shared data."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (tests)",
                "language": "python",
            }
        )
    )
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(root))
    patch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no migration warning from jupyter_core
    patch.setenv("DETECTOR_NOTEBOOK_DATA", str(tmp_path_factory.mktemp("notebook-data")))
    patch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the plots
    yield
    patch.undo()


def test_the_four_stories_are_there():
    assert [path.stem for path in NOTEBOOKS] == STORIES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_top_to_bottom_and_plots(path, kernel, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # a failing cell raises CellExecutionError, naming the cell
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, f"{path.name} drew no plot"
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stderr" and "Warning" in output.get("text", "")
    ]
    assert errors == [], errors
