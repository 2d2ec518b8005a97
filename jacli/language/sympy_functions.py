"""SymPy functions of our own: derivative rules that SymPy lacks or gets wrong, exact roundings."""

from __future__ import annotations

from typing import Any

import sympy

from jacli.language.constants import exact_floor

# ---------------------------------------------------------------------------
# SymPy functions of our own: derivative rules that SymPy lacks or gets wrong.
# ---------------------------------------------------------------------------


class detach(sympy.Function):  # noqa: N801 - printed as the user typed it
    """The value of its argument with derivative zero (``tensor.detach()``)."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return arg if arg.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.args[0]._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class sigmoid(sympy.Function):  # noqa: N801
    """The logistic function ``1/(1+exp(-x))``."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return 1 / (1 + sympy.exp(-arg)) if arg.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, arg: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-arg))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class softplus(sympy.Function):  # noqa: N801
    """``log(1+exp(x))``, a smooth relu."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.log(1 + sympy.exp(arg)) if arg.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, arg: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(arg))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class floor(sympy.floor):  # noqa: N801
    """``floor`` with derivative zero (where it exists), as in torch; exact on constants.

    SymPy's own rounding of a constant can be wrong: it makes
    ``floor((sqrt(2) + sqrt(3))**2 - 5 - 2*sqrt(6) - 10**-40 + 5)`` 5, not 4.
    """

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_number and not arg.is_Rational:
            return exact_floor(arg)  # None (left as it is) when it cannot be decided
        return super().eval(arg)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class ceiling(sympy.ceiling):  # noqa: N801
    """``ceil`` with derivative zero (where it exists), as in torch; exact on constants."""

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_number and not arg.is_Rational:
            below = exact_floor(-arg)
            return None if below is None else -below
        return super().eval(arg)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero
