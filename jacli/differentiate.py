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

from typing import Any

import sympy
from sympy.ntheory.multinomial import multinomial_coefficients_iterator

from jacli.language import fast
from jacli.language.fast import times

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
            return _add(*(self(a, x) for a in expr.args))
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
        return _add(*terms)

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


def _add(*args: Any) -> Any:
    built = fast.add(*args)
    return sympy.Add(*args) if built is None else built


def _divide(a: Any, b: Any) -> Any:
    """``a / b``: for ``b`` not a number, ``Expr.__truediv__`` (numbers hand it on): ``Mul(a, Pow(b, -1))``."""
    if isinstance(b, sympy.Number):
        return a / b
    denominator = fast.power(b, _S.NegativeOne)
    if denominator is None:
        denominator = sympy.Pow(b, _S.NegativeOne)
    if a is _S.One:
        return denominator
    built = fast.mul(a, denominator)
    return sympy.Mul(a, denominator) if built is None else built


def _product(factors: list[Any]) -> Any:
    """``Mul(*factors)``; 0 at once where a factor is 0 and the others are known finite (no ``nan``)."""
    if any(f is _S.Zero for f in factors) and all(f is _S.Zero or fast.tell_finite(f) for f in factors):
        return _S.Zero
    built = fast.mul(*factors)
    return sympy.Mul(*factors) if built is None else built


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
