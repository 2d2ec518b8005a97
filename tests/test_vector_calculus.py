"""divergence, curl, and what the Hessian of a scalar f says (issue 14): against exact SymPy, identities, words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
from conftest import Invoke, assert_usage_error
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import api, curvature

X, Y, Z = sympy.symbols("x y z")
SYMBOLS = (X, Y, Z)

# Building blocks of random smooth fields: (jacli text, SymPy expression) over x, y, z.
ATOMS = [
    ("x", X), ("y", Y), ("z", Z), ("x*y", X * Y), ("y*z**2", Y * Z**2), ("x**3", X**3),
    ("sin(x*z)", sympy.sin(X * Z)), ("exp(y - x)", sympy.exp(Y - X)), ("cos(y)*z", sympy.cos(Y) * Z),
    ("log(1 + x**2)", sympy.log(1 + X**2)), ("sqrt(2 + y**2)", sympy.sqrt(2 + Y**2)), ("1", sympy.Integer(1)),
]  # fmt: skip


@st.composite
def components(draw: st.DrawFn, count: int, dims: int) -> list[tuple[str, sympy.Expr]]:
    """``count`` random smooth expressions of the first ``dims`` of x, y, z (text and SymPy)."""
    allowed = [atom for atom in ATOMS if atom[1].free_symbols <= set(SYMBOLS[:dims])]
    out = []
    for _ in range(count):
        terms = draw(st.lists(st.tuples(st.integers(-3, 3), st.sampled_from(allowed)), min_size=1, max_size=3))
        text = " + ".join(f"({c})*{t}" for c, (t, _) in terms)
        out.append((text, sympy.Add(*(c * e for c, (_, e) in terms))))
    return out


def _field(texts: list[str], dims: int) -> str:
    """The components as one jacli expression that names every variable (a component may lack one)."""
    return ", ".join(texts) + "".join(f" + 0*{s}" for s in SYMBOLS[:dims])


def _exact_curl(fs: list[sympy.Expr], xs: tuple[sympy.Symbol, ...]) -> list[sympy.Expr] | sympy.Expr:
    d = sympy.diff
    if len(xs) == 2:
        return d(fs[1], xs[0]) - d(fs[0], xs[1])
    return [d(fs[2], xs[1]) - d(fs[1], xs[2]), d(fs[0], xs[2]) - d(fs[2], xs[0]), d(fs[1], xs[0]) - d(fs[0], xs[1])]


def _at(xs: tuple[sympy.Symbol, ...], point: list[float]) -> str:
    return ", ".join(f"{s}={v!r}" for s, v in zip(xs, point, strict=True))


def _values(expr: object, xs: tuple[sympy.Symbol, ...], point: list[float]) -> object:
    """``expr`` (one or a list) at the point; symbols matched by name (jacli's carry assumptions)."""
    by_name = dict(zip((s.name for s in xs), point, strict=True))

    def value(e: sympy.Expr) -> float:
        return float(sympy.sympify(e).subs({s: by_name[s.name] for s in sympy.sympify(e).free_symbols}))

    return [value(e) for e in expr] if isinstance(expr, list) else value(expr)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Property tests against exact SymPy.
# ---------------------------------------------------------------------------


@settings(max_examples=15)
@given(dims=st.sampled_from([2, 3]), data=st.data())
def test_divergence_equals_exact_sympy_at_random_points(dims: int, data: st.DataObject) -> None:
    fields = data.draw(components(dims, dims))
    point = data.draw(st.lists(st.floats(-2, 2), min_size=dims, max_size=dims))
    xs = SYMBOLS[:dims]
    expr = _field([t for t, _ in fields], dims)
    exact = _values(sympy.Add(*(sympy.diff(f, x) for (_, f), x in zip(fields, xs, strict=True))), xs, point)
    r = api.divergence(expr, at=_at(xs, point), wrt=[s.name for s in xs])
    assert r.shape == () and r.result == pytest.approx(exact, rel=1e-10, abs=1e-10)
    assert _values(r.symbolic_exprs, xs, point) == pytest.approx(exact, rel=1e-10, abs=1e-10)


@settings(max_examples=15)
@given(dims=st.sampled_from([2, 3]), data=st.data())
def test_curl_equals_exact_sympy_at_random_points(dims: int, data: st.DataObject) -> None:
    fields = data.draw(components(dims, dims))
    point = data.draw(st.lists(st.floats(-2, 2), min_size=dims, max_size=dims))
    xs = SYMBOLS[:dims]
    exact = _values(_exact_curl([f for _, f in fields], xs), xs, point)
    r = api.curl(_field([t for t, _ in fields], dims), at=_at(xs, point), wrt=[s.name for s in xs])
    assert r.shape == ((3,) if dims == 3 else ())
    assert r.result == pytest.approx(exact, rel=1e-10, abs=1e-10)
    assert _values(r.symbolic_exprs, xs, point) == pytest.approx(exact, rel=1e-10, abs=1e-10)


@settings(max_examples=15)
@given(dims=st.sampled_from([2, 3]), data=st.data())
def test_curl_of_a_gradient_is_zero(dims: int, data: st.DataObject) -> None:
    ((_, g),) = data.draw(components(1, dims))
    point = data.draw(st.lists(st.floats(-2, 2), min_size=dims, max_size=dims))
    xs = SYMBOLS[:dims]
    field = _field([sympy.sstr(sympy.diff(g, x)) for x in xs], dims)
    r = api.curl(field, at=_at(xs, point), wrt=[s.name for s in xs])
    numbers = r.result if isinstance(r.result, list) else [r.result]
    assert numbers == pytest.approx([0.0] * len(numbers), abs=1e-10)
    exprs = r.symbolic_exprs if isinstance(r.symbolic_exprs, list) else [r.symbolic_exprs]
    assert [sympy.simplify(e) for e in exprs] == [0] * len(exprs)  # the partials commute symbolically too


@settings(max_examples=15)
@given(data=st.data())
def test_divergence_of_a_curl_is_zero(data: st.DataObject) -> None:
    fields = data.draw(components(3, 3))
    point = data.draw(st.lists(st.floats(-2, 2), min_size=3, max_size=3))
    curl = _exact_curl([f for _, f in fields], SYMBOLS)
    assert isinstance(curl, list)
    field = _field([sympy.sstr(c) for c in curl], 3)
    r = api.divergence(field, at=_at(SYMBOLS, point), wrt=["x", "y", "z"])
    assert r.result == pytest.approx(0.0, abs=1e-9)
    assert sympy.simplify(r.symbolic_exprs) == 0
    # and jacli's own curl, fed back: the same identity through both commands
    once = api.curl(_field([t for t, _ in fields], 3), at=_at(SYMBOLS, point), wrt=["x", "y", "z"])
    again = api.divergence(_field([sympy.sstr(e) for e in once.symbolic_exprs], 3), at=_at(SYMBOLS, point),
                           wrt=["x", "y", "z"])  # fmt: skip
    assert again.result == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------
# The commands: formats, points, errors.
# ---------------------------------------------------------------------------


def _json(jacli: Invoke, *args: str) -> dict:
    out = jacli(*args, "--format", "json")
    assert out.exit_code == 0 and out.stderr == "", out.stderr
    return json.loads(out.stdout)


def test_divergence_and_curl_outputs(jacli: Invoke) -> None:
    div = _json(jacli, "divergence", "x*y, y*z, z*x", "--at", "x=1, y=2, z=3", "--exact")
    assert (div["result"], div["symbolic"], div["exact"]) == (6.0, "x + y + z", "6")
    curl = _json(jacli, "curl", "x*y, y*z, z*x", "--at", "x=1, y=2, z=3", "--exact")
    assert (curl["result"], curl["symbolic"], curl["exact"]) == (
        [-2.0, -3.0, -1.0],
        ["-y", "-z", "-x"],
        ["-2", "-3", "-1"],
    )
    plane = _json(jacli, "curl", "0 - y, x", "--at", "x=1, y=2")
    assert (plane["result"], plane["symbolic"]) == (2.0, "2")
    assert jacli("curl", "x - y, x + y", "--at", "1,2", "--format", "csv").stdout == "2.0\n"
    latex = jacli("divergence", "x*y, y*z, z*x", "--at", "1,2,3", "--format", "latex").stdout
    assert latex.endswith("\\nabla \\cdot f = x + y + z = 6\n")
    f32 = _json(jacli, "curl", "x*y, y*z, z*x", "--at", "0.1,0.2,0.3", "--dtype", "float32", "--no-symbolic")
    assert f32["result"] == pytest.approx([-0.2, -0.3, -0.1], rel=1e-6)


def test_divergence_and_curl_at_points_equal_each_point(jacli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("x,y,z\n1,2,3\n-1,0.5,2\n")
    for command in ("divergence", "curl"):
        expr = "x*y**2, sin(y*z), z*x"
        rows = jacli(command, expr, "--points", str(path), "--format", "json").stdout.splitlines()
        several = jacli(command, expr, "--at", "1,2,3", "--at", "-1,0.5,2", "--format", "json").stdout.splitlines()
        for line, at, other in zip(rows, ("1,2,3", "-1,0.5,2"), several, strict=True):
            one = getattr(api, command)(expr, at=at, symbolic_form=False)
            assert json.loads(line)["result"] == one.result == json.loads(other)["result"]
    table = jacli("divergence", "x*y, y*z, z*x", "--points", str(path), env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert "│ ∇·f │" in table.stdout and "│ 2 │ -1 │ 0.5 │ 2 │" in table.stdout


@pytest.mark.parametrize(
    ("command", "expr", "at", "message"),
    [
        ("divergence", "x*y, y*z", "1,2,3",
         "divergence needs as many outputs as inputs (f: Rⁿ→Rⁿ), but f has 2 outputs and 3 inputs"),
        ("divergence", "x*y", "1,2",
         "divergence needs as many outputs as inputs (f: Rⁿ→Rⁿ), but f has 1 output and 2 inputs"),
        ("curl", "x, y, x*y", "1,2",
         "curl needs f: R³→R³ (3 outputs of 3 inputs) or f: R²→R² (2 outputs of 2 inputs), "
         "but f has 3 outputs and 2 inputs"),
        ("curl", "x*y*z*w, x, y, z", "1,2,3,4",
         "curl needs f: R³→R³ (3 outputs of 3 inputs) or f: R²→R² (2 outputs of 2 inputs), "
         "but f has 4 outputs and 4 inputs"),
        ("curl", "x", "1",
         "curl needs f: R³→R³ (3 outputs of 3 inputs) or f: R²→R² (2 outputs of 2 inputs), "
         "but f has 1 output and 1 input"),
    ],
)  # fmt: skip
def test_other_shapes_exit_2_naming_them(jacli: Invoke, command: str, expr: str, at: str, message: str) -> None:
    out = jacli(command, expr, "--at", at)
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {message}\n"
    many = jacli(command, expr, "--points", "-", input=at.replace(",", " ") + "\n")
    assert_usage_error(many)
    assert many.stderr == f"jacli: error: {message}\n"
    assert_usage_error(jacli(command, expr, "--at", at, "--show-torch"))


@pytest.mark.parametrize(
    ("command", "expr", "at"),
    [
        ("divergence", "x*y**2, sin(y*z), z*x", "x=1, y=2, z=3"),
        ("divergence", "a*b, a**2*b", "a=1, b=2"),
        ("curl", "x*y**2, sin(y*z), z*x", "x=1, y=2, z=3"),
        ("curl", "x*y**2, x**2", "x=1, y=2"),
        ("curl", "v*v[0]", "v=[1,2,3]"),  # one array input of 3 elements
    ],
)
def test_show_torch_programs_print_the_same_numbers(jacli: Invoke, command: str, expr: str, at: str) -> None:
    from test_quantities import _run_program

    out = jacli(command, expr, "--at", at, "--show-torch")
    assert out.exit_code == 0 and out.stderr == "", out.stderr
    expected = getattr(api, command)(expr, at=at, symbolic_form=False).result
    assert _run_program(out.stdout) == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------------------
# What the Hessian says.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "at", "definiteness", "critical_point"),
    [
        ("x**2 + y**2", "0,0", "positive definite", "local minimum"),
        ("0 - x**2 - y**2", "0,0", "negative definite", "local maximum"),
        ("x**2 - y**2", "0,0", "indefinite", "saddle point"),
        ("x**4 + y**4", "0,0", "positive semidefinite", "degenerate"),
        ("0 - x**4 - y**2", "0,0", "negative semidefinite", "degenerate"),
        ("x**2 + y**2", "1,1", "positive definite", None),  # ∇f = (2, 2): not a critical point
        ("x**3 - 3*x*y**2", "0.5,0.25", "indefinite", None),
        ("(x - 1/3)**2 + (y - 2)**2", "0.3333333333333333,2", "positive definite", "local minimum"),
    ],
)
def test_the_hessian_says_what_the_point_is(
    jacli: Invoke, expr: str, at: str, definiteness: str, critical_point: str | None
) -> None:
    obj = _json(jacli, "hessian", expr, "--at", at)
    assert obj["definiteness"] == definiteness
    assert obj.get("critical_point") == critical_point
    assert obj["eigenvalues"] == sorted(obj["eigenvalues"])
    last_keys = ["eigenvalues", "definiteness"] + (["critical_point"] if critical_point else [])
    assert list(obj)[-len(last_keys) :] == last_keys  # after the other keys
    table = jacli("hessian", expr, "--at", at, env={"COLUMNS": "100", "NO_COLOR": "1"}).stdout
    last = table.rstrip("\n").splitlines()[-1]
    if critical_point is None:
        assert last == definiteness
    elif critical_point == "degenerate":
        assert last == f"{definiteness}: degenerate (the Hessian does not decide)"
    else:
        assert last == f"{definiteness}: a {critical_point}"


def test_eigenvalues_match_sympy() -> None:
    r = api.hessian("x**2*y + y**3 + x*y", at="x=1, y=2")
    exact = sorted(float(e) for e in sympy.Matrix([[4, 3], [3, 12]]).eigenvals(multiple=True))
    assert r.facts["eigenvalues"] == pytest.approx(exact, rel=1e-13)
    assert r.facts["definiteness"] == "positive definite" and "critical_point" not in r.facts


def test_float32_tolerance_decides_a_near_critical_point(jacli: Invoke) -> None:
    # ∇f = (2e-5, 0): within √ε·max(1, |f|) in float32 (3.5e-4), far beyond it in float64 (1.5e-8)
    f32 = _json(jacli, "hessian", "x**2 + y**2", "--at", "1e-5,0", "--dtype", "float32")
    f64 = _json(jacli, "hessian", "x**2 + y**2", "--at", "1e-5,0")
    assert f32["critical_point"] == "local minimum" and "critical_point" not in f64
    # an eigenvalue small against the largest: zero in float32, not in float64
    expr = "x**2 + 1e-6*y**2"
    assert _json(jacli, "hessian", expr, "--at", "0,0", "--dtype", "float32")["definiteness"] == "positive semidefinite"
    assert _json(jacli, "hessian", expr, "--at", "0,0")["definiteness"] == "positive definite"


def test_tolerances() -> None:
    eps = 2.0**-52
    assert curvature.zero_tolerance([1.0, 2.0], eps) == 64 * 2 * eps * 2.0
    assert curvature.gradient_tolerance(0.5, eps) == 2.0**-26
    assert curvature.gradient_tolerance(-100.0, eps) == 100 * 2.0**-26
    assert curvature.definiteness([0.0, 0.0], eps) == "positive semidefinite"  # the zero matrix
    assert curvature.describe([float("nan"), 1.0], [0.0, 0.0], 0.0, eps) == {}


def test_only_a_scalar_f_has_the_facts(jacli: Invoke) -> None:
    obj = _json(jacli, "hessian", "x**2*y, x*y**3", "--at", "1,2")
    assert not {"eigenvalues", "definiteness", "critical_point"} & set(obj)
    nan = jacli("hessian", "sqrt(x) + y**2", "--at", "0,1", "--format", "json")  # not finite at the boundary
    assert nan.exit_code == 0 and nan.stderr.startswith("jacli: warning: non-finite values")
    assert not {"eigenvalues", "definiteness", "critical_point"} & set(json.loads(nan.stdout))
    exact = _json(jacli, "hessian", "x**2 - y**2", "--at", "0,0", "--exact")
    assert exact["exact"] == [["2", "0"], ["0", "-2"]] and exact["critical_point"] == "saddle point"


def test_the_facts_at_many_points(jacli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("x,y\n0,0\n1,1\n")
    expr = "x**2 - y**2"
    lines = jacli("hessian", expr, "--points", str(path), "--format", "json").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r.get("critical_point") for r in rows] == ["saddle point", None]
    assert [r["definiteness"] for r in rows] == ["indefinite", "indefinite"]
    assert rows[0]["eigenvalues"] == [-2.0, 2.0]
    several = jacli("hessian", expr, "--at", "0,0", "--at", "1,1", "--format", "json").stdout.splitlines()
    assert [json.loads(line) for line in several] == [json.loads(line) for line in lines]
    # CSV stays numbers only
    assert jacli("hessian", expr, "--points", str(path), "--format", "csv").stdout == (
        "0.0,0.0,2.0,-0.0,0.0,-2.0\n1.0,1.0,2.0,-0.0,0.0,-2.0\n"
    )
    table = jacli("hessian", expr, "--points", str(path), env={"COLUMNS": "100", "NO_COLOR": "1"}).stdout
    assert "says" in table and "indefinite: a saddle point │" in table
    ev = api.evaluate("hessian", expr, [[0, 0], [1, 1]])
    assert next(chunk.facts for chunk in ev.chunks)[1] == {"eigenvalues": [-2.0, 2.0], "definiteness": "indefinite"}
