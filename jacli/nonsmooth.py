"""Non-smooth points of an expression, and whether they make it not differentiable (``jacli check``).

- :func:`nonsmooth_sites`: sub-expressions at a point where they are not smooth
  (``abs`` or ``sign`` at 0, ``floor``/``ceil`` at an integer, a tie in ``max``/``min``
  — ``relu`` is ``max(0, x)`` — and a ``where`` on its boundary). Each function's
  row of the function table says where it is not smooth (its ``site``); this module
  gives that rule the point (:class:`_Point`), at :data:`PRECISION` digits.
- :func:`not_differentiable`: whether such a site makes the *function* not
  differentiable, by one-sided difference quotients at 60 significant digits
  (``abs(x)**2`` at 0 has a kink inside but is differentiable; ``abs(x)`` is not).

Everything here is exact or high-precision SymPy arithmetic; :mod:`jacli.checking`
runs it within the check's time budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import sympy  # noqa: TID253 - a stage module, like symbolic.py

from jacli import language, symbolic
from jacli.language import user_text

PRECISION = 60
"""Significant digits for the one-sided difference quotients of :func:`not_differentiable`."""
ONE_SIDED_STEPS = (sympy.Rational(1, 10**20), sympy.Rational(1, 10**25), sympy.Rational(1, 10**30))
ZERO = sympy.Float("1e-40")
"""|value| below this (at :data:`PRECISION` digits) counts as exactly zero for non-smooth sites."""


@dataclass(frozen=True)
class NonSmooth:
    """A sub-expression that is not smooth at the point, and why."""

    expression: str
    reason: str
    depends_on: frozenset[sympy.Symbol] = field(default=frozenset(), compare=False)
    """The variables' element symbols the sub-expression depends on (through bindings)."""

    def __str__(self) -> str:
        return f"{self.expression}: {self.reason}"


def _numeric_values(
    bindings: Sequence[language.Binding], point: dict[sympy.Symbol, sympy.Expr]
) -> dict[sympy.Symbol, sympy.Expr]:
    values: dict[sympy.Symbol, sympy.Expr] = {s: sympy.Float(v, PRECISION) for s, v in point.items()}
    for binding in bindings:
        values[binding.symbol] = symbolic.substitute(binding.value, values).evalf(PRECISION)
    return values


