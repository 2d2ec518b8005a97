"""Our differentiator (jacli/differentiate.py) gives exactly ``sympy.diff``'s expression (``srepr``)."""

from __future__ import annotations

from typing import Any

import pytest
import sympy
from conftest import sympy_or_first
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import differentiate
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


# The direct constructions (differentiate.add / differentiate.mul) against SymPy's own Add / Mul.

A, B = (sympy.Symbol(n, real=True) for n in "ab")
FACTORS = st.sampled_from(
    [A, B, X, sympy.Integer(2), sympy.Integer(-1), sympy.Integer(-400), sympy.Rational(1, 2), sympy.S.Zero,
     sympy.S.One, sympy.Float(0.5), sympy.pi, W]
)  # fmt: skip


def _part(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda a: sympy_or_first(sympy.Add)(tuple(a))),
        st.lists(children, min_size=2, max_size=3).map(lambda a: sympy_or_first(sympy.Mul)(tuple(a))),
        st.tuples(children, st.sampled_from([2, -1, -2, 3, sympy.Rational(1, 2)])).map(sympy_or_first(sympy.Pow)),
        st.tuples(children).map(sympy_or_first(sympy.sin)),
    )


PARTS = st.recursive(FACTORS, _part, max_leaves=6)
"""Sums, products, powers and functions of few symbols, so that terms combine and bases repeat."""


@settings(max_examples=400)
@given(st.lists(PARTS, min_size=0, max_size=5))
def test_add_is_sympys(args: list[Any]) -> None:
    sympy.core.cache.clear_cache()
    ours = differentiate.add(*args)
    sympy.core.cache.clear_cache()
    assert sympy.srepr(ours) == sympy.srepr(sympy.Add(*args))


@settings(max_examples=400)
@given(st.lists(PARTS, min_size=0, max_size=4))
def test_mul_is_sympys(args: list[Any]) -> None:
    sympy.core.cache.clear_cache()
    try:
        ours = differentiate.mul(*args)
    except (ZeroDivisionError, TypeError, ValueError):  # SymPy's own refusal (zoo arithmetic), asked below too
        ours = None
    sympy.core.cache.clear_cache()
    try:
        theirs = sympy.Mul(*args)
    except (ZeroDivisionError, TypeError, ValueError):
        assert ours is None
        return
    assert sympy.srepr(ours) == sympy.srepr(theirs)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((200 * X, 2 * X, -400 * X * (Y - X**2), 2 * X**2, sympy.S(-2)), "2*x**2 - 400*x*(-x**2 + y) + 202*x - 2"),
        ((2 * X, -2 * X), "0"),
        ((sympy.Integer(3), sympy.Rational(-3)), "0"),
        ((X + Y, -Y, sympy.Integer(-1)), "x - 1"),
    ],
)
def test_add_combines_like_terms_as_sympy(args: tuple[Any, ...], text: str) -> None:
    ours = differentiate.add(*args)
    assert sympy.srepr(ours) == sympy.srepr(sympy.Add(*args)) and sympy.sstr(ours) == text


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((sympy.Integer(100), -4 * X * (Y - X**2)), "-400*x*(-x**2 + y)"),
        ((sympy.Integer(100), Y - X**2), "-100*x**2 + 100*y"),
        ((sympy.Integer(2), -sympy.Rational(1, 2) * (X + Y)), "-x - y"),
        ((sympy.Integer(3), sympy.Mul(2, X + Y, evaluate=False)), "6*(x + y)"),
        ((sympy.Rational(1, 2), sympy.Mul(2, X + Y, evaluate=False)), "x + y"),
        ((X + Y, (X + Y) ** -1, X), "x"),
        ((sympy.Integer(-1), sympy.S.One), "-1"),
    ],
)
def test_mul_of_sums_is_sympys(args: tuple[Any, ...], text: str) -> None:
    ours = differentiate.mul(*args)
    assert sympy.srepr(ours) == sympy.srepr(sympy.Mul(*args)) and sympy.sstr(ours) == text


POLYNOMIAL = st.recursive(
    st.sampled_from([A, B, X, sympy.Integer(2), sympy.Integer(-1), sympy.Integer(-400), sympy.Rational(1, 3)]),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda a: sympy.Add(*a)),
        st.lists(children, min_size=2, max_size=3).map(lambda a: sympy.Mul(*a)),
        st.tuples(children, st.sampled_from([2, -1, -2])).map(sympy_or_first(sympy.Pow)),
    ),
    max_leaves=6,
)
"""Polynomials and their reciprocals in few symbols: the products and sums derivatives of sums of squares build."""


@settings(max_examples=300)
@given(st.lists(POLYNOMIAL, min_size=2, max_size=4))
def test_products_and_sums_of_polynomials_are_sympys(args: list[Any]) -> None:
    for ours, theirs in ((differentiate.mul, sympy.Mul), (differentiate.add, sympy.Add)):
        sympy.core.cache.clear_cache()
        try:
            built = ours(*args)
        except ZeroDivisionError:
            built = None
        sympy.core.cache.clear_cache()
        try:
            expected = theirs(*args)
        except ZeroDivisionError:
            assert built is None
            continue
        assert sympy.srepr(built) == sympy.srepr(expected)


@settings(max_examples=200)
@given(EXPRS)
def test_free_symbols_memoised_per_node_are_sympys(expr: Any) -> None:
    """ExactDiff.free (what symbolic.Differentiator.dependencies reads, issue 16) is ``free_symbols``."""
    memo = ExactDiff()
    assert memo.free(expr) == expr.free_symbols
    assert all(memo.free(a) == a.free_symbols for a in sympy.preorder_traversal(expr))


def test_dependencies_go_through_bindings_with_the_node_memo() -> None:
    """Dependencies of derivatives sharing subtrees, through a chain of bindings, as free_symbols gives them."""
    from jacli import language, symbolic

    program = language.build_program(
        language.parse_expression("c = x*y + sin(z)\nd = c**2 + x\nd*w + c"), {n: () for n in "xyzw"}
    )
    d = symbolic.Differentiator(program)
    symbols = {s.name: s for v in program.variables for s in v.symbols}
    x, y, z, w = (symbols[name] for name in "xyzw")
    (output,) = program.outputs
    assert d.dependencies(output) == {x, y, z, w}
    first = [d.derivative(output, s) for s in (x, y, z, w)]
    for entry in first:
        bound = entry.free_symbols & d.bindings.keys()
        expected = (entry.free_symbols - bound).union(*(d.dependencies(d.bindings[b]) for b in bound))
        assert d.dependencies(entry) == expected
    assert d.dependencies(first[3]) == {x, y, z}  # d/dw = d: through c
