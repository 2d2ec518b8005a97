"""The SymPy side of the tensor vocabulary (issue 13, part A): transpose, reductions, softmax, scalar functions.

Every value is an object array of SymPy expressions, so a reduction is a SymPy node over
the elements of a slice (``logsumexp(x0, x1, x2)``, ``norm(x0, x1)``) or a sum or product
of them; ``softmax`` is ``exp(x_i - logsumexp(...))``, stable by construction. The
nodes' torch lowerings are in :mod:`jacli.tensor_torch`; the rows are in
:mod:`jacli.language.functions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import sympy

from jacli.errors import ShapeError
from jacli.language.arrays import Value, _as_value, elementwise, scalar, simplifying
from jacli.language.constants import _is_constant, exact_sign, exp_like

_SINC_TERMS = 6
"""Terms of the Taylor series of ``sinc'`` used at exactly 0: exact derivatives there up to order 12."""


# ---------------------------------------------------------------------------
# Scalar functions SymPy lacks (or defines otherwise: its sinc is sin(x)/x).
# ---------------------------------------------------------------------------


class _Real(sympy.Function):
    """A real function of real arguments."""

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args) else None


class sinc(_Real):  # noqa: N801 - printed as the user typed it
    """``sin(pi*x)/(pi*x)``, 1 at 0 (NumPy's and PyTorch's normalized sinc)."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.S.One if arg.is_zero else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        (x,) = self.args
        at_zero = sympy.Add(*(_sinc_prime_coefficient(k) * x ** (2 * k - 1) for k in range(1, _SINC_TERMS + 1)))
        return sympy.Piecewise(((sympy.cos(sympy.pi * x) - self) / x, sympy.Ne(x, 0)), (at_zero, True))

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:  # not mpmath's sinc (found by name), which is sin(x)/x
        (x,) = self.args
        if not x.is_number or x.is_zero:
            return None
        return (sympy.sin(sympy.pi * x) / (sympy.pi * x))._eval_evalf(prec)


def _sinc_prime_coefficient(k: int) -> sympy.Expr:
    """The coefficient of ``x**(2k-1)`` in ``sinc'(x)``: ``(-1)**k pi**(2k) 2k / (2k+1)!``."""
    return sympy.Integer(-1) ** k * sympy.pi ** (2 * k) * 2 * k / sympy.factorial(2 * k + 1)


class expm1(_Real):  # noqa: N801
    """``exp(x) - 1``, accurate near 0."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.S.Zero if arg.is_zero else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.exp(self.args[0])


class log1p(sympy.Function):  # noqa: N801
    """``log(1 + x)``, accurate near 0 (real for x > -1)."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.S.Zero if arg.is_zero else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return 1 / (1 + self.args[0])

    def _eval_is_real(self) -> bool | None:
        x = self.args[0]
        return True if x.is_real and (x + 1).is_positive else None


