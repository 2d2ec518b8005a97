"""The tensor language, part A (issue 13): ``.T``, the method form, reductions with ``axis``,
softmax/logsumexp, the new scalar functions. Torch against exact SymPy at random points
(hypothesis, deterministic profile), every format, the API, ``check``'s non-smooth sites."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import sympy
import torch
from conftest import Invoke, assert_usage_error
from hypothesis import given, settings
from hypothesis import strategies as st

import jacli
from jacli import compile as lowering
from jacli import graphs, language
from jacli.language import functions

SCALAR_DOMAINS = {
    "asinh": (-3, 3), "acosh": (1.1, 4), "atanh": (-0.9, 0.9), "sec": (-1.2, 1.2), "csc": (0.2, 3),
    "cot": (0.2, 3), "sech": (-3, 3), "csch": (0.2, 3), "coth": (0.2, 3), "sinc": (-3, 3), "expm1": (-3, 3),
    "log1p": (-0.9, 3), "exp2": (-3, 3), "square": (-3, 3), "cbrt": (0.05, 3),
}  # fmt: skip
"""Each new function of one argument and an interval where it is real and smooth (cbrt: also negated)."""


def _torch_and_exact(expr: str, shapes: dict[str, tuple[int, ...]], point: dict[str, np.ndarray]) -> tuple:
    """jacli's torch value, gradient and Hessian, and SymPy's exact ones, of a scalar ``expr`` at ``point``."""
    program = language.build_program(language.parse_expression(expr), shapes)
    f = lowering.to_torch(program, program.variables, ())
    symbols = [s for v in program.variables for s in v.symbols]
    numbers = [sympy.Rational(str(x)) for v in program.variables for x in np.asarray(point[v.name]).flat]
    x = torch.tensor([float(n) for n in numbers], dtype=torch.float64)
    value = f(x)[0]
    gradient = torch.autograd.functional.jacobian(lambda t: f(t)[0], x)
    hessian = torch.autograd.functional.hessian(lambda t: f(t)[0], x)
    bindings = {b.symbol: b.value for b in program.bindings}
    out = program.outputs[0]
    for _ in range(len(bindings) + 1):
        out = out.xreplace(bindings)
    at = dict(zip(symbols, numbers, strict=True))
    exact_value = language.constant_value(out.xreplace(at))
    exact_gradient = [language.constant_value(sympy.diff(out, s).xreplace(at)) for s in symbols]
    exact_hessian = [[language.constant_value(sympy.diff(out, s, t).xreplace(at)) for t in symbols] for s in symbols]
    return (float(value), gradient.tolist(), hessian.tolist()), (exact_value, exact_gradient, exact_hessian)


def _number(text: str) -> float:
    """An exact result (``exp(1)/(1 + exp(1))``) as a float, read as a constant of the language."""
    return language.constant_value(language.parse_assignments(text, what="constant").positional[0][()])


def _assert_close(got: tuple, want: tuple, rel: float = 1e-9) -> None:
    for g, w in zip(got, want, strict=True):
        assert np.allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float), rtol=rel, atol=rel), (g, w)


# ---------------------------------------------------------------------------
# Scalar functions: torch against exact SymPy, values, gradients and Hessians.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCALAR_DOMAINS))
@settings(max_examples=3)
@given(data=st.data())
def test_a_scalar_function_agrees_with_sympy(name: str, data: st.DataObject) -> None:
    low, high = SCALAR_DOMAINS[name]
    x = round(data.draw(st.floats(low, high)), 4)
    if name == "cbrt" and data.draw(st.booleans()):
        x = -x  # the real cube root of a negative number
    got, want = _torch_and_exact(f"{name}(x) * x", {"x": ()}, {"x": np.array(x)})
    _assert_close(got, want)


@settings(max_examples=4)
@given(a=st.floats(-5, 5), b=st.floats(-5, 5))
def test_hypot_agrees_with_sympy(a: float, b: float) -> None:
    a, b = round(a, 3), round(b, 3)
    if abs(a) + abs(b) < 0.01:
        a = 1.5
    got, want = _torch_and_exact("hypot(a, b)", {"a": (), "b": ()}, {"a": np.array(a), "b": np.array(b)})
    _assert_close(got, want)


def test_sinc_at_zero_has_every_derivative(jacli: Invoke) -> None:
    """sinc(0) = 1, sinc'(0) = 0, sinc''(0) = -pi**2/3: autodiff, exact SymPy and --exact agree."""
    got, want = _torch_and_exact("sinc(x)", {"x": ()}, {"x": np.array(0.0)})
    assert got[0] == 1.0 and got[1] == [0.0] and got[2][0] == pytest.approx([-(math.pi**2) / 3], rel=1e-14)
    _assert_close(got, want, rel=1e-14)
    out = jacli("hessian", "sinc(x)", "--at", "0", "--exact", "--format", "json")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["result"] == [[pytest.approx(-(math.pi**2) / 3, rel=1e-15)]]
    third = json.loads(jacli("derivative", "sinc(x)", "--order", "4", "--at", "0", "--format", "json").stdout)
    assert np.ravel(third["result"]).tolist() == [pytest.approx(math.pi**4 / 5, rel=1e-9)]


