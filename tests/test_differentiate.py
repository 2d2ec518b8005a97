"""Our differentiator (jacli/differentiate.py) gives exactly ``sympy.diff``'s expression (``srepr``)."""

from __future__ import annotations

from typing import Any

import pytest
import sympy
from conftest import sympy_or_first
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli.differentiate import ExactDiff
from jacli.language import source

source.ensure_recursion_room()  # as jacli sets it on import, before hypothesis records the limit

X, Y, Z = (sympy.Symbol(n, real=True) for n in "xyz")
W = sympy.Symbol("w")  # no assumptions


LEAVES = st.sampled_from(
    [X, Y, Z, W, sympy.S.Zero, sympy.S.One, sympy.Integer(-1), sympy.Integer(2), sympy.Rational(3, 4),
     sympy.Float(0.5), sympy.pi]
)  # fmt: skip


def _node(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    pairs = st.tuples(children, children)
    return st.one_of(
        st.lists(children, min_size=2, max_size=4).map(lambda a: sympy_or_first(sympy.Add)(tuple(a))),
        st.lists(children, min_size=2, max_size=4).map(lambda a: sympy_or_first(sympy.Mul)(tuple(a))),
        st.tuples(children, st.sampled_from([2, 3, -1, -2, sympy.Rational(1, 2), X, Y])).map(sympy_or_first(sympy.Pow)),
        pairs.map(sympy_or_first(lambda a, b: sympy.Add(a, b, evaluate=False))),
        pairs.map(sympy_or_first(lambda a, b: sympy.Mul(a, b, evaluate=False))),
        st.tuples(children).map(sympy_or_first(sympy.sin)),
        st.tuples(children).map(sympy_or_first(sympy.exp)),
        st.tuples(children).map(sympy_or_first(sympy.log)),
    )


EXPRS = st.recursive(LEAVES, _node, max_leaves=10)


@settings(max_examples=200)
@given(EXPRS, st.sampled_from([X, Y, W]))
def test_derivative_is_sympys(expr: Any, x: sympy.Symbol) -> None:
    sympy.core.cache.clear_cache()
    ours = ExactDiff()(expr, x)
    sympy.core.cache.clear_cache()
    assert sympy.srepr(ours) == sympy.srepr(sympy.diff(expr, x))


@settings(max_examples=100)
@given(EXPRS, st.sampled_from([X, Y]), st.sampled_from([X, Y, Z]))
def test_second_derivative_is_sympys(expr: Any, x: sympy.Symbol, y: sympy.Symbol) -> None:
    differentiate = ExactDiff()
    ours = differentiate(differentiate(expr, x), y)
    sympy.core.cache.clear_cache()
    assert sympy.srepr(ours) == sympy.srepr(sympy.diff(sympy.diff(expr, x), y))


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_rosenbrock_derivatives_are_sympys(n: int) -> None:
    xs = [sympy.Symbol(f"x{i}", real=True) for i in range(n)]
    f = sympy.Add(*(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1)))
    differentiate = ExactDiff()
    for a in xs:
        first = differentiate(f, a)
        assert sympy.srepr(first) == sympy.srepr(sympy.diff(f, a))
        for b in xs:
            assert sympy.srepr(differentiate(first, b)) == sympy.srepr(
                sympy.diff(sympy.diff(f, a), b)
            )  # as symbolic.Differentiator takes it
