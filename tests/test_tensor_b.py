"""The tensor language, part B (issue 13): linear algebra, shapes and constructors.

torch (autodiff) is compared with closed forms (NumPy), with the exact SymPy derivative and
with finite differences (``check``) at random well-conditioned points; every command format,
several points, float32, the API and the errors are pinned.
"""

from __future__ import annotations

import json
import operator

import numpy as np
import pytest
import sympy
from conftest import Invoke, assert_usage_error
from hypothesis import given, settings
from hypothesis import strategies as st

import jacli
from jacli import api, language

# ---------------------------------------------------------------------------
# Random well-conditioned points (diagonally dominant: far from singular).
# ---------------------------------------------------------------------------


@st.composite
def square(draw: st.DrawFn, sizes: tuple[int, int] = (1, 3)) -> list[list[int]]:
    n = draw(st.integers(*sizes))
    rows = [[draw(st.integers(-3, 3)) for _ in range(n)] for _ in range(n)]
    for i in range(n):
        rows[i][i] = 4 * n + draw(st.integers(0, 3))
    return rows


def _exact(texts: list[str]) -> np.ndarray:
    """jacli's exact values (rationals written like ``-3/17``) as floats."""
    return np.array([float(sympy.Rational(t)) for t in texts])


def _at(**arrays: list) -> str:
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in arrays.items())


PROPERTY = settings(max_examples=8)
language.ensure_recursion_room()  # before hypothesis records the recursion limit (jacli raises it once)


@PROPERTY
@given(square())
def test_det_gradient_is_det_times_inverse_transpose(a: list[list[int]]) -> None:
    r = api.gradient("det(A)", at=_at(A=a), exact=True)
    m = np.array(a, dtype=float)
    expected = (np.linalg.det(m) * np.linalg.inv(m).T).ravel()
    np.testing.assert_allclose(r.result, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_exact(r.exact), expected, rtol=1e-12, atol=1e-12)
    assert r.value == pytest.approx([np.linalg.det(m)], rel=1e-12)