def test_the_cube_root_is_real() -> None:
    assert jacli.gradient("cbrt(x)", at="x=-8").value == (-2.0,)
    assert jacli.gradient("cbrt(x)", at="x=-8").result == [pytest.approx(1 / 12, rel=1e-15)]


def test_stable_forms_do_not_overflow() -> None:
    result = jacli.gradient("logsumexp(x)", at="x=[1000, 1000, -1000]")
    assert result.value == (pytest.approx(1000 + math.log(2), rel=1e-15),)
    assert result.result == [pytest.approx(0.5), pytest.approx(0.5), 0.0]
    soft = jacli.jacobian("softmax(x)", at="x=[800, 0]")
    assert soft.value == (1.0, pytest.approx(math.exp(-800), rel=1e-12))
    assert jacli.gradient("log_softmax(x)[1]", at="x=[800, 0]").result == [-1.0, 1.0]  # -softmax0, 1 - softmax1
    assert jacli.gradient("expm1(x)", at="x=1e-10").value == (pytest.approx(1e-10, rel=1e-12),)
    assert jacli.gradient("log1p(x)", at="x=1e-10").value == (pytest.approx(1e-10, rel=1e-12),)
    assert jacli.gradient("hypot(x, y)", at="x=1e200, y=1e200").value == (pytest.approx(math.sqrt(2) * 1e200),)


# ---------------------------------------------------------------------------
# Reductions, softmax, transpose: against torch's own functions (three ways with SymPy).
# ---------------------------------------------------------------------------

REDUCTIONS = {
    "sum(A, {k})": lambda a, k: torch.sum(a, dim=k),
    "mean(A, axis={k})": lambda a, k: torch.mean(a, dim=k),
    "prod(A, {k})": lambda a, k: torch.prod(a, dim=k),
    "logsumexp(A, {k})": lambda a, k: torch.logsumexp(a, dim=k),
    "max(A, axis={k})": lambda a, k: torch.amax(a, dim=k),
    "min(A, axis={k})": lambda a, k: torch.amin(a, dim=k),
    "norm(A, axis={k})": lambda a, k: torch.linalg.vector_norm(a, dim=k),
    "softmax(A, {k})": lambda a, k: torch.softmax(a, dim=k),
    "log_softmax(A, axis={k})": lambda a, k: torch.log_softmax(a, dim=k),
    "A.sum({k})": lambda a, k: torch.sum(a, dim=k),
}


@pytest.mark.parametrize("template", sorted(REDUCTIONS))
@settings(max_examples=3)
@given(data=st.data())
def test_a_reduction_along_an_axis_is_torchs(template: str, data: st.DataObject) -> None:
    k = data.draw(st.sampled_from([0, 1, -1, -2]))
    numbers = [round(data.draw(st.floats(0.2, 2.0)), 1) for _ in range(6)]
    numbers = [round(n + i * 0.01, 2) for i, n in enumerate(numbers)]  # no ties (max, min)
    a = torch.tensor(numbers, dtype=torch.float64).reshape(2, 3)
    expr = template.format(k=k)
    result = jacli.jacobian(expr, at={"A": a.tolist()}, exact=True)
    reference = REDUCTIONS[template]
    assert result.value == pytest.approx(reference(a, k).reshape(-1).tolist(), rel=1e-12)
    jac = torch.autograd.functional.jacobian(lambda t: reference(t, k).reshape(-1), a).reshape(len(result.value), 6)
    assert np.allclose(result.result, jac.numpy(), rtol=1e-10, atol=1e-12)
    exact = [[_number(text) for text in row] for row in result.exact]  # the exact text reads back
    assert np.allclose(exact, jac.numpy(), rtol=1e-10, atol=1e-12)


