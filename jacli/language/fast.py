"""Building SymPy sums, products and powers quicker, to the very same objects (issue 16).

SymPy's evaluation of ``Add``/``Mul``/``Pow`` costs 50-150 µs a node, most of it in
cases where nothing can combine: ``-x``, ``x1 - x0**2``, ``100*(a + b)**2``. And
``Pow(a + b, 2)`` asks whether ``a`` or ``b`` is infinite (``Add._eval_power``); on a
fresh sub-expression that query walks SymPy's whole fact system (it was most of the
time of building a 1000-variable Rosenbrock function).

- :func:`add`, :func:`mul`, :func:`power` build the node SymPy's evaluation returns
  where that is provably the plain node (each condition is the branch of SymPy 1.14's
  code that it skips, named in the docstrings), and return None otherwise: the caller
  then asks SymPy.
- :func:`tell_finite` records finiteness that follows from the structure (real symbols,
  numbers, sums, products and non-negative integer powers of finite parts) on each
  node, as SymPy's own query would (``Add``/``Mul``/``Pow._eval_is_finite`` derive it
  the same way), so that SymPy's later queries are dictionary look-ups.

tests/test_fast_build.py compares ``srepr`` with SymPy's own construction on random
expressions and programs, and SymPy's own finiteness answer with the recorded one.
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy.core import basic
from sympy.core.add import _addsort
from sympy.core.expr import Expr
from sympy.core.mul import _mulsort

ENABLED = True
"""Off: every construction goes to SymPy (the tests compare the two ways)."""


def _known(node: Any) -> bool | None:
    """What ``node`` records about its finiteness (no query): True, False or None (not known)."""
    assumptions = getattr(node, "_assumptions", None)
    return None if assumptions is None else assumptions.get("finite")


def _finite_parts(node: Any) -> tuple[Any, ...] | None:
    """The parts whose finiteness makes ``node`` finite, or None when its structure does not tell."""
    if isinstance(node, sympy.Add | sympy.Mul):
        return node.args
    if isinstance(node, sympy.Pow) and isinstance(node.exp, sympy.Integer) and node.exp >= 0:
        return (node.base,)
    return None


def tell_finite(expr: Any) -> bool:
    """Record on ``expr`` and its sub-expressions that they are finite, where the structure shows it.

    Returns whether ``expr`` is known finite. Iterative (a deep expression is no problem);
    nodes already known are not visited again, so building costs stay linear.
    """
    known = _known(expr)
    if known is not None:
        return known
    pending, order = [expr], []
    while pending:
        node = pending.pop()
        if _known(node) is not None:
            continue
        parts = _finite_parts(node)
        if parts is None:
            continue  # not known from the structure: SymPy will ask, as without this module
        order.append((node, parts))
        pending.extend(parts)
    for node, parts in reversed(order):
        if _known(node) is None and all(_known(p) is True for p in parts):
            _record(node)
    return _known(expr) is True


def _record(node: Any) -> None:
    """``node.is_finite`` is True: stored as SymPy's ``_ask`` stores an answer (with its implications)."""
    if node._assumptions is node.default_assumptions:  # nothing known yet: the class's deduction, made once
        deduced = _DEDUCED.get(type(node))
        if deduced is None:
            deduced = node.default_assumptions.copy()
            deduced.deduce_all_facts((("finite", True),))
            _DEDUCED[type(node)] = deduced
        node._assumptions = node.default_assumptions.copy()
        dict.update(node._assumptions, deduced)  # the facts deduce_all_facts sets (it keeps the generator)
        return
    node._assumptions.deduce_all_facts((("finite", True),))


_DEDUCED: dict[type, Any] = {}
"""Per class: its default assumptions with ``finite`` and every fact that follows (as deduced from them)."""


# ---------------------------------------------------------------------------
# SymPy's canonical order of a sum's terms, by key: one key per term, then one sort.
# ---------------------------------------------------------------------------

KEYED_SORT_MIN = 16
"""Sums of at least this many terms are sorted by :func:`canonical_key` (shorter ones by SymPy's comparison)."""

_RANKED = frozenset({"Zero", "One", "Half", "NegativeOne", "Integer", "Rational", "Symbol", "Pow", "Mul", "Add"})
"""The classes :func:`canonical_key` orders: each in SymPy's ``ordering_of_classes``, its content plain."""


_ATOMS = frozenset({"Zero", "One", "Half", "NegativeOne", "Integer", "Rational", "Symbol"})
"""The classes of :data:`_RANKED` whose content holds no ``Basic``."""