@PROPERTY
@given(square((2, 3)))
def test_inv_jacobian_is_minus_inverse_products(a: list[list[int]]) -> None:
    r = api.jacobian("inv(A)", at=_at(A=a), exact=True)
    inverse = np.linalg.inv(np.array(a, dtype=float))
    n = len(a)
    expected = -np.einsum("ik,lj->ijkl", inverse, inverse).reshape(n * n, n * n)
    np.testing.assert_allclose(r.result, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_exact([t for row in r.exact for t in row]), expected.ravel(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.value, inverse.ravel(), rtol=1e-12, atol=1e-14)


@PROPERTY
@given(square((1, 3)), st.data())
def test_solve_matches_inverse_times_b_and_its_derivatives(a: list[list[int]], data: st.DataObject) -> None:
    n = len(a)
    b = [data.draw(st.integers(-5, 5)) for _ in range(n)]
    r = api.jacobian("solve(A, b)", at=_at(A=a, b=b), exact=True)
    inverse = np.linalg.inv(np.array(a, dtype=float))
    x = inverse @ np.array(b, dtype=float)
    d_a = -np.einsum("ik,l->ikl", inverse, x).reshape(n, n * n)  # dx_i/dA_kl = -inv_ik x_l
    expected = np.hstack([d_a, inverse])  # dx/db = inv(A)
    np.testing.assert_allclose(r.value, x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.result, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_exact([t for row in r.exact for t in row]), expected.ravel(), rtol=1e-12, atol=1e-14)


@PROPERTY
@given(square((2, 3)), st.data())
def test_solve_with_a_matrix_right_side_is_inverse_times_b(a: list[list[int]], data: st.DataObject) -> None:
    n = len(a)
    b = [[data.draw(st.integers(-5, 5)) for _ in range(2)] for _ in range(n)]
    same = api.jacobian("solve(A, B)", at=_at(A=a, B=b), symbolic_form=False)
    written = api.jacobian("inv(A)@B", at=_at(A=a, B=b), symbolic_form=False)
    np.testing.assert_allclose(same.value, written.value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(same.result, written.result, rtol=1e-10, atol=1e-12)


@PROPERTY
@given(square((2, 3)), st.data())
def test_trace_of_a_product_has_gradient_a_transpose(a: list[list[int]], data: st.DataObject) -> None:
    n = len(a)
    x = [[data.draw(st.integers(-5, 5)) for _ in range(n)] for _ in range(n)]
    r = api.gradient("trace(A@X)", at=_at(A=a, X=x), wrt="X", exact=True)
    expected = np.array(a, dtype=float).T.ravel()
    assert r.result == expected.tolist()
    np.testing.assert_array_equal(_exact(r.exact), expected)


@PROPERTY
@given(square((2, 3)), st.data())
def test_check_agrees_three_ways(a: list[list[int]], data: st.DataObject) -> None:
    """autodiff, exact SymPy and finite differences agree on a mixture of every function."""
    n = len(a)
    v = [data.draw(st.integers(-3, 3)) for _ in range(n)]
    expr = "det(A)*0.01 + sum(inv(A)) + sum(solve(A, v)) + trace(A@A) + sum(outer(v, diag(A))) + sum(diag(v)@A)"
    result = api.check(expr, at=_at(A=a, v=v))
    assert result.ok, result.max_abs_error


# ---------------------------------------------------------------------------
# Exact outputs, every format.
# ---------------------------------------------------------------------------

A2 = "A=[[2,1],[1,3]]"


def test_det_json(jacli: Invoke) -> None:
    out = jacli("gradient", "det(A)", "--at", A2, "--format", "json", "--exact")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout) == {
        "command": "gradient",
        "inputs": ["A[0,0]", "A[0,1]", "A[1,0]", "A[1,1]"],
        "outputs": ["f"],
        "point": {"A": [[2.0, 1.0], [1.0, 3.0]]},
        "value": [5.0],
        "result": [3.0, -1.0, -1.0, 2.0],
        "symbolic": ["A[1,1]", "-A[1,0]", "-A[0,1]", "A[0,0]"],
        "exact": ["3", "-1", "-1", "2"],
        "symbolic_matrix": "det(A)*inv(A).T",
    }


def test_a_3x3_determinant_stays_compact(jacli: Invoke) -> None:
    """det, inv and trace of a symbolic 3×3 matrix print as determinants and inverses, not 3! terms."""
    out = jacli("gradient", "det(A)", "--at", "A=[[4,1,0],[1,5,1],[0,1,6]]", "--format", "json")
    symbolic = json.loads(out.stdout)["symbolic"]
    assert symbolic[0] == "det([[A[1,1], A[1,2]], [A[2,1], A[2,2]]])"
    assert symbolic[1] == "-det([[A[1,0], A[1,2]], [A[2,0], A[2,2]]])"
    out = jacli("jacobian", "inv(A)", "--at", "A=[[4,1,0],[1,5,1],[0,1,6]]", "--format", "json")
    first = json.loads(out.stdout)["symbolic"][0][0]
    assert first == "-inv([[A[0,0], A[0,1], A[0,2]], [A[1,0], A[1,1], A[1,2]], [A[2,0], A[2,1], A[2,2]]])[0, 0]**2"
    out = jacli("gradient", "det(A) + trace(A)", "--at", "A=[[4,1,0],[1,5,1],[0,1,6]]", "--format", "json")
    assert json.loads(out.stdout)["symbolic"][0] == "det([[A[1,1], A[1,2]], [A[2,1], A[2,2]]]) + 1"


def test_det_csv_several_points_and_float32(jacli: Invoke) -> None:
    out = jacli("gradient", "det(A)", "--at", A2, "--at", "A=[[1,2],[3,5]]", "--format", "csv")
    assert out.stdout == "2.0,1.0,1.0,3.0,3.0,-1.0,-1.0,2.0\n1.0,2.0,3.0,5.0,5.0,-3.0,-2.0,1.0\n"
    out = jacli("gradient", "sum(inv(A))", "--at", A2, "--format", "csv", "--dtype", "float32")
    got = [float(t) for t in out.stdout.split(",")]
    np.testing.assert_allclose(got, [-0.16, -0.08, -0.08, -0.04], rtol=1e-6)  # -outer(inv(A)ᵀ1, inv(A)1)


def test_points_file(jacli: Invoke, tmp_path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("a, b\n1, 2\n3, 4\n")
    out = jacli("gradient", "det(outer([a, 1], [b, 1]) + eye(2))", "--points", str(path), "--format", "csv")
    # det([[a*b+1, a], [b, 2]]) = a*b + 2: gradient (b, a)
    assert out.exit_code == 0, out.stderr
    rows = [[float(t) for t in line.split(",")] for line in out.stdout.splitlines()]
    np.testing.assert_allclose(rows, [[1, 2, 2, 1], [3, 4, 4, 3]], rtol=1e-14)


def test_latex_and_table(jacli: Invoke) -> None:
    out = jacli("gradient", "det(A)", "--at", "A=[[4,1,0],[1,5,1],[0,1,6]]", "--format", "latex")
    assert r"\det \begin{bmatrix}A_{1,1} & A_{1,2} \\ A_{2,1} & A_{2,2}\end{bmatrix}" in out.stdout
    out = jacli("jacobian", "inv(A)", "--at", A2, "--format", "latex")
    assert (
        r"\left(\begin{bmatrix}A_{0,0} & A_{0,1} \\ A_{1,0} & A_{1,1}\end{bmatrix}^{-1}\right)_{00}\right)^{2}"
        in out.stdout
    )
    out = jacli("jacobian", "solve(A, b)", "--at", A2 + ", b=[1,1]")
    assert out.exit_code == 0
    assert "solve([[A₀₀, A₀₁], [A₁₀, A₁₁]], [b₀, b₁])" in out.stdout.replace(" ↪\n\n↪ ", "")


def test_singular_matrix_gives_nan_with_the_warning(jacli: Invoke) -> None:
    """As 1/0 does: non-finite values, a warning, exit 0."""
    out = jacli("gradient", "sum(inv(A))", "--at", "A=[[1,2],[2,4]]", "--format", "json", "--exact")
    assert out.exit_code == 0
    data = json.loads(out.stdout)
    assert data["value"] == [None] and data["result"] == [None] * 4 and data["exact"] == ["nan"] * 4
    assert out.stderr.startswith("jacli: warning: non-finite values")
    out = jacli("jacobian", "solve(A, b)", "--at", "A=[[1,2],[2,4]], b=[1,1]", "--format", "csv")
    assert out.exit_code == 0 and set(out.stdout.replace("\n", ",").strip(",").split(",")) == {"nan"}
    # the determinant itself is defined there, and so is its gradient (the cofactors)
    out = jacli("gradient", "det(A)", "--at", "A=[[1,2],[2,4]]", "--exact", "--format", "json")
    assert json.loads(out.stdout)["exact"] == ["4", "-2", "-2", "1"]


def test_constant_matrices_are_exact(jacli: Invoke) -> None:
    out = jacli("gradient", "x*det([[1,2],[3,4]]) + x*sum(inv([[2,0],[0,4]]))", "--at", "x=1", "--format", "json")
    assert json.loads(out.stdout)["symbolic"] == ["-5/4"]


# ---------------------------------------------------------------------------
# Shapes and constructors.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "at", "value"),
    [
        ("reshape(x, 2, 2)", "x=[1,2,3,4]", [1.0, 2.0, 3.0, 4.0]),
        ("reshape(x, -1)", "x=[[1,2],[3,4]]", [1.0, 2.0, 3.0, 4.0]),
        ("reshape(x, 1, -1)", "x=[[1,2],[3,4]]", [1.0, 2.0, 3.0, 4.0]),
        ("concat(x, 2*x, [x[0]])", "x=[1,2]", [1.0, 2.0, 2.0, 4.0, 1.0]),
        ("concat(A, [[1, 1]])", "A=[[1,2],[3,4]]", [1.0, 2.0, 3.0, 4.0, 1.0, 1.0]),
        ("stack(x[0], x[1], 3)", "x=[1,2]", [1.0, 2.0, 3.0]),
        ("x*arange(3)", "x=2", [0.0, 2.0, 4.0]),
        ("x*arange(1, 2, 1/4)", "x=2", [2.0, 2.5, 3.0, 3.5]),
        ("x*arange(3, 0, -1)", "x=1", [3.0, 2.0, 1.0]),
        ("x*linspace(0, 1, 5)", "x=2", [0.0, 0.5, 1.0, 1.5, 2.0]),
        ("x*eye(2)", "x=3", [3.0, 0.0, 0.0, 3.0]),
        ("x*ones(2)", "x=3", [3.0, 3.0]),
        ("x*zeros(1, 2)", "x=3", [0.0, 0.0]),
        ("diag(x)", "x=[1,2]", [1.0, 0.0, 0.0, 2.0]),
        ("diag(A)", "A=[[1,2,3],[4,5,6]]", [1.0, 5.0]),
        ("outer(x, y)", "x=[1,2], y=[3,4,5]", [3.0, 4.0, 5.0, 6.0, 8.0, 10.0]),
    ],
)
def test_shapes_values(jacli: Invoke, expr: str, at: str, value: list[float]) -> None:
    out = jacli("jacobian", expr, "--at", at, "--format", "json")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["value"] == value


def test_shapes_json_outputs_and_derivatives(jacli: Invoke) -> None:
    out = jacli("jacobian", "reshape(x, 2, 2)", "--at", "x=[1,2,3,4]", "--format", "json", "--no-symbolic")
    data = json.loads(out.stdout)
    assert data["outputs"] == ["f[0,0]", "f[0,1]", "f[1,0]", "f[1,1]"]
    assert data["result"] == np.eye(4).tolist()
    out = jacli("jacobian", "stack(x, 2*x)", "--at", "x=[1,2]", "--format", "csv")
    assert out.stdout == "1.0,0.0\n0.0,1.0\n2.0,0.0\n0.0,2.0\n"
    out = jacli("jacobian", "x*linspace(0, 1, 3)", "--at", "x=2", "--format", "json")
    assert json.loads(out.stdout)["symbolic"] == [["0"], ["1/2"], ["1"]]


ERRORS = [
    ("det(x)", "x=[1,2]", "det needs a square matrix, got shape (2,) at column 1"),
    ("trace(A)", "A=[[1,2,3],[4,5,6]]", "trace needs a square matrix, got shape (2, 3) at column 1"),
    ("sum(inv(A))", "A=[[1,2,3],[4,5,6]]", "inv needs a square matrix, got shape (2, 3) at column 5"),
    (
        "sum(solve(A, b))",
        "A=[[1,2],[3,4]], b=[1,2,3]",
        "solve(A, b) needs b with 2 rows (a vector or a matrix) for A of shape (2, 2), got shape (3,) at column 5",
    ),
    ("sum(outer(A, x))", "A=[[1,2],[3,4]], x=[1,2]", "outer needs two vectors, got shapes (2, 2) and (2,) at column 5"),
    ("diag(x)", "x=2", "diag needs a vector or a matrix, got shape () at column 1"),
    ("sum(reshape(x, 3))", "x=[1,2]", "reshape: cannot reshape shape (2,) (2 elements) into (3,) at column 5"),
    ("sum(reshape(x, -1, -1))", "x=[1,2]", "reshape: only one size can be -1 at column 5"),
    ("sum(reshape(x, y))", "x=[1,2], y=2", "reshape: sizes must be integer constants, got y at column 5"),
    ("sum(reshape(x, 1.5))", "x=[1,2]", "reshape: sizes must be integer constants, got 3/2 at column 5"),
    ("sum(ones(-2))*x", "x=2", "ones: sizes must be positive, got -2 at column 5"),
    ("sum(ones(0))*x", "x=2", "ones: sizes must be positive, got 0 at column 5"),
    (
        "sum(ones(10**9))*x",
        "x=2",
        "ones: the result would have 1,000,000,000 elements; the limit is 10,000 "
        "(set JACLI_MAX_ELEMENTS to raise it) at column 5",
    ),
    (
        "sum(eye(10**5))*x",
        "x=2",
        "eye: the result would have 10,000,000,000 elements; the limit is 10,000 "
        "(set JACLI_MAX_ELEMENTS to raise it) at column 5",
    ),
    (
        "sum(concat(x, A))",
        "x=[1,2], A=[[1,2],[3,4]]",
        "concat: shapes (2,), (2, 2) differ beyond the first axis at column 5",
    ),
    (
        "sum(concat(x, y))",
        "x=[1,2], y=1",
        "concat needs arrays, argument 2 is a scalar (use stack for scalars) at column 5",
    ),
    ("sum(stack(x, y))", "x=[1,2], y=1", "stack needs values of one shape, got shapes (2,), () at column 5"),
    ("sum(x*arange(0))", "x=2", "arange: no values from 0 to 0 in steps of 1 (empty arrays are refused) at column 7"),
    ("sum(x*arange(0, 1, 0))", "x=2", "arange: the step must not be zero at column 7"),
    ("sum(x*arange(0, pi))", "x=2", "arange: arguments must be rational constants (exact), got pi at column 7"),
    ("sum(x*arange(y))", "x=2, y=3", "arange: arguments must be real constants, got y at column 7"),
    ("sum(x*linspace(0, 1, 0))", "x=2", "linspace: sizes must be positive, got 0 at column 7"),
    ("x*ones", "x=1", "'ones' is a function; call it as ones(...) at column 3"),
    ("x*det(A, A)", "x=1, A=[[1]]", "det() takes 1 argument, got 2 at column 3"),
]


@pytest.mark.parametrize(("expr", "at", "message"), ERRORS)
def test_errors_name_the_shapes(jacli: Invoke, expr: str, at: str, message: str) -> None:
    out = jacli("gradient", expr, "--at", at)
    assert_usage_error(out)
    assert out.stderr.splitlines()[0] == f"jacli: error: {message}"


def test_a_reserved_name_given_a_value_is_named(jacli: Invoke) -> None:
    out = jacli("gradient", "x*2", "--at", "x=1, ones=2")
    assert_usage_error(out)
    assert (
        out.stderr.splitlines()[0]
        == "jacli: error: --at names 'ones', which is not a variable of the expression (variables: x)"
    )


def test_v_ones_still_works(jacli: Invoke) -> None:
    out = jacli("vjp", "A@B", "--at", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "--v", "ones", "--format", "csv")
    assert out.stdout == "6.0,15.0,6.0,15.0,4.0,4.0,4.0,6.0,6.0,6.0\n"
    out = jacli("vjp", "outer(x, ones(2))", "--at", "x=[1,2]", "--v", "ones", "--format", "csv")
    assert out.stdout == "2.0,2.0\n"


def test_language_page_lists_every_function(jacli: Invoke) -> None:
    page = jacli("language").stdout
    for usage in ("trace(A)", "det(A)", "inv(A)", "solve(A, b)", "outer(a, b)", "diag(v)", "reshape(x, m, n)",
                  "concat(a, b, ...)", "stack(a, b, ...)", "arange(n)   arange(a, b, step)", "linspace(a, b, n)",
                  "eye(n)", "ones(n, m)   zeros(n, m)"):  # fmt: skip
        assert f"\n  {usage} " in page, usage


def test_the_names_are_reserved() -> None:
    for name in ("trace", "det", "inv", "solve", "outer", "diag", "reshape", "concat", "stack", "arange",
                 "linspace", "eye", "ones", "zeros"):  # fmt: skip
        assert language.FUNCTIONS[name].name == name
        args = ", ".join(["x"] * language.FUNCTIONS[name].min_args)
        assert language.parse_expression(f"{name}({args}) + y").names == ("x", "y")


def test_the_api_and_graph() -> None:
    r = jacli.gradient("det(A)", at={"A": [[2, 1], [1, 3]]})
    assert r.result == [3.0, -1.0, -1.0, 2.0]
    r = api.jacobian("solve(A, b)", at="A=[[2,1],[1,3]], b=[1,2]", symbolic_form=False)
    assert r.value == pytest.approx([0.2, 0.6], rel=1e-12)


def test_graph_names_the_op(jacli: Invoke) -> None:
    out = jacli("graph", "det(A)", "--at", A2, "--format", "json")
    assert out.exit_code == 0, out.stderr
    nodes = json.loads(out.stdout)["nodes"]
    det_node = next(n for n in nodes if n["op"] == "det")
    assert det_node["value"] == 5.0
    assert [n["adjoint"] for n in nodes if n["op"] == "input"] == [3.0, -1.0, -1.0, 2.0]


def test_hessian_of_a_10x10_determinant_is_quick_enough() -> None:
    """10! terms expanded would never finish; the nodes keep the work to n⁴ small minors."""
    n = 10
    a = [[(4 * n if i == j else 0) + (i * 7 + j * 3) % 5 - 2 for j in range(n)] for i in range(n)]
    r = api.gradient("det(A)", at=_at(A=a), symbolic_form=True)
    m = np.array(a, dtype=float)
    np.testing.assert_allclose(r.result, (np.linalg.det(m) * np.linalg.inv(m).T).ravel(), rtol=1e-9)


# ---------------------------------------------------------------------------
# Every part-B row: its views agree (as tests/test_functions.py checks the scalar rows).
# ---------------------------------------------------------------------------

M = [[3, 1, 0], [1, 4, 1], [0, 2, 5]]
VIEW_CASES = {
    "trace": [M],
    "det": [M],
    "inv": [M],
    "solve": [M, [1, -2, 3]],
    "outer": [[1, 2], [3, 4, 5]],
    "diag": [[1, 2, 3]],
    "reshape": [[1, 2, 3, 4, 5, 6], 3, 2],
    "concat": [[1, 2], [3]],
    "stack": [[1, 2], [3, 4]],
    "arange": [1, 7, 2],
    "linspace": [0, 1, 5],
    "eye": [3],
    "ones": [2, 3],
    "zeros": [2, 3],
}
SIZES = {"reshape": (1, 2), "arange": (0, 1, 2), "linspace": (0, 1, 2), "eye": (0,), "ones": (0, 1), "zeros": (0, 1)}
"""Arguments that torch takes as Python numbers."""
LISTED = {"concat", "stack"}
"""torch takes these arguments as one list."""


def test_every_part_b_row_has_a_view_case() -> None:
    rows = [row.name for row in language.ROWS]
    assert rows[rows.index("trace") :] == list(VIEW_CASES)


@pytest.mark.parametrize("name", list(VIEW_CASES))
def test_torch_by_name_computes_what_sympy_builds(name: str) -> None:
    import torch

    from jacli import compile as lowering

    row, args = language.FUNCTIONS[name], VIEW_CASES[name]
    values = [np.array(a, dtype=object) if isinstance(a, list) else language.scalar(a) for a in args]
    values = [np.vectorize(sympy.Integer, otypes=[object])(v) if v.shape else language.scalar(sympy.Integer(v[()]))
              for v in values]  # fmt: skip
    built = row.build(*values)
    exact = np.array([language.constant_value(e) for e in np.asarray(built).flat])
    torch_args = [a if i in SIZES.get(name, ()) else torch.tensor(a, dtype=torch.float64) for i, a in enumerate(args)]
    fn = operator.attrgetter(row.torch.removeprefix("torch."))(torch)
    if name == "reshape":
        got = fn(torch_args[0], tuple(torch_args[1:]))
    elif name in LISTED:
        got = fn(torch_args)
    elif name in ("arange", "linspace", "eye", "ones", "zeros"):
        got = fn(*torch_args, dtype=torch.float64)
    else:
        got = fn(*torch_args)
    assert tuple(got.shape) == np.asarray(built).shape
    np.testing.assert_allclose(got.flatten().numpy(), exact, rtol=1e-12, atol=1e-12)
    if row.node is not None:  # the node compile lowers, on symbols, agrees too
        symbols = [np.array([sympy.Symbol(f"a{i}_{k}", real=True) for k in range(np.size(a))], dtype=object).reshape(
            np.shape(a)) for i, a in enumerate(args)]  # fmt: skip
        nodes = np.asarray(row.build(*symbols)).flat
        flat_args = [torch.tensor(float(x), dtype=torch.float64) for a in args for x in np.ravel(a)]
        for node, expected in zip(nodes, exact, strict=True):
            assert isinstance(node, row.node) and language.row_of(node) is row
            assert language.user_text(node).startswith(f"{name}(")
            leaf = dict(zip([s for v in symbols for s in v.flat], flat_args, strict=True))
            operands = [leaf[a] if a in leaf else torch.tensor(float(a), dtype=torch.float64) for a in node.args]
            lowered = lowering.torch_function(node)(*operands)
            assert float(lowered) == pytest.approx(expected, rel=1e-12, abs=1e-12)
            assert graphs_op(node) == name


def graphs_op(node: sympy.Basic) -> str:
    from jacli import graphs

    return graphs._op_name(node, "operation")


def test_big_or_irrational_constant_matrices_stay_nodes(jacli: Invoke) -> None:
    """Exact SymPy matrices only up to the limits (a 100×100 with pi took minutes); no traceback beyond them."""
    out = jacli("gradient", "x*det(ones(20,20) + eye(20))", "--at", "x=1", "--exact", "--format", "json")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["result"] == [pytest.approx(21.0, rel=1e-12)]
    out = jacli("gradient", "x*det(ones(100,100) + eye(100)*pi)", "--at", "x=1", "--format", "csv", "--no-symbolic")
    assert out.exit_code == 0, out.stderr
    assert float(out.stdout) == pytest.approx(np.pi**99 * (100 + np.pi), rel=1e-10)
    out = jacli("gradient", "x*det(A)", "--at", "x=1, A=[[pi,1],[1,2]]", "--wrt", "x", "--exact", "--format", "json")
    assert json.loads(out.stdout)["exact"] == ["-1 + 2*pi"]
