"""Symbolic answers without a point (issue 15): no ``--at``, a symbolic ``--v``, ``--shape``.

Every quantity command without ``--at``, in every format, compared whole with
tests/golden/nopoint_* (regenerate with ``--update-goldens`` and review the diff);
the symbolic answer is the one a point gives (the same strings), and its values at a
point are the numbers autodiff and finite differences give there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
from conftest import Invoke, assert_usage_error

from jacli import api, shapes
from jacli.errors import ShapeError, UsageError

GOLDEN = Path(__file__).parent / "golden"
SEED = "2*x0+x1**2, x0**2+2*x1**3"
ENV = {"COLUMNS": "100", "NO_COLOR": "1"}
PI_E = ["2*e*x0 + 2*pi", "6*e*x1**2 + 2*pi*x1"]
"""vjp of SEED with --v pi,e: constants, not names."""

CASES = {
    "jacobian": ["jacobian", SEED],
    "gradient": ["gradient", "2*x0+x1**2"],
    "hessian": ["hessian", "x0**2*x1, x0*x1**3"],
    "hessian_scalar": ["hessian", "x**3*y - y**2"],
    "vjp": ["vjp", SEED, "--v", "v0,v1"],
    "vjp_ones": ["vjp", "A@B", "--v", "ones", "--shape", "A=2x2, B=2x3"],
    "jvp": ["jvp", SEED, "--v", "u"],
    "hvp": ["hvp", "x**2*y + y**3", "--v", "a,b"],
    "laplacian": ["laplacian", "x**2*y + y**3, x*y"],
    "derivative": ["derivative", "x**3*y + x*y**2", "--order", "3"],
    "divergence": ["divergence", "x*y, y*z, z*x"],
    "curl": ["curl", "x*y, y*z, z*x"],
    "curl_plane": ["curl", "x*y**2, x**2"],
    "parameter": ["gradient", "a*x**2 + y", "--wrt", "x,y"],
    "bindings": ["gradient", "c = a+b; d = b+1; c*d"],
    "shape_vector": ["gradient", "2*dot(x,x)", "--shape", "x=3"],
    "shape_matrix": ["jacobian", "A@x + b", "--wrt", "x", "--shape", "A=2 x 2, x=2, b=2"],
    "two_tensors": ["vjp", "3*a**3 - b**2", "--v", "p", "--shape", "a=2, b=2"],
}
FORMATS = ["table", "json", "latex"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_command_without_a_point(jacli: Invoke, request: pytest.FixtureRequest, name: str, fmt: str) -> None:
    out = jacli(*CASES[name], "--format", fmt, env=ENV)
    assert out.exit_code == 0 and out.stderr == "", out.stderr
    path = GOLDEN / f"nopoint_{name}.{fmt}"
    if request.config.getoption("--update-goldens"):
        path.write_text(out.stdout)
    assert out.stdout == path.read_text()


@pytest.mark.parametrize("name", ["jacobian", "gradient", "hessian", "vjp", "laplacian", "divergence"])
def test_csv_needs_numbers(jacli: Invoke, name: str) -> None:
    out = jacli(*CASES[name], "--format", "csv", env=ENV)
    assert_usage_error(out)
    assert out.stderr == (
        "jacli: error: --format csv writes numbers, and without --at there are none; use table, json or latex\n"
    )


def test_json_keys_without_a_point(jacli: Invoke) -> None:
    """No point, value, result or mode; the keys that do not depend on a point, in their usual order."""
    out = jacli("jacobian", SEED, "--format", "json", env=ENV)
    obj = json.loads(out.stdout)
    assert list(obj) == ["command", "inputs", "outputs", "symbolic"]
    assert obj["symbolic"] == [["2", "2*x1"], ["2*x0", "6*x1**2"]]
    vjp = json.loads(jacli(*CASES["vjp"], "--format", "json", env=ENV).stdout)
    assert list(vjp) == ["command", "inputs", "outputs", "v", "symbolic"]
    assert vjp["v"] == ["v0", "v1"] and vjp["symbolic"] == ["2*v0 + 2*v1*x0", "2*v0*x1 + 6*v1*x1**2"]


def test_the_seed_gradient_without_a_point(jacli: Invoke) -> None:
    """The issue's case: `jacli gradient "2*x0+x1**2"` prints the symbolic gradient."""
    out = jacli("gradient", "2*x0+x1**2", env=ENV)
    assert (out.exit_code, out.stderr) == (0, "")
    assert out.stdout == (
        "gradient of  f(x0, x1) = 2*x0+x1**2\n"
        "at           no point: the symbolic result only (--at gives numbers)\n"
        "symbolic\n"
        "[2  2⋅x₁]\n"
    )


