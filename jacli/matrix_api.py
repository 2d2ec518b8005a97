"""The matrix form from Python: ``matrix_form(quantity, parsed, wrt, shapes, v, point)``.

Shapes may have named dimensions (``{"x": ("n",), "A": ("n", "n")}``); without a point the
form is checked at random values against the elementwise result of the one numeric path
(:func:`jacli.evaluation.evaluate_at`).

>>> from jacli.language import parse_expression
>>> matrix_form("gradient", parse_expression("x@A@x"), ["x"], {"x": ("n",), "A": ("n", "n")}).text
'(A + A.T)@x'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jacli.evaluation import elementwise_result, resolve_quantity
from jacli.matrix_form import MatrixForm
from jacli.matrix_results import matrix_form_with_notes

elementwise = elementwise_result
"""The elementwise (autodiff) result of ``quantity`` at ``point``, flat or nested."""


def matrix_form(
    quantity: Any,
    parsed: Any,
    wrt: Sequence[str],
    shapes: Mapping[str, tuple[Any, ...]],
    v: Any = "ones",
    point: Mapping[str, Any] | None = None,
) -> MatrixForm | None:
    """The result of ``quantity`` (a :class:`~jacli.quantities.Quantity` or its name) in matrix notation,
    checked numerically, or None.

    ``shapes``: each variable's shape, dimensions ints or names; ``v``: ``"ones"``, the weights
    (floats) or None for a symbolic ``v``; ``point``: name -> value, or None for random values.
    """
    return matrix_form_and_notes(quantity, parsed, wrt, shapes, v, point)[0]


def matrix_form_and_notes(
    quantity: Any,
    parsed: Any,
    wrt: Sequence[str],
    shapes: Mapping[str, tuple[Any, ...]],
    v: Any = "ones",
    point: Mapping[str, Any] | None = None,
) -> tuple[MatrixForm | None, tuple[str, ...]]:
    """:func:`matrix_form` and the note that says why a form found was left out (for the CLI's no-point path)."""
    resolved = resolve_quantity(quantity)
    expected = None if point is None else elementwise(resolved.name, parsed.text, dict(point), v, wrt)
    return matrix_form_with_notes(resolved, parsed, wrt, shapes, v, point, expected, elementwise=elementwise)
