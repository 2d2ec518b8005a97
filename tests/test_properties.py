"""Property tests: torch autodiff == exact SymPy derivatives on random expressions and points."""

from __future__ import annotations

import math

import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacli import api, symbolic, symbolic_result

SCALARS = ["x0", "x1", "x2"]
# functions that are smooth and defined on the whole real line (domain-safe compositions)
UNARY = ["sin", "cos", "tanh", "atan", "sigmoid", "softplus", "exp", "erf"]
SAFE_WRAPS = ["sqrt(1 + ({})**2)", "log(2 + ({})**2)", "({})**2", "({})**3"]


def expressions(names: list[str], depth: int = 3) -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from(names), st.integers(-3, 3).map(str), st.sampled_from(["0.5", "pi", "e"]))

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        operator = st.sampled_from(["+", "-", "*"])
        binary = st.tuples(children, operator, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        unary = st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}({t[1]})")
        wrapped = st.tuples(st.sampled_from(SAFE_WRAPS), children).map(lambda t: t[0].format(t[1]))
        quotient = children.map(lambda c: f"(1 / (1 + ({c})**2))")
        power = children.map(lambda c: f"({c})^2")
        return st.one_of(binary, unary, wrapped, quotient, power)

    return st.recursive(leaves, extend, max_leaves=depth * 3)


def points(n: int) -> st.SearchStrategy[list[float]]:
    return st.lists(st.floats(-1.5, 1.5, allow_nan=False).map(lambda v: round(v, 3)), min_size=n, max_size=n)


def close(a: float, b: float, scale: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-8, abs_tol=1e-8 * max(1.0, scale))


def exact_values(result: api.Result, text: str, at: str) -> list[float]:
    prob = api.problem(text, at)
    flat = symbolic_result.flatten_exprs(result.sympy)
    return symbolic.evaluate_numeric(flat, prob.program.bindings, prob.exact_point())


def flat(nested: object) -> list[float]:
    return [x for item in nested for x in flat(item)] if isinstance(nested, list) else [nested]


SETTINGS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(first=expressions(SCALARS), second=expressions(SCALARS), point=points(3))
def test_jacobian_matches_symbolic(first: str, second: str, point: list[float]) -> None:
    text = f"{first} + 0*x0*x1*x2, {second}"
    at = ", ".join(f"{n}={v}" for n, v in zip(SCALARS, point, strict=True))
    result = api.jacobian(text, at=at)
    auto = flat(result.result)
    exact = exact_values(result, text, at)
    scale = max(map(abs, exact), default=1.0)
    assert all(close(a, b, scale) for a, b in zip(auto, exact, strict=True)), (text, at, auto, exact)


@SETTINGS
@given(expr=expressions(SCALARS, depth=2), point=points(3))
def test_hessian_matches_symbolic(expr: str, point: list[float]) -> None:
    text = f"{expr} + 0*x0*x1*x2"
    at = ", ".join(f"{n}={v}" for n, v in zip(SCALARS, point, strict=True))
    result = api.hessian(text, at=at)
    auto = flat(result.result)
    exact = exact_values(result, text, at)
    scale = max(map(abs, exact), default=1.0)
    assert all(close(a, b, scale) for a, b in zip(auto, exact, strict=True)), (text, at)


@SETTINGS
@given(
    first=expressions(SCALARS, depth=2),
    second=expressions(SCALARS, depth=2),
    point=points(3),
    u=st.lists(st.integers(-3, 3), min_size=2, max_size=2),
    w=st.lists(st.integers(-3, 3), min_size=3, max_size=3),
)
def test_vjp_and_jvp_are_products_with_the_jacobian(
    first: str, second: str, point: list[float], u: list[int], w: list[int]
) -> None:
    text = f"{first} + 0*x0*x1*x2, {second}"
    at = ",".join(map(str, point))
    jac = api.jacobian(text, at=at, symbolic_form=False).result
    vjp = api.vjp(text, at=at, v=",".join(map(str, u)), symbolic_form=False).result
    jvp = api.jvp(text, at=at, v=",".join(map(str, w)), symbolic_form=False).result
    scale = max(abs(x) for row in jac for x in row) * 10
    for j in range(3):
        assert close(vjp[j], sum(u[i] * jac[i][j] for i in range(2)), scale)
    for i in range(2):
        assert close(jvp[i], sum(jac[i][j] * w[j] for j in range(3)), scale)


ARRAY_TEMPLATES = [
    "sum({f}) + dot(a, b)",
    "a*{f} - b",
    "[sum(a*{f}), a[0]*b[2], max(a[1], b[1])]",
    "A@a*{f}[0:2]",
    "sum(A@A) * {f}[1]",
]


@SETTINGS
@given(
    template=st.sampled_from(ARRAY_TEMPLATES),
    inner=expressions(["a", "b"], depth=2),
    a=st.lists(st.integers(-3, 3), min_size=3, max_size=3),
    b=st.lists(st.integers(-3, 3), min_size=3, max_size=3),
    matrix=st.lists(st.integers(-2, 2), min_size=4, max_size=4),
)
def test_array_expressions_match_symbolic(
    template: str, inner: str, a: list[int], b: list[int], matrix: list[int]
) -> None:
    text = template.format(f=f"({inner} + 0*a*b)")
    needs_matrix = "A" in template
    at = f"a={a}, b={b}" + (f", A=[[{matrix[0]},{matrix[1]}],[{matrix[2]},{matrix[3]}]]" if needs_matrix else "")
    text = text if not needs_matrix else text.replace("A@a", "A@a[0:2]")
    result = api.jacobian(text, at=at)
    auto = flat(result.result)
    exact = exact_values(result, text, at)
    scale = max(map(abs, exact), default=1.0)
    assert all(close(x, y, scale) for x, y in zip(auto, exact, strict=True)), (text, at)
    assert len(result.inputs) == 6 + 4 * needs_matrix


def test_symbolic_values_are_sympy_objects() -> None:
    result = api.jacobian("x0*x1", at="2,3")
    assert result.sympy == [[sympy.Symbol("x1", real=True), sympy.Symbol("x0", real=True)]]
