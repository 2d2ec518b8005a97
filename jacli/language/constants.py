"""Exact constants: values at a fixed precision bounded in time, signs and roundings decided exactly."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import mpmath
import sympy

from jacli import limits

_RELATION_HOLDS: dict[type, Callable[[int], bool]] = {
    sympy.StrictLessThan: lambda s: s < 0,
    sympy.LessThan: lambda s: s <= 0,
    sympy.StrictGreaterThan: lambda s: s > 0,
    sympy.GreaterThan: lambda s: s >= 0,
    sympy.Equality: lambda s: s == 0,
    sympy.Unequality: lambda s: s != 0,
}
"""Whether ``a R b`` holds, given the sign of ``a - b``."""


def _is_constant(expr: Any) -> bool:
    return not isinstance(expr, sympy.Basic) or not expr.free_symbols


def _certified_sign(value: sympy.Expr) -> int | None:
    """The sign of a real constant from a value SymPy certifies, or None if it cannot tell it from zero."""
    if value.is_Rational:
        return int(sympy.sign(value))
    try:
        approx = value.evalf(limits.EXACT_DECISION_DIGITS, strict=True, maxn=limits.EXACT_DECISION_MAX_DIGITS)
    except (sympy.core.evalf.PrecisionExhausted, ValueError, TypeError):
        return None
    if not approx.is_Float:  # not real, infinite or undefined: no sign to decide
        return None
    return int(sympy.sign(approx))


@functools.lru_cache(maxsize=1024)  # a condition, a sign and a floor of one constant decide it once
def exact_sign(value: sympy.Expr) -> int | None:
    """The sign (-1, 0 or 1) of a real constant, decided exactly; None when it cannot be.

    ``sin(pi/7)**2 + cos(pi/7)**2 - 1`` is 0 (in floats it rounds to -1e-17): a
    certified value decides any constant that is not zero; zero needs a proof, by
    simplification.

    >>> exact_sign(sympy.sin(sympy.pi / 7) ** 2 + sympy.cos(sympy.pi / 7) ** 2 - 1), exact_sign(sympy.pi - 3)
    (0, 1)
    """
    sign = _certified_sign(value)
    if sign is not None:
        return sign
    # work on the irrational part alone: a 400-digit rational term makes simplify crawl
    rational, rest = value.as_coeff_Add() if isinstance(value, sympy.Add) else (sympy.S.Zero, value)
    if not _small_enough(rest, limits.EXACT_DECISION_MAX_NODES):
        return None
    simpler = sympy.simplify(rest)
    sign = _certified_sign(simpler + rational)
    if sign is not None:
        return sign
    # a close simple form (cos(pi/7) - cos(2*pi/7) + cos(3*pi/7) is near 1/2), proven equal
    guess = sympy.nsimplify(simpler)
    if guess != simpler and _proven_zero(rest - guess):
        return _certified_sign(guess + rational)
    return 0 if rational == 0 and _proven_zero(rest) else None


def _proven_zero(value: sympy.Expr) -> bool:
    return sympy.simplify(value) == 0 or value.equals(0) is True


def _small_enough(expr: Any, limit: int) -> bool:
    count, pending = 0, [expr]
    while pending:
        count += 1
        if count > limit:
            return False
        pending.extend(getattr(pending.pop(), "args", ()))
    return True


def _exact_step(expr: sympy.Expr) -> sympy.Integer | None:
    """``sign(c)``, ``floor(c)`` or ``ceil(c)`` of a real constant, exactly (None: undecidable)."""
    (arg,) = expr.args
    if isinstance(expr, sympy.sign):
        sign = exact_sign(arg)
        return None if sign is None else sympy.Integer(sign)
    if isinstance(expr, sympy.ceiling):
        below = exact_floor(-arg)
        return None if below is None else -below
    return exact_floor(arg)


def exact_floor(value: sympy.Expr) -> sympy.Integer | None:
    approx = constant_value(value)
    if not math.isfinite(approx):
        return None
    guess = math.floor(approx)
    for n in (guess, guess - 1, guess + 1):  # rounding moves the float across at most one integer
        above, below = exact_sign(value - n), exact_sign(value - (n + 1))
        if above is None or below is None:
            return None
        if above >= 0 and below < 0:
            return sympy.Integer(n)
    return None


def constant_value(expr: sympy.Basic) -> float:
    """A SymPy constant as a float: nan when not real, ±inf when out of range.

    Never hangs: the value is computed by :class:`_Evaluator` at a fixed
    precision, so ``exp(exp(exp(100)))`` is ``inf`` at once (SymPy's ``N`` would
    need about 10**43 bits of working precision).

    >>> constant_value(sympy.pi / 4), constant_value(sympy.exp(sympy.exp(sympy.exp(100))))
    (0.7853981633974483, inf)
    """
    if expr in (sympy.zoo, sympy.oo):
        return float("inf")
    if expr == -sympy.oo:
        return float("-inf")
    if expr is sympy.true or expr is sympy.false:
        return float(bool(expr))
    if isinstance(expr, sympy.Rational):
        return _rational_float(expr)
    with mpmath.workprec(_EVAL_BITS):
        value = _Evaluator(strict=False).value(expr)
        if mpmath.isnan(value.real) or (value.imag and abs(value.imag) > abs(value.real) * _IMAGINARY_TOLERANCE):
            return float("nan")
        return float(value.real)


def _rational_float(value: sympy.Rational) -> float:
    try:
        return int(value.p) / int(value.q)  # correctly rounded
    except OverflowError:
        if abs(value.p) < abs(value.q):
            return 0.0
        return math.inf if value.p > 0 else -math.inf


_EVAL_BITS = 113
"""Working precision of :func:`constant_value` (quad precision; floats need 53 bits)."""
_IMAGINARY_TOLERANCE = 2.0**-100
_HUGE_ARGUMENT = 2**40
"""``exp(z)`` for ``|z|`` beyond this is 0 or inf in any float format; it is not computed."""
_TRIG_BITS = 20_000
"""``sin(z)`` needs ``log2|z|`` extra bits to reduce its argument; beyond this it is nan."""


class _ExponentTooLarge(Exception):
    """A power with an integer exponent over :data:`limits.MAX_INTEGER_EXPONENT` (its exponent in ``args``)."""


class _ConstantTooLarge(Exception):
    """A constant's magnitude is over :data:`limits.MAX_CONSTANT_BITS` (strict evaluation only)."""


