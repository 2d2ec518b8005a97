"""``--sparse`` for the commands: which results it takes, and writing them (:mod:`jacli.render.sparse`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from jacli.errors import UsageError
from jacli.results import Result


def refuse_many(points: str | None, at: Sequence[str] | None, output: str) -> None:
    """--sparse writes results one by one: not with --points; one --at for CSV (its lines name no point)."""
    if points is not None:
        raise UsageError("--sparse writes one result per --at; drop --points (or drop --sparse)")
    if output == "csv" and at and len(at) > 1:
        raise UsageError("--sparse --format csv writes one result; give one --at (or use --format json)")
    if output == "latex":
        raise UsageError("--sparse writes table, json or csv; drop --format latex")


def _check(result: Result) -> None:
    if result.point is None:
        raise UsageError("--sparse writes the nonzero numbers, and without --at there are none; give --at")
    if not result.axes:
        raise UsageError(f"--sparse needs a vector, matrix or tensor result; {result.command} gives one number")
    if any(isinstance(x, str) for x in _leaves(result.result)):
        raise UsageError(f"--sparse needs numbers; {result.command}'s result is not an array of numbers")


def _leaves(nested: Any) -> Any:
    if isinstance(nested, list):
        if nested and not isinstance(nested[0], list | str):
            return nested  # a row of numbers
        return (leaf for item in nested for leaf in _leaves(item))
    return [nested]


def emit_sparse(results: list[Result], output: str, digits: int, console: Callable[[], Any]) -> None:
    """Each result's nonzero entries on stdout: JSON lines, CSV lines, or tables."""
    from jacli.render import sparse  # noqa: PLC0415

    for result in results:
        _check(result)
    if output == "json":
        sys.stdout.write("".join(sparse.render_sparse_json(result) + "\n" for result in results))
    elif output == "csv":
        sys.stdout.write(sparse.render_sparse_csv(results[0]))
    else:
        out = console()
        for index, result in enumerate(results):
            if index:
                out.print()
            sparse.render_sparse_table(result, out, digits)
    sys.stdout.flush()
