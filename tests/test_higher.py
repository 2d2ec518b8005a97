"""``derivative --order K`` and ``taylor --order K`` (issue 14): against exact SymPy, jacobian, hessian, f itself."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import pytest
import sympy
from conftest import Invoke, assert_usage_error
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import api, higher, language
from jacli.errors import UsageError
from jacli.quantities import QUANTITIES

X, Y, Z = sympy.symbols("x y z")
language.ensure_recursion_room()  # before hypothesis runs: it refuses a recursion limit changed during a test

# (expression in jacli's language and SymPy's, its variables)
EXPRESSIONS = [
    ("x**3*y + sin(x)*y**2", (X, Y)),
    ("exp(x*y) - cos(y)*x, x**4*y**2", (X, Y)),
    ("x*y*z + exp(x)*z**3 - log(1 + y**2)", (X, Y, Z)),
    ("sin(x + 2*y)*cos(z), x**2*z**3", (X, Y, Z)),
]


def _reference(expr: str, symbols: tuple[sympy.Symbol, ...], point: list[float], order: int) -> list:
    """The ``order``-th derivative tensor (m, n, …, n) by SymPy, evaluated at ``point`` to 30 digits."""
    outputs = [sympy.sympify(part) for part in expr.split(",")]
    values = dict(zip(symbols, [sympy.Rational(str(p)) for p in point], strict=True))

    def tensor(f: sympy.Expr, depth: int) -> object:
        if depth == order:
            return float(f.subs(values).evalf(30))
        return [tensor(sympy.diff(f, s), depth + 1) for s in symbols]

    return [tensor(f, 0) for f in outputs]


def _close(a: object, b: object, tol: float = 1e-9) -> bool:
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b, strict=True))
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)  # type: ignore[arg-type]


def _at(symbols: tuple[sympy.Symbol, ...], point: list[float]) -> str:
    return ", ".join(f"{s}={p!r}" for s, p in zip(symbols, point, strict=True))


coordinate = st.floats(min_value=-1.5, max_value=1.5, allow_nan=False).map(lambda v: round(v, 3))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize(("expr", "symbols"), EXPRESSIONS)
@settings(max_examples=8)
@given(data=st.data())
def test_derivative_matches_exact_sympy_at_random_points(data, expr, symbols, order) -> None:
    point = data.draw(st.lists(coordinate, min_size=len(symbols), max_size=len(symbols)))
    result = api.derivative(expr, at=_at(symbols, point), order=order, symbolic_form=False)
    assert result.shape == (len(expr.split(",")),) + (len(symbols),) * order
    assert _close(result.result, _reference(expr, symbols, point, order))


@pytest.mark.parametrize("order", [3, 4])
@pytest.mark.parametrize(("expr", "symbols"), EXPRESSIONS[:3])
def test_symbolic_derivative_evaluates_to_sympy(expr, symbols, order) -> None:
    point = [0.5, -0.25, 0.75][: len(symbols)]
    result = api.derivative(expr, at=_at(symbols, point), order=order, exact=True)
    exact = _read_exact(result.exact)
    reference = _reference(expr, symbols, point, order)
    assert _close([_floats(e) for e in exact], reference, 1e-12)
    assert _close(result.result, reference)


def _read_exact(cells: object) -> object:
    """The ``--exact`` text cells as SymPy numbers (test-side: jacli itself never re-reads text)."""
    if isinstance(cells, list):
        return [_read_exact(c) for c in cells]
    return sympy.sympify(cells, locals={"e": sympy.E, "pi": sympy.pi})


def _floats(nested: object) -> object:
    return [_floats(x) for x in nested] if isinstance(nested, list) else float(nested)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "at"),
    [
        ("2*x0+x1**2, x0**2+2*x1**3", "1,2"),
        ("x1**2 + x2**3 + x3**4", "1,2,3"),
        ("c = x*y; d = sin(c); [d, c**2, exp(x)]", "x=1, y=2"),
        ("sum(a**3) + dot(a, a)*b", "a=[1,2], b=3"),
    ],
)
def test_order_one_is_the_jacobian_and_order_two_the_hessian(expr, at) -> None:
    first, jacobian = api.derivative(expr, at=at, order=1), api.jacobian(expr, at=at)
    assert first.result == jacobian.result and first.symbolic == jacobian.symbolic
    second, hessian = api.derivative(expr, at=at, order=2), api.hessian(expr, at=at)
    scalar = hessian.axes == ("in", "in")  # the Hessian of a scalar drops the outputs axis; derivative keeps it
    assert second.result == ([hessian.result] if scalar else hessian.result)
    assert second.symbolic == ([hessian.symbolic] if scalar else hessian.symbolic)


def test_derivative_json_keeps_the_outputs_axis_for_a_scalar(jacli: Invoke) -> None:
    out = jacli("derivative", "x**3*y", "--order", "3", "--at", "x=1, y=2", "--format", "json")
    assert out.exit_code == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["result"] == [[[[12.0, 6.0], [6.0, 0.0]], [[6.0, 0.0], [0.0, 0.0]]]]
    assert obj["symbolic"] == [[[["6*y", "6*x"], ["6*x", "0"]], [["6*x", "0"], ["0", "0"]]]]
    assert obj["command"] == "derivative" and obj["value"] == [2.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--order", "0"], "--order must be a whole number ≥ 1, not '0'"),
        (["--order", "1.5"], "--order must be a whole number ≥ 1, not '1.5'"),
        (["--order", "three"], "--order must be a whole number ≥ 1, not 'three'"),
        ([], "--order is required: a whole number ≥ 1"),
        (["--order", "²"], "--order must be a whole number ≥ 1, not '²'"),  # a digit to str.isdigit, not to int
        *(
            (
                ["--order", order],
                f"--order must be at most 12, not '{order}': each order nests one more reverse "
                "pass and their cost grows geometrically (see 'Limits and safety' in the README)",
            )
            for order in ("13", "1000000", "99999999999999999999")
        ),
    ],
)
def test_bad_orders_are_usage_errors(jacli: Invoke, args, message) -> None:
    out = jacli("derivative", "x**3*y", *args, "--at", "x=1, y=2")
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {message}\n"


def test_an_order_past_any_size_is_refused_without_printing_it() -> None:
    with pytest.raises(UsageError, match=r"^--order must be at most 12, not a larger number: "):
        api.derivative("x", at="1", order=10**5000)  # its decimal text would be refused by Python itself


def test_taylor_order_is_at_least_zero_and_defaults_to_two(jacli: Invoke) -> None:
    out = jacli("taylor", "x**3", "--order", "-1", "--at", "x=1")
    assert_usage_error(out)
    assert out.stderr == "jacli: error: --order must be a whole number ≥ 0, not '-1'\n"
    out = jacli("taylor", "x**3", "--at", "x=1", "--format", "json")
    assert json.loads(out.stdout)["polynomial"] == ["1 + 3*(x - 1) + 3*(x - 1)**2"]
    out = jacli("taylor", "x**3", "--at", "x=1", "--order", "0", "--format", "json")
    obj = json.loads(out.stdout)
    assert obj["polynomial"] == obj["result"] == ["1"] and obj["terms"] == [[1.0]]


def test_api_options_are_checked() -> None:
    with pytest.raises(Exception, match="takes no option 'order'"):
        api.evaluate_at("jacobian", "x*y", "1,2", options={"order": 2})
    with pytest.raises(Exception, match="whole number ≥ 1"):
        api.derivative("x*y", at="1,2", order=0)
    assert QUANTITIES["derivative"].resolve({"order": 4}).axes == ("out", "in", "in", "in", "in")


def test_taylor_json(jacli: Invoke) -> None:
    out = jacli("taylor", "exp(x)*y, x**2", "--at", "x=0, y=1", "--order", "2", "--format", "json")
    obj = json.loads(out.stdout)
    assert obj["polynomial"] == obj["result"] == ["1 + x + (y - 1) + 0.5*x**2 + x*(y - 1)", "x**2"]
    assert obj["terms"] == [
        [1.0, 0.0],
        [[1.0, 1.0], [0.0, 0.0]],
        [[[1.0, 1.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 0.0]]],
    ]
    assert obj["symbolic"][0] == ["y*exp(x)", "x**2"]


def test_taylor_exact_coefficients(jacli: Invoke) -> None:
    out = jacli("taylor", "sin(x)*cos(y)", "--at", "x=pi/6, y=0", "--order", "2", "--exact", "--format", "json")
    obj = json.loads(out.stdout)
    # exact coefficients from the exact terms, around the exact point
    assert obj["polynomial"] == ["1/2 + (sqrt(3)/2)*(x - pi/6) - 1/4*(x - pi/6)**2 - 1/4*y**2"]
    assert obj["exact"][0] == ["1/2"]


def _value(poly: str, at: str) -> float:
    """The polynomial, parsed back by jacli, evaluated at ``at`` (``0*x + 0*y``: an order-0 one is a constant)."""
    return api.jacobian(f"({poly}) + 0*x + 0*y", at=at, symbolic_form=False).value[0]


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_taylor_error_is_of_order_k_plus_one(order) -> None:
    expr, a = "exp(x)*sin(y) + x*y**2", (0.3, -0.2)
    f = sympy.sympify(expr)
    poly = api.taylor(expr, at=f"x={a[0]}, y={a[1]}", order=order).result[0]
    direction = (1.0, 0.7)
    errors = []
    for step in (0.05, 0.025, 0.0125):
        point = (a[0] + step * direction[0], a[1] + step * direction[1])
        exact = float(f.subs({X: point[0], Y: point[1]}).evalf(30))
        errors.append(abs(_value(poly, f"x={point[0]!r}, y={point[1]!r}") - exact))
    for big, small in itertools.pairwise(errors):
        assert 0.75 * 2 ** (order + 1) < big / small < 1.3 * 2 ** (order + 1), errors


def test_taylor_exact_polynomial_parses_back_and_agrees() -> None:
    numeric = api.taylor("exp(x)*y + x**3", at="x=0.5, y=2", order=3)
    exact = api.taylor("exp(x)*y + x**3", at="x=0.5, y=2", order=3, exact=True)
    at = "x=0.625, y=1.75"
    assert math.isclose(_value(numeric.result[0], at), _value(exact.result[0], at), rel_tol=1e-12)


def test_many_points_equal_one_point_at_a_time(jacli: Invoke, tmp_path) -> None:
    points = tmp_path / "p.csv"
    points.write_text("x,y\n1,2\n0.5,-1\n")
    for command in ("derivative", "taylor"):
        args = [command, "x**3*y + sin(x*y)", "--order", "3", "--no-symbolic"]
        many = jacli(*args, "--points", str(points), "--format", "json")
        assert many.exit_code == 0, many.stderr
        lines = many.stdout.splitlines()
        for line, at in zip(lines, ["x=1, y=2", "x=0.5, y=-1"], strict=True):
            one = jacli(*args, "--at", at, "--format", "json")
            assert json.loads(line) == json.loads(one.stdout)
        several = jacli(*args, "--at", "x=1, y=2", "--at", "x=0.5, y=-1", "--format", "json")
        assert several.stdout.splitlines() == lines
        table = jacli(*args, "--points", str(points))
        assert table.exit_code == 0 and "Traceback" not in table.stderr
        csv = jacli(*args, "--points", str(points), "--format", "csv")
        assert csv.exit_code == 0 and len(csv.stdout.splitlines()) == 2


def test_float32(jacli: Invoke) -> None:
    out = jacli("derivative", "x**3*y", "--order", "3", "--at", "x=1, y=2", "--dtype", "float32", "--format", "json")
    assert json.loads(out.stdout)["result"] == [[[[12.0, 6.0], [6.0, 0.0]], [[6.0, 0.0], [0.0, 0.0]]]]
    out = jacli("taylor", "x**2", "--at", "x=1", "--dtype", "float32", "--format", "json")
    assert json.loads(out.stdout)["polynomial"] == ["1 + 2*(x - 1) + (x - 1)**2"]


def test_result_size_limit_holds(jacli: Invoke) -> None:
    out = jacli("derivative", "sum(x**4)", "--order", "4", "--at", "x=[1,2,3,4,5,6]", env={"JACLI_MAX_ELEMENTS": "6"})
    assert_usage_error(out)
    assert out.stderr.startswith("jacli: error: the 4th derivative would have 1,296 entries (1 × 6 × 6 × 6 × 6)")


def test_symbolic_size_bound_skips_with_a_note(jacli: Invoke, monkeypatch) -> None:
    monkeypatch.setattr(higher, "MAX_SYMBOLIC_ENTRIES", 10)
    out = jacli("derivative", "x**3*y", "--order", "4", "--at", "x=1, y=2", "--format", "json")
    assert out.exit_code == 0
    assert "symbolic" not in json.loads(out.stdout)
    assert out.stderr == ("jacli: note: symbolic form skipped: the symbolic tensor would have 16 entries (over 10)\n")


def test_symbolic_partials_are_derived_once_each() -> None:
    from jacli import symbolic

    program = language.build_program(language.parse_expression("x*y*z*sin(x)"), {"x": (), "y": (), "z": ()})
    inputs = [s for var in program.variables for s in var.symbols]
    levels = higher.sorted_partials(symbolic.Differentiator(program), program.outputs[0], inputs, 3)
    # sorted index tuples only: at most C(n+k-1, k) per order (zeros are never derived or kept)
    assert all(len(level) <= math.comb(3 + k - 1, k) for k, level in enumerate(levels))
    assert all(list(index) == sorted(index) for level in levels for index in level)


@pytest.mark.parametrize(
    ("command", "expr", "at", "order"),
    [
        ("derivative", "x**3*y + sin(x)*y**2, exp(x*y)", "x=1, y=2", "3"),
        ("derivative", "sum(a**4) * b", "a=[1,2], b=3", "4"),
        ("taylor", "exp(x)*sin(y), x**2*y", "x=0.5, y=1", "3"),
    ],
)
def test_show_torch_program_runs_and_matches(jacli: Invoke, tmp_path, command, expr, at, order) -> None:
    program = jacli(command, expr, "--at", at, "--order", order, "--show-torch")
    assert program.exit_code == 0, program.stderr
    path = tmp_path / "program.py"
    path.write_text(program.stdout)
    printed = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True).stdout
    obj = json.loads(jacli(command, expr, "--at", at, "--order", order, "--format", "json", "--no-symbolic").stdout)
    expected = obj["terms"] if command == "taylor" else obj["result"]
    assert _close(json.loads(printed), expected, 1e-12)
