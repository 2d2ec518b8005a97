"""The function table: the only callables user text can reach, and SymPy functions of our own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from jacli.errors import ShapeError
from jacli.language import constants
from jacli.language.arrays import Value, elementwise, scalar, simplifying
from jacli.language.constants import _exact_floor, _exp_like, _real_function, _sign, _trig
from jacli.language.constants import _extremum as _pick

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
            return _exact_floor(arg)  # None (left as it is) when it cannot be decided
        return super().eval(arg)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class ceiling(sympy.ceiling):  # noqa: N801
    """``ceil`` with derivative zero (where it exists), as in torch; exact on constants."""

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_number and not arg.is_Rational:
            below = _exact_floor(-arg)
            return None if below is None else -below
        return super().eval(arg)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


# ---------------------------------------------------------------------------
# The function table: the only callables user text can reach.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """An allowed function: how many arguments it takes and how it builds."""

    min_args: int
    max_args: int | None
    build: Callable[..., Value]
    summary: str
    condition_arg: bool = False  # first argument is a condition (where)


def _log_base(x: Any, base: Any, evaluate: bool = True) -> sympy.Expr:
    if evaluate:
        return sympy.log(x, base)
    return sympy.Mul(sympy.log(x, evaluate=False), sympy.Pow(sympy.log(base), -1), evaluate=False)


def _unary(fn: Callable[..., Any], name: str) -> Callable[..., Value]:
    build = simplifying(fn)
    return lambda arg: elementwise(name, build, arg)


def _log(arg: Value, base: Value | None = None) -> Value:
    if base is None:
        return elementwise("log", simplifying(sympy.log), arg)
    return elementwise("log", simplifying(_log_base), arg, base)


def _extremum(fn: type, name: str) -> Callable[..., Value]:
    build = simplifying(fn)

    def apply(*args: Value) -> Value:
        if len(args) == 1:  # max(v): the largest element of an array
            return scalar(build(*args[0].flat))
        return elementwise(name, build, *args)

    return apply


def _piecewise(cond: Any, a: Any, b: Any, evaluate: bool = True) -> sympy.Expr:
    return sympy.Piecewise((a, cond), (b, True), evaluate=evaluate)


def _where(cond: Value, when_true: Value, when_false: Value) -> Value:
    return elementwise("where", simplifying(_piecewise), cond, when_true, when_false)


def _sum(arg: Value) -> Value:
    return scalar(sympy.Add(*arg.flat))


def _dot(a: Value, b: Value) -> Value:
    if a.ndim != 1 or a.shape != b.shape:
        raise ShapeError(f"dot needs two vectors of the same length, got shapes {a.shape} and {b.shape}")
    return scalar(sympy.Add(*(x * y for x, y in zip(a.flat, b.flat, strict=True))))


FUNCTIONS: dict[str, FunctionSpec] = {
    name: FunctionSpec(1, 1, _unary(fn, name), summary)
    for name, fn, summary in [
        ("sin", sympy.sin, "sine"),
        ("cos", sympy.cos, "cosine"),
        ("tan", sympy.tan, "tangent"),
        ("asin", sympy.asin, "inverse sine"),
        ("acos", sympy.acos, "inverse cosine"),
        ("atan", sympy.atan, "inverse tangent"),
        ("sinh", sympy.sinh, "hyperbolic sine"),
        ("cosh", sympy.cosh, "hyperbolic cosine"),
        ("tanh", sympy.tanh, "hyperbolic tangent"),
        ("exp", sympy.exp, "exponential"),
        ("log2", lambda x, **kw: _log_base(x, 2, **kw), "base-2 logarithm"),
        ("log10", lambda x, **kw: _log_base(x, 10, **kw), "base-10 logarithm"),
        ("sqrt", sympy.sqrt, "square root"),
        ("abs", sympy.Abs, "absolute value"),
        ("sign", sympy.sign, "sign: -1, 0 or 1"),
        ("floor", floor, "round down (derivative 0)"),
        ("ceil", ceiling, "round up (derivative 0)"),
        ("erf", sympy.erf, "error function"),
        ("sigmoid", sigmoid, "logistic function 1/(1+exp(-x))"),
        ("softplus", softplus, "log(1+exp(x))"),
        ("relu", lambda x, **kw: sympy.Max(0, x, **kw), "max(0, x)"),
        ("detach", detach, "value of the argument, derivative zero"),
    ]
} | {
    "log": FunctionSpec(1, 2, _log, "natural logarithm; log(x, b) in base b"),
    "atan2": FunctionSpec(2, 2, lambda y, x: elementwise("atan2", simplifying(sympy.atan2), y, x), "atan2(y, x)"),
    "min": FunctionSpec(1, None, _extremum(sympy.Min, "min"), "smallest argument, or element of one array"),
    "max": FunctionSpec(1, None, _extremum(sympy.Max, "max"), "largest argument, or element of one array"),
    "where": FunctionSpec(3, 3, _where, "where(cond, a, b): a where cond holds, else b", condition_arg=True),
    "sum": FunctionSpec(1, 1, _sum, "sum of the elements of an array"),
    "dot": FunctionSpec(2, 2, _dot, "dot(a, b): inner product of two vectors"),
}

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "e": sympy.E}
RESERVED = frozenset(FUNCTIONS) | frozenset(CONSTANTS)
_STEP_FUNCTIONS = frozenset({"sign", "floor", "ceil"})


_RULES: dict[type, Callable[..., Any]] = {
    sympy.exp: lambda ev, z: ev._exp(z),
    sympy.sinh: _exp_like(mpmath.sinh, lambda z: mpmath.inf, lambda z: -mpmath.inf),
    sympy.cosh: _exp_like(mpmath.cosh, lambda z: mpmath.inf, lambda z: mpmath.inf),
    sympy.tanh: _exp_like(mpmath.tanh, lambda z: 1, lambda z: -1),
    sigmoid: _exp_like(lambda z: 1 / (1 + mpmath.exp(-z)), lambda z: 1, lambda z: 0),
    softplus: _exp_like(lambda z: mpmath.log1p(mpmath.exp(z)), lambda z: z.real, lambda z: 0),
    sympy.sin: _trig(mpmath.sin),
    sympy.cos: _trig(mpmath.cos),
    sympy.tan: _trig(mpmath.tan),
    sympy.asin: _real_function(mpmath.asin),
    sympy.acos: _real_function(mpmath.acos),
    sympy.atan: _real_function(mpmath.atan),
    sympy.atan2: _real_function(mpmath.atan2),
    sympy.log: _real_function(mpmath.log),
    sympy.erf: _real_function(mpmath.erf),
    sympy.Abs: lambda ev, z: abs(z),
    sympy.sign: lambda ev, z: _sign(z),
    sympy.floor: _real_function(mpmath.floor),
    sympy.ceiling: _real_function(mpmath.ceil),
    sympy.Max: _pick(max),
    sympy.Min: _pick(min),
    detach: lambda ev, z: z,
}
"""How :class:`_Evaluator` computes each SymPy function (looked up along the MRO)."""


constants.RULES.update(_RULES)
