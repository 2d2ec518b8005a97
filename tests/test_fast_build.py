"""The quick construction of sums, products and powers (jacli/language/fast.py) builds SymPy's own objects.

Each comparison builds an expression twice, with :data:`fast.ENABLED` on and off, and
compares ``srepr``: the direct constructors against ``sympy.Add``/``Mul``/``Pow`` on
random arguments (evaluated and unevaluated nodes, floats, infinities, functions), and
whole programs of the language against the builder without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sympy
from conftest import sympy_or_first
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.core.add import _addsort

from jacli import language
from jacli.language import fast, source

source.ensure_recursion_room()  # as jacli sets it on import, before hypothesis records the limit

X, Y, Z = (sympy.Symbol(n, real=True) for n in "xyz")
W = sympy.Symbol("w")  # no assumptions: not known finite


def plain(make: Callable[[], Any]) -> Any:
    """``make()`` with the quick paths off (SymPy's own evaluation throughout), on fresh objects."""
    sympy.core.cache.clear_cache()
    fast.ENABLED = False
    try:
        return make()
    finally:
        fast.ENABLED = True


LEAVES = st.sampled_from(
    [X, Y, Z, W, sympy.S.Zero, sympy.S.One, sympy.S.NegativeOne, sympy.Integer(2), sympy.Rational(-3, 4),
     sympy.Float(1.5), sympy.pi, sympy.E, sympy.oo, sympy.I]
)  # fmt: skip


def _node(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    pairs = st.tuples(children, children)
    exponents = st.tuples(children, st.sampled_from([2, 3, -1, -2, 0, 1]).map(sympy.Integer))
    return st.one_of(
        pairs.map(sympy_or_first(sympy.Add)),
        pairs.map(sympy_or_first(sympy.Mul)),
        exponents.map(sympy_or_first(sympy.Pow)),
        pairs.map(sympy_or_first(lambda a, b: sympy.Add(a, b, evaluate=False))),
        pairs.map(sympy_or_first(lambda a, b: sympy.Mul(a, b, evaluate=False))),
        st.tuples(children, st.sampled_from([1, 2, 3]).map(sympy.Integer)).map(
            sympy_or_first(lambda a, c: sympy.Mul(c, a, evaluate=False))
        ),
        st.tuples(children).map(sympy_or_first(sympy.sin)),
        exponents.map(sympy_or_first(lambda a, e: sympy.Pow(a, e, evaluate=False))),
    )


EXPRS = st.recursive(LEAVES, _node, max_leaves=8)


@settings(max_examples=150)
@given(st.lists(EXPRS, min_size=1, max_size=5))
def test_add_is_sympys(args: list[Any]) -> None:
    sympy.core.cache.clear_cache()
    built = fast.add(*args)
    if built is not None:
        assert sympy.srepr(built) == sympy.srepr(sympy.Add(*args))


@settings(max_examples=150)
@given(st.lists(EXPRS, min_size=1, max_size=4))
def test_mul_is_sympys(args: list[Any]) -> None:
    sympy.core.cache.clear_cache()
    for order in (args, args[::-1]):
        built = fast.mul(*order)
        if built is not None:
            assert sympy.srepr(built) == sympy.srepr(sympy.Mul(*order))


@settings(max_examples=150)
@given(EXPRS, st.sampled_from([-3, -2, -1, 0, 1, 2, 3, 7]))
def test_power_is_sympys(base: Any, exp: int) -> None:
    sympy.core.cache.clear_cache()
    built = fast.power(base, sympy.Integer(exp))
    if built is not None:
        assert sympy.srepr(built) == sympy.srepr(sympy.Pow(base, sympy.Integer(exp)))


@settings(max_examples=150)
@given(EXPRS)
def test_recorded_finiteness_is_sympys(expr: Any) -> None:
    """What :func:`fast.tell_finite` records is what SymPy itself finds (asked on a fresh copy)."""
    sympy.core.cache.clear_cache()
    fresh = sympy.sympify(sympy.srepr(expr))  # a test's own text: the same expression, new objects
    if fast.tell_finite(expr):
        assert fresh.is_finite is True
        for node in sympy.preorder_traversal(expr):
            if node._assumptions.get("finite") is True:
                assert sympy.sympify(sympy.srepr(node)).is_finite is True


def test_the_quick_paths_are_taken() -> None:
    """The Rosenbrock term's nodes are built directly (not by SymPy's evaluation)."""
    square = fast.power(X, sympy.Integer(2))
    negated = fast.mul(sympy.S.NegativeOne, square)
    difference = fast.add(Y, negated)
    term = fast.mul(sympy.Integer(100), fast.power(difference, sympy.Integer(2)))
    assert term is not None
    assert sympy.srepr(term) == sympy.srepr(100 * (Y - X**2) ** 2)
    assert fast.add(X, -X) is None  # terms that combine: SymPy
    assert sympy.srepr(fast.mul(Y, sympy.Integer(-2), X)) == sympy.srepr(-2 * X * Y)
    assert sympy.srepr(fast.mul(X, X)) == sympy.srepr(X**2)
    distributed = fast.mul(sympy.Integer(2), (1 - X) ** 2, (1 - X) ** -1)
    assert sympy.srepr(distributed) == sympy.srepr(2 * (1 - X))
    assert fast.mul(X, sympy.sin(X)) is None  # a function: SymPy
    assert fast.power(sympy.Integer(2), sympy.Integer(3)) is None  # numbers: SymPy


# -- whole programs: the builder with and without the quick paths -------------------------

_ATOMS = ["x", "y", "z", "1", "2", "0", "3/4", "0.5", "pi"]


def _text(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pairs = st.tuples(children, children)
    return st.one_of(
        pairs.map(lambda p: f"({p[0]} + {p[1]})"),
        pairs.map(lambda p: f"({p[0]} - {p[1]})"),
        pairs.map(lambda p: f"({p[0]} * {p[1]})"),
        pairs.map(lambda p: f"({p[0]} / {p[1]})"),
        st.tuples(children, st.sampled_from(["2", "3", "-1", "0", "1", "x"])).map(lambda p: f"({p[0]})**{p[1]}"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"sin({c})"),
        children.map(lambda c: f"exp({c})"),
        st.lists(children, min_size=3, max_size=6).map(" + ".join),
    )


PROGRAMS = st.recursive(st.sampled_from(_ATOMS), _text, max_leaves=10)


def _build(text: str) -> list[str]:
    parsed = language.parse_expression(text)
    program = language.build_program(parsed, {name: () for name in parsed.names})
    return [sympy.srepr(e) for e in program.outputs]


@settings(max_examples=150)
@given(PROGRAMS)
def test_programs_are_built_as_sympy_builds_them(text: str) -> None:
    sympy.core.cache.clear_cache()
    try:
        quick = _build(text)
    except Exception as err:  # the same refusal both ways
        with pytest.raises(type(err)):
            plain(lambda: _build(text))
        return
    assert quick == plain(lambda: _build(text))


@pytest.mark.parametrize("n", [2, 3, 10, 60])
def test_rosenbrock_is_built_as_sympy_builds_it(n: int) -> None:
    text = "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))
    sympy.core.cache.clear_cache()
    quick = _build(text)
    assert quick == plain(lambda: _build(text))


# -- the canonical order of a long sum, by key ------------------------------------------

_NAMED = st.builds(
    lambda name, real: sympy.Symbol(name, real=True) if real else sympy.Symbol(name),
    st.sampled_from(["x", "x2", "x10", "y", "a1", "A", "_w1", "x[0]"]),
    st.booleans(),
)
TERMS = st.recursive(st.one_of(LEAVES, _NAMED), _node, max_leaves=6)


@settings(max_examples=200)
@given(st.lists(TERMS, min_size=0, max_size=40))
def test_keyed_sort_is_sympys(terms: list[Any]) -> None:
    """:func:`fast.sort_terms` puts any terms in ``_addsort``'s order (on long and short lists alike)."""
    expected = list(terms)
    _addsort(expected)
    for least in (1, fast.KEYED_SORT_MIN):
        got = list(terms)
        previous, fast.KEYED_SORT_MIN = fast.KEYED_SORT_MIN, least
        try:
            fast.sort_terms(got)
        finally:
            fast.KEYED_SORT_MIN = previous
        assert [sympy.srepr(t) for t in got] == [sympy.srepr(t) for t in expected]


def test_keyed_sort_orders_the_rosenbrock_sum() -> None:
    """The 1000-variable Rosenbrock sum's terms: by key (not SymPy's comparison), in SymPy's order."""
    xs = sympy.symbols("k0:1000", real=True)
    terms = [t for i in range(999) for t in (100 * (xs[i + 1] - xs[i] ** 2) ** 2, (1 - xs[i]) ** 2)]
    keys: dict[Any, Any] = {}
    assert None not in [fast.canonical_key(t, keys) for t in terms]
    expected, got = list(terms), list(terms)
    _addsort(expected)
    fast.sort_terms(got)
    assert got == expected
    assert fast.canonical_key(sympy.sin(X), {}) is None  # a function: SymPy's comparison
    assert fast.canonical_key(sympy.Float(1.5), {}) is None
