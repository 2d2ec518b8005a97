"""``sympy.diff(expr, x)`` for sums, products and powers, the same expression, without ``Derivative``'s overhead.

SymPy's ``diff`` goes through ``Derivative.__new__`` at every node (a free-symbol
walk, an ``is_zero`` query on the result, a ``replace`` over the whole result) and
builds ``0*log(base)`` for every constant exponent. :class:`ExactDiff` follows the
same rules node by node (``Add._eval_derivative``, ``Mul._eval_derivative_n_times``,
``Pow._eval_derivative``, ``Symbol``) with the same constructors, quicker where
:mod:`jacli.language.fast` proves the result is the same; any other node goes to
``sympy.diff`` itself. tests/test_differentiate.py compares ``srepr`` with ``sympy.diff``
on random expressions and on Rosenbrock functions.
"""

from __future__ import annotations

import functools
import itertools
import operator
from typing import Any

import sympy
from sympy.core.add import _addsort
from sympy.core.mul import _keep_coeff, _mulsort
from sympy.ntheory.multinomial import multinomial_coefficients_iterator

from jacli.language import fast

_S = sympy.S


class ExactDiff:
    """Derivatives of expressions, memoised (free symbols per node, and derivatives per node and symbol)."""

    def __init__(self) -> None:
        self._free: dict[Any, frozenset[Any]] = {}
        self._memo: dict[tuple[Any, Any], Any] = {}

    def free(self, expr: Any) -> frozenset[Any]:
        known = self._free.get(expr)
        if known is None:
            if isinstance(expr, sympy.Symbol):
                known = frozenset((expr,))
            elif type(expr) in (sympy.Add, sympy.Mul, sympy.Pow):
                known = frozenset().union(*(self.free(a) for a in expr.args))
            else:
                known = frozenset(expr.free_symbols)
            self._free[expr] = known
        return known

    def __call__(self, expr: Any, x: sympy.Symbol) -> Any:
        """``sympy.diff(expr, x)``."""
        key = (expr, x)
        known = self._memo.get(key)
        if known is None:
            known = self._derive(expr, x)
            self._memo[key] = known
        return known

    def _derive(self, expr: Any, x: sympy.Symbol) -> Any:
        if x not in self.free(expr):  # Derivative.__new__: zero for a symbol the expression does not have
            return _S.Zero
        kind = type(expr)
        if kind is sympy.Symbol:
            return _S.One  # the only free symbol of a symbol is itself
        if kind is sympy.Add:  # Add._eval_derivative
            return add(*(self(a, x) for a in expr.args))
        if kind is sympy.Mul:
            return self._product(expr, x)
        if kind is sympy.Pow:
            return self._power(expr, x)
        return sympy.diff(expr, x)

    def _product(self, expr: Any, x: sympy.Symbol) -> Any:
        """``Mul._eval_derivative_n_times(x, 1)``: the Leibniz rule, one product per factor, in its order."""
        args = expr.args
        terms = []
        for kvals, _ in multinomial_coefficients_iterator(len(args), 1):
            factors = [self(a, x) if k else a for k, a in zip(kvals, args, strict=True)]
            terms.append(_product(factors))
        return add(*terms)

    def _power(self, expr: Any, x: sympy.Symbol) -> Any:
        """``Pow._eval_derivative``: ``self * (dexp*log(base) + dbase*exp/base)``."""
        base, exp = expr.args
        dbase, dexp = self(base, x), self(exp, x)
        quotient = _divide(times(dbase, exp), base)
        if dexp is _S.Zero and _log_finite(base):
            inner = quotient  # 0*log(base) is 0, and 0 + q is q
        else:
            inner = dexp * sympy.log(base) + quotient
        return times(expr, inner)


def _associative(args: tuple[Any, ...], identity: Any, combine: Any, builders: tuple[Any, Any], cls: Any) -> Any:
    """``cls(*args)`` as :func:`add` and :func:`mul` make it: identities dropped, rationals combined, then
    the first of ``builders`` (called with the arguments, then with their list) that builds it directly."""
    args = [a for a in args if a is not identity]
    if len(args) < 2:
        return args[0] if args else identity
    if all(map(isinstance, args, itertools.repeat(sympy.Rational))):
        return functools.reduce(combine, args)
    direct, with_lists = builders
    built = direct(*args)
    if built is None:
        built = with_lists(args)
    return cls(*args) if built is None else built


