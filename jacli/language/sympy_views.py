"""The SymPy side of the function table: what a row's ``views`` resolver is given.

A row of :mod:`.functions` describes a function in plain data (its name, help,
arity, torch names), so ``jacli language`` reads the table without importing
SymPy. What needs SymPy or mpmath (the node it builds, its builder, its exact
value on constants, its non-smooth sites) the row writes as a resolver,
``lambda v: v.Views(v.sympy.asin, value=v.real_function(v.mpmath.asin))``, called
with this module the first time a view is needed. This module therefore holds
every name a resolver uses: ``sympy``, ``mpmath``, jacli's own SymPy functions,
the value rules of :mod:`.constants`, the builders and the site finders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import mpmath
import sympy

from jacli.errors import ShapeError
from jacli.language import tensor_sympy as tensor
from jacli.language.arrays import Value, elementwise, scalar, simplifying
from jacli.language.constants import complex_sign, exp_like, extremum, real_function, trig
from jacli.language.sympy_functions import ceiling, detach, floor, sigmoid, softplus

__all__ = [
    "Point",
    "Site",
    "Views",
    "boundary_site",
    "branch_cut_site",
    "ceiling",
    "complex_sign",
    "detach",
    "dot",
    "exp_like",
    "extremum",
    "extremum_of",
    "floor",
    "integer_site",
    "log",
    "log_base",
    "mpmath",
    "real_function",
    "sigmoid",
    "softplus",
    "sum_of",
    "sympy",
    "tensor",
    "tie_site",
    "trig",
    "where",
    "zero_site",
]


class Point(Protocol):
    """A point at which ``jacli check`` looks for non-smooth sites (see :mod:`jacli.nonsmooth`)."""

    def at(self, expr: sympy.Basic) -> sympy.Expr:
        """``expr`` at the point, to many digits."""

    def is_zero(self, value: sympy.Expr) -> bool:
        """Whether a value is zero to those digits."""

    def text(self, expr: sympy.Basic) -> str:
        """``expr`` in the language's words."""


Site = Callable[[Any, Point], "str | None"]
"""Why a node of the row's class is not smooth at a point (``"kink where x = 0"``), or None."""


@dataclass(frozen=True)
class Views:
    """The SymPy views of one row (what its resolver returns)."""

    node: type | None = None
    """The SymPy class the function builds (matched along the MRO); None when it builds other
    nodes (``relu`` is ``Max(0, x)``, ``sqrt`` a power), which then need no view of their own."""
    elementwise: Callable[..., Any] | None = None
    """The SymPy callable applied to each element (broadcasting the arguments); default ``node``."""
    build: Callable[..., Value] | None = None
    """Values (object arrays of SymPy) -> value, for a function that is not elementwise
    (``sum``, ``dot``); built from ``elementwise`` when None."""
    value: Callable[..., Any] | None = None
    """mpmath value of ``node`` on constants, ``(evaluator, *args) -> number`` (see :mod:`.constants`)."""
    site: Site | None = None
    """Where ``node`` is not smooth, for ``jacli check``."""


def complete(name: str, views: Views) -> Views:
    """``views`` with its builder: the elementwise callable (or ``node``) over values, checked as ``name``."""
    if views.build is not None:
        return views
    fn = simplifying(views.elementwise or views.node)
    return replace(views, build=lambda *args: elementwise(name, fn, *args))


# ---------------------------------------------------------------------------
# Builders: SymPy callables applied elementwise, and builders of whole values.
# ---------------------------------------------------------------------------


def log_base(x: Any, base: Any, evaluate: bool = True) -> sympy.Expr:
    """``log(x, base)``; unevaluated, as ``log(x) / log(base)``."""
    if evaluate:
        return sympy.log(x, base)
    return sympy.Mul(sympy.log(x, evaluate=False), sympy.Pow(sympy.log(base), -1), evaluate=False)


def log(x: Any, base: Any = None, evaluate: bool = True) -> sympy.Expr:
    """``log(x)`` or ``log(x, base)``."""
    return sympy.log(x, evaluate=evaluate) if base is None else log_base(x, base, evaluate)


