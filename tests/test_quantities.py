"""The quantity table (jacli/quantities.py): every quantity gets every path, and laplacian is one entry."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import random
import re
import runpy
from pathlib import Path

import pytest
import sympy
from conftest import Invoke, assert_usage_error

from jacli import api
from jacli.quantities import QUANTITIES

PACKAGE = Path(__file__).resolve().parent.parent / "jacli"
LAPLACIAN_CASES = [
    ("x**2*y + y**3, x*y", "x=1, y=2", [16.0, 0.0]),  # Δ(x²y + y³) = 2y + 6y; Δ(xy) = 0
    ("sin(x)*exp(y)", "x=0.5, y=0.25", [0.0]),  # harmonic: -sin·e^y + sin·e^y
    ("sum(a**3)", "a=[1,2,3]", [36.0]),  # 6·(1 + 2 + 3)
]


@pytest.mark.parametrize(("expr", "at", "expected"), LAPLACIAN_CASES)
def test_laplacian_at_one_point_is_one_number_per_output(jacli: Invoke, expr: str, at: str, expected: list) -> None:
    out = jacli("laplacian", expr, "--at", at, "--format", "json")
    assert out.exit_code == 0 and out.stderr == "", out.stderr
    obj = json.loads(out.stdout)
    assert obj["command"] == "laplacian"
    assert obj["result"] == pytest.approx(expected, abs=1e-12)
    assert len(obj["symbolic"]) == len(obj["outputs"])


def test_laplacian_symbolic_and_exact(jacli: Invoke) -> None:
    out = jacli("laplacian", "x**2*y + y**3, x*y", "--at", "x=1, y=2", "--format", "json", "--exact")
    obj = json.loads(out.stdout)
    assert out.exit_code == 0, out.stderr
    assert obj["symbolic"] == ["8*y", "0"] and obj["exact"] == ["16", "0"]


def test_laplacian_formats(jacli: Invoke) -> None:
    args = ("laplacian", "x**2*y + y**3, x*y", "--at", "x=1, y=2")
    assert jacli(*args, "--format", "csv").stdout == "16.0,0.0\n"
    latex = jacli(*args, "--format", "latex").stdout
    assert r"\Delta f = \begin{bmatrix} 8 y & 0 \end{bmatrix} = \begin{bmatrix} 16 & 0 \end{bmatrix}" in latex
    table = jacli(*args, env={"COLUMNS": "100", "NO_COLOR": "1"}).stdout
    assert table.startswith("laplacian of  f(x, y) = x**2*y + y**3, x*y\n")
    assert "Laplacian" in table and "[8⋅y  0]" in table  # the title wraps above its narrow table
    assert any("│ f0 │ 16 │" in line for line in table.splitlines())


def test_laplacian_several_at_and_points_agree(jacli: Invoke, tmp_path: Path) -> None:
    expr = "x**2*y + y**3, x*y"
    several = jacli("laplacian", expr, "--at", "x=1, y=2", "--at", "x=3, y=-1", "--format", "csv")
    assert several.exit_code == 0, several.stderr
    assert several.stdout == "1.0,2.0,16.0,0.0\n3.0,-1.0,-8.0,0.0\n"
    path = tmp_path / "points.csv"
    path.write_text("x,y\n1,2\n3,-1\n")
    points = jacli("laplacian", expr, "--points", str(path), "--format", "csv")
    assert points.exit_code == 0 and points.stdout == several.stdout, points.stderr
    table = jacli("laplacian", expr, "--points", str(path), env={"COLUMNS": "100", "NO_COLOR": "1"}).stdout
    assert "Laplacian Δf of f = x**2*y + y**3, x*y" in table and "Δf[f0]" in table
    lines = jacli("laplacian", expr, "--points", str(path), "--format", "json").stdout.splitlines()
    assert [json.loads(line)["result"] for line in lines] == [[16.0, 0.0], [-8.0, 0.0]]


def test_laplacian_equals_exact_sympy_at_random_points() -> None:
    x, y, z = sympy.symbols("x y z")
    f = sympy.sin(x * y) + sympy.exp(z) * x**3 + sympy.log(1 + y**2) * z
    laplace = sum(sympy.diff(f, s, 2) for s in (x, y, z))
    rng = random.Random(12)
    points = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(6)]
    ev = api.evaluate("laplacian", "sin(x*y) + exp(z)*x**3 + log(1 + y**2)*z", points, chunk_size=4)
    got = [row for chunk in ev.chunks for row in chunk.result[:, 0].tolist()]
    for point, value in zip(points, got, strict=True):
        exact = float(laplace.subs(dict(zip((x, y, z), point, strict=True))))
        assert value == pytest.approx(exact, rel=1e-12, abs=1e-12)
        one = api.laplacian("sin(x*y) + exp(z)*x**3 + log(1 + y**2)*z", at=point, symbolic_form=False)
        assert one.result == pytest.approx([exact], rel=1e-12, abs=1e-12)


def test_laplacian_of_a_large_sparse_function_takes_the_sparse_hessian() -> None:
    n = 60  # over sparse.SPARSE_MIN_INPUTS: one HVP per colour, not n
    expr = "+".join(f"x{i}**2*x{i + 1}" for i in range(n - 1))
    r = api.laplacian(expr, at=[1.0] * n, symbolic_form=False)
    assert r.result == [pytest.approx(2.0 * (n - 1))]


def _run_program(text: str) -> list:
    path = Path(__file__).parent / "_laplacian_program.py"
    buffer = io.StringIO()
    try:
        path.write_text(text)
        with contextlib.redirect_stdout(buffer):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        path.unlink(missing_ok=True)
    return ast.literal_eval(buffer.getvalue().strip().splitlines()[-1])


@pytest.mark.parametrize(("expr", "at", "expected"), LAPLACIAN_CASES)
def test_laplacian_show_torch_program_prints_the_same_numbers(
    jacli: Invoke, expr: str, at: str, expected: list
) -> None:
    out = jacli("laplacian", expr, "--at", at, "--show-torch")
    assert out.exit_code == 0 and out.stderr == "", out.stderr
    assert out.stdout.startswith(f"# jacli laplacian '{expr}' --at '{at}'\n")
    assert _run_program(out.stdout) == pytest.approx(expected, abs=1e-12)


def test_hvp_at_many_points_equals_hvp_at_each(jacli: Invoke, tmp_path: Path) -> None:
    expr = "x**2*y + sin(x)*y**3"
    path = tmp_path / "points.txt"
    path.write_text("1 2\n0.5 -1\n3 0.25\n")
    many = jacli("hvp", expr, "--points", str(path), "--v", "1,2", "--format", "json")
    assert many.exit_code == 0, many.stderr
    rows = [json.loads(line) for line in many.stdout.splitlines()]
    for row, at in zip(rows, ["1,2", "0.5,-1", "3,0.25"], strict=True):
        one = api.hvp(expr, at=at, v="1,2", symbolic_form=False)
        assert row["result"] == pytest.approx(one.result, rel=1e-13, abs=1e-13)
        assert row["v"] == [1.0, 2.0]
    several = jacli("hvp", expr, "--at", "1,2", "--at", "0.5,-1", "--v", "1,2", "--format", "csv")
    assert (
        several.stdout.splitlines()
        == jacli("hvp", expr, "--points", str(path), "--v", "1,2", "--format", "csv").stdout.splitlines()[:2]
    )


def test_hvp_points_refuses_a_vector_function(jacli: Invoke) -> None:
    out = jacli("hvp", "x, y", "--points", "-", "--v", "1,1", input="1 2\n")
    assert_usage_error(out)
    assert out.stderr.startswith("jacli: error: hvp needs a scalar expression, but this one has 2 outputs")


@pytest.mark.parametrize("name", sorted(QUANTITIES))
def test_every_quantity_takes_points_and_several_at(jacli: Invoke, name: str) -> None:
    quantity = QUANTITIES[name]
    v = ("--v", "1,1") if quantity.weights else ()
    expr = "x**2*y" if quantity.scalar else "x**2*y, x*y**3"
    one = [json.loads(jacli(name, expr, "--at", at, *v, "--format", "json").stdout) for at in ("1,2", "3,4")]
    many = jacli(name, expr, "--points", "-", *v, "--format", "json", input="1 2\n3 4\n")
    assert many.exit_code == 0, many.stderr
    rows = [json.loads(line) for line in many.stdout.splitlines()]
    for row, point in zip(rows, one, strict=True):  # the same kernels: the same floats
        assert (row["result"], row["value"]) == (point["result"], point["value"])


DISPATCH = re.compile(
    r"""(command|\.name)\s*(==|!=|\bin\b)\s*[("'\[]"""  # command == "jacobian", quantity.name in ("gradient", …)
    r"""|[=!]=\s*["'](jacobian|gradient|hessian|vjp|jvp|hvp|laplacian)["']"""  # anything == "hessian"
    r"""|\[\s*(command|ev\.command|result\.command)\s*\]"""  # TABLE[command]
)
OWN_MODULES = {"quantities.py", "checking.py", "graphs.py", "check.py", "graph.py"}
"""The table itself, and check and graph: their own modules, not quantities."""


def test_no_module_dispatches_on_the_command_name() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in OWN_MODULES:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if DISPATCH.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == []
