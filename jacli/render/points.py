"""Results at many points, written chunk by chunk as they are computed.

``json``: one line per point (the keys of :func:`jacli.render.json.result_object`);
``csv``: one row per point, the point's values then the flattened result;
``table``: a compact table, one row per point, capped at :data:`TABLE_MAX_POINTS`.
The chunks are duck-typed :class:`jacli.batch.PointsChunk` s (NumPy arrays); this
module does not import NumPy or torch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from jacli.limits import FORMAT_BYTES, TABLE_MAX_COLUMNS, TABLE_MAX_POINTS
from jacli.render import format_number, trimmed
from jacli.render.fit import Column, Grid, print_grids
from jacli.render.json import MARKER, json_row_template, render_json_rows
from jacli.render.numbers import write_csv
from jacli.results import Result

if TYPE_CHECKING:
    from jacli.batch import PointsEvaluation


@dataclass
class Summary:
    """What was written: the number of points and the first points with nan/inf."""

    points: int = 0
    nonfinite: int = 0
    first_nonfinite: str | None = None


def _nested(leaves: Iterator[Any], shape: tuple[int, ...]) -> Any:
    if not shape:
        return next(leaves)
    return [_nested(leaves, shape[1:]) for _ in range(shape[0])]


def template_result(ev: PointsEvaluation, symbolic: Any = None) -> Result:
    """A :class:`Result` shaped like one point of ``ev``, with :data:`MARKER` for every number.

    Markers appear in the order point, value, result: the columns of ``PointsChunk.flat(value=True)``.
    """
    marker = itertools.repeat(MARKER)
    return Result(
        command=ev.command,
        title=ev.title,
        label=ev.label,
        symbol=ev.symbol,
        axes=ev.axes,
        expression=ev.expression,
        inputs=ev.inputs,
        outputs=ev.outputs,
        blocks=ev.blocks,
        point={name: _nested(marker, shape) for name, shape in ev.variables},
        value=tuple(MARKER for _ in ev.outputs),
        result=_nested(marker, ev.shape),
        shape=ev.shape,
        symbolic=symbolic,
        v=ev.v,
        mode=ev.mode,
        bindings=ev.bindings,
    )


def _point_text(labels: tuple[str, ...], row: list[float]) -> str:
    return ", ".join(f"{label}={x!r}" for label, x in zip(labels, row, strict=True))


def _note_nonfinite(summary: Summary, ev: PointsEvaluation, chunk: Any) -> None:
    bad = chunk.nonfinite_rows()
    if len(bad) and summary.first_nonfinite is None:
        first = int(bad[0])
        point = _point_text(ev.point_labels, chunk.points[first].tolist())
        summary.first_nonfinite = f"point {summary.points + first + 1} ({point})"
    summary.nonfinite += len(bad)


def _slices(rows: int, width_bytes: int) -> Iterator[slice]:
    step = max(1, FORMAT_BYTES // max(1, width_bytes))
    return (slice(i, i + step) for i in range(0, rows, step))


def write_points(
    ev: PointsEvaluation,
    output: str,
    out: TextIO,
    *,
    digits: int = 6,
    console: Any = None,
    on_chunk: Callable[[], None] | None = None,
) -> Summary:
    """Write ``ev`` in ``output`` (json, csv or table) to ``out`` as its chunks finish."""
    summary = Summary()
    if output == "table":
        return _write_table(ev, console, digits, summary, on_chunk)
    if output == "json":
        row_template = json_row_template(template_result(ev, ev.symbolic))
        width = len(row_template) + 24 * (len(ev.point_labels) + len(ev.outputs) + math.prod(ev.shape))
    else:
        width = 24 * (len(ev.point_labels) + math.prod(ev.shape))
    for chunk in ev.chunks:
        _note_nonfinite(summary, ev, chunk)
        table = chunk.flat(value=output == "json")
        for part in _slices(chunk.rows, width):
            rows = table[part]
            if output == "json":
                bad = (~_isfinite(rows)).ravel().nonzero()[0]
                facts = None if chunk.facts is None else chunk.facts[part]
                out.write(render_json_rows(row_template, rows, bad, facts))
            else:
                write_csv(out, rows)  # bytes straight to stdout where it takes them
        out.flush()
        summary.points += chunk.rows
        if on_chunk is not None:
            on_chunk()
    return summary


def _isfinite(rows: Any) -> Any:
    return abs(rows) < math.inf  # False for nan and ±inf, with no RuntimeWarning (inf - inf warned)


# ---------------------------------------------------------------------------
# The compact table.
# ---------------------------------------------------------------------------


def result_labels(ev: PointsEvaluation) -> list[str]:
    """Labels of the flattened result, by its axes: ``J[f0,x1]``, ``∇f[x0]``, ``H[x0,x1]``, …"""
    labels = {"out": ev.outputs, "in": ev.inputs}
    if not ev.axes:  # one number per point
        return [ev.label]
    return [f"{ev.label}[{','.join(index)}]" for index in itertools.product(*(labels[axis] for axis in ev.axes))]


def _take_rows(chunks: Iterable[Any], limit: int, on_chunk: Callable[[], None] | None) -> tuple[list[Any], bool]:
    """The first ``limit`` points (chunk, row) and whether more exist; stops computing there."""
    taken: list[Any] = []
    for chunk in chunks:
        if on_chunk is not None:
            on_chunk()
        for row in range(chunk.rows):
            if len(taken) == limit:
                return taken, True
            taken.append((chunk, row))
    return taken, False


def _write_table(
    ev: PointsEvaluation, console: Any, digits: int, summary: Summary, on_chunk: Callable[[], None] | None
) -> Summary:
    from rich.text import Text

    taken, more = _take_rows(ev.chunks, TABLE_MAX_POINTS, on_chunk)
    labels = result_labels(ev)
    shown = labels[:TABLE_MAX_COLUMNS]
    title = Text(f"{ev.title} of f = {' '.join(ev.expression.split())}", style="bold")
    rows = []
    for index, (chunk, row) in enumerate(taken, start=1):
        point = [format_number(x, digits) for x in chunk.points[row].tolist()]
        flat = chunk.result[row].reshape(-1).tolist()
        if not all(math.isfinite(x) for x in flat + chunk.value[row].tolist()):
            summary.nonfinite += 1
            if summary.first_nonfinite is None:
                point_text = _point_text(ev.point_labels, chunk.points[row].tolist())
                summary.first_nonfinite = f"point {index} ({point_text})"
        says = [] if chunk.facts is None else [ev.facts_line(chunk.facts[row])]
        rows.append([*point, *(format_number(x, digits) for x in flat[: len(shown)]), *says])
    summary.points = len(taken)
    with trimmed(console):
        console.print(title)
        said = any(chunk.facts is not None for chunk, _ in taken)
        grid = _grid(ev.point_labels, shown, rows, cut=len(labels) > len(shown), says=said)
        print_grids(console, [grid], "--format csv or json")
    notes = []
    if more:
        notes.append(f"showing the first {TABLE_MAX_POINTS} points; --format csv or json gives every point")
    if len(labels) > len(shown):
        notes.append(f"showing {len(shown)} of {len(labels)} entries per point; --format csv or json gives all")
    for note in notes:
        console.print(Text(note, style="dim"))
    return summary


def _grid(
    point_labels: tuple[str, ...], shown: list[str], rows: list[list[str]], *, cut: bool, says: bool = False
) -> Grid:
    """The point number (repeated in every block), the point's values, the shown result entries, ``…``.

    ``says``: a last column of what the result says in words at each point (a scalar f's Hessian).
    """
    keys = [Column("#", [str(i) for i in range(1, len(rows) + 1)], style="dim")]
    headers = [*point_labels, *shown]
    styles = ["bold cyan"] * len(point_labels) + ["bold"] * len(shown)
    columns = [
        Column(h, [row[j] for row in rows], header_style=style)
        for j, (h, style) in enumerate(zip(headers, styles, strict=True))
    ]
    if cut:
        columns.append(Column("…", ["…"] * len(rows), justify="left"))
    if says:
        columns.append(Column("says", [row[-1] for row in rows], justify="left", header_style="bold"))
    return Grid(None, keys, columns)
