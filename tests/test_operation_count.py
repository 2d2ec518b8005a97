"""The table's operation count (issue 16's cold start) is SymPy's ``count_ops`` total, to the unit.

:mod:`jacli.operation_count` walks the tree as ``count_ops`` does but adds integers, so a cold
table never makes the ``Add`` that imports ``sympy.tensor``/``sympy.combinatorics``.
"""

from __future__ import annotations

from typing import Any

import sympy
from hypothesis import given
from hypothesis import strategies as st

from jacli import api
from jacli.limits import SYMBOLIC_DISPLAY_LIMIT
from jacli.operation_count import count, operation_count

x, y, z = sympy.symbols("x y z")
f = sympy.Function("f")
A = sympy.MatrixSymbol("A", 2, 2)

CASES = [
    x, sympy.Integer(0), sympy.Integer(1), sympy.Integer(-5), sympy.Rational(-1, 3), sympy.Rational(2, 7),
    sympy.Float(-1.5), sympy.I, sympy.pi, sympy.E, -x, x - y, -x - y, -x + y, x + y + z, -x - y - z,
    2 * x, -2 * x * y, x / y, 1 / x, 1 / (x * y), -1 / (x + y), x**-2, (x + 1) ** -1, 2 / (3 * x),
    -(x**2) / (2 * y), sympy.exp(x), sympy.exp(-x) * y / 2, sympy.E ** (x + y), sympy.sqrt(x),
    x ** sympy.Rational(3, 2),
    sympy.sin(x) ** 2 + sympy.cos(x) ** 2, sympy.atan2(y, x), sympy.Abs(x - 1), sympy.Max(x, y, z), sympy.Min(x, 1),
    sympy.Piecewise((x, x < 1), (x**2, True)), sympy.Piecewise((-x, sympy.And(x > 0, y < 2)), (0, True)),
    f(x) + f(y) ** 2, sympy.Derivative(f(x), x), sympy.Integral(x**2, x), sympy.Sum(x**z, (z, 1, 3)),
    A * A, A + A.T, -2 * A * A, x * A - A,
    sympy.Eq(x, y + 1), sympy.And(x < 1, y > 2), sympy.Tuple(x + 1, y), sympy.Matrix([[x + 1, -y]]),
]  # fmt: skip


def test_the_count_is_count_ops_on_every_kind_of_node() -> None:
    assert [count(e) for e in CASES] == [int(sympy.count_ops(e)) for e in CASES]


LEAVES = [x, y, z, sympy.Integer(2), sympy.Integer(-3), sympy.Rational(-1, 3), sympy.S.Half, sympy.pi, sympy.E,
          sympy.Float(0.25)]  # fmt: skip
UNARY = [lambda a: -a, sympy.sin, sympy.exp, sympy.log, sympy.sqrt, sympy.Abs, lambda a: 1 / a, f]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a**b,
          sympy.Max, sympy.atan2, lambda a, b: sympy.Piecewise((a, x < b), (b, True))]  # fmt: skip


def _trees() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.sampled_from(LEAVES),
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0](t[1])),
            st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: t[0](t[1], t[2])),
        ),
        max_leaves=8,
    )


@given(_trees())
def test_the_count_is_count_ops_on_random_expressions_and_their_derivatives(expr: Any) -> None:
    for e in (expr, sympy.diff(expr, x)):
        assert count(e) == int(sympy.count_ops(e)), e


def test_nested_lists_add_up_and_zeros_cost_nothing() -> None:
    exprs = [[x + y, sympy.S.Zero], [[-2 * x * y], [sympy.sin(x) / y]]]
    assert operation_count(exprs) == sum(int(sympy.count_ops(e)) for e in (x + y, -2 * x * y, sympy.sin(x) / y))
    assert operation_count([]) == 0 and operation_count(sympy.S.Zero) == 0


def test_a_result_counts_on_first_use_only() -> None:
    """The JSON path never asks: the count is made when a table needs it, then kept."""
    result = api.hessian("x0**2*x1 - sin(x0)/x1", at="1,2")
    display = result.symbolic_display
    assert display is not None
    assert display.operations() == operation_count(result.symbolic_exprs) == display.operations()
    assert 0 < display.operations() <= SYMBOLIC_DISPLAY_LIMIT
