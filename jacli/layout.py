"""Where the numbers of many points come from: a points file's columns or a list of points.

A header row (``x,a[0],a[1]``) or the variable order gives each variable's shape and
the column of each of its elements; :func:`columns` turns that into the
:class:`~jacli.batch.Columns` map that fills every variable's flat elements of a
chunk of rows. Every size is held to ``language.max_elements()`` before it is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from jacli import batch, language
from jacli.errors import ShapeError, UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from jacli.points import PointsReader


def _short_label(label: str) -> str:
    """A header label for a message: its repr, at most 40 characters."""
    text = repr(label[:41])
    return text if len(text) <= 40 else text[:28] + "…" + text[-8:]


def _header_columns(
    reader: PointsReader, parsed: language.ParsedExpression, fixed: Mapping[str, language.Value]
) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """A header row -> each column variable's shape, and element label -> column index.

    Linear in the number of columns, and each array is held to ``language.max_elements()``
    and :data:`language.MAX_DIMENSIONS` before its shape is used.
    """
    where = f"{reader.name}:{reader.first_line}"
    limit = language.max_elements()
    names = set(parsed.names)
    indices: dict[str, list[tuple[int, ...]]] = {}
    label_column: dict[str, int] = {}
    for col, label in enumerate(reader.header):
        name, _, rest = label.partition("[")
        if name not in names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(
                f"{where}: the header names {_short_label(label)}, not a variable of the expression ({known})"
            )
        if name in fixed:
            raise UsageError(f"{where}: {name!r} is both a column and given by --at; give it once")
        index = _header_index(where, label, rest, limit)
        seen = indices.setdefault(name, [])
        if seen and (not index) != (not seen[0]):
            raise UsageError(f"{where}: the header names {name!r} both whole and by element")
        seen.append(index)
        if len(seen) > limit:
            raise UsageError(
                f"{where}: the header names more than {limit:,} elements of {name!r}; the limit is {limit:,}"
            )
        element = language.element_label(name, index)
        if element in label_column:
            raise UsageError(f"{where}: the header names {element!r} twice")
        label_column[element] = col
    shapes: dict[str, tuple[int, ...]] = {}
    for name, seen in indices.items():
        shapes[name] = _header_shape(where, name, seen, limit)
    return shapes, label_column


def _header_index(where: str, label: str, rest: str, limit: int) -> tuple[int, ...]:
    """The index of ``a[0,1]`` (``rest`` is ``0,1]``); too many axes or too large an index is refused."""
    if not rest:
        return ()
    most = language.MAX_DIMENSIONS
    parts = rest[:-1].split(",", most)
    if len(parts) > most:
        raise UsageError(
            f"{where}: {_short_label(label)} has more than {most} indices (arrays have at most {most} axes)"
        )
    if any(len(part) > len(str(limit)) or int(part) >= limit for part in parts):  # no int() of 5,000 digits
        raise UsageError(f"{where}: {_short_label(label)}: an index past the limit of {limit:,} elements")
    return tuple(int(part) for part in parts)


def _header_shape(where: str, name: str, seen: list[tuple[int, ...]], limit: int) -> tuple[int, ...]:
    """The shape of array ``name`` from the indices of its columns, which must be all of its elements."""
    rank = len(seen[0])
    if any(len(i) != rank for i in seen):
        raise UsageError(f"{where}: the elements of {name!r} in the header have different numbers of indices")
    shape = tuple(max(i[d] for i in seen) + 1 for d in range(rank))
    size = math.prod(shape)
    if size > limit:
        raise UsageError(
            f"{where}: the header makes {name!r} an array of shape {shape}, {size:,} elements; the limit is {limit:,}"
        )
    if len(seen) != size:  # labels are distinct, so some are missing
        present = set(seen)
        missing = [language.element_label(name, i) for i in np.ndindex(shape) if i not in present]
        shown = ", ".join(missing[:5])
        raise UsageError(f"{where}: the header has no column for {shown} (array {name!r} of shape {shape})")
    return shape


def file_layout(
    reader: PointsReader, parsed: language.ParsedExpression, order: Sequence[str], fixed: Mapping[str, language.Value]
) -> tuple[dict[str, tuple[int, ...]], dict[str, list[float]], dict[str, int]]:
    """Shapes of the variables, the ``fixed`` values (by ``--at``) as floats, and element label -> column of a file."""
    if reader.header is not None:
        shapes, label_column = _header_columns(reader, parsed, fixed)
    else:
        names = [*order, *(n for n in parsed.names if n not in order and n not in fixed)]
        names = [n for n in names if n not in fixed]
        if reader.columns and reader.columns != len(names):
            raise UsageError(
                f"{reader.name}:{reader.first_line}: {reader.columns} column{'s' if reader.columns != 1 else ''} "
                f"but {len(names)} expected ({', '.join(names) or 'none'}); a header row can name the columns"
            )
        shapes = {n: () for n in names}
        label_column = {n: i for i, n in enumerate(names)}
    for name, value in fixed.items():
        shapes[name] = tuple(value.shape)
    missing = [n for n in parsed.names if n not in shapes]
    if missing:
        raise UsageError(f"{reader.name}: no column for {', '.join(map(repr, missing))}; add one or give it by --at")
    values = {n: [language.constant_value(e) for e in value.flat] for n, value in fixed.items()}
    return shapes, values, label_column


def list_layout(
    parsed: language.ParsedExpression, assigned: Sequence[Mapping[str, language.Value]]
) -> tuple[dict[str, tuple[int, ...]], NDArray[np.float64]]:
    """Shapes of the variables and the (points, elements) array of points matched to the variables."""
    if not assigned:
        raise UsageError("no points given")
    shapes = {n: tuple(val.shape) for n, val in assigned[0].items()}
    for values in assigned[1:]:
        for n, val in values.items():
            if tuple(val.shape) != shapes[n]:
                raise ShapeError(f"{n!r} has shape {shapes[n]} at one point and {tuple(val.shape)} at another")
    flat = [[language.constant_value(e) for n in parsed.names for e in values[n].flat] for values in assigned]
    return shapes, np.asarray(flat, dtype=np.float64).reshape(len(assigned), -1)


def columns(
    program: language.Program,
    order: Sequence[str],
    fixed: Mapping[str, list[float]],
    label_column: Mapping[str, int] | None,
) -> batch.Columns:
    """The :class:`~jacli.batch.Columns` map: input columns and fixed values -> every variable's flat elements."""

    offsets, start = {}, 0
    for var in program.variables:
        offsets[var.name] = start
        start += var.size
    from_column: list[int] = []
    column: list[int] = []
    fixed_at: list[int] = []
    fixed_values: list[float] = []
    for var in program.variables:
        base = offsets[var.name]
        if var.name in fixed:
            fixed_at.extend(range(base, base + var.size))
            fixed_values.extend(fixed[var.name])
        else:
            from_column.extend(range(base, base + var.size))
            column.extend(range(base, base + var.size) if label_column is None else map(label_column.get, var.labels))
    params = [var for var in program.variables if var.name not in order]
    positions = [
        [offsets[var.name] + k for var in group for k in range(var.size)]
        for group in ([program.variable(n) for n in order], params)
    ]
    return batch.Columns(
        size=start,
        from_column=np.asarray(from_column, dtype=np.intp),
        column=np.asarray(column, dtype=np.intp),
        fixed_at=np.asarray(fixed_at, dtype=np.intp),
        fixed=np.asarray(fixed_values, dtype=np.float64),
        inputs=np.asarray(positions[0], dtype=np.intp),
        params=np.asarray(positions[1], dtype=np.intp),
    )
