"""Renderers: :class:`~jacli.results.Result` -> text. They import only ``jacli.results``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any


def format_number(x: float, digits: int) -> str:
    """``x`` with ``digits`` significant digits; ``nan``/``inf`` spelled out, no ``-0``.

    >>> format_number(24.0, 6), format_number(1 / 3, 4), format_number(-0.0, 6)
    ('24', '0.3333', '0')
    """
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{digits}g}"
    return "0" if text in ("-0", "0") else text


def format_row(row: list[float], digits: int) -> list[str]:
    """:func:`format_number` of each number of ``row`` in one C loop (``format`` spells nan and inf as it does)."""
    texts = list(map(f"{{:.{digits}g}}".format, row))
    return ["0" if text == "-0" else text for text in texts] if "-0" in texts else texts


def full_precision(x: float) -> str:
    """Shortest text that reads back as the same float (``repr``), ``nan``/``inf`` spelled out; text as it is."""
    if isinstance(x, str):
        return x
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))


def finite_or_null(nested: Any) -> Any:
    """Nested lists/dicts with every nan or inf float replaced by ``None`` (JSON ``null``)."""
    if isinstance(nested, list | tuple):
        try:  # a row of plain numbers: checked in one C loop (a 1000 × 1000 Hessian in milliseconds)
            if all(map(math.isfinite, nested)):
                return list(nested)
        except TypeError:  # not all numbers: texts (a symbolic form) as they are, else item by item
            if all(map(isinstance, nested, itertools.repeat(str))):
                return list(nested)
        return [finite_or_null(x) for x in nested]
    if isinstance(nested, dict):
        return {k: finite_or_null(v) for k, v in nested.items()}
    if isinstance(nested, float) and not math.isfinite(nested):
        return None
    return nested


@contextmanager
def trimmed(console: Any) -> Iterator[None]:
    """Print to a Rich ``console`` without the trailing blanks Rich pads every line with."""
    with console.capture() as captured:
        yield
    console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    console.file.flush()


def write_one(
    result: Any,
    fmt: str,
    stream: IO[str],
    texts: Mapping[str, Callable[[Any], str]],
    table: Callable[[Any, Any, int], None],
    *,
    console: Any,
    digits: int,
    first: bool,
) -> None:
    """One result of several on ``stream``: ``texts[fmt](result)`` (a JSON line, CSV rows, DOT), or else
    ``table(result, console, digits)`` with a blank line before every table but the first (``first``)."""
    if fmt in texts:
        stream.write(texts[fmt](result))
    else:
        if console is None:
            raise ValueError("a table needs a console")
        if not first:
            console.print()
        table(result, console, digits)
    stream.flush()  # each result shows when it is done, not at the end
