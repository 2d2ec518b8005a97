"""Renderers: :class:`~jacli.results.Result` -> text. They import only ``jacli.results``."""

from __future__ import annotations

import math


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


def full_precision(x: float) -> str:
    """Shortest text that reads back as the same float (``repr``), ``nan``/``inf`` spelled out."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))