def canonical_key(expr: Any, keys: dict[Any, Any], depth: int = 0) -> Any:
    """A key whose order is ``Basic.compare``'s (SymPy's canonical order), or None where it cannot tell.

    ``Basic.compare`` orders by the class's place in ``ordering_of_classes``, then by the length
    of ``_hashable_content()``, then item by item (a ``Basic`` item by ``compare``, any other by
    ``<``): exactly the order of the tuple ``(place, length, items)`` with each ``Basic`` item
    replaced by its own key. For the classes of :data:`_RANKED` every item at one place has one
    type among objects of one class and length (symbols: a name, then (assumption, bool)
    pairs; integers: ``p``; rationals: ``p, q``; sums, products, powers: their arguments), so
    the tuples compare as ``compare`` does, and equal keys mean ``compare`` gives 0. Other
    classes (functions, floats, whose class names are not ranked the same way) give None.
    """
    known = keys.get(expr)
    if known is not None:
        return known
    name = type(expr).__name__
    if name not in _RANKED or depth > 64:
        return None
    content = expr._hashable_content()
    if name in _ATOMS:  # plain content (a name and assumption pairs; integers): compared as it is
        key = (basic.ordering_of_classes.index(name), len(content), content)
        keys[expr] = key
        return key
    items = []
    for item in content:
        part = canonical_key(item, keys, depth + 1) if isinstance(item, sympy.Basic) else item
        if part is None:
            return None
        items.append(part)
    key = (basic.ordering_of_classes.index(name), len(content), tuple(items))
    keys[expr] = key
    return key


def sort_terms(terms: list[Any]) -> None:
    """``_addsort(terms)``: in place, in SymPy's canonical order (by key for long sums: no pairwise ``compare``)."""
    if len(terms) >= KEYED_SORT_MIN:
        keys: dict[Any, Any] = {}
        order = [canonical_key(t, keys) for t in terms]
        if None not in order:
            ranked = sorted(range(len(terms)), key=order.__getitem__)  # stable, as list.sort with compare
            terms[:] = [terms[i] for i in ranked]
            return
    _addsort(terms)


# ---------------------------------------------------------------------------
# Direct construction: the node SymPy's evaluation returns, where that is provably
# the plain node (each condition below is the branch of SymPy 1.14's code it skips).
# ---------------------------------------------------------------------------


def _raw(cls: type, args: tuple[Any, ...]) -> Any:
    """``cls(*args)`` as ``AssocOp.__new__`` ends: ``_from_args`` and the constructor post-processors."""
    return cls._exec_constructor_postprocessors(cls._from_args(args, True))


def _raw_pow(base: Any, exp: Any) -> Any:
    obj = sympy.Pow._exec_constructor_postprocessors(Expr.__new__(sympy.Pow, base, exp))
    if isinstance(obj, sympy.Pow):
        obj.is_commutative = base.is_commutative and exp.is_commutative
    return obj


def _plain_power(base: Any, exp: Any) -> bool:
    """``Pow(base, exp)`` evaluates to the plain node.

    An integer ``exp`` other than 0 and 1 (no rule for those, none for ``zoo``/``oo``/nan,
    an atom so no ``exp(log)`` recognition), and a base whose ``_eval_power`` returns None:
    a plain ``Symbol`` (``Expr._eval_power``), or a sum that is not a number
    (``Add._eval_power`` acts only on numbers and on two-term sums with an infinite term).
    """
    if not (isinstance(exp, sympy.Integer) and exp.p not in (0, 1)):
        return False
    if type(base) is sympy.Symbol:
        return True
    if type(base) is sympy.Add and not base.is_number:
        return len(base.args) != 2 or all(tell_finite(t) for t in base.args)
    return False


def power(base: Any, exp: Any) -> Any:
    """``sympy.Pow(base, exp)`` where :func:`_plain_power` proves it is the plain node, else None."""
    return _raw_pow(base, exp) if _plain_power(base, exp) else None


def _plain_factor(factor: Any) -> bool:
    """``Mul(c, factor)`` for a rational ``c`` keeps ``factor`` as it is (a symbol or a plain power)."""
    if type(factor) is sympy.Symbol:
        return True
    return type(factor) is sympy.Pow and _plain_power(factor.base, factor.exp)


def _coefficient(c: Any) -> bool:
    return isinstance(c, sympy.Rational) and c.p != 0


