"""``--shape "x=3, A=3x3"``: array variables given a shape without a value (symbolic answers).

A dimension is a whole number (``3``) or a name (``n``); axes are joined by ``x``
(``3x3``, ``3 x 3``, ``2x3x4``, ``n x n``, also ``×``). Variables not named are scalars.
The text is read here with a small grammar of its own: never evaluated.

>>> parse_shapes("x=3, A=3x3")
{'x': (3,), 'A': (3, 3)}
>>> parse_shapes("x=n, A = n x n")
{'x': ('n',), 'A': ('n', 'n')}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jacli.errors import ShapeError, UsageError
from jacli.limits import MAX_SHAPE_TEXT

Shape = tuple[int | str, ...]
"""One variable's shape: whole numbers, or names for named dimensions."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+")
_NUMBERS = re.compile(r"[0-9]+(?:x[0-9]+)*")
_SEPARATOR = re.compile(r"\s*×\s*|\s+x\s+|\s+x(?=[0-9])|(?<=[0-9])x\s+")


def parse_shapes(text: str | Mapping[str, Any] | None) -> dict[str, Shape]:
    """``"x=3, A=3x3"`` (or a mapping ``{"x": 3, "A": (3, 3)}``) -> name -> shape; ``None`` -> ``{}``.

    Errors name the bad part: ``--shape 'A=3x': a dimension is missing after 'x'``.
    """
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {_name(str(k) if isinstance(k, str) else k): _shape_value(k, v) for k, v in text.items()}
    if not isinstance(text, str):
        raise UsageError(f"--shape must be text like 'x=3, A=3x3' or a mapping, not {type(text).__name__}")
    if len(text) > MAX_SHAPE_TEXT:
        raise UsageError(f"--shape is {len(text):,} characters long; the limit is {MAX_SHAPE_TEXT:,}")
    shapes: dict[str, Shape] = {}
    for part in text.split(","):
        if not part.strip():
            raise UsageError(f"--shape {_quote(text)}: an empty entry (two commas, or a trailing comma)")
        name, equals, dims = part.partition("=")
        if not equals:
            raise UsageError(f"--shape {_quote(part.strip())}: expected NAME=SHAPE, e.g. 'A=3x3'")
        name = _name(name.strip(), part)
        if name in shapes:
            raise UsageError(f"--shape gives {name!r} twice")
        shapes[name] = _dimensions(dims.strip(), part.strip())
    return shapes


def _quote(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _name(name: Any, part: str | None = None) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        where = _quote(part.strip()) if part is not None else _quote(str(name))
        raise UsageError(f"--shape {where}: {_quote(str(name))} is not a variable name")
    return name


def _dimensions(dims: str, part: str) -> Shape:
    """``3x3``, ``3 x 3``, ``2x3x4``, ``n x n``, ``3×n``: numbers may be joined by a bare ``x``, names need spaces."""
    if not dims:
        raise UsageError(f"--shape {_quote(part)}: no dimensions after '='")
    pieces = [p.strip() for p in _SEPARATOR.split(dims)]
    out: list[int | str] = []
    for piece in pieces:
        if _NUMBERS.fullmatch(piece):
            out.extend(_dimension(d, part) for d in piece.split("x"))
        else:
            out.append(_dimension(piece, part))
    return tuple(out)


def _dimension(piece: str, part: str) -> int | str:
    if _NUMBER.fullmatch(piece):
        size = int(piece)
        if size < 1:
            raise UsageError(f"--shape {_quote(part)}: a dimension must be at least 1, not {piece}")
        return size
    if _NAME.fullmatch(piece):
        return piece
    if not piece or re.fullmatch(r"[x×]|\w+\s*[x×]|[x×]\s*\w+", piece):
        raise UsageError(f"--shape {_quote(part)}: a dimension is missing")
    raise UsageError(
        f"--shape {_quote(part)}: {_quote(piece)} is not a dimension (a whole number or a name; "
        "put spaces around the x between named dimensions: 'n x n')"
    )


def _shape_value(name: str, value: Any) -> Shape:
    if isinstance(value, str):
        return _dimensions(value.strip(), f"{name}={value}")
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, Sequence) and all(
        (isinstance(d, int) and not isinstance(d, bool)) or isinstance(d, str) for d in value
    ):
        return tuple(_dimension(str(d), f"{name}={value}") for d in value)
    raise UsageError(f"--shape for {name!r} must be dimensions like (3, 3) or '3x3', not {value!r}")


def named(shapes: Mapping[str, Shape]) -> bool:
    """Some dimension is a name: only the matrix form exists."""
    return any(isinstance(d, str) for shape in shapes.values() for d in shape)


def check_names(shapes: Mapping[str, Shape], variables: Sequence[str], max_dimensions: int, limit: int) -> None:
    """Every named variable is in the expression; axes and sizes within the limits."""
    for name, shape in shapes.items():
        if name not in variables:
            known = ", ".join(variables) or "none"
            raise UsageError(f"--shape names {name!r}, which is not a variable of the expression (variables: {known})")
        if len(shape) > max_dimensions:
            raise UsageError(f"--shape gives {name!r} {len(shape)} axes; arrays have at most {max_dimensions}")
        numeric = [d for d in shape if isinstance(d, int)]
        if math.prod(numeric) > limit:
            raise UsageError(
                f"--shape gives {name!r} {math.prod(numeric):,} elements; the limit is {limit:,} "
                "(set JACLI_MAX_ELEMENTS to raise it)"
            )


def check_against(shapes: Mapping[str, Shape], actual: Mapping[str, tuple[int, ...]]) -> None:
    """``--shape`` together with a point: each shape it names must be the value's."""
    for name, shape in shapes.items():
        if name in actual and tuple(actual[name]) != tuple(shape):
            raise ShapeError(
                f"--shape gives {name!r} the shape {describe(shape)}, but its value has {describe(actual[name])}"
            )


def describe(shape: Sequence[int | str]) -> str:
    """``3x3``, ``n x n``, ``scalar``."""
    if not shape:
        return "no axes (a scalar)"
    return (" x " if any(isinstance(d, str) for d in shape) else "x").join(map(str, shape))
