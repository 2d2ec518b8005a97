"""``--sparse`` for the commands: which results it takes, and writing them (:mod:`jacli.render.sparse`)."""

from __future__ import annotations

import contextlib
import itertools
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

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
    if _has_text(result.result):
        raise UsageError(f"--sparse needs numbers; {result.command}'s result is not an array of numbers")


def _has_text(nested: Any) -> bool:
    """Whether a text is among the leaves of ``nested``.

    A regular array of numbers is one NumPy conversion (10⁶ numbers in 0.03 s; the sparse form makes
    the same array next); anything else is walked, each row checked in one C loop.
    """
    with contextlib.suppress(ValueError, TypeError):
        if np.asarray(nested).dtype.kind in "biuf":
            return False
    return _walk_for_text(nested)


def _walk_for_text(nested: Any) -> bool:
    if not isinstance(nested, list):
        return isinstance(nested, str)
    if not any(map(isinstance, nested, itertools.repeat(list))):
        return any(map(isinstance, nested, itertools.repeat(str)))
    return any(map(_walk_for_text, nested))


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