def test_an_exact_softmax_past_the_budget_is_skipped_with_the_numbers(jacli: Invoke) -> None:
    # 10x10 of 3-decimal rationals: 10,000 exact entries of exp(a - logsumexp([...])); the budget stops it
    rows = [[round(((3 * i + 7 * j) % 17) / 7 - 1.2 + 0.001 * (i + j), 3) for j in range(10)] for i in range(10)]
    out = jacli(
        "jacobian", "softmax(A, 0)", "--at", f"A={rows}", "--exact", "--format", "json",
        env={"JACLI_TIME_BUDGET": "0.1", "JACLI_SERVER": "off"},
    )  # fmt: skip
    assert out.exit_code == 0, out
    note = "took longer than 0.1 s (the time budget; set JACLI_TIME_BUDGET to change it)"
    assert out.stderr.splitlines() in (  # the budget runs out in the exact values, or already in the derivative
        [f"jacli: note: --exact skipped: {note}; the numbers are complete"],
        [f"jacli: note: symbolic form skipped: {note}; so is --exact"],
    )
    obj = json.loads(out.stdout)
    a = torch.tensor(rows, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=0).reshape(-1), a).reshape(100, 100)
    assert "exact" not in obj and np.allclose(obj["result"], jac.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("expr", "reference"),
    [
        ("mean(A)", lambda a: a.mean()),
        ("prod(A)", lambda a: a.prod()),
        ("logsumexp(A)", lambda a: torch.logsumexp(a.reshape(-1), 0)),
        ("norm(A)", torch.linalg.matrix_norm),  # Frobenius
        ("norm(A, 3)", lambda a: torch.linalg.vector_norm(a, ord=3)),
        ("norm(A, 1)", lambda a: a.abs().sum()),
        ("A.norm(0.5)", lambda a: torch.linalg.vector_norm(a, ord=0.5)),
        ("softmax(A)[1, 2]", lambda a: torch.softmax(a, dim=-1)[1, 2]),
        ("sum(A.T @ A)", lambda a: (a.T @ a).sum()),
        ("transpose(A)[2, 0] * A.T[1, 1]", lambda a: a.T[2, 0] * a.T[1, 1]),
        ("(A*A).sum() + A.exp().mean()", lambda a: (a * a).sum() + a.exp().mean()),
        ("A.detach().sum() * A[0, 0]", lambda a: a.detach().sum() * a[0, 0]),
    ],
)
def test_whole_array_forms_are_torchs(expr: str, reference) -> None:
    a = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=torch.float64)
    result = jacli.gradient(expr, at={"A": a.tolist()})
    assert result.value == (pytest.approx(float(reference(a)), rel=1e-12),)
    want = torch.autograd.functional.jacobian(reference, a).reshape(-1)
    assert np.allclose(result.result, want.numpy(), rtol=1e-10, atol=1e-12)


def test_quadratic_forms_with_a_vector_and_a_column() -> None:
    at = {"A": [[1, 2], [3, 4]]}
    vector = jacli.gradient("x.T@A@x", at={**at, "x": [1, 2]}, wrt="x")
    assert vector.value == (27.0,) and vector.result == [12.0, 21.0]
    column = jacli.jacobian("x.T@A@x", at={**at, "x": [[1], [2]]}, wrt="x")
    assert column.outputs == ("f[0,0]",) and column.result == [[12.0, 21.0]]
    assert jacli.gradient("x.T * 3", at="x=2").result == [3.0]  # the transpose of a scalar is itself


