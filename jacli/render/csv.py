"""CSV: the result's rows and nothing else; with several points, one row per point."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from jacli.render import full_precision
from jacli.render.numbers import csv_lines
from jacli.results import Result, flatten


def result_rows(result: Result) -> list[list[str]]:
    """One row per output (a vector is one row; an m×n×n Hessian gives m·n rows)."""
    nested = result.result
    if not isinstance(nested, list) or not nested or not isinstance(nested[0], list):
        return [[full_precision(x) for x in flatten(nested)]]
    rows: list[list[str]] = []
    for item in nested:
        if isinstance(item, list) and item and isinstance(item[0], list):
            rows.extend(result_rows(replace(result, result=item)))  # a tensor of order 3 or more: its last axis
        else:
            rows.append([full_precision(x) for x in flatten(item)])
    return rows


def point_row(result: Result) -> list[str]:
    """The point's values, then the flattened result."""
    return [full_precision(x) for x in flatten(list(result.point.values()))] + [
        full_precision(x) for x in flatten(result.result)
    ]


def _write(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def render_csv(result: Result) -> str:
    """The rows of one result."""
    return _write(result_rows(result))


def render_csv_points(results: Iterable[Result]) -> str:
    """One row per point."""
    return _write(point_row(r) for r in results)


def render_csv_rows(rows: Any) -> str:
    """Rows of floats (a 2-D NumPy array) as CSV text, formatted in C (:mod:`jacli.render.numbers`).

    ``%s`` of a float is its ``repr`` (shortest round-trip text; ``nan``, ``inf``), as in
    :func:`render_csv_points`, but without a Python step per number.

    >>> import numpy as np
    >>> print(render_csv_rows(np.array([[1.0, 0.5], [float("nan"), -2.0]])), end="")
    1.0,0.5
    nan,-2.0
    """
    return csv_lines(rows)
