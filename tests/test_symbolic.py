"""Exact derivatives: through let-bindings, detach, exact evaluation, text forms."""

from __future__ import annotations

import math

import pytest
import sympy

from jacli import api, language, symbolic
from jacli.errors import UsageError
from jacli.operation_count import operation_count


def logistic_map(steps: int) -> str:
    lines = ["l1 = x"] + [f"l{k + 1} = 4*l{k}*(1-l{k})" for k in range(1, steps)]
    return "; ".join(lines) + f"; l{steps}"


def build(text: str, shapes: dict | None = None) -> language.Program:
    parsed = language.parse_expression(text)
    return language.build_program(parsed, shapes or {n: () for n in parsed.names})


def inline(program: language.Program, expr: sympy.Expr) -> sympy.Expr:
    for binding in reversed(program.bindings):
        expr = expr.subs(binding.symbol, binding.value)
    return expr


def test_chain_rule_through_bindings_equals_the_inlined_derivative() -> None:
    program = build("c = a*b + sin(a); d = c**2 + b; g = d*c; g + a")
    a, b = (v.symbols[0] for v in program.variables)
    diff = symbolic.Differentiator(program)
    for var in (a, b):
        through_bindings = inline(program, diff.derivative(program.outputs[0], var))
        direct = sympy.diff(inline(program, program.outputs[0]), var)
        assert sympy.simplify(through_bindings - direct) == 0


def test_logistic_map_at_20_steps_stays_small_and_is_right() -> None:
    text = logistic_map(20)
    result = api.gradient(text, at="0.3")
    with_bindings = operation_count(result.sympy)
    assert with_bindings < 200  # 19 factors (4 - 8*l_k): linear in the number of steps
    # without bindings the derivative swells exponentially: already at 10 steps it is far larger
    program = build(logistic_map(10))
    (x,) = program.variables[0].symbols
    inlined = sympy.diff(inline(program, program.outputs[0]), x)
    assert sympy.count_ops(inlined) > 10 * with_bindings
    # value: the chain rule by hand, at 50 digits (the map is chaotic: float64 keeps ~1e-9 here)
    x, slope = sympy.Float("0.3", 50), sympy.Float(1, 50)
    for _ in range(19):
        slope *= 4 - 8 * x
        x = 4 * x * (1 - x)
    assert math.isclose(result.result[0], float(slope), rel_tol=1e-6)


def test_exact_evaluation_refuses_numbers_that_explode() -> None:
    # exact rationals of the logistic map double their digits at every step
    with pytest.raises(UsageError, match="--exact"):
        api.gradient(logistic_map(20), at="0.3", exact=True)
    assert api.gradient(logistic_map(3), at="0.3", exact=True).exact == ["-544/125"]


def test_detach_has_zero_derivative_but_keeps_its_value() -> None:
    program = build("detach(x*x)*x")
    (x,) = program.variables[0].symbols
    derivative = symbolic.Differentiator(program).derivative(program.outputs[0], x)
    assert derivative == language.detach(x**2)
    assert symbolic.evaluate_exact([derivative], (), {x: sympy.Integer(3)}) == [9]


def test_exact_values_are_exact() -> None:
    assert api.jacobian("x**2/3", at="2", exact=True).exact == [["4/3"]]
    assert api.gradient("sin(x)", at="pi/4", exact=True).exact == ["sqrt(2)/2"]
    assert api.gradient("sigmoid(x)", at="0", exact=True).exact == ["1/4"]


def test_numeric_evaluation_handles_undefined_points() -> None:
    x = sympy.Symbol("x", real=True)
    values = symbolic.evaluate_numeric([1 / x, sympy.log(x), sympy.sqrt(x)], (), {x: sympy.Integer(0)})
    assert math.isinf(values[0]) and math.isinf(values[1]) and values[2] == 0


def test_text_forms() -> None:
    a00 = sympy.Symbol("A[0,1]", real=True)
    assert symbolic.to_text([a00 * 2]) == ["2*A[0,1]"]
    assert symbolic.to_latex(a00**2) == "A_{0,1}^{2}"
    assert "A₀₁" in symbolic.to_pretty([[a00]])


def test_exact_refuses_powers_created_by_substitution() -> None:
    # the fuzzer found radsimp expanding (2 + sqrt(3))**n for a huge n: tens of GB
    with pytest.raises(UsageError, match="too large for exact arithmetic"):
        api.hessian("(2+sqrt(3))**x", at="200000", exact=True)