def mul(*args: Any) -> Any:
    """``sympy.Mul(*args)`` for rationals times symbols and plain powers, else None.

    ``-x``, ``100*(a+b)**2``, ``-2*x*y``, ``(a+b)**2 * (a+b)**-1``: ``Mul.flatten`` spreads
    products (one level here), multiplies the rationals into the coefficient, adds the
    integer exponents of equal bases (``_gather``), drops a power 0 of a finite base, keeps
    a power 1 as the base and re-creates every other power (the plain node,
    :func:`_plain_power`), sorts the factors (``_mulsort``) and puts the coefficient first;
    a rational times one sum is distributed over it, as ``Mul.flatten`` ends. With only
    such factors no other rule applies (no number base, no sum among the arguments).
    """
    args = tuple(a for a in args if a is not sympy.S.One)  # AssocOp.__new__ drops the identity
    if len(args) < 2:  # none: 1; one: that argument as it is
        return None
    coeff, powers, alone = sympy.S.One, {}, {}  # alone: a base's one factor, a plain power (kept as it is)
    for a in args:
        for f in a.args if type(a) is sympy.Mul else (a,):
            if isinstance(f, sympy.Rational):
                coeff *= f
            elif type(f) is sympy.Symbol:
                powers[f] = powers.get(f, 0) + 1
                alone[f] = None
            elif type(f) is sympy.Pow and _plain_power(f.base, f.exp):
                powers[f.base] = powers.get(f.base, 0) + f.exp.p
                alone[f.base] = None if f.base in alone else f
            else:
                return None
    if coeff.p == 0:
        return None
    factors = []
    for base, exp in powers.items():
        if exp == 1:
            factors.append(base)
        elif exp != 0:  # 0: the factor goes (a finite base: no nan)
            built = alone[base] or power(base, sympy.Integer(exp))  # Pow(base, exp) is that factor itself
            if built is None:
                return None
            factors.append(built)
    if not factors:
        return None
    _mulsort(factors)
    if coeff is not sympy.S.One:
        factors.insert(0, coeff)
    if len(factors) == 2 and coeff is not sympy.S.One and type(factors[1]) is sympy.Add:
        terms = [times(coeff, t) for t in factors[1].args]  # 2*(1+a) -> 2 + 2*a
        built = add(*terms)
        return sympy.Add(*terms) if built is None else built
    return factors[0] if len(factors) == 1 else _raw(sympy.Mul, tuple(factors))


def times(a: Any, b: Any) -> Any:
    """``a * b`` (SymPy's operator: numbers multiply, anything else is ``Mul(a, b)``)."""
    if not (isinstance(a, sympy.Number) and isinstance(b, sympy.Number)):
        built = mul(a, b)
        if built is not None:
            return built
    return a * b


_PLAIN_TERMS = (sympy.Symbol, sympy.Function, sympy.NumberSymbol)


def _term(o: Any) -> tuple[Any, Any, Any] | None:
    """(coefficient, term, what ``Add.flatten`` puts in the sum) for one argument, or None (ask SymPy)."""
    if not o.is_commutative:
        return None
    if isinstance(o, _PLAIN_TERMS):
        return sympy.S.One, o, o
    if type(o) is sympy.Pow:
        return None if o.base.is_Number else (sympy.S.One, o, o)
    if type(o) is sympy.Mul:
        c, s = o.as_coeff_Mul()
        if c is sympy.S.One:  # no number first (s is o); a literal 1 first (unevaluated) is left to SymPy
            return (c, s, s) if s is o else None
        if not _coefficient(c):
            return None
        if type(s) is sympy.Mul:  # as Add.flatten does: c put first among the factors of s
            return c, s, s._new_rawargs(c, *s.args)
        if _plain_factor(s) and o.args == (c, s):  # Add.flatten: Mul(c, s), which is o (see mul)
            return c, s, o
    return None


def add(*args: Any) -> Any:
    """``sympy.Add(*args)`` where no two terms combine, else None.

    Terms: rationals (summed into the coefficient, first), symbols, constants, function
    values, powers with a non-number base and products with a rational coefficient; each
    comes out as it went in, sorted by ``_addsort`` as ``Add.flatten`` sorts them.
    """
    args = [a for a in args if a is not sympy.S.Zero]
    if len(args) < 2:
        return None
    coeff, seen, newseq = sympy.S.Zero, set(), []
    for o in args:
        if isinstance(o, sympy.Rational):
            coeff += o
            continue
        term = _term(o)
        if term is None or term[1] in seen:
            return None
        seen.add(term[1])
        newseq.append(term[2])
    if not newseq:
        return None
    sort_terms(newseq)
    if coeff is not sympy.S.Zero:
        newseq.insert(0, coeff)
    return _raw(sympy.Add, tuple(newseq))