class exp2(_Real):  # noqa: N801
    """``2**x``."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_Float:  # a float stays no mystery to comparisons (as exp(0.7) is a number)
            return sympy.Integer(2) ** arg
        return sympy.Integer(2) ** arg if arg.is_Integer and abs(arg) <= 64 else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.log(2) * self

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:  # mpmath has no exp2 to find by name
        (x,) = self.args
        return (sympy.Integer(2) ** x)._eval_evalf(prec) if x.is_number else None


class cbrt(_Real):  # noqa: N801
    """The real cube root (negative for negative x, unlike SymPy's principal ``x**(1/3)``)."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_Rational:
            root = sympy.real_root(abs(arg), 3)
            return -root if arg.is_negative else root
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return 1 / (3 * self**2)

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:  # not mpmath's cbrt (found by name): complex for x < 0
        (x,) = self.args
        if not x.is_number or not x.is_real:
            return None
        root = sympy.real_root(abs(x), 3)._eval_evalf(prec)
        return -root if x.is_negative else root


class hypot(_Real):  # noqa: N801
    """``sqrt(a**2 + b**2)`` without overflow."""

    nargs = 2

    @classmethod
    def eval(cls, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr | None:
        if a.is_Rational and b.is_Rational:
            return sympy.sqrt(a**2 + b**2)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return self.args[argindex - 1] / self


class logsumexp(_Real):  # noqa: N801
    """``log(exp(a) + exp(b) + ...)``, computed from the largest argument (no overflow)."""

    @classmethod
    def eval(cls, *args: sympy.Expr) -> sympy.Expr | None:
        return args[0] if len(args) == 1 else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.exp(self.args[argindex - 1] - self)


class norm(_Real):  # noqa: N801
    """``sqrt(a**2 + b**2 + ...)``: the 2-norm of the elements."""

    @classmethod
    def eval(cls, *args: sympy.Expr) -> sympy.Expr | None:
        if len(args) == 1:
            return sympy.Abs(args[0])
        if all(a.is_Rational for a in args):
            return sympy.sqrt(sympy.Add(*(a**2 for a in args)))
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return self.args[argindex - 1] / self


# ---------------------------------------------------------------------------
# Exact values on constants (mpmath; see jacli.language.constants).
# ---------------------------------------------------------------------------


def _real(z: Any) -> Any:
    return z.real if z.imag == 0 else mpmath.nan


def _finite_or_nan(fn: Callable[..., Any]) -> Callable[..., Any]:
    def apply(ev: Any, *zs: Any) -> Any:
        if any(z.imag != 0 or mpmath.isnan(z.real) for z in zs):
            return mpmath.nan
        return fn(*(z.real for z in zs))

    return apply


def _sinc_value(z: Any) -> Any:
    return mpmath.mpf(1) if z == 0 else mpmath.sinpi(z) / (mpmath.pi * z)


def _cbrt_value(z: Any) -> Any:
    return mpmath.sign(z) * mpmath.cbrt(abs(z))


def _logsumexp_value(*zs: Any) -> Any:
    top = max(zs)
    if mpmath.isinf(top):
        return top
    return top + mpmath.log(mpmath.fsum(mpmath.exp(z - top) for z in zs))


VALUES: dict[str, Callable[..., Any]] = {
    "sinc": _finite_or_nan(_sinc_value),
    "expm1": exp_like(mpmath.expm1, lambda z: mpmath.inf, lambda z: -1),
    "log1p": lambda ev, z: mpmath.log1p(_real(z)) if z.imag == 0 and z.real > -1 else mpmath.nan,
    "exp2": exp_like(lambda z: mpmath.power(2, z), lambda z: mpmath.inf, lambda z: 0),
    "cbrt": _finite_or_nan(_cbrt_value),
    "hypot": _finite_or_nan(mpmath.hypot),
    "logsumexp": _finite_or_nan(_logsumexp_value),
    "norm": _finite_or_nan(lambda *zs: mpmath.sqrt(mpmath.fsum(z * z for z in zs))),
}
"""Function name -> ``(evaluator, *args) -> number``: the exact value of the node on constants."""


# ---------------------------------------------------------------------------
# Builders: values (object arrays) -> values.
# ---------------------------------------------------------------------------


def transpose(arg: Value) -> Value:
    """The axes reversed (a scalar or a vector is itself)."""
    return _as_value(np.array(arg.T))


def _axis(value: Value, axis: int) -> int:
    if not -value.ndim <= axis < value.ndim:
        raise ShapeError(f"axis {axis} is out of range for an array of shape {value.shape}")
    return axis % value.ndim


def _along(name: str, value: Value, axis: int | None, reduce: Callable[[list[Any]], Any], empty: Any = None) -> Value:
    """``reduce`` over the elements of ``value`` (``axis`` None), or along one axis."""
    if axis is None:
        elements = list(value.flat)
        if not elements and empty is None:
            raise ShapeError(f"{name} of an empty array (shape {value.shape})")
        return scalar(reduce(elements) if elements else empty)
    moved = np.moveaxis(value, _axis(value, axis), -1)
    if moved.shape[-1] == 0 and empty is None:
        raise ShapeError(f"{name} of an empty array (shape {value.shape})")
    out = np.empty(moved.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        elements = list(moved[index])
        out[index] = reduce(elements) if elements else empty
    return _as_value(out)


def reduction(name: str, reduce: Callable[[list[Any]], Any], empty: Any = None) -> Callable[..., Value]:
    """``f(x)``, ``f(x, axis)``: ``reduce`` (a list of elements -> one) over all elements or along ``axis``."""

    def build(arg: Value, axis: int | None = None) -> Value:
        return _along(name, arg, axis, reduce, empty)

    return build


def mean(elements: list[Any]) -> Any:
    return sympy.Add(*elements) / len(elements)


def extremum_along(fn: type, name: str, args: tuple[Value, ...], axis: int) -> Value:
    """``max(x, axis=k)``: the largest element along an axis (``max(a, b)`` takes no axis)."""
    if len(args) != 1:
        raise ShapeError(f"{name}(x, axis=k) takes one array; {name}(a, b, ...) takes no axis")
    return _along(name, args[0], axis, lambda elements: fn(*elements))


def _last_axis(value: Value, axis: int | None) -> int | None:
    return (-1 if value.ndim else None) if axis is None else axis


def log_softmax(arg: Value, axis: int | None = None) -> Value:
    """``x - logsumexp(x)`` along ``axis`` (default the last one)."""
    return _softmax(arg, axis, lambda x, total: x - total, "log_softmax")


def softmax(arg: Value, axis: int | None = None) -> Value:
    """``exp(x - logsumexp(x))`` along ``axis`` (default the last one): every exponent is at most 0."""
    return _softmax(arg, axis, lambda x, total: sympy.exp(x - total), "softmax")


def _softmax(arg: Value, axis: int | None, element: Callable[[Any, Any], Any], name: str) -> Value:
    axis = _last_axis(arg, axis)
    if axis is None:  # a scalar: softmax is 1, log_softmax 0
        return scalar(element(arg[()], arg[()]))
    moved = np.moveaxis(arg, _axis(arg, axis), -1)
    if moved.shape[-1] == 0:
        raise ShapeError(f"{name} of an empty array (shape {arg.shape})")
    out = np.empty(moved.shape, dtype=object)
    for index in np.ndindex(moved.shape[:-1]):
        elements = list(moved[index])
        total = logsumexp(*elements)
        out[index] = [element(x, total) for x in elements]
    return _as_value(np.moveaxis(out, -1, axis))


_ABS = simplifying(sympy.Abs)


def norm_of(arg: Value, p: Value | None = None, axis: int | None = None) -> Value:
    """``norm(x)``: the 2-norm of the elements (Frobenius for a matrix); ``norm(x, p)`` their p-norm."""
    if arg.shape == () and axis is None and (p is None or (p.shape == () and exact_sign(p[()]) == 1)):
        return elementwise("norm", _ABS, arg)  # |x|, built as abs(x) is (so a deep nest stays linear)
    if p is None:
        return _along("norm", arg, axis, lambda elements: norm(*elements), sympy.S.Zero)
    if p.shape != () or not _is_constant(p[()]) or exact_sign(p[()]) != 1:
        raise ShapeError("the p of norm(x, p) must be a positive constant")
    power = p[()]
    if power == 2:
        return norm_of(arg, None, axis)

    def p_norm(elements: list[Any]) -> Any:
        return sympy.Add(*(sympy.Abs(x) ** power for x in elements)) ** (1 / power)

    return _along("norm", arg, axis, p_norm, sympy.S.Zero)


# ---------------------------------------------------------------------------
# Non-smooth sites (jacli check).
# ---------------------------------------------------------------------------


def all_zero_site(kind: str) -> Callable[[Any, Any], str | None]:
    """A ``kind`` where every argument is zero (``norm``, ``hypot``)."""

    def site(expr: Any, point: Any) -> str | None:
        if all(point.is_zero(point.at(a)) for a in expr.args):
            return f"{kind} where {' = '.join(point.text(a) for a in expr.args)} = 0"
        return None

    return site
