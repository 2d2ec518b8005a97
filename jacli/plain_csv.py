"""Plain blocks of a points file parsed at once, in C, without a Python step per line (issue 16).

Most points files are plain: every line holds the same number of decimal numbers
and nothing else (no comment, blank line, space, quote, header, ``nan``). Such a
block of lines is checked with a few whole-block byte operations and parsed by
orjson's number reader (correctly rounded, as NumPy's reader is) about four times
faster than ``np.loadtxt``. Anything else, and anything orjson refuses, is
``None``: :class:`jacli.points.PointsReader` then parses the block the exact way,
so every value and every error message (file, line, column) stays as it was.

>>> parse_plain(b"1.5,-2\\n3e2,0.25", ",", 2).tolist()
[[1.5, -2.0], [300.0, 0.25]]
>>> parse_plain(b"1.5,-2\\n# a comment", ",", 2) is None
True
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import orjson

if TYPE_CHECKING:
    from numpy.typing import NDArray

_FIELD_CHARACTERS = b"0123456789.eE+-"
"""The bytes of a plain field: what is left once they are deleted is the block's structure."""
_NEGATIVE_ZERO = re.compile(rb"(?:^|[,\t\n])-0(?=[,\t\n]|$)")
"""``-0`` written as an integer: orjson reads the integer 0 and would lose the sign NumPy keeps."""
_SEPARATORS = {",": b",", "\t": b"\t"}


def parse_plain(blob: bytes, delimiter: str | None, columns: int) -> NDArray[np.float64] | None:
    """The rows (lines, ``columns``) of a block of lines joined by ``\\n``, or None when it is not plain.

    ``delimiter`` is the file's (``,``, tab, or None for whitespace: then only one
    column is plain). Lines may end in ``\\r\\n``. None for anything else: a comment,
    a blank line, a space, an empty field, a wrong number of fields, a field that is
    not a JSON number (``+1``, ``.5``, ``1.``, ``01``, ``nan``, ``1e999``), ``-0``.
    """
    if not blob or columns < 1:
        return None
    if b"\r" in blob:  # Windows line ends: each line but the last keeps its \r (split on \n)
        blob = blob.replace(b"\r\n", b"\n").removesuffix(b"\r")
    if delimiter is None:
        if columns != 1:
            return None
        separator = b""
    elif (found := _SEPARATORS.get(delimiter)) is None:
        return None
    else:
        separator = found
    structure = blob.translate(None, _FIELD_CHARACTERS)  # C: one pass; a plain block leaves separators and \n
    row = separator * (columns - 1)
    lines = structure.count(b"\n") + 1
    if structure != (row + b"\n") * (lines - 1) + row:
        return None  # another byte (space, #, \r, a letter, NUL, UTF-8) or a line with other fields
    text = blob.replace(b"\n", b",")
    if separator == b"\t":
        text = text.replace(b"\t", b",")
    try:  # an empty field or a blank line is ",," (or a "," at an end) there: not JSON, refused
        numbers = orjson.loads(b"[" + text + b"]")
    except orjson.JSONDecodeError:  # +1, .5, 1., 01, 1e999: not JSON numbers, or too large
        return None
    if len(numbers) != lines * columns:
        return None
    values = np.fromiter(numbers, np.float64, len(numbers))
    if not values.all() and _NEGATIVE_ZERO.search(blob):
        return None
    return values.reshape(lines, columns)