def test_a_scalar_is_reduced_whole() -> None:
    assert jacli.gradient(
        "mean(x) + prod(x) + logsumexp(x) + norm(x) + softmax(x) + log_softmax(x)", at="x=-2"
    ).value == (pytest.approx(-2 - 2 - 2 + 2 + 1 + 0),)


# ---------------------------------------------------------------------------
# Through the CLI: every format, several points, --points, float32, the graph, check.
# ---------------------------------------------------------------------------


def test_every_format(jacli: Invoke) -> None:
    expr, at = "logsumexp(x) + x.T@A@x", "x=[1,2], A=[[1,2],[3,4]]"
    data = json.loads(jacli("gradient", expr, "--at", at, "--wrt", "x", "--format", "json").stdout)
    assert data["result"] == [pytest.approx(12 + 1 / (1 + math.e)), pytest.approx(21 + 1 / (1 + math.exp(-1)))]
    assert data["symbolic"][0] == "2*A[0,0]*x[0] + A[0,1]*x[1] + A[1,0]*x[1] + exp(x[0] - logsumexp(x[0], x[1]))"
    rows = list(csv.reader(io.StringIO(jacli("gradient", expr, "--at", at, "--wrt", "x", "--format", "csv").stdout)))
    assert [float(v) for v in rows[0]] == pytest.approx(data["result"], rel=1e-15)
    table = jacli("gradient", expr, "--at", at, "--wrt", "x")
    assert table.exit_code == 0 and "logsumexp" in table.stdout
    latex = jacli("gradient", expr, "--at", at, "--wrt", "x", "--format", "latex")
    assert latex.exit_code == 0 and "bmatrix" in latex.stdout and "logsumexp" in latex.stdout
    exact = json.loads(jacli("gradient", "norm(x)", "--at", "x=[3,4]", "--exact", "--format", "json").stdout)
    assert exact["result"] == [0.6, 0.8]


def test_several_points_and_points_files(jacli: Invoke, tmp_path) -> None:
    expr = "sinc(x) + cbrt(y) + hypot(x, y) + coth(y)"
    out = jacli("gradient", expr, "--at", "0.5,1", "--at", "0,-8", "--format", "json")
    assert out.exit_code == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    points = tmp_path / "points.csv"
    points.write_text("x,y\n0.5,1\n0,-8\n")
    from_file = jacli("gradient", expr, "--points", str(points), "--format", "csv")
    rows = list(csv.reader(io.StringIO(from_file.stdout)))
    assert [[float(v) for v in r[2:]] for r in rows] == [
        pytest.approx(first["result"]),
        pytest.approx(second["result"]),
    ]
    assert second["result"][0] == pytest.approx(0.0, abs=1e-15)  # sinc'(0) = 0, hypot's x/r = 0
    float32 = json.loads(jacli("gradient", expr, "--at", "0.5,1", "--dtype", "float32", "--format", "json").stdout)
    assert float32["result"] == pytest.approx(first["result"], rel=1e-5)


def test_the_graph_names_the_new_functions(jacli: Invoke) -> None:
    graph = json.loads(jacli("graph", "logsumexp(x) + sinc(x[0])", "--at", "x=[1,2]", "--format", "json").stdout)
    ops = [node["op"] for node in graph["nodes"]]
    assert "logsumexp" in ops and "sinc" in ops


def test_check_names_the_non_smooth_sites(jacli: Invoke) -> None:
    out = jacli("check", "norm(x) + max(A, axis=0).sum() + cbrt(y) + hypot(y, z)", "--at",
                "x=[0,0], A=[[1,2],[1,3]], y=0, z=0", "--format", "json")  # fmt: skip
    assert out.exit_code == 1
    assert sorted(json.loads(out.stdout)["nonsmooth"]) == [
        "cbrt(y): vertical tangent where y = 0",
        "hypot(y, z): kink where y = z = 0",
        "max(A[0,0], A[1,0]): tie: A[0,0] = A[1,0] = 1",
        "norm(x[0], x[1]): kink where x[0] = x[1] = 0",
    ]
    smooth = jacli("check", "sinc(x) + softmax(y)[0] + logsumexp(y)", "--at", "x=0, y=[1,2]", "--format", "json")
    assert smooth.exit_code == 0, smooth.stdout
    assert json.loads(smooth.stdout)["ok"] is True