def add(*args: Any) -> Any:
    """``sympy.Add(*args)`` of SymPy objects: the same expression, built directly where that is provably SymPy's.

    ``AssocOp.__new__`` drops the zeros and returns a lone argument as it is; rationals only
    are their sum (``Add.flatten``'s coefficient); sums where no terms combine are
    :func:`jacli.language.fast.add`'s; sums whose like terms combine :func:`_collected`'s.
    """
    return _associative(args, _S.Zero, operator.add, (fast.add, _collected), sympy.Add)


_TERMS = (sympy.Symbol, sympy.Function, sympy.NumberSymbol)
"""Terms that ``Add.flatten`` keeps as they are, with coefficient 1 (its "everything else")."""


def _collected(args: list[Any]) -> Any:
    """``Add.flatten`` of commutative rationals, symbols, functions, constants, non-number-based powers,
    products with a rational coefficient and sums of those (like terms combined), or None (ask SymPy).

    Each step is ``Add.flatten``'s, in its order: nested sums spread in place, terms collected by
    ``as_coeff_Mul`` into a dict (first seen first), zero coefficients dropped, ``c*s`` rebuilt as
    ``s._new_rawargs(c, *s.args)`` for a product ``s``, an unevaluated ``Mul`` for a sum, else
    ``Mul(c, s)``; then ``_addsort`` and the rational coefficient first.
    """
    if len(args) == 2:  # Add.flatten's first case: a rational and a product, as they are
        a, b = args
        if isinstance(b, sympy.Rational):
            a, b = b, a
        if isinstance(a, sympy.Rational) and b.is_Mul:
            return _raw(sympy.Add, (a, b)) if b.is_commutative else None
    coeff, terms = _S.Zero, {}
    seq = list(args)
    for o in seq:  # grows while it is read, as in Add.flatten
        if not o.is_commutative:
            return None
        kind = type(o)
        if isinstance(o, sympy.Rational):
            coeff += o
            continue
        if kind is sympy.Add:
            seq.extend(o.args)
            continue
        if kind is sympy.Mul:
            c, term = o.as_coeff_Mul()
            if not isinstance(c, sympy.Rational):
                return None
        elif (kind is sympy.Pow and not o.base.is_Number) or isinstance(o, _TERMS):
            c, term = _S.One, o
        else:
            return None
        terms[term] = terms[term] + c if term in terms else c
    newseq = []
    for term, c in terms.items():
        if c.p == 0:
            continue
        if c is _S.One:
            newseq.append(term)
        elif term.is_Mul:
            newseq.append(term._new_rawargs(*((c, *term.args))))
        elif term.is_Add:
            newseq.append(_raw(sympy.Mul, (c, term)))  # Mul(c, term, evaluate=False)
        else:
            built = fast.mul(c, term)
            newseq.append(sympy.Mul(c, term) if built is None else built)
    _addsort(newseq)
    if coeff is not _S.Zero:
        newseq.insert(0, coeff)
    return _raw(sympy.Add, tuple(newseq))


def _raw(cls: type, args: tuple[Any, ...]) -> Any:
    """``cls(*args)`` as ``AssocOp.__new__`` ends: ``_from_args`` and the constructor post-processors."""
    return cls._exec_constructor_postprocessors(cls._from_args(args, True))


def mul(*args: Any) -> Any:
    """``sympy.Mul(*args)`` of SymPy objects: the same expression, built directly where that is provably SymPy's.

    ``AssocOp.__new__`` drops the ones and returns a lone argument as it is; rationals only are
    their product (``Mul.flatten``'s coefficient); rationals times symbols and plain powers are
    :func:`jacli.language.fast.mul`'s; products with sums among the factors :func:`_with_sums`'.
    """
    return _associative(args, _S.One, operator.mul, (fast.mul, _with_sums), sympy.Mul)


def times(a: Any, b: Any) -> Any:
    """``a * b`` (SymPy's operator: numbers multiply, anything else is ``Mul(a, b)``)."""
    if isinstance(a, sympy.Number) and isinstance(b, sympy.Number):
        return a * b
    return mul(a, b)


_INFINITIES = (_S.Infinity, _S.NegativeInfinity, _S.ComplexInfinity)


