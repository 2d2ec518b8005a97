"""The matrix form (issue 15): matrix calculus in matrix notation, as the Matrix Cookbook writes it.

Every identity is asserted as text in the language (JSON ``symbolic_matrix``), in Unicode (the
table's "matrix form" line) and in LaTeX, and verified numerically here: the form's numbers
against jacli's autodiff result and against central finite differences of f.
"""

from __future__ import annotations

import io
import json
from fractions import Fraction

import numpy as np
import pytest
from conftest import Invoke
from rich.console import Console

from jacli import api, limits, matrix_api, matrix_readback, matrix_results
from jacli import matrix_expr as mx
from jacli.evaluation import evaluate_at
from jacli.language import parse_expression
from jacli.matrix_form import build
from jacli.render.json import render_json
from jacli.render.latex import render_latex
from jacli.render.table import render_table

POINT = {
    "x": "[1,2]", "y": "[1,1]", "b": "[1,-1]", "a": "[2,1]", "mu": "[0.5,1]", "z": "[0.5,1,2]",
    "A": "[[1,2],[3,4]]", "B": "[[2,0],[1,3]]", "S": "[[2,1],[1,3]]", "W": "[[1,2],[3,4],[5,6]]",
    "C": "[[1,2,3],[4,5,6]]",
}  # fmt: skip