# ---------------------------------------------------------------------------
# The same answer as at a point, and the right numbers there (three ways).
# ---------------------------------------------------------------------------

AT_A_POINT = [
    ("jacobian", SEED, "1,2", {}),
    ("gradient", "x1**2 + x2**3 + x3**4", "1,2,3", {}),
    ("hessian", "x0**2*x1, x0*x1**3", "1,2", {}),
    ("vjp", "3*a**3 - b**2", "a=[1,2], b=[2,3]", {"v": "1,1"}),
    ("jvp", SEED, "1,2", {"v": "1,0"}),
    ("hvp", "x**2*y + y**3", "x=1, y=2", {"v": "1,0"}),
    ("laplacian", "x**2*y + y**3, x*y", "x=1, y=2", {}),
    ("divergence", "x*y, y*z, z*x", "x=1, y=2, z=3", {}),
    ("curl", "x*y, y*z, z*x", "x=1, y=2, z=3", {}),
    ("gradient", "2*dot(x,x)", "x=[0,1,2,3]", {}),
    ("vjp", "A@B", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", {"v": "ones"}),
]


def _shape_of(expr: str, at: str) -> dict[str, tuple[int, ...]]:
    return {v.name: v.shape for v in api.problem(expr, at).program.variables}


@pytest.mark.parametrize(("command", "expr", "at", "extra"), AT_A_POINT)
def test_same_symbolic_form_as_at_a_point(command: str, expr: str, at: str, extra: dict[str, str]) -> None:
    function = getattr(api, command)
    pointed = function(expr, at=at, **extra)
    symbolic = function(expr, shape=_shape_of(expr, at), **extra)
    assert symbolic.symbolic == pointed.symbolic
    assert (symbolic.inputs, symbolic.outputs, symbolic.shape) == (pointed.inputs, pointed.outputs, pointed.shape)
    assert symbolic.point is None and symbolic.value is None and symbolic.result is None and symbolic.tensor is None


def _leaves(nested: object) -> list[object]:
    return [x for item in nested for x in _leaves(item)] if isinstance(nested, list) else [nested]


def _exact_values(result: api.Result, values: dict[str, float]) -> list[float]:
    exprs = _leaves(result.symbolic_exprs)
    subs = {s: values[s.name] for e in exprs for s in sympy.sympify(e).free_symbols}
    return [float(sympy.sympify(e).subs(subs)) for e in exprs]


@pytest.mark.parametrize("weights", [(1.0, 2.0), (2.0, 1.0), (-0.5, 3.0)])
def test_symbolic_v_gives_the_numbers_three_ways(weights: tuple[float, float]) -> None:
    """vjp with --v v0,v1, evaluated at (x, v): autodiff and finite differences of vᵀf agree."""
    symbolic = api.vjp(SEED, v="v0,v1")
    x = (1.0, 2.0)
    exact = _exact_values(symbolic, {"x0": x[0], "x1": x[1], "v0": weights[0], "v1": weights[1]})
    autodiff = api.vjp(SEED, at=x, v=list(weights), symbolic_form=False).result
    h = 1e-6

    def weighted(point: tuple[float, float]) -> float:
        return sum(w * f for w, f in zip(weights, api.jacobian(SEED, at=point, symbolic_form=False).value, strict=True))

    finite = [(weighted((x[0] + h, x[1])) - weighted((x[0] - h, x[1]))) / (2 * h),
              (weighted((x[0], x[1] + h)) - weighted((x[0], x[1] - h))) / (2 * h)]  # fmt: skip
    assert exact == pytest.approx(autodiff, rel=1e-12)
    assert finite == pytest.approx(autodiff, rel=1e-6)


def test_symbolic_jvp_and_hvp() -> None:
    jvp = api.jvp(SEED, v=["t", "s"])
    assert jvp.symbolic == ["2*s*x1 + 2*t", "6*s*x1**2 + 2*t*x0"] and jvp.v == ("t", "s")
    hvp = api.hvp("x**2*y + y**3", v="a,b")
    assert hvp.symbolic == ["2*a*y + 2*b*x", "2*a*x + 6*b*y"]
    assert _exact_values(hvp, {"x": 1, "y": 2, "a": 1, "b": 0}) == api.hvp("x**2*y + y**3", at="1,2", v="1,0").result


# ---------------------------------------------------------------------------
# Symbolic --v: what is refused.
# ---------------------------------------------------------------------------

V_ERRORS = [
    (["vjp", SEED, "--v", "v0,v1", "--at", "1,2"],
     "--v: 'v0' is not a constant; names (a symbolic v) give only the symbolic answer, without --at or --points"),
    (["vjp", SEED, "--v", "v0,v1,v2"], "--v has 3 names but vjp needs 2 (one per output: f0, f1)"),
    (["jvp", SEED, "--v", "x0,v"], "--v names 'x0', a variable of the expression; give v other names"),
    (["jvp", "A@x", "--v", "A", "--shape", "A=2x2, x=2"],
     "--v names 'A', a variable of the expression; give v other names"),
]  # fmt: skip


def test_symbolic_v_with_points_is_refused(jacli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("x0,x1\n1,2\n")
    out = jacli("vjp", SEED, "--v", "v0,v1", "--points", str(tmp_path / "p.csv"), env=ENV)
    assert_usage_error(out)
    assert out.stderr == (
        "jacli: error: --v: 'v0' is not a constant; names (a symbolic v) give only the symbolic answer, "
        "without --at or --points\n"
    )


def test_numeric_v_and_constants_still_numbers() -> None:
    """`pi`, `e` and `ones` are values, not names: numbers, as before."""
    assert api.vjp(SEED, at="1,2", v="pi,e").v == pytest.approx((3.141592653589793, 2.718281828459045))
    assert api.vjp(SEED, v="pi,e").symbolic == PI_E
    assert api.vjp(SEED, v="ones").v == (1.0, 1.0)


# ---------------------------------------------------------------------------
# Errors of a symbolic answer: what needs a point says so.
# ---------------------------------------------------------------------------

NEEDS_A_POINT = [
    (["taylor", "exp(x)"], "the Taylor polynomial is built around a point: give --at"),
    (["gradient", "x**2", "--exact"], "--exact evaluates the symbolic result at a point: give --at"),
    (["gradient", "x**2", "--no-symbolic"],
     "without --at there are no numbers, only the symbolic result: drop --no-symbolic or give --at"),
    (["gradient", "x**2", "--show-torch"], "--show-torch prints a program that runs at a point: give --at"),
    (["check", "x**2"], "--at has no value for 'x' (variables in order: x)"),
    (["graph", "x**2"], "--at has no value for 'x' (variables in order: x)"),
    (["gradient", "x0*x1, x1"], "gradient needs a scalar expression, but this one has 2 outputs (shape (2,)); "
     "use jacobian or hessian"),
]  # fmt: skip


def test_numbers_options_are_accepted_without_a_point(jacli: Invoke) -> None:
    """--dtype, --mode, --device, --digits shape numbers; without any they change nothing."""
    plain = jacli("jacobian", SEED, "-f", "json", env=ENV)
    other = jacli("jacobian", SEED, "-f", "json", "--dtype", "float32", "--mode", "forward", "--digits", "3", env=ENV)
    assert plain.exit_code == other.exit_code == 0 and plain.stdout == other.stdout


def test_several_at_are_unchanged(jacli: Invoke) -> None:
    out = jacli("gradient", "x**2*y", "--at", "1,2", "--at", "3,4", "-f", "json", env=ENV)
    assert [json.loads(line)["result"] for line in out.stdout.splitlines()] == [[4.0, 1.0], [24.0, 9.0]]


# ---------------------------------------------------------------------------
# The API.
# ---------------------------------------------------------------------------


def test_api_without_at() -> None:
    r = api.gradient("2*x0+x1**2")
    assert r.symbolic == ["2", "2*x1"] and r.symbolic_exprs == [2, 2 * sympy.Symbol("x1", real=True)]
    assert (r.point, r.value, r.result, r.tensor, r.shape, r.v, r.mode) == (None, None, None, None, (2,), None, None)
    assert r.finite and r.shapes == {"x0": (), "x1": ()}
    assert r._repr_latex_() == r"$$\nabla f = \begin{bmatrix} 2 & 2 x_{1} \end{bmatrix}$$"


def test_api_shape_as_text_or_mapping() -> None:
    text = api.vjp("A@B", v="ones", shape="A=2x2, B=2x3")
    mapping = api.vjp("A@B", v="ones", shape={"A": (2, 2), "B": "2x3"})
    assert text.symbolic == mapping.symbolic and text.shapes == {"A": (2, 2), "B": (2, 3)}
    assert [b.name for b in text.blocks] == ["A", "B"] and text.shape == (10,)


def test_api_shape_with_a_point_must_agree() -> None:
    at = "x=[1,2], A=[[1,2],[3,4]]"
    assert api.gradient("x@A@x", at=at, wrt="x", shape="x=2, A=2x2").result == [12.0, 21.0]
    with pytest.raises(ShapeError, match=r"^--shape gives 'A' the shape 3x3, but its value has 2x2$"):
        api.gradient("x@A@x", at=at, wrt="x", shape="A=3x3")


def test_api_named_dimensions_give_only_the_matrix_form() -> None:
    result = api.gradient("x@A@x", wrt="x", shape="x=n, A=n x n")
    assert (result.symbolic_matrix.text, result.symbolic, result.point, result.result) == (
        "(A + A.T)@x",
        None,
        None,
        None,
    )
    assert result.shapes == {"A": ("n", "n"), "x": ("n",)}
    with pytest.raises(UsageError, match=r"^no matrix form was found for this gradient, and named dimensions \(x=n\)"):
        api.gradient("sum(abs(x))", wrt="x", shape="x=n")


# ---------------------------------------------------------------------------
# --shape.
# ---------------------------------------------------------------------------

PARSED = [
    ("x=3, A=3x3", {"x": (3,), "A": (3, 3)}),
    ("A = 3 x 3", {"A": (3, 3)}),
    ("T=2x3x4", {"T": (2, 3, 4)}),
    ("x=n, A=n x n", {"x": ("n",), "A": ("n", "n")}),
    ("A=3×n, B=m x 2", {"A": (3, "n"), "B": ("m", 2)}),
    ("x=1", {"x": (1,)}),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parse_shapes(text: str, expected: dict[str, tuple[int | str, ...]]) -> None:
    assert shapes.parse_shapes(text) == expected


SHAPE_ERRORS = [
    ("A=3x", "--shape 'A=3x': a dimension is missing"),
    ("A=3 x", "--shape 'A=3 x': a dimension is missing"),
    ("A=0x3", "--shape 'A=0x3': a dimension must be at least 1, not 0"),
    ("A=3xx3", "--shape 'A=3xx3': '3xx3' is not a dimension (a whole number or a name; put spaces around the x "
     "between named dimensions: 'n x n')"),
    ("A=", "--shape 'A=': no dimensions after '='"),
    ("3", "--shape '3': expected NAME=SHAPE, e.g. 'A=3x3'"),
    ("1x=3", "--shape '1x=3': '1x' is not a variable name"),
    ("x=3,,y=2", "--shape 'x=3,,y=2': an empty entry (two commas, or a trailing comma)"),
    ("x=3, x=4", "--shape gives 'x' twice"),
    ("x=-1", "--shape 'x=-1': '-1' is not a dimension (a whole number or a name; put spaces around the x "
     "between named dimensions: 'n x n')"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), SHAPE_ERRORS)
def test_shape_errors_name_the_bad_part(jacli: Invoke, text: str, message: str) -> None:
    out = jacli("gradient", "sum(x)", "--shape", text, env=ENV)
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {message}\n"


CLI_SHAPE_ERRORS = [
    (["gradient", "sum(x)", "--shape", "z=2"],
     "--shape names 'z', which is not a variable of the expression (variables: x)"),
    (["gradient", "sum(x)", "--shape", "x=100000"],
     "--shape gives 'x' 100,000 elements; the limit is 10,000 (set JACLI_MAX_ELEMENTS to raise it)"),
    (["gradient", "sum(x)", "--shape", "x=" + "x".join(["1"] * 33)],
     "--shape gives 'x' 33 axes; arrays have at most 32"),
    (["gradient", "abs(x)@A@x", "--wrt", "x", "--shape", "x=n, A=n x n"],
     "no matrix form was found for this gradient, and named dimensions (A=n x n, x=n) give only the matrix form; "
     'give numeric shapes (--shape "x=3, A=3x3") for the elementwise result'),
    (["gradient", "sum(x)", "--at", "x=[1,2]", "--shape", "x=3"], "--shape gives 'x' the shape 3, but its value has 2"),
    (["gradient", "sum(x)", "--at", "x=[1,2]", "--at", "x=[1,2]", "-f", "json", "--shape", "x=3"],
     "--shape gives 'x' the shape 3, but its value has 2"),
    (["gradient", "sum(x)", "--at", "x=[1,2]", "--shape", "x=2", "--show-torch"],
     "--shape gives shapes without values: use it without --points and --show-torch"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), V_ERRORS + NEEDS_A_POINT + CLI_SHAPE_ERRORS)
def test_usage_errors(jacli: Invoke, argv: list[str], message: str) -> None:
    """Each refusal: exit 2, its one exact ``jacli: error:`` line, nothing on stdout."""
    out = jacli(*argv, env=ENV)
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {message}\n"


def test_a_long_shape_is_refused_unread(jacli: Invoke) -> None:
    out = jacli("gradient", "sum(x)", "--shape", "x=3," * 3000, env=ENV)
    assert_usage_error(out)
    assert out.stderr == "jacli: error: --shape is 12,000 characters long; the limit is 10,000\n"


def test_shape_with_points_is_refused(jacli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("x\n1\n")
    out = jacli("gradient", "x**2", "--points", str(tmp_path / "p.csv"), "--shape", "x=1", env=ENV)
    assert_usage_error(out)
    assert out.stderr == "jacli: error: --shape gives shapes without values: use it without --points and --show-torch\n"


def test_shape_agreeing_with_the_point_changes_nothing(jacli: Invoke) -> None:
    argv = ["vjp", "A@B", "--at", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "--v", "ones", "-f", "json"]
    assert jacli(*argv, "--shape", "A=2x2, B=2 x 3", env=ENV).stdout == jacli(*argv, env=ENV).stdout


def test_the_server_gives_the_same_answer() -> None:
    """The warm server runs the same funnel: covered in test_server.py's transparency cases (slow tier)."""
    from test_server import CASES as SERVER_CASES

    ids = {case.id for case in SERVER_CASES}
    assert {"no-point", "symbolic-v-shape"} <= ids
