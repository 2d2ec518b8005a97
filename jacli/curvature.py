"""What the Hessian of a scalar f says at a point: definiteness and, where ∇f vanishes, the kind of point.

Stdlib only: it reads plain floats (the eigenvalues, the gradient, f(x)) and the
dtype's machine epsilon ε, and returns the JSON keys the SPEC names.

Tolerances (the README states them):

- an eigenvalue counts as zero when |λ| ≤ :data:`EIGENVALUE_ULPS` · n · ε · max|λ|
  (relative to the largest |λ|: the rounding of a computed Hessian and of its
  eigenvalues scales with it; an all-zero Hessian has every λ zero);
- the gradient vanishes when every |∂f/∂xᵢ| ≤ √ε · max(1, |f(x)|) (the usual
  optimiser's test: a point typed to ~8 digits in float64, ~4 in float32, is as
  close to a critical point as the arithmetic can tell).

>>> describe([1.0, 3.0], [0.0, 0.0], 0.0, 2.0**-52)
{'eigenvalues': [1.0, 3.0], 'definiteness': 'positive definite', 'critical_point': 'local minimum'}
>>> describe([-2.0, 2.0], [1.0, 0.0], 0.0, 2.0**-52)
{'eigenvalues': [-2.0, 2.0], 'definiteness': 'indefinite'}
>>> line(describe([0.0, 0.0], [0.0, 0.0], 0.0, 2.0**-52))
'positive semidefinite: degenerate (the Hessian does not decide)'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

EIGENVALUE_ULPS = 64
"""An eigenvalue is zero within this many n·ε of the largest |eigenvalue|."""

KIND = {
    "positive definite": "local minimum",
    "negative definite": "local maximum",
    "indefinite": "saddle point",
    "positive semidefinite": "degenerate",
    "negative semidefinite": "degenerate",
}
"""Definiteness at a critical point -> the kind of point (second-derivative test)."""


def zero_tolerance(eigenvalues: Sequence[float], eps: float) -> float:
    """|λ| at most this counts as zero."""
    return EIGENVALUE_ULPS * len(eigenvalues) * eps * max((abs(x) for x in eigenvalues), default=0.0)


def gradient_tolerance(value: float, eps: float) -> float:
    """Every |∂f/∂xᵢ| at most this: the gradient vanishes."""
    return math.sqrt(eps) * max(1.0, abs(value))


def definiteness(eigenvalues: Sequence[float], eps: float) -> str:
    """One of the five words, from the signs of the eigenvalues beyond :func:`zero_tolerance`."""
    tol = zero_tolerance(eigenvalues, eps)
    positive = sum(x > tol for x in eigenvalues)
    negative = sum(x < -tol for x in eigenvalues)
    if positive == len(eigenvalues):
        return "positive definite"
    if negative == len(eigenvalues):
        return "negative definite"
    if negative == 0:  # the zero matrix included
        return "positive semidefinite"
    if positive == 0:
        return "negative semidefinite"
    return "indefinite"


def describe(eigenvalues: Sequence[float], gradient: Sequence[float], value: float, eps: float) -> dict[str, Any]:
    """``eigenvalues`` (ascending), ``definiteness`` and, at a critical point, ``critical_point``.

    Nothing when a number is not finite: no sign can be read from a nan.
    """
    numbers = [*eigenvalues, *gradient, value]
    if not all(math.isfinite(x) for x in numbers):
        return {}
    keys: dict[str, Any] = {"eigenvalues": list(eigenvalues), "definiteness": definiteness(eigenvalues, eps)}
    if max((abs(g) for g in gradient), default=0.0) <= gradient_tolerance(value, eps):
        keys["critical_point"] = KIND[keys["definiteness"]]
    return keys


def line(keys: dict[str, Any]) -> str:
    """The table's one line: ``positive definite: a local minimum``, or the definiteness alone."""
    if "definiteness" not in keys:
        return ""
    kind = keys.get("critical_point")
    if kind is None:  # not a critical point: the definiteness alone
        return keys["definiteness"]
    if kind == "degenerate":
        return f"{keys['definiteness']}: degenerate (the Hessian does not decide)"
    return f"{keys['definiteness']}: a {kind}"
