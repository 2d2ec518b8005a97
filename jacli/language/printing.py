"""SymPy -> text in jacli's own expression language: ``abs(x)``, ``max(a, b)``, ``where(x > 0, x, 0)``.

SymPy's ``sstr`` writes ``Abs``, ``Max``, ``ceiling`` and ``Piecewise((x, x > 0), (0, True))``;
messages that name a sub-expression for the user (``jacli check``, ``jacli graph``, the
parser's own) use the words the user typed: a node of a function's row prints as
``name(args)``, by the function table.

>>> import sympy
>>> x = sympy.Symbol("x", real=True)
>>> user_text(sympy.Piecewise((abs(x), x > 0), (sympy.Max(0, x - 1), True)))
'where(x > 0, abs(x), max(0, x - 1))'
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy.printing.str import StrPrinter

from jacli.language.functions import row_of


class _UserPrinter(StrPrinter):
    """``sstr`` with jacli's function names (from the function table) and syntax."""

    def _print(self, expr: Any, **kwargs: Any) -> str:
        row = row_of(expr) if isinstance(expr, sympy.Basic) and not isinstance(expr, sympy.Piecewise) else None
        if row is not None and hasattr(type(expr), "_sympystr"):  # det(A), inv(A)[0, 1]: the node's own text
            return expr._sympystr(self)
        if row is not None:  # where (Piecewise) has its own syntax, below
            return self._call(row.name, expr.args)
        return super()._print(expr, **kwargs)

    def _call(self, name: str, args: Any) -> str:
        return f"{name}({', '.join(self._print(a) for a in args)})"

    def _print_Exp1(self, expr: sympy.Expr) -> str:  # noqa: N802 - SymPy's printer protocol
        return "e"

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:  # noqa: N802
        (value, cond), rest = expr.args[0], expr.args[1:]
        if cond is sympy.true:
            return self._print(value)
        other = self._print(sympy.Piecewise(*rest)) if rest else "nan"
        return f"where({self._print(cond)}, {self._print(value)}, {other})"

    def _print_And(self, expr: sympy.And) -> str:  # noqa: N802
        return " and ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr: sympy.Or) -> str:  # noqa: N802
        return " or ".join(f"({self._print(a)})" for a in expr.args)

    def _print_ITE(self, expr: sympy.ITE) -> str:  # noqa: N802
        return self._call("where", expr.args)

    def _print_Not(self, expr: sympy.Not) -> str:  # noqa: N802
        return f"not ({self._print(expr.args[0])})"


def user_text(expr: sympy.Basic) -> str:
    """``expr`` written in jacli's expression language."""
    return _UserPrinter().doprint(expr)
