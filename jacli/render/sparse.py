"""``--sparse``: a result as its nonzero entries, in coordinate form sorted row-major (issue 16).

The n=1000 Rosenbrock Hessian has 2,998 nonzeros among 10⁶ entries: written sparse, its JSON
is 60 KB instead of 5 MB.

- JSON: the object of :func:`jacli.render.json.result_object` with ``result`` replaced, at
  its place, by ``result_sparse``: ``{"shape": [...], "indices": [[i, j], ...], "values":
  [...]}`` (one index list per nonzero, one index per axis; nan and inf are nonzero and are
  written ``null``, as everywhere in jacli's JSON).
- CSV: one line per nonzero, its indices then its value: ``row,col,value`` for a matrix,
  ``out,row,col,value`` for an m×n×n Hessian, ``index,value`` for a vector.
- Table: a title saying how many entries are nonzero, then one row per nonzero, named by
  its labels (``H[x0,x1]``).

>>> parts([[2.0, 0.0], [-0.0, 4.5]])
((2, 2), [[0, 0], [1, 1]], [2.0, 4.5])
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from jacli.render import finite_or_null, format_number, full_precision, trimmed
from jacli.render.fit import Column, Grid, print_grids
from jacli.render.json import MARKER, render_json
from jacli.results import Result


def parts(nested: Any) -> tuple[tuple[int, ...], list[list[int]], list[float]]:
    """(shape, indices, values) of the nonzero entries (``-0.0`` is zero; nan is not), row-major."""
    array = np.asarray(nested, dtype=np.float64)
    nonzero = array != 0  # nan != 0: kept
    return array.shape, np.argwhere(nonzero).tolist(), array[nonzero].tolist()


def render_sparse_json(result: Result) -> str:
    """One line of JSON, ``result_sparse`` where ``result`` would be (no trailing newline)."""
    shape, indices, values = parts(result.result)
    sparse = {"shape": list(shape), "indices": indices, "values": finite_or_null(values)}
    sparse_text = json.dumps(sparse, allow_nan=False, ensure_ascii=False)
    # render_json of the result with a marker for its numbers (not walked, not written: 10⁶ of them for
    # n = 1000) and its fast path for a large symbolic form; then the sparse numbers, renamed, in place
    text = render_json(dataclasses.replace(result, result=MARKER))
    return text.replace(f'"result": {json.dumps(MARKER)}', f'"result_sparse": {sparse_text}', 1)


def render_sparse_csv(result: Result) -> str:
    """``row,col,value`` lines (one index column per axis), one per nonzero."""
    _, indices, values = parts(result.result)
    return "".join(
        ",".join([*map(str, index), full_precision(value)]) + "\n" for index, value in zip(indices, values, strict=True)
    )


def _label(result: Result, index: list[int]) -> str:
    names = {"out": result.outputs, "in": result.inputs}
    return f"{result.label}[{','.join(names[axis][i] for axis, i in zip(result.axes, index, strict=True))}]"


def _point_text(value: Any, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_point_text(x, digits) for x in value) + "]"
    return format_number(value, digits)


def summary(result: Result, count: int) -> str:
    """``2,998 nonzero of 1,000,000 entries (99.7% zero)``."""
    total = math.prod(np.shape(result.result))
    zero = 100 * (total - count) / total if total else 0.0
    return f"{count:,} nonzero of {total:,} entries ({zero:.1f}% zero)"


def render_sparse_table(result: Result, console: Any, digits: int) -> None:
    """The title with the count of nonzeros, then one row per nonzero: its label and its value."""
    from rich.text import Text  # Rich loads only when a table is printed

    _, indices, values = parts(result.result)
    title = f"{result.title} of f = {' '.join(result.expression.split())}: {summary(result, len(values))}"
    keys = [Column("", [_label(result, index) for index in indices], justify="left", style="bold cyan")]
    columns = [Column("value", [format_number(x, digits) for x in values], header_style="bold cyan")]
    with trimmed(console):
        console.print(Text(title, style="bold"))
        console.print(Text("at " + ", ".join(f"{k} = {_point_text(v, digits)}" for k, v in result.point.items())))
        if values:
            print_grids(console, [Grid(None, keys, columns)], "--format csv or json")
        if result.facts_line:
            console.print(result.facts_line)
