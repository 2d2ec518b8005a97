"""Each renderer on hand-built results (no torch, no SymPy needed), and a few CLI checks of them."""

from __future__ import annotations

import io
import json

import pytest
from conftest import Invoke
from rich.console import Console

from jacli.quantities import QUANTITIES
from jacli.render.csv import render_csv, render_csv_points
from jacli.render.json import render_json
from jacli.render.latex import render_latex
from jacli.render.table import render_table
from jacli.results import InputBlock, Result, SymbolicDisplay


def seed_result(**changes: object) -> Result:
    base = {
        "command": "jacobian",
        "expression": "2*x0+x1**2, x0**2+2*x1**3",
        "inputs": ("x0", "x1"),
        "outputs": ("f0", "f1"),
        "blocks": (InputBlock("x0", (), 0), InputBlock("x1", (), 1)),
        "point": {"x0": 1.0, "x1": 2.0},
        "value": (6.0, 17.0),
        "result": [[2.0, 4.0], [2.0, 24.0]],
        "shape": (2, 2),
        "symbolic": [["2", "2*x1"], ["2*x0", "6*x1**2"]],
        "mode": "reverse",
        "symbolic_display": SymbolicDisplay(
            pretty=lambda: "[2  2*x1]\n[2*x0  6*x1**2]",
            latex=lambda: [["2", "2 x_{1}"], ["2 x_{0}", "6 x_{1}^{2}"]],
            operations=lambda: 5,
        ),
    }
    base.update(changes)
    scalar = base["command"] == "gradient" or len(base["outputs"]) == 1  # type: ignore[arg-type]
    base.update(QUANTITIES[base["command"]].presentation(scalar_output=scalar))  # type: ignore[index]
    return Result(**base)  # type: ignore[arg-type]


def table_text(result: Result, width: int = 100, digits: int = 6) -> str:
    buffer = io.StringIO()
    render_table(result, Console(width=width, file=buffer, color_system=None), digits)
    return buffer.getvalue()


def test_json_keys_and_nulls() -> None:
    obj = json.loads(render_json(seed_result(result=[[2.0, float("nan")], [float("inf"), 24.0]])))
    assert list(obj) == ["command", "inputs", "outputs", "point", "value", "result", "mode", "symbolic"]
    assert obj["result"] == [[2.0, None], [None, 24.0]]


def test_json_without_symbolic_has_no_symbolic_key() -> None:
    assert "symbolic" not in json.loads(render_json(seed_result(symbolic=None, symbolic_display=None)))


def test_csv_rows() -> None:
    assert render_csv(seed_result()) == "2.0,4.0\n2.0,24.0\n"
    vector = seed_result(command="gradient", result=[1.0, 0.5], shape=(2,))
    assert render_csv(vector) == "1.0,0.5\n"
    hessian = seed_result(command="hessian", result=[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])
    assert render_csv(hessian) == "1.0,2.0\n3.0,4.0\n5.0,6.0\n7.0,8.0\n"


def test_csv_points_rows_start_with_the_point() -> None:
    rows = render_csv_points([seed_result(), seed_result(point={"x0": 3.0, "x1": float("nan")})])
    assert rows == "1.0,2.0,2.0,4.0,2.0,24.0\n3.0,nan,2.0,4.0,2.0,24.0\n"


def test_latex_has_symbolic_and_numeric_bmatrix() -> None:
    text = render_latex(seed_result())
    assert r"J = \begin{bmatrix} 2 & 2 x_{1} \\ 2 x_{0} & 6 x_{1}^{2} \end{bmatrix}" in text
    assert r"= \begin{bmatrix} 2 & 4 \\ 2 & 24 \end{bmatrix}" in text


def test_table_shows_labels_numbers_and_symbolic() -> None:
    text = table_text(seed_result())
    assert "jacobian of  f(x0, x1) = 2*x0+x1**2, x0**2+2*x1**3" in text
    assert "f = [6, 17]" in text
    lines = text.splitlines()
    assert any("│ f1 │  2 │ 24 │" in line for line in lines)
    assert any("[2*x0  6*x1**2]" in line for line in lines)


def test_table_shows_array_gradients_in_their_own_shape() -> None:
    result = seed_result(
        command="vjp",
        inputs=("A[0,0]", "A[0,1]", "A[1,0]", "A[1,1]"),
        blocks=(InputBlock("A", (2, 2), 0),),
        result=[6.0, 15.0, 6.0, 15.0],
        shape=(4,),
        v=(1.0, 1.0),
        mode=None,
        symbolic_display=None,
        symbolic=None,
    )
    text = table_text(result)
    assert "vᵀJ w.r.t. A" in text
    assert any("│ A[1,:] │     6 │    15 │" in line for line in text.splitlines())


def test_table_elides_huge_symbolic_forms() -> None:
    huge = SymbolicDisplay(pretty=lambda: "never shown", latex=lambda: [], operations=lambda: 10**6)
    text = table_text(seed_result(symbolic_display=huge))
    assert "elided (1,000,000 operations)" in text and "never shown" not in text


def test_table_lines_have_no_trailing_blanks() -> None:
    assert all(line == line.rstrip() for line in table_text(seed_result()).splitlines())


def test_table_digits_and_exact() -> None:
    third = seed_result(command="gradient", result=[1 / 3, 2.0], shape=(2,), mode=None, symbolic_display=None)
    assert "0.333333" in table_text(third)
    assert "0.333" in table_text(third, digits=3) and "0.3333" not in table_text(third, digits=3)
    exact = table_text(seed_result(exact=[["2", "4"], ["2", "24"]], result=[[2.0, 4.0], [2.0, 24.0]]))
    assert "│ f1 │  2 │ 24 │" in exact


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n", "\f", "\u2028", "\n\n"])
def test_latex_comment_covers_every_line_of_the_expression(newline: str) -> None:
    text = render_latex(seed_result(expression=f"a = 2*x0{newline}b = a + x1{newline}a, b"))
    *comment, body = text.splitlines()
    assert comment and all(line.startswith("% ") for line in comment), text
    assert comment[0] == "% jacli jacobian: a = 2*x0"
    assert comment[-1] == "% a, b at x0 = 1.0, x1 = 2.0"
    assert body.startswith("J = ")


def test_latex_multiline_expression_from_the_cli(jacli: Invoke) -> None:
    out = jacli("gradient", "a = x*x\nb = a + 1\nb", "--at", "2", "--format", "latex")
    assert out.exit_code == 0, out.stderr
    assert out.stdout.splitlines()[:3] == ["% jacli gradient: a = x*x", "% b = a + 1", "% b at x = 2.0"]