def _mpc(z: Any) -> mpmath.mpc:
    return mpmath.mpc(z)


class _Evaluator:
    """Values of constant SymPy expressions with mpmath at a fixed precision, bounded in time.

    SymPy's ``evalf`` raises its working precision with the magnitude of an
    exponent, without limit. Here every node is computed from its children's
    values, and the functions whose cost grows with the size of their argument
    are guarded: ``exp`` of a huge argument is inf or 0, ``sin`` of an
    astronomically large one is nan. With ``strict`` a value over
    :data:`limits.MAX_CONSTANT_BITS` raises :class:`_ConstantTooLarge` instead.
    """

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.memo: dict[sympy.Basic, mpmath.mpc] = {}

    def value(self, expr: sympy.Basic) -> mpmath.mpc:
        if expr not in self.memo:
            self.memo[expr] = self._checked(self._compute(expr))
        return self.memo[expr]

    def _checked(self, z: mpmath.mpc) -> mpmath.mpc:
        if self.strict and mpmath.isfinite(z) and z != 0 and mpmath.mag(z) > limits.MAX_CONSTANT_BITS:
            raise _ConstantTooLarge
        return z

    def _overflow(self, z: mpmath.mpc) -> mpmath.mpc:
        if self.strict:
            raise _ConstantTooLarge
        return z

    def _compute(self, expr: sympy.Basic) -> mpmath.mpc:
        if isinstance(expr, sympy.Rational):
            return _mpc(mpmath.mpf(int(expr.p)) / int(expr.q))
        if isinstance(expr, sympy.Float):
            return _mpc(mpmath.mpf(expr._mpf_))
        if expr is sympy.nan:
            return _mpc(mpmath.nan)
        if expr in (sympy.zoo, sympy.oo):
            return _mpc(mpmath.inf)
        if expr == -sympy.oo:
            return _mpc(-mpmath.inf)
        if expr is sympy.I:
            return mpmath.mpc(0, 1)
        if isinstance(expr, sympy.NumberSymbol):  # pi, E
            return _mpc(mpmath.mpf(expr.evalf(40)._mpf_))
        if not all(isinstance(a, sympy.Expr) for a in expr.args):  # Piecewise and the like
            return self._fallback(expr, [self.value(a) for a in _numeric_parts(expr)])
        args = [self.value(a) for a in expr.args]
        if isinstance(expr, sympy.Add):  # real arithmetic where possible: inf * 0j would be nan
            return _mpc(mpmath.fsum(_real_if_real(a) for a in args))
        if isinstance(expr, sympy.Mul):
            return _mpc(mpmath.fprod(_real_if_real(a) for a in args))
        if isinstance(expr, sympy.Pow):
            return self._power(*args)
        for cls in type(expr).__mro__:
            rule = RULES.get(cls)
            if rule is not None:
                return _mpc(rule(self, *args))
        return self._fallback(expr, args)

    # -- guarded functions ---------------------------------------------------------

    def _power(self, base: mpmath.mpc, exponent: mpmath.mpc) -> mpmath.mpc:
        if base == 0:
            if exponent.real > 0:
                return _mpc(0)
            return _mpc(1) if exponent == 0 else _mpc(mpmath.inf)
        if not (mpmath.isfinite(base) and mpmath.isfinite(exponent)):
            return _mpc(mpmath.power(_real_if_real(base), _real_if_real(exponent)))
        with mpmath.workprec(30):
            log_size = exponent.real * mpmath.log(abs(base), 2)
        if abs(log_size) > _HUGE_ARGUMENT:
            return self._overflow(_mpc(mpmath.inf if log_size > 0 else 0))
        if exponent.imag == 0 and exponent.real == int(exponent.real) and base.imag == 0:
            return _mpc(mpmath.power(base.real, int(exponent.real)))
        return _mpc(mpmath.power(base.real if base.imag == 0 else base, exponent))

    def exp(self, z: mpmath.mpc) -> mpmath.mpc:
        if mpmath.isfinite(z) and abs(z.real) > _HUGE_ARGUMENT:
            if z.real < 0:
                return _mpc(0)
            return self._overflow(_mpc(mpmath.inf if z.imag == 0 else mpmath.nan))
        return mpmath.exp(z)

    def _fallback(self, expr: sympy.Basic, args: list[mpmath.mpc]) -> mpmath.mpc:
        # Every argument has a bounded value, so SymPy's evalf is bounded too.
        if not all(mpmath.isfinite(a) and (a == 0 or mpmath.mag(a) <= limits.MAX_CONSTANT_BITS) for a in args):
            return _mpc(mpmath.nan)
        value = sympy.N(expr, 34)
        try:
            return _mpc(complex(value))
        except (TypeError, ValueError):
            return _mpc(mpmath.nan)