IDENTITIES = [
    # (quantity, expression, --wrt, --v, language, Unicode, LaTeX)
    ("gradient", "x@A@x", "x", None, "(A + A.T)@x", "(A + Aᵀ)·x", "\\left(A + A^\\top\\right) x"),
    ("hessian", "x@A@x", "x", None, "A + A.T", "A + Aᵀ", "A + A^\\top"),
    ("gradient", "x@A@x", "A", None, "outer(x, x)", "x·xᵀ", "x x^\\top"),
    ("hvp", "x@A@x", "x", "1,2", "(A + A.T)@v", "(A + Aᵀ)·v", "\\left(A + A^\\top\\right) v"),
    (
        "gradient",
        "x@A@x/2",
        "x",
        None,
        "1/2*(A + A.T)@x",
        "1/2*(A + Aᵀ)·x",
        "\\frac{1}{2} \\left(A + A^\\top\\right) x",
    ),
    (
        "gradient",
        "(x - mu)@S@(x - mu)",
        "x",
        None,
        "(S + S.T)@(x - mu)",
        "(S + Sᵀ)·(x - mu)",
        "\\left(S + S^\\top\\right) \\left(x - \\mathit{mu}\\right)",
    ),
    ("jacobian", "A@x + b", "x", None, "A", "A", "A"),
    ("jacobian", "A@B@x", "x", None, "A@B", "A·B", "A B"),
    ("jvp", "A@x", "x", "1,2", "A@v", "A·v", "A v"),
    ("jacobian", "x", "x", None, "eye(2)", "I", "I"),
    ("gradient", "2*dot(x,x)", "x", None, "4*x", "4*x", "4 x"),
    ("gradient", "dot(a, x)", "x", None, "a", "a", "a"),
    ("gradient", "dot(x, A@y)", "y", None, "A.T@x", "Aᵀ·x", "A^\\top x"),
    ("gradient", "dot(x, x) - 2*dot(b, x)", "x", None, "2*(x - b)", "2*(x - b)", "2 \\left(x - b\\right)"),
    (
        "gradient",
        "sum((A@x - y)**2)",
        "x",
        None,
        "2*A.T@(A@x - y)",
        "2*Aᵀ·(A·x - y)",
        "2 A^\\top \\left(A x - y\\right)",
    ),
    ("hessian", "sum((A@x - y)**2)", "x", None, "2*A.T@A", "2*Aᵀ·A", "2 A^\\top A"),
    (
        "gradient",
        "sum((A@x - y)**2)",
        "A",
        None,
        "2*outer(A@x - y, x)",
        "2*(A·x - y)·xᵀ",
        "2 \\left(A x - y\\right) x^\\top",
    ),
    (
        "gradient",
        "c = A@x - y; dot(c, c)",
        "x",
        None,
        "2*A.T@(A@x - y)",
        "2*Aᵀ·(A·x - y)",
        "2 A^\\top \\left(A x - y\\right)",
    ),
    ("gradient", "sum((x - mu)**2)/2", "x", None, "x - mu", "x - mu", "x - \\mathit{mu}"),
    ("gradient", "a@A@b", "A", None, "outer(a, b)", "a·bᵀ", "a b^\\top"),
    (
        "gradient",
        "sum((W@x + z)**2)",
        "W,z",
        None,
        {"W": "2*outer(W@x + z, x)", "z": "2*(W@x + z)"},
        {"W": "2*(W·x + z)·xᵀ", "z": "2*(W·x + z)"},
        {"W": "2 \\left(W x + z\\right) x^\\top", "z": "2 \\left(W x + z\\right)"},
    ),
    (
        "gradient",
        "sqrt(sum(x**2))",
        "x",
        None,
        "x/sqrt(sum(x**2))",
        "x/sqrt(sum(x²))",
        "\\frac{x}{\\sqrt{\\operatorname{sum}\\left(x^{2}\\right)}}",
    ),
    (
        "gradient",
        "log(sum(exp(x)))",
        "x",
        None,
        "exp(x)/sum(exp(x))",
        "exp(x)/sum(exp(x))",
        "\\frac{\\exp\\left(x\\right)}{\\operatorname{sum}\\left(\\exp\\left(x\\right)\\right)}",
    ),
    ("gradient", "sum(exp(x))", "x", None, "exp(x)", "exp(x)", "\\exp\\left(x\\right)"),
    (
        "hessian",
        "sum(exp(x))",
        "x",
        None,
        "diag(exp(x))",
        "diag(exp(x))",
        "\\operatorname{diag}\\left(\\exp\\left(x\\right)\\right)",
    ),
    ("gradient", "sum(log(x))", "x", None, "1/x", "1/x", "x^{-1}"),
    ("gradient", "sum(x*y)", "x", None, "y", "y", "y"),
    ("jacobian", "x*y", "x", None, "diag(y)", "diag(y)", "\\operatorname{diag}\\left(y\\right)"),
    (
        "jacobian",
        "exp(x)",
        "x",
        None,
        "diag(exp(x))",
        "diag(exp(x))",
        "\\operatorname{diag}\\left(\\exp\\left(x\\right)\\right)",
    ),
    (
        "jacobian",
        "sin(A@x)",
        "x",
        None,
        "diag(cos(A@x))@A",
        "diag(cos(A·x))·A",
        "\\operatorname{diag}\\left(\\cos\\left(A x\\right)\\right) A",
    ),
    (
        "gradient",
        "sum(tanh(W@x))",
        "x",
        None,
        "W.T@(1 - tanh(W@x)**2)",
        "Wᵀ·(1 - tanh(W·x)²)",
        "W^\\top \\left(1 - \\tanh\\left(W x\\right)^{2}\\right)",
    ),
    (
        "gradient",
        "sum(sigmoid(W@x))",
        "W",
        None,
        "outer(sigmoid(W@x)*(1 - sigmoid(W@x)), x)",
        "sigmoid(W·x)∘(1 - sigmoid(W·x))·xᵀ",
        "\\sigma\\left(W x\\right) \\odot \\left(1 - \\sigma\\left(W x\\right)\\right) x^\\top",
    ),
    (
        "vjp",
        "A@B",
        "A,B",
        "ones",
        {"A": "ones@B.T", "B": "A.T@ones"},
        {"A": "1·Bᵀ", "B": "Aᵀ·1"},
        {"A": "\\mathbf{1} B^\\top", "B": "A^\\top \\mathbf{1}"},
    ),
    ("vjp", "C@z", "z", "1,2", {"z": "C.T@v"}, {"z": "Cᵀ·v"}, {"z": "C^\\top v"}),
    # with .T, transpose, softmax, log_softmax, logsumexp (the tensor language, v2-h1)
    ("gradient", "x.T@A@x", "x", None, "(A + A.T)@x", "(A + Aᵀ)·x", "\\left(A + A^\\top\\right) x"),
    ("hessian", "x.T@A@x", "x", None, "A + A.T", "A + Aᵀ", "A + A^\\top"),
    ("gradient", "transpose(x)@A@x", "x", None, "(A + A.T)@x", "(A + Aᵀ)·x", "\\left(A + A^\\top\\right) x"),
    (
        "gradient",
        "sum((A.T@x - y)**2)",
        "x",
        None,
        "2*A@(A.T@x - y)",
        "2*A·(Aᵀ·x - y)",
        "2 A \\left(A^\\top x - y\\right)",
    ),
    ("gradient", "logsumexp(x)", "x", None, "softmax(x)", "softmax(x)", "\\operatorname{softmax}\\left(x\\right)"),
    (
        "gradient",
        "0 - dot(y, log(softmax(x)))",
        "x",
        None,
        "sum(y)*softmax(x) - y",
        "sum(y)*softmax(x) - y",
        "\\operatorname{sum}\\left(y\\right) \\operatorname{softmax}\\left(x\\right) - y",
    ),
    (
        "gradient",
        "0 - dot(y, log_softmax(x))",
        "x",
        None,
        "sum(y)*softmax(x) - y",
        "sum(y)*softmax(x) - y",
        "\\operatorname{sum}\\left(y\\right) \\operatorname{softmax}\\left(x\\right) - y",
    ),
    (
        "jacobian",
        "softmax(x)",
        "x",
        None,
        "diag(softmax(x)) - outer(softmax(x), softmax(x))",
        "diag(softmax(x)) - softmax(x)·softmax(x)ᵀ",
        "\\operatorname{diag}\\left(\\operatorname{softmax}\\left(x\\right)\\right) - \\operatorname{softmax}\\left(x\\right) \\operatorname{softmax}\\left(x\\right)^\\top",  # noqa: E501 - one identity a row
    ),
    # simplified as a person writes them: x*1/x, powers of one scalar, symmetric products (X.T@X, inv(S))
    ("gradient", "norm(x)**2", "x", None, "2*x", "2*x", "2 x"),
    ("hessian", "norm(x)**2", "x", None, "2*eye(2)", "2*I", "2 I"),
    ("gradient", "norm(x)*norm(x)", "x", None, "2*x", "2*x", "2 x"),
    ("gradient", "1/norm(x)", "x", None, "-x/norm(x)**3", "-x/norm(x)³", "-\\frac{x}{\\lVert x \\rVert^{3}}"),
    ("gradient", "log(norm(x))", "x", None, "x/norm(x)**2", "x/norm(x)²", "\\frac{x}{\\lVert x \\rVert^{2}}"),
    (
        "gradient",
        "exp(norm(x))",
        "x",
        None,
        "exp(norm(x))/norm(x)*x",
        "exp(norm(x))/norm(x)*x",
        "\\frac{\\exp\\left(\\lVert x \\rVert\\right)}{\\lVert x \\rVert} x",
    ),
    (
        "gradient",
        "det(A)**2",
        "A",
        None,
        "2*det(A)**2*inv(A).T",
        "2*det(A)²*A⁻ᵀ",
        "2 \\det\\left(A\\right)^{2} A^{-\\top}",
    ),
    ("gradient", "log(det(W.T@W))", "W", None, "2*W@inv(W.T@W)", "2*W·(Wᵀ·W)⁻¹", "2 W \\left(W^\\top W\\right)^{-1}"),
    ("gradient", "log(det(C@C.T))", "C", None, "2*inv(C@C.T)@C", "2*(C·Cᵀ)⁻¹·C", "2 \\left(C C^\\top\\right)^{-1} C"),
    ("gradient", "x@inv(B.T@B)@x", "x", None, "2*inv(B.T@B)@x", "2*(Bᵀ·B)⁻¹·x", "2 \\left(B^\\top B\\right)^{-1} x"),
    (
        "gradient",
        "trace(inv(W.T@W))",
        "W",
        None,
        "-2*W@inv(W.T@W)@inv(W.T@W)",
        "-2*W·(Wᵀ·W)⁻¹·(Wᵀ·W)⁻¹",
        "-2 W \\left(W^\\top W\\right)^{-1} \\left(W^\\top W\\right)^{-1}",
    ),
    (
        "gradient",
        "det(W.T@W)",
        "W",
        None,
        "2*det(W.T@W)*W@inv(W.T@W)",
        "2*det(Wᵀ·W)*W·(Wᵀ·W)⁻¹",
        "2 \\det\\left(W^\\top W\\right) W \\left(W^\\top W\\right)^{-1}",
    ),
    (
        "jacobian",
        "x/norm(x)",
        "x",
        None,
        "eye(2)/norm(x) - outer(x, x)/norm(x)**3",
        "I/norm(x) - x·xᵀ/norm(x)³",
        "\\frac{I}{\\lVert x \\rVert} - \\frac{x x^\\top}{\\lVert x \\rVert^{3}}",
    ),
    (
        "hessian",
        "log(sum(exp(x)))",
        "x",
        None,
        "diag(exp(x))/sum(exp(x)) - outer(exp(x), exp(x))/sum(exp(x))**2",
        "diag(exp(x))/sum(exp(x)) - exp(x)·exp(x)ᵀ/sum(exp(x))²",
        "\\frac{\\operatorname{diag}\\left(\\exp\\left(x\\right)\\right)}{\\operatorname{sum}\\left(\\exp\\left(x\\right)\\right)}"
        " - \\frac{\\exp\\left(x\\right) \\exp\\left(x\\right)^\\top}"
        "{\\operatorname{sum}\\left(\\exp\\left(x\\right)\\right)^{2}}",
    ),
    (
        "gradient",
        "x@A@x/(x@x)",
        "x",
        None,
        "(A + A.T)@x/(x.T@x) - 2*x.T@A@x/(x.T@x)**2*x",
        "(A + Aᵀ)·x/(xᵀ·x) - 2*xᵀ·A·x/(xᵀ·x)²*x",
        "\\frac{\\left(A + A^\\top\\right) x}{x^\\top x} - 2 \\frac{x^\\top A x}{\\left(x^\\top x\\right)^{2}} x",
    ),
]