def _with_sums(args: list[Any]) -> Any:
    """``Mul.flatten`` of rationals, symbols, plain powers and sums (and products of those), or None.

    As :func:`jacli.language.fast.mul`, with a sum as one more kind of factor: ``Mul.flatten``
    gives it the base-exponent pair ``(sum, 1)`` (``Add.as_base_exp``), adds the exponents of
    equal bases, keeps the sum itself for exponent 1 and re-creates the power otherwise (the
    plain node where :func:`jacli.language.fast.power` proves it). Two arguments, a rational
    ``a`` and ``r*sum``, are ``Mul.flatten``'s first case: ``a*r*sum`` unevaluated, or the sum
    distributed over ``a`` by ``_keep_coeff`` when ``r`` is 1.
    """
    if len(args) == 2:
        a, b = args
        if isinstance(b, sympy.Rational):
            a, b = b, a
        if isinstance(a, sympy.Rational) and a.p != 0:
            r, b = b.as_coeff_Mul()
            if type(b) is sympy.Add:
                if not b.is_commutative:
                    return None
                if r is not _S.One:
                    ar = a * r
                    return b if ar is _S.One else _raw(sympy.Mul, (ar, b))
                return add(*(_keep_coeff(a, term) for term in b.args))
    coeff, powers = _S.One, {}
    for a in args:
        for f in a.args if type(a) is sympy.Mul else (a,):
            if not f.is_commutative:
                return None
            if isinstance(f, sympy.Rational):
                coeff *= f
            elif type(f) is sympy.Symbol or type(f) is sympy.Add:
                powers[f] = powers.get(f, 0) + 1
            elif type(f) is sympy.Pow and isinstance(f.exp, sympy.Integer) and fast.power(f.base, f.exp) is not None:
                powers[f.base] = powers.get(f.base, 0) + f.exp.p
            else:
                return None
    if coeff.p == 0:
        return None
    factors = []
    for base, exp in powers.items():
        if exp == 1:
            factors.append(base)
        elif exp != 0:
            built = fast.power(base, sympy.Integer(exp))
            if built is None:
                return None
            factors.append(built)
        elif type(base) is sympy.Add and any(t in _INFINITIES for t in base.args):
            return None  # Mul.flatten: nan
    if not factors:
        return None
    _mulsort(factors)
    if coeff is not _S.One:
        factors.insert(0, coeff)
    if len(factors) == 2 and coeff is not _S.One and type(factors[1]) is sympy.Add:
        return add(*(times(coeff, t) for t in factors[1].args))  # 2*(1+a) -> 2 + 2*a, as Mul.flatten ends
    return factors[0] if len(factors) == 1 else _raw(sympy.Mul, tuple(factors))


def _divide(a: Any, b: Any) -> Any:
    """``a / b``: for ``b`` not a number, ``Expr.__truediv__`` (numbers hand it on): ``Mul(a, Pow(b, -1))``."""
    if isinstance(b, sympy.Number):
        return a / b
    denominator = fast.power(b, _S.NegativeOne)
    if denominator is None:
        denominator = sympy.Pow(b, _S.NegativeOne)
    return mul(a, denominator)


def _product(factors: list[Any]) -> Any:
    """``Mul(*factors)``; 0 at once where a factor is 0 and the others are known finite (no ``nan``)."""
    if any(f is _S.Zero for f in factors) and all(f is _S.Zero or fast.tell_finite(f) for f in factors):
        return _S.Zero
    return mul(*factors)


def _log_finite(base: Any) -> bool:
    """``log(base)`` is not infinite for SymPy: ``base`` is finite and not identically zero (by its structure)."""
    if not fast.tell_finite(base):
        return False
    if type(base) is sympy.Symbol:
        return base.is_zero is not True
    return type(base) is sympy.Add and _has_lone_symbol(base)


def _has_lone_symbol(expr: sympy.Add) -> bool:
    """A term ``c*s`` (``s`` a symbol, ``c`` a non-zero rational) with ``s`` in no other term: not identically 0."""
    for i, term in enumerate(expr.args):
        symbol = term
        if type(term) is sympy.Mul and len(term.args) == 2 and isinstance(term.args[0], sympy.Rational):
            symbol = term.args[1]
        if type(symbol) is sympy.Symbol and not any(
            symbol in other.free_symbols for j, other in enumerate(expr.args) if j != i
        ):
            return True
    return False
