"""examples/seed-tour.ipynb runs in a real Jupyter kernel (nbclient), every assertion in it holding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra: nbformat, nbclient, ipykernel")
nbclient = pytest.importorskip("nbclient", reason="the test extra: nbformat, nbclient, ipykernel")

NOTEBOOK = Path(__file__).parent.parent / "examples" / "seed-tour.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("notebook")
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute(env={"JACLI_SERVER": "off"})  # any failed assertion raises CellExecutionError here
    return notebook


def _outputs(notebook: nbformat.NotebookNode, needle: str) -> list[dict]:
    """The display outputs of the one code cell whose source contains ``needle``."""
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and needle in c.source]
    return [o for o in cell.outputs if o.output_type in ("execute_result", "display_data")]


def test_every_cell_ran_without_error(executed: nbformat.NotebookNode) -> None:
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert len(code) >= 12
    for cell in code:
        assert cell.execution_count is not None
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


def test_results_display_as_html_and_latex(executed: nbformat.NotebookNode) -> None:
    (shown,) = _outputs(executed, 'J = jacli.jacobian("2*x0+x1**2')
    assert "│ f1 │  2 │ 24 │" in re.sub(r"<[^>]+>", "", shown.data["text/html"])
    assert shown.data["text/latex"].startswith("$$J = ")
    (check,) = _outputs(executed, 'jacli.check("abs(x - 1) + x**2", at="x=2")')
    assert "OK: autodiff agrees with the exact derivative" in re.sub(r"<[^>]+>", "", check.data["text/html"])
    (graph,) = _outputs(executed, 'jacli.graph("(a+b)*(b+1)"')
    assert r"\begin{array}" in graph.data["text/latex"]


def test_the_picture_is_a_png(executed: nbformat.NotebookNode) -> None:
    (figure,) = _outputs(executed, "jacli.plot.figure(r")
    assert "image/png" in figure.data and len(figure.data["image/png"]) > 10_000