def _at(expr: str) -> str:
    return ", ".join(f"{name}={POINT[name]}" for name in parse_expression(expr).names)


def _values(expr: str) -> dict[str, np.ndarray]:
    out = {}
    for name in parse_expression(expr).names:
        value = np.array(json.loads(POINT[name]), dtype=float)
        out[name] = value.reshape(-1, 1) if value.ndim == 1 else value
    return out


def _finite_differences(quantity: str, expr: str, wrt: list[str], v: str | None) -> np.ndarray:
    """The quantity by central differences of f (evaluated as a matrix expression), flattened."""
    values = _values(expr)
    shapes = {name: np.shape(json.loads(POINT[name])) for name in values}  # 1-D vectors as (n,)
    f = build(parse_expression(expr), shapes)

    def jacobian(vals: dict[str, np.ndarray], name: str, h: float = 1e-6) -> np.ndarray:
        columns = []
        for index in np.ndindex(vals[name].shape):
            plus, minus = vals[name].copy(), vals[name].copy()
            plus[index] += h
            minus[index] -= h
            up = mx.evaluate(f, {**vals, name: plus}, {})
            down = mx.evaluate(f, {**vals, name: minus}, {})
            columns.append(np.ravel((np.asarray(up) - np.asarray(down)) / (2 * h)))
        return np.array(columns).T  # outputs × inputs

    weights = None if v in (None, "ones") else np.array([float(w) for w in v.split(",")])
    if quantity in ("gradient", "vjp"):
        parts = [jacobian(values, name) for name in wrt]
        if weights is not None:
            parts = [weights @ p for p in parts]
        else:
            parts = [p.sum(axis=0) for p in parts]
        return np.concatenate([np.ravel(p) for p in parts])
    (name,) = wrt
    if quantity == "jacobian":
        return np.ravel(jacobian(values, name))
    if quantity == "jvp":
        return jacobian(values, name) @ weights
    h, rows = 1e-4, []
    for index in np.ndindex(values[name].shape):  # hessian: differences of the gradient
        plus, minus = values[name].copy(), values[name].copy()
        plus[index] += h
        minus[index] -= h
        rows.append(
            (jacobian({**values, name: plus}, name) - jacobian({**values, name: minus}, name)).ravel() / (2 * h)
        )
    hessian = np.array(rows)
    return np.ravel(hessian @ weights if quantity == "hvp" else hessian)