def test_v1_max_and_min_stay_elementwise() -> None:
    assert jacli.jacobian("max(A, 0)", at="A=[[1,-2],[-3,4]]").value == (1.0, 0.0, 0.0, 4.0)
    along = jacli.gradient("max(A, axis=0)[1] + min(A, axis=-1)[0]", at="A=[[1,-2],[-3,4]]")
    assert along.value == (2.0,) and along.result == [0.0, 1.0, 0.0, 1.0]


# ---------------------------------------------------------------------------
# Errors: one line, exit 2, naming the shape or the name.
# ---------------------------------------------------------------------------

ERRORS = [
    ("sum(A, 2)", "A=[[1,2,3],[4,5,6]]", "axis 2 is out of range for an array of shape (2, 3)"),
    ("mean(A, axis=-3)", "A=[[1,2,3],[4,5,6]]", "axis -3 is out of range for an array of shape (2, 3)"),
    ("sum(x, 0)", "x=1", "axis 0 is out of range for an array of shape ()"),
    ("sum(A, x)", "A=[[1,2]], x=1", "an axis must be an integer constant, not x"),
    ("sum(A, 0.5)", "A=[[1,2]]", "an axis must be an integer constant, not 0.5"),
    ("sum(A, 0, axis=1)", "A=[[1,2]]", "sum(): axis given twice (by position and as axis=)"),
    ("sum(A, axis=0, axis=1)", "A=[[1,2]]", "sum(): a keyword argument given twice"),
    ("max(A, B, axis=0)", "A=[1,2], B=[3,4]", "max(x, axis=k) takes one array; max(a, b, ...) takes no axis"),
    ("sin(x, axis=0)", "x=1", "sin() takes no keyword arguments, not 'axis'"),
    ("norm(x, -1)", "x=[1,2]", "the p of norm(x, p) must be a positive constant"),
    ("norm(x, y)", "x=[1,2], y=2", "the p of norm(x, p) must be a positive constant"),
    ("mean(x[2:1])", "x=[1,2]", "mean of an empty array (shape (0,))"),
    ("x.grad", "x=1", "attribute 'grad' is not part of the language; attribute access is .T (transpose)"),
    ("x.sum", "x=[1,2]", "x.sum is a function; call it as x.sum(...)"),
    ("square = 2; square*x", "x=1", "'square' is a reserved name and cannot be bound"),
    ("mean*x", "x=1", "'mean' is a function; call it as mean(...)"),
    ("x.hypot()", "x=1", "hypot() takes 2 arguments, got 1"),
]


@pytest.mark.parametrize(("expr", "at", "message"), ERRORS)
def test_errors_name_the_shape_or_the_name(jacli: Invoke, expr: str, at: str, message: str) -> None:
    out = jacli("gradient", expr, "--at", at)
    assert_usage_error(out)
    assert message in out.stderr.splitlines()[0], out.stderr


# ---------------------------------------------------------------------------
# The table: every new row documented, named in graphs and printing.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", functions._TENSOR_ROWS_A, ids=lambda row: row.name)
def test_each_new_row_is_documented_and_lowered(jacli: Invoke, row: functions.Function) -> None:
    assert f" {row.usage or row.name}" in jacli("language").stdout
    if row.node is not None:
        symbols = [sympy.Symbol(f"a{i}", real=True) for i in range(max(row.min_args, 2))]
        node = row.node(*symbols[: 1 if row.max_args == 1 else 2])
        assert language.row_of(node) is row
        assert language.user_text(node).startswith(f"{row.name}(")
        assert graphs._op_name(node, "operation") == row.name
        start = sympy.Rational(str(SCALAR_DOMAINS.get(row.name, (0.2, 0))[0])) + sympy.Rational(1, 10)
        numbers = [start + i for i in range(len(node.args))]
        tensors = [torch.tensor(float(n), dtype=torch.float64) for n in numbers]
        lowered = float(lowering.torch_function(node)(*tensors))
        at = dict(zip(node.args, numbers, strict=True))
        assert lowered == pytest.approx(language.constant_value(node.xreplace(at)), rel=1e-12)