def _numeric_parts(expr: sympy.Basic) -> list[sympy.Expr]:
    """The outermost numeric sub-expressions below the non-numeric nodes of ``expr``."""
    parts, pending = [], list(expr.args)
    while pending:
        node = pending.pop()
        if isinstance(node, sympy.Expr):
            parts.append(node)
        else:
            pending.extend(node.args)
    return parts


def _real_if_real(z: mpmath.mpc) -> Any:
    return z.real if z.imag == 0 else z


def real_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda ev, *zs: fn(*(_real_if_real(z) for z in zs))


def trig(fn: Callable[[Any], Any]) -> Callable[..., Any]:
    def apply(ev: _Evaluator, z: mpmath.mpc) -> Any:
        if mpmath.isfinite(z) and z != 0 and mpmath.mag(z) > _TRIG_BITS:
            return ev._overflow(_mpc(mpmath.nan))
        return fn(_real_if_real(z))

    return apply


def exp_like(fn: Callable[[Any], Any], at_plus: Any, at_minus: Any) -> Callable[..., Any]:
    """``fn`` where ``|z|`` is moderate; its limits at ±inf beyond :data:`_HUGE_ARGUMENT`."""

    def apply(ev: _Evaluator, z: mpmath.mpc) -> Any:
        if mpmath.isfinite(z) and abs(z.real) > _HUGE_ARGUMENT:
            limit = at_plus(z) if z.real > 0 else at_minus(z)
            return ev._overflow(_mpc(limit)) if mpmath.isinf(limit) else limit
        return fn(_real_if_real(z))

    return apply


def complex_sign(z: mpmath.mpc) -> Any:
    return mpmath.sign(z.real) if z.imag == 0 else z / abs(z) if z != 0 else 0


def extremum(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(ev: _Evaluator, *zs: mpmath.mpc) -> Any:
        if any(z.imag != 0 or mpmath.isnan(z.real) for z in zs):
            return mpmath.nan
        return pick(z.real for z in zs)

    return apply


RULES: dict[type, Callable[..., Any]] = {}
"""How :class:`_Evaluator` computes each SymPy function (looked up along the MRO); filled by ``functions``."""