def _table_line(result) -> str:
    console = Console(file=io.StringIO(), width=200, no_color=True)
    render_table(result, console)
    return next(line for line in console.file.getvalue().splitlines() if line.startswith("matrix form"))


@pytest.mark.parametrize(("quantity", "expr", "wrt", "v", "text", "unicode", "latex"), IDENTITIES)
def test_cookbook_identity_in_every_format(quantity, expr, wrt, v, text, unicode, latex) -> None:
    result = evaluate_at(quantity, expr, _at(expr), wrt=wrt, v=v or "ones")
    form = result.symbolic_matrix
    assert form is not None, result.notes
    assert json.loads(render_json(result))["symbolic_matrix"] == text
    shown = unicode if isinstance(unicode, str) else "; ".join(f"{k}: {t}" for k, t in unicode.items())
    assert _table_line(result) == "matrix form  " + shown
    lines = render_latex(result).splitlines()
    if isinstance(latex, str):
        assert lines[-1] == f"{result.symbol} = {latex}"
    else:
        assert lines[-len(latex) :] == [f"{result.symbol}_{{{k}}} = {t}" for k, t in latex.items()]
    # numerically: the form at the point = autodiff = finite differences
    names = wrt.split(",")
    values = _values(expr)
    if v not in (None, "ones"):
        weights = np.array([float(w) for w in v.split(",")])
        values["v"] = weights.reshape(-1, 1)
    nodes = form.nodes
    got = np.concatenate(
        [
            np.ravel(mx.evaluate(nodes[k] if isinstance(nodes, dict) else nodes, values, {}))
            for k in (names if isinstance(nodes, dict) else [None])
        ]
    )
    np.testing.assert_allclose(got, np.ravel(result.result), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, _finite_differences(quantity, expr, names, v), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# The SPEC's examples, whole lines, through the command line.
# ---------------------------------------------------------------------------


def _json(jacli: Invoke, *args: str) -> dict:
    out = jacli(*args, "--format", "json")
    assert out.exit_code == 0 and out.stderr == "", out
    return json.loads(out.stdout)


def test_spec_examples(jacli: Invoke) -> None:
    at = "x=[1,2], A=[[1,2],[3,4]], b=[1,1], y=[0,1]"
    assert (
        _json(jacli, "gradient", "x@A@x", "--wrt", "x", "--at", at.rsplit(", b", 1)[0])["symbolic_matrix"]
        == "(A + A.T)@x"
    )
    assert _json(jacli, "jacobian", "A@x + b", "--wrt", "x", "--at", at.rsplit(", y", 1)[0])["symbolic_matrix"] == "A"
    assert _json(jacli, "gradient", "2*dot(x,x)", "--at", "x=[0,1,2,3]")["symbolic_matrix"] == "4*x"
    obj = _json(jacli, "gradient", "sum((A@x - y)**2)", "--wrt", "x", "--at", "x=[1,2], A=[[1,2],[3,4]], y=[0,1]")
    assert obj["symbolic_matrix"] == "2*A.T@(A@x - y)"
    obj = _json(jacli, "vjp", "A@B", "--at", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "--v", "ones")
    assert obj["symbolic_matrix"] == {"A": "ones@B.T", "B": "A.T@ones"}
    assert obj["result"] == [6.0, 15.0, 6.0, 15.0, 4.0, 4.0, 4.0, 6.0, 6.0, 6.0]


def test_table_line_and_both_forms(jacli: Invoke) -> None:
    out = jacli("gradient", "2*dot(x,x)", "--at", "x=[0,1,2,3]", env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert out.exit_code == 0
    assert out.stdout.splitlines()[-1] == "matrix form  4*x"
    assert "symbolic" in out.stdout  # with numeric shapes both forms are shown


def test_latex_uses_top(jacli: Invoke) -> None:
    out = jacli("hessian", "x@A@x", "--wrt", "x", "--at", "x=[1,2], A=[[1,2],[3,4]]", "--format", "latex")
    assert out.stdout.splitlines()[-1] == r"H = A + A^\top"


def test_no_form_for_scalars_and_what_has_no_rule(jacli: Invoke) -> None:
    assert "symbolic_matrix" not in _json(jacli, "gradient", "x**2*y", "--at", "x=1, y=2")
    assert "symbolic_matrix" not in _json(jacli, "gradient", "sum(relu(x))", "--at", "x=[1,2]")  # a kink
    assert "symbolic_matrix" not in _json(jacli, "jacobian", "A@x", "--wrt", "A", "--at", "x=[1,2], A=[[1,2],[3,4]]")
    assert "symbolic_matrix" not in _json(jacli, "hessian", "x*x*[0,1,2,3]", "--at", "x=[1,1,1,1]")


def test_float32_exact_and_no_symbolic(jacli: Invoke) -> None:
    at = "x=[1,2], A=[[1,2],[3,4]], y=[0,1]"
    expr = "sum((A@x - y)**2)"
    assert (
        _json(jacli, "gradient", expr, "--wrt", "x", "--at", at, "--dtype", "float32")["symbolic_matrix"]
        == "2*A.T@(A@x - y)"
    )
    obj = _json(jacli, "gradient", expr, "--wrt", "x", "--at", at, "--exact")
    assert obj["symbolic_matrix"] == "2*A.T@(A@x - y)" and obj["exact"] == ["70", "100"]
    assert "symbolic_matrix" not in _json(jacli, "gradient", expr, "--wrt", "x", "--at", at, "--no-symbolic")


def test_several_points_each_checked(jacli: Invoke) -> None:
    for at in ("x=[1,2], A=[[1,2],[3,4]]", "x=[-3,0.5], A=[[0,1],[1,0]]"):
        assert _json(jacli, "gradient", "x@A@x", "--wrt", "x", "--at", at)["symbolic_matrix"] == "(A + A.T)@x"


def test_api_result_carries_the_form() -> None:
    result = api.gradient("x@A@x", "x=[1,2], A=[[1,2],[3,4]]", wrt="x")
    assert result.symbolic_matrix.text == "(A + A.T)@x"
    assert str(result.symbolic_matrix.sympy()) == "(A + A.T)*x"


# ---------------------------------------------------------------------------
# Named dimensions and no point: checked at random values (the seam of H4's --shape).
# ---------------------------------------------------------------------------


def test_named_dimensions_without_a_point() -> None:
    parsed = parse_expression("x@A@x")
    form = matrix_api.matrix_form("gradient", parsed, ["x"], {"x": ("n",), "A": ("n", "n")})
    assert form.text == "(A + A.T)@x"
    form = matrix_api.matrix_form("jacobian", parse_expression("x"), ["x"], {"x": ("n",)})
    assert form.text == "eye(n)"
    form = matrix_api.matrix_form(
        "vjp", parse_expression("A@B"), ["A", "B"], {"A": ("n", "k"), "B": ("k", "m")}, v=None
    )
    assert form.text == {"A": "v@B.T", "B": "A.T@v"}
    form = matrix_api.matrix_form("hvp", parse_expression("x@A@x"), ["x"], {"x": (3,), "A": (3, 3)}, v=None)
    assert form.text == "(A + A.T)@v"


def test_a_mismatch_is_left_out_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix_results, "gradient", lambda *args: mx.var("x", (2, 1)))
    result = evaluate_at("gradient", "2*dot(x,x)", "x=[0,1]")
    assert result.symbolic_matrix is None
    assert result.notes == ("matrix form left out: its numbers do not match the elementwise result",)


def test_a_text_that_does_not_read_back_is_left_out_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree's numbers agree (vectors as columns), but ``x@y.T`` of 1-D vectors is their dot product."""
    monkeypatch.setattr(matrix_readback, "language_tree", lambda node, columns=frozenset(): node)
    result = evaluate_at("gradient", "dot(x, A@y)", "x=[1,2], y=[3,4], A=[[1,2],[3,4]]", wrt="A")
    assert result.symbolic_matrix is None and result.result == [3.0, 4.0, 6.0, 8.0]
    assert result.notes == ("matrix form left out: its text, read back, does not match the elementwise result",)


def test_read_back_evaluates_the_text_in_the_language() -> None:
    x, y = mx.var("x", (2, 1)), mx.var("y", (2, 1))
    outer = mx.matmul(x, mx.transpose(y))
    assert (matrix_readback.text(outer), matrix_readback.text(outer, frozenset("xy"))) == ("outer(x, y)", "x@y.T")
    values = {"x": [1.0, 2.0], "y": [3.0, 4.0]}
    want = np.array([3.0, 4.0, 6.0, 8.0])
    assert matrix_readback.reads_back(outer, want, {"x": (2,), "y": (2,)}, values, {}, 1e-9)
    assert not matrix_readback.reads_back(outer, want + 1, {"x": (2,), "y": (2,)}, values, {}, 1e-9)
    columns = {"x": [[1.0], [2.0]], "y": [[3.0], [4.0]]}
    assert matrix_readback.reads_back(outer, want, {"x": (2, 1), "y": (2, 1)}, columns, {}, 1e-9, frozenset("xy"))
    ones = mx.matmul(mx.ones((2, 3)), mx.transpose(mx.var("B", (3, 3))))  # ones and eye(n) take their sizes
    assert matrix_readback.sized_text(ones, {}) == "ones(2, 3)@B.T" and matrix_readback.text(ones) == "ones@B.T"
    assert matrix_readback.sized_text(mx.scale(mx.num(Fraction(2)), mx.eye("n")), {"n": 3}) == "2*eye(3)"
    row = mx.matmul(mx.transpose(mx.ones(("n", 1))), mx.var("A", ("n", "n")))
    assert matrix_readback.sized_text(row, {"n": 2}) == "ones(2).T@A"
    assert matrix_readback.sized_text(row, {"n": 2}, frozenset("c")) == "ones(2, 1).T@A"


def test_simplifying_constructors() -> None:
    s, x = mx.fn("norm", mx.var("x", (2, 1))), mx.var("x", (2, 1))
    assert str(mx.scale(s, mx.scale(mx.power(s, Fraction(-1)), x))) == "x"  # x*1/x
    assert str(mx.scale(s, mx.scale(s, x))) == "norm(x)**2*x"
    assert str(mx.scale(mx.power(s, Fraction(-2)), mx.scale(mx.num(Fraction(-1)), x))) == "-x/norm(x)**2"
    m = mx.var("M", (3, 2))
    gram = mx.matmul(mx.transpose(m), m)
    assert mx.symmetric(gram) and mx.symmetric(mx.fn("inv", gram)) and not mx.symmetric(mx.var("A", (2, 2)))
    assert mx.transpose(mx.fn("inv", gram)) == mx.fn("inv", gram)
    assert str(mx.add(mx.fn("inv", gram), mx.transpose(mx.fn("inv", gram)))) == "2*inv(M.T@M)"
    assert str(mx.transpose(mx.transpose(m))) == "M"  # double transposes
    nested = mx.scale(mx.num(Fraction(2)), mx.scale(s, mx.transpose(x)))  # 2*(s*x.T): both scalars leave a product
    assert str(mx.matmul(m, x, nested)) == "2*norm(x)*M@x@x.T"
    assert str(mx.fn("exp", mx.transpose(x))) == "exp(x).T"
    a = mx.var("A", (2, 2))
    d = mx.power(mx.matmul(mx.transpose(x), x), Fraction(-1))  # a/s + b/s -> (a + b)/s
    assert str(mx.add(mx.scale(d, mx.matmul(a, x)), mx.scale(d, mx.matmul(mx.transpose(a), x)))) == (
        "(A + A.T)@x/(x.T@x)"
    )


def test_a_large_expression_is_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MATRIX_FORM_MAX_NODES", 5)
    result = evaluate_at("gradient", "2*dot(x,x)", "x=[0,1]")
    assert result.symbolic_matrix is None
    assert result.notes == ("matrix form skipped: the expression has 10 syntax nodes; the limit is 5",)


# The functions the language gained in this round (trace, det, inv, solve, outer, norm, softmax) are
# tested on the command line, in every format and against finite differences: tests/test_matrix_cli.py.
