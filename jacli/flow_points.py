"""A control-flow program at many points: each point takes its own path; the points of one path go together.

:func:`evaluate_points` reads the points (a list, or a points file a chunk at a time),
groups each chunk's points by the path they take (:func:`jacli.flow_vector.group_points`: in floats
for all points at once, exactly where floats cannot tell),
evaluates each group as one batch of the path's straight-line program, and puts the
rows back in order, each marked with its path (the ``path`` key of each point).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jacli import language, limits
from jacli.errors import UsageError
from jacli.flow import Path, parsed_program
from jacli.flow_vector import group_points
from jacli.values import Point


def evaluate_points(
    expr: str, points: Any, at: Point, order: Sequence[str], chunk_size: int | None, evaluate_group: Callable
) -> Any:
    """:func:`evaluate_many` over a list of points, or over the rows of a points file (``at``: its fixed values)."""
    from jacli import layout  # noqa: PLC0415
    from jacli.points import PointsReader, open_points  # noqa: PLC0415
    from jacli.values import fixed_values  # noqa: PLC0415

    if not isinstance(points, str | PointsReader):
        if at is not None:
            raise UsageError("give the points either as a list or with --at, not both")
        if not isinstance(points, list | tuple):
            raise UsageError(f"points must be a file name, a PointsReader or a list of points, not {points!r:.40}")
        return evaluate_many(expr, [(list(points), None)], order, evaluate_group)
    parsed = parsed_program(expr)
    reader = points if isinstance(points, PointsReader) else open_points(points)
    try:
        shapes, fixed, label_column = layout.file_layout(reader, parsed, order, fixed_values(at, parsed))
        variables = [language.make_variable(n, shapes[n]) for n in parsed.names]
        columns = layout.columns(_Variables(tuple(variables)), order, fixed, label_column)
    except BaseException:
        reader.close()
        raise

    def rows() -> Iterator[tuple[list[Point], int | None]]:
        for chunk in reader.chunks(chunk_size or limits.FLOW_POINTS_PER_CHUNK):
            full = columns.full(chunk.values)
            named = []
            for row in full:
                point, start = {}, 0
                for var in variables:
                    point[var.name] = row[start : start + var.size].reshape(var.shape).tolist()
                    start += var.size
                named.append(point)
            yield named, chunk.first_line

    return dataclasses.replace(evaluate_many(expr, rows(), order, evaluate_group), source=reader)


@dataclass(frozen=True)
class _Variables:
    """What :func:`jacli.layout.columns` reads of a program: its variables."""

    variables: tuple[Any, ...]

    def variable(self, name: str) -> Any:
        return next(v for v in self.variables if v.name == name)


def evaluate_many(
    expr: str,
    chunks: Iterable[tuple[list[Point], int | None]],
    wrt: Any,
    evaluate_group: Callable[[str, list[Point]], Any],
) -> Any:
    """A program at many points, a chunk at a time: each chunk's points grouped by the path they take,
    each group evaluated as one batch (``evaluate_group(path text, points)``: a ``PointsEvaluation``),
    the rows put back in order, each marked with its path (the ``path`` key of each point)."""
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None or not first[0]:
        raise UsageError("no points given")
    groups = group_points(expr, first[0], wrt)
    assert groups is not None
    head = evaluate_group(groups[0][0].text, [first[0][i] for i in groups[0][1]])

    def merged() -> Iterator[Any]:
        try:
            yield _merge(expr, first, wrt, evaluate_group, head, groups, reuse=head)
            for chunk in iterator:
                yield _merge(expr, chunk, wrt, evaluate_group, head, None)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a points file: closed when the output stops

    def line(keys: dict[str, Any]) -> str:
        rest = {k: v for k, v in keys.items() if k != "path"}
        said = head.facts_line(rest) if rest else ""
        return "; ".join(part for part in (said, f"path: {keys['path']}") if part)

    single = len(groups) == 1  # the symbolic form is one path's: shown when the first chunk took one
    return dataclasses.replace(
        head,
        chunks=merged(),
        expression=expr,
        facts_line=line,
        derive_symbolic=head.derive_symbolic if single else None,
        bindings=head.bindings if single else (),
    )


def _merge(
    expr: str,
    chunk: tuple[list[Point], int | None],
    wrt: Any,
    evaluate_group: Callable[[str, list[Point]], Any],
    head: Any,
    groups: list[tuple[Path, list[int]]] | None,
    reuse: Any = None,
) -> Any:
    from jacli.batch import PointsChunk  # noqa: PLC0415

    points, first_line = chunk
    groups = groups if groups is not None else group_points(expr, points, wrt)
    assert groups is not None
    rows = len(points)
    out_points = out_value = out_result = None
    facts: list[dict[str, Any]] = [{} for _ in range(rows)]
    for number, (path, members) in enumerate(groups):
        if number == 0 and reuse is not None:
            evaluation = reuse  # the first chunk's first path: evaluated already, for the labels
        else:
            evaluation = evaluate_group(path.text, [points[i] for i in members])
        if (evaluation.shape, evaluation.outputs) != (head.shape, head.outputs):
            raise UsageError(
                f"the program returns shape {_shape(head)} on one path and {_shape(evaluation)} on another "
                f"({path.note}); every path must return the same shape"
            )
        parts = list(evaluation.chunks)
        index = np.asarray(members, dtype=np.intp)
        got_points = np.concatenate([c.points for c in parts])
        got_value = np.concatenate([c.value for c in parts])
        got_result = np.concatenate([c.result for c in parts])
        if out_points is None:
            out_points = np.empty((rows, *got_points.shape[1:]))
            out_value = np.empty((rows, *got_value.shape[1:]))
            out_result = np.empty((rows, *got_result.shape[1:]))
        out_points[index], out_value[index], out_result[index] = got_points, got_value, got_result
        got_facts = [f for c in parts for f in (c.facts or [{}] * c.rows)]
        for i, keys in zip(members, got_facts, strict=True):
            facts[i] = {**keys, "path": path.note}
    return PointsChunk(out_points, out_value, out_result, first_line=first_line, facts=facts)


def _shape(evaluation: Any) -> str:
    return str(tuple(evaluation.shape)) if evaluation.shape else "() (a scalar)"