def extremum_of(fn: type, name: str) -> Callable[..., Value]:
    """``min``/``max``: of the arguments elementwise, or of the elements of one array."""
    build = simplifying(fn)

    def apply(*args: Value, axis: int | None = None) -> Value:
        if axis is not None:  # max(x, axis=k): along an axis
            return tensor.extremum_along(fn, name, args, axis)
        if len(args) == 1:  # max(v): the largest element of an array
            return scalar(build(*args[0].flat))
        return elementwise(name, build, *args)

    return apply


def where(cond: Any, a: Any, b: Any, evaluate: bool = True) -> sympy.Expr:
    """``a`` where ``cond`` holds, else ``b``."""
    return sympy.Piecewise((a, cond), (b, True), evaluate=evaluate)


def sum_of(arg: Value, axis: int | None = None) -> Value:
    """The sum of the elements of ``arg``, or along ``axis``."""
    if axis is not None:
        return tensor.reduction("sum", lambda elements: sympy.Add(*elements), sympy.S.Zero)(arg, axis)
    return scalar(sympy.Add(*arg.flat))


def dot(a: Value, b: Value) -> Value:
    """The inner product of two vectors of the same length."""
    if a.ndim != 1 or a.shape != b.shape:
        raise ShapeError(f"dot needs two vectors of the same length, got shapes {a.shape} and {b.shape}")
    return scalar(sympy.Add(*(x * y for x, y in zip(a.flat, b.flat, strict=True))))


# ---------------------------------------------------------------------------
# Non-smooth sites (``jacli check``).
# ---------------------------------------------------------------------------


def _number_text(value: sympy.Expr) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.6g}"


def zero_site(kind: str) -> Site:
    """A ``kind`` (kink, jump) where the one argument is zero."""

    def site(expr: Any, point: Point) -> str | None:
        (arg,) = expr.args
        return f"{kind} where {point.text(arg)} = 0" if point.is_zero(point.at(arg)) else None

    return site


def integer_site(expr: Any, point: Point) -> str | None:
    """A jump where the one argument is an integer (``floor``, ``ceil``)."""
    (arg,) = expr.args
    value = point.at(arg)
    if value.is_number and value.is_real and point.is_zero(value - sympy.Integer(round(value))):
        return f"jump: {point.text(arg)} = {round(value)} is an integer"
    return None


def tie_site(expr: Any, point: Point) -> str | None:
    """A tie between the largest (``Max``) or smallest arguments."""
    args = [(a, point.at(a)) for a in expr.args]
    real = [(a, v) for a, v in args if v.is_number and v.is_real]
    if len(real) < len(args):
        return None
    best = max(v for _, v in real) if isinstance(expr, sympy.Max) else min(v for _, v in real)
    tied = [a for a, v in real if point.is_zero(v - best)]
    if len(tied) < 2:
        return None
    shown = "" if any(a.is_number for a in tied) else f" = {_number_text(best)}"
    return f"tie: {' = '.join(point.text(a) for a in tied)}{shown}"


def branch_cut_site(expr: Any, point: Point) -> str | None:
    """``atan2(y, x)`` on its branch cut: ``y = 0`` with ``x < 0``."""
    y, x = (point.at(a) for a in expr.args)
    if point.is_zero(y) and x.is_number and x.is_real and x < 0:
        return f"jump: the branch cut {point.text(expr.args[0])} = 0 with {point.text(expr.args[1])} < 0"
    return None


def _relations(cond: sympy.Basic) -> list[sympy.core.relational.Relational]:
    if isinstance(cond, sympy.core.relational.Relational):
        return [cond]
    if isinstance(cond, sympy.logic.boolalg.BooleanFunction):
        return [r for a in cond.args for r in _relations(a)]
    return []


def boundary_site(expr: Any, point: Point) -> str | None:
    """A ``Piecewise`` on the boundary of one of its conditions."""
    for _value, cond in expr.args:
        for relation in _relations(cond):
            if point.is_zero(point.at(relation.lhs - relation.rhs)):
                where = f"{point.text(relation.lhs)} = {point.text(relation.rhs)}"
                return f"on the boundary of its condition {point.text(relation)} ({where})"
    return None


NODE_SITES: dict[type, Site] = {sympy.Heaviside: zero_site("jump")}
"""Non-smooth SymPy nodes that are no function of the language (SymPy's own forms)."""
