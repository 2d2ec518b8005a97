"""SymPy's ``count_ops`` total, counted with integers (issue 16's cold start).

``sympy.count_ops`` tallies each operation as a SymPy symbol (``ADD``, ``MUL``, …)
and sums them with an ``Add``; the first ``Add`` a process makes imports
``sympy.tensor.tensor`` and with it ``sympy.combinatorics`` (about 0.1 s), paid by
every cold table just to decide whether the symbolic form is small enough to show.
:func:`operation_count` walks the tree exactly as ``count_ops`` does (the same
branches in the same order, ``fraction`` and negation included) and adds integers,
so the total is the same number without that import. Anything that is not a plain
expression (a relation, a boolean, a container) goes to ``count_ops`` itself.
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy.core.function import _coeff_isneg
from sympy.core.operations import LatticeOp
from sympy.simplify.radsimp import fraction


def operation_count(exprs: Any) -> int:
    """Total operations in an expression or nested lists of them (zeros, most of a big Hessian, cost nothing)."""
    pending, total = [exprs], 0
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif item is not sympy.S.Zero:
            total += count(item)
    return total


def count(expr: Any) -> int:
    """``int(sympy.count_ops(expr))``, without building the ``Add`` of operation symbols for an expression."""
    if not isinstance(expr, sympy.Expr) or expr.is_Relational:
        return int(sympy.count_ops(expr))
    return _expression_count(expr)


def _expression_count(expr: sympy.Expr) -> int:
    """``count_ops``' walk over an expression (sympy/core/function.py), one integer per operation symbol.

    Its one subtraction, ``SUB - ADD`` (an ``ADD`` already counted was a ``SUB``), adds nothing here.
    """
    total, args = 0, [expr]
    while args:
        a = args.pop()
        if a.is_Rational:
            if a is not sympy.S.One:  # -1/3 = NEG + DIV
                total += (a.p < 0) + (a.q != 1)
                continue
        elif a.is_Mul or a.is_MatMul:
            ops, a, done = _product(a, args)
            total += ops
            if done:
                continue
        elif a.is_Add or a.is_MatAdd:
            terms = list(a.args)
            negative = 0
            for i, term in enumerate(terms):
                if _coeff_isneg(term):
                    negative += 1
                    args.append(-term)
                else:
                    args.append(term)
                total += i > 0  # SUB or ADD
            total += negative == len(terms)  # -x - y = NEG + SUB
            continue
        if a.is_Pow and a.exp is sympy.S.NegativeOne:
            total += 1  # DIV
            args.append(a.base)  # won't be -Mul but could be Add
            continue
        if a == sympy.S.Exp1:
            total += 1  # EXP
            continue
        if a.is_Pow and a.base == sympy.S.Exp1:
            total += 1  # EXP
            args.append(a.exp)
            continue
        if a.is_Mul or isinstance(a, LatticeOp):
            total += len(a.args) - 1  # MUL * (number of factors - 1)
        elif a.args and (
            a.is_Pow or a.is_Function or isinstance(a, (sympy.Derivative, sympy.Integral, sympy.Sum))
        ):  # other heads (Tuple, MatrixSymbol, …) are not operations
            total += 1  # POW, SIN, FUNC_F, …
        if not a.is_Symbol:
            args.extend(a.args)
    return total


def _product(a: Any, args: list[Any]) -> tuple[int, Any, bool]:
    """count_ops' product branch: its operations, the product left (negated), and whether the walk moves on."""
    ops = 0
    if _coeff_isneg(a):
        ops += 1  # NEG
        a = a.as_two_terms()[1] if a.args[0] is sympy.S.NegativeOne else -a
    n, d = fraction(a)
    if n.is_Integer:
        args.append(d)  # won't be -Mul but could be Add
        return ops + 1 + bool(n < 0), a, True  # DIV, NEG
    if d is not sympy.S.One:
        if not d.is_Integer:
            args.append(d)
        args.append(n)  # could be -Mul
        return ops + 1, a, True  # DIV
    return ops, a, False