def _at(expr: sympy.Basic, values: dict[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    # a comparison with a non-real side is decided as torch does (nan compares false)
    return symbolic.substitute(expr, values).evalf(PRECISION)


def _is_zero(value: sympy.Expr) -> bool:
    return bool(value.is_number and value.is_real and abs(value) < ZERO)


def nonsmooth_sites(program: language.Program, point: dict[sympy.Symbol, sympy.Expr]) -> list[NonSmooth]:
    """Sub-expressions of ``program`` (through its bindings) that are not smooth at ``point``."""
    values = _numeric_values(program.bindings, point)
    bindings = {b.symbol: b.value for b in program.bindings}
    seen: set[sympy.Basic] = set()
    stack: list[sympy.Basic] = list(program.outputs)
    sites: list[NonSmooth] = []
    while stack:
        expr = stack.pop()
        if expr in seen or not isinstance(expr, sympy.Basic):
            continue
        seen.add(expr)
        if isinstance(expr, sympy.Symbol):
            if expr in bindings:
                stack.append(bindings[expr])
            continue
        site = _site(expr, values)
        if site is not None and str(site) not in {str(s) for s in sites}:
            sites.append(replace(site, depends_on=_dependencies(expr, bindings)))
        stack.extend(expr.args)
    return sites


def _dependencies(expr: sympy.Basic, bindings: dict[sympy.Symbol, sympy.Expr]) -> frozenset[sympy.Symbol]:
    found: set[sympy.Symbol] = set()
    pending = set(expr.free_symbols)
    while pending:
        symbol = pending.pop()
        if symbol in bindings:
            pending |= bindings[symbol].free_symbols - found
        found.add(symbol)
    return frozenset(s for s in found if s not in bindings)


def _site(expr: sympy.Basic, values: dict[sympy.Symbol, sympy.Expr]) -> NonSmooth | None:
    """``expr`` and why it is not smooth at the point, by its row of the function table; or None."""
    site = language.site_of(expr) if expr.free_symbols else None
    why = None if site is None else site(expr, _Point(values))
    return None if why is None else NonSmooth(user_text(expr), why)


@dataclass(frozen=True)
class _Point:
    """The point, as a function's site rule reads it (:class:`jacli.language.sympy_views.Point`)."""

    values: dict[sympy.Symbol, sympy.Expr]

    def at(self, expr: sympy.Basic) -> sympy.Expr:
        return _at(expr, self.values)

    def is_zero(self, value: sympy.Expr) -> bool:
        return _is_zero(value)

    def text(self, expr: sympy.Basic) -> str:
        return user_text(expr)


def not_differentiable(
    program: language.Program,
    inputs: Sequence[sympy.Symbol],
    point: dict[sympy.Symbol, sympy.Expr],
    labels: Sequence[str],
) -> list[str]:
    """Inputs along which an output's one-sided difference quotients do not converge to one limit.

    Quotients ``q±(h) = ±(f(x ± h) - f(x))/h`` at ``h = 1e-20, 1e-25, 1e-30`` (60 digits).
    Where f is differentiable, ``q±(h) - f'(x) = O(h)``: each side's successive
    differences and the gap ``q+(h) - q-(h)`` shrink by about 1e-5 per step. At a kink the
    gap stays; at a jump (of any size, 1e-40 included) the quotients grow like 1/h; at
    ``sqrt(|x|)`` like h^(-1/2). The test is relative, so it does not depend on the
    scale of f; differences below the rounding of 60-digit arithmetic count as zero.
    Returns ``"f0 w.r.t. x"`` items.
    """
    failures = []
    base = _outputs_at(program, point)
    for symbol in inputs:
        plus, minus = [], []
        for h in ONE_SIDED_STEPS:
            above = _outputs_at(program, point | {symbol: point[symbol] + h})
            below = _outputs_at(program, point | {symbol: point[symbol] - h})
            plus.append([(a - b) / h for a, b in zip(above, base, strict=True)])
            minus.append([(b - m) / h for m, b in zip(below, base, strict=True)])
        for i, label in enumerate(labels):
            right, left = [q[i] for q in plus], [q[i] for q in minus]
            if not all(e.is_number and e.is_finite and e.is_real for e in right + left):
                continue  # outside the domain nearby: nothing to say here
            noise = _noise(program, base[i])
            if not (_converges(right, noise) and _converges(left, noise) and _gap_closes(right, left, noise)):
                failures.append(f"{label} w.r.t. {symbol.name}")
    return failures


SHRINK = sympy.Rational(1, 10)
"""Per step (h / 1e5), a differentiable function's quotient differences shrink by ~1e-5; at most this factor."""


def _noise(program: language.Program, value: sympy.Expr) -> sympy.Expr:
    """Rounding of a quotient at the smallest step: ``10^(10 - PRECISION)·max(1, |f|)/h``."""
    size = abs(value) if value.is_number and value.is_finite and value.is_real else sympy.Integer(1)
    return sympy.Float(10) ** (10 - PRECISION) * max(sympy.Integer(1), size) / ONE_SIDED_STEPS[-1]


def _converges(quotients: Sequence[sympy.Expr], noise: sympy.Expr) -> bool:
    first, second = abs(quotients[0] - quotients[1]), abs(quotients[1] - quotients[2])
    return bool(second <= SHRINK * first + noise)


def _gap_closes(right: Sequence[sympy.Expr], left: Sequence[sympy.Expr], noise: sympy.Expr) -> bool:
    return bool(abs(right[-1] - left[-1]) <= SHRINK * abs(right[-2] - left[-2]) + noise)


def _outputs_at(program: language.Program, point: dict[sympy.Symbol, sympy.Expr]) -> list[sympy.Expr]:
    values = _numeric_values(program.bindings, point)
    return [_at(out, values) for out in program.outputs]
