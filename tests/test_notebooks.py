"""The notebooks in ``notebooks/`` execute top to bottom without errors (so they never rot).

They run in a real Jupyter kernel started from this interpreter (the venv's python), with the
non-interactive Agg matplotlib backend, in the notebooks folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ipykernel  # noqa: F401  (a test dependency: fail loudly if missing)
import matplotlib  # noqa: F401  (a test dependency: fail loudly if missing)
import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT = 600  # seconds; the first cell may convert the model on a fresh machine
MAX_OUTPUT_CHARS = 20_000  # per cell, text outputs only: notebooks must stay readable


@pytest.fixture(autouse=True)
def _agg_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits the environment: no display, no progress bars, no network.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("AMIF_MATCH_PROGRESS", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.mark.parametrize(
    "name",
    ["01_classify_a_proposal.ipynb", "02_portfolio_overview.ipynb", "03_eu_portfolio.ipynb"],
)
def test_notebook_executes(name: str) -> None:
    path = NOTEBOOKS / name
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        f"{name} is committed with outputs; clear them before saving"
    )
    # The probe reports what the kernel really got: this interpreter, and the Agg backend from
    # the environment set above (a kernel with a display backend would hang or pop up windows).
    probe = nbformat.v4.new_code_cell(
        "import sys, matplotlib; print(sys.prefix); print(matplotlib.get_backend())"
    )
    notebook.cells.insert(0, probe)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    prefix, backend = notebook.cells[0].outputs[0]["text"].split()
    assert prefix == sys.prefix, "kernel is not this venv"
    assert backend.lower() == "agg", f"kernel uses the {backend} backend, not Agg"
    for index, cell in enumerate(notebook.cells[1:], 1):
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output["output_type"] != "error", f"cell {index} failed"
            text = output.get("text", "") or output.get("data", {}).get("text/plain", "")
            assert len(text) < MAX_OUTPUT_CHARS, f"cell {index} prints {len(text)} characters"
            assert "Traceback" not in text
    html = [
        o for c in notebook.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})
    ]
    assert html, "results should render as HTML tables"
