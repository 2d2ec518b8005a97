"""Values from Python and from the command line: points, ``--v`` weights, ``--wrt`` names, numeric options.

Everything a user gives is checked here before any work: sizes and depth of arrays
before they are converted (a 10,000,000-element array is refused at once), finite
real numbers only, names that the expression has. Values become exact SymPy numbers
(floats by their decimal repr) in object arrays of their shape (``language.Value``).
"""

from __future__ import annotations

import collections
import decimal
import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy
import torch

from jacli import language, limits
from jacli.errors import ShapeError, UsageError
from jacli.quantities import QUANTITIES

Point = str | Mapping[str, Any] | Sequence[Any] | None
"""``"1,2"``, ``"x=1, A=[[1,2],[3,4]]"``, ``{"x": 1}`` or ``[1, 2]``."""


def text_argument(value: Any, what: str) -> str:
    """``value`` when it is a str; bytes or anything else is a usage error naming ``what``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        raise UsageError(f"{what} must be text (str), not bytes; decode it first")
    raise UsageError(f"{what} must be a string, not {type(value).__name__}")


def option_number(name: str, value: Any, *, positive: bool = False) -> float | None:
    """A numeric option such as ``--h``, ``--rtol``, ``--atol``: None, or a finite number ≥ 0 (> 0 if ``positive``).

    Any other value, of any type, is a :class:`UsageError`:

    >>> option_number("--h", "0.1", positive=True)
    Traceback (most recent call last):
    ...
    jacli.errors.UsageError: --h must be a finite positive number, not '0.1'
    """
    if value is None:
        return None
    number = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except (OverflowError, ValueError):  # Fraction(10**5000, 3): too large for a float
            pass
    if not (math.isfinite(number) and (number > 0 if positive else number >= 0)):
        kind = "positive" if positive else "non-negative"
        raise UsageError(f"{name} must be a finite {kind} number, not {short(value)}")
    return number


def one_of(value: Any, choices: Sequence[str]) -> bool:
    """Whether ``value`` is one of the strings ``choices`` (an array or other object is not, without a ValueError)."""
    return isinstance(value, str) and value in choices


def short(value: Any) -> str:
    """``repr(value)`` for a message, at most 40 characters (a huge value in a message is noise)."""
    if isinstance(value, str | bytes):
        value = value[:41]
    elif not _cheap_repr(value):
        return f"a {type(value).__name__}"
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits inside a Fraction or SymPy number
        return f"a huge {type(value).__name__}"
    return text if len(text) <= 40 else text[:28] + "…" + text[-8:]


def _cheap_repr(value: Any) -> bool:
    """Whether ``repr(value)`` is short work: a number or None, not a huge int (quadratic) or a container."""
    if isinstance(value, int):
        return value.bit_length() < 4096
    return value is None or isinstance(value, numbers.Number | decimal.Decimal | sympy.Basic)


def wrt_names(parsed: language.ParsedExpression, wrt: str | Sequence[str] | None) -> tuple[str, ...]:
    """The differentiation variables: ``wrt`` checked against the expression, or all its names."""
    if not parsed.names:
        raise UsageError("the expression has no variables, so there is nothing to differentiate")
    if wrt is None:
        return parsed.names
    if isinstance(wrt, str):
        names = [n.strip() for n in wrt.split(",")]
    elif isinstance(wrt, list | tuple) and all(isinstance(n, str) for n in wrt):
        names = list(wrt)
    else:
        raise UsageError(f"wrt must be names: a string like 'x,y' or a list of strings, not {short(wrt)}")
    known_names = set(parsed.names)
    for name in names:
        if name not in known_names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(
                f"--wrt names {short(name)}, which is not a variable of the expression (variables: {known})"
            )
    duplicates = sorted(n for n, count in collections.Counter(names).items() if count > 1)
    if duplicates:
        raise UsageError(f"--wrt names {', '.join(map(repr, duplicates))} more than once")
    if not names:
        raise UsageError("--wrt names no variable")
    return tuple(names)


def _number(x: Any, name: str) -> sympy.Expr:
    """A Python, NumPy or SymPy number -> an exact SymPy number (floats by their decimal repr).

    Finite real numbers only, as ``--at`` takes them: bool, complex, nan, inf, strings
    and other objects are usage errors (never a TypeError or OverflowError).
    """
    if isinstance(x, bool | np.bool_):
        raise UsageError(f"value for {name!r} is not numeric: {x!r}")
    if isinstance(x, numbers.Rational):  # int, Fraction, NumPy and SymPy integers: exact
        numerator, denominator = int(x.numerator), int(x.denominator)
        if max(numerator.bit_length(), denominator.bit_length()) > language.MAX_INT_BITS:  # as --at refuses it
            raise UsageError(
                f"value for {name!r} is too large to compute exactly (over {language.MAX_INT_BITS:,} bits)"
            )
        return sympy.Rational(numerator, denominator)
    if isinstance(x, numbers.Real | decimal.Decimal):
        try:
            value = float(x)
        except (OverflowError, ValueError):
            value = math.nan
        if math.isfinite(value):
            return sympy.Rational(repr(value))
    if isinstance(x, sympy.Expr) and x.is_number and x.is_real is True and x.is_finite is True:
        for rational in x.atoms(sympy.Rational):  # the numbers inside are held to the same size
            _number(rational, name)
        return x
    raise UsageError(f"value for {name!r} is not a finite real number: {short(x)}")


def _as_value(raw: Any, name: str) -> language.Value:
    """A number, nested list, NumPy array or torch tensor from Python -> an object array of SymPy numbers.

    Sizes and depth are checked before anything is converted, so a 10,000,000-element
    array is refused at once (not after seconds and hundreds of MB).
    """
    if isinstance(raw, str):
        parsed = language.parse_assignments(raw)
        if len(parsed.positional) != 1 or parsed.named:
            raise UsageError(f"value for {name!r} must be one number or array, got {short(raw)}")
        return parsed.positional[0]
    if isinstance(raw, bytes | bytearray | memoryview):
        raise UsageError(f"value for {name!r} is bytes, not a number; decode it, or give a number")
    shape, flat = _nested(_plain(raw, name), name)
    out = np.empty(len(flat), dtype=object)
    out[:] = [_number(x, name) for x in flat]
    return out.reshape(shape)


def _plain(raw: Any, name: str) -> Any:
    """A NumPy array or torch tensor as nested lists, after checking its size; anything else as it is."""
    if isinstance(raw, torch.Tensor):
        if raw.is_meta or raw.layout != torch.strided or raw.is_nested or raw.is_quantized:
            raise UsageError(f"value for {name!r}: a {_tensor_kind(raw)} tensor has no values to read")
        _check_size(tuple(raw.shape), name)
        return raw.detach().cpu().tolist()
    if isinstance(raw, np.ndarray | np.generic):
        _check_size(raw.shape, name)
        return raw.tolist()
    return raw


def _tensor_kind(t: torch.Tensor) -> str:
    if t.is_meta:
        return "meta"
    if t.is_nested:
        return "nested"
    if t.is_quantized:
        return "quantized"
    return str(t.layout).removeprefix("torch.")


def _check_size(shape: Sequence[int], name: str) -> None:
    """Refuse an array deeper than :data:`language.MAX_DIMENSIONS` or larger than ``language.max_elements()``."""
    if len(shape) > language.MAX_DIMENSIONS:
        most = language.MAX_DIMENSIONS
        raise UsageError(f"value for {name!r} is nested more than {most} deep (arrays have at most {most} axes)")
    size, limit = math.prod(shape), language.max_elements()
    if size > limit:
        raise UsageError(
            f"the value of {name!r} has {size:,} elements; the limit is {limit:,} (set JACLI_MAX_ELEMENTS to raise it)"
        )


def _nested(raw: Any, name: str) -> tuple[tuple[int, ...], list[Any]]:
    """The shape and the flat elements of nested lists/tuples, checked level by level.

    Each level's size is checked before the next is built, so a huge list costs
    nothing to refuse; ragged or empty arrays and arrays nested too deeply are errors.
    """
    shape: list[int] = []
    level = [raw]
    while isinstance(level[0], list | tuple):
        width = len(level[0])
        if width == 0:
            raise UsageError(f"value for {name!r} is an empty array")
        if not all(isinstance(item, list | tuple) and len(item) == width for item in level):
            raise ShapeError(f"value for {name!r} is a ragged array: its rows have different lengths")
        shape.append(width)
        _check_size(shape, name)
        level = [_plain(x, name) for item in level for x in item]
    if any(isinstance(x, list | tuple) for x in level):
        raise ShapeError(f"value for {name!r} is a ragged array: its rows have different lengths")
    return tuple(shape), level


def _is_number_like(at: Any) -> bool:
    """One value standing for a point of one variable: ``at=3``, ``at=Fraction(1, 3)``, a 0-d array."""
    if isinstance(at, np.ndarray | torch.Tensor):
        return at.ndim == 0
    return isinstance(at, numbers.Number | decimal.Decimal | sympy.Basic | np.generic)


def _parsed_point(text: str) -> language.Assignments:
    """``--at`` text parsed once per limits (read from the environment): validated, then computed at."""
    return _parsed_under(text, (language.max_length(), language.max_elements(), limits.settings()))


@functools.lru_cache(maxsize=8)
def _parsed_under(text: str, settings: tuple[Any, ...]) -> language.Assignments:
    """1000 values take 0.06 s to parse; the settings are part of the key (a limit read from the environment)."""
    return language.parse_assignments(text)


def assign_point(parsed: language.ParsedExpression, order: Sequence[str], at: Point) -> dict[str, language.Value]:
    """Match the values of ``at`` to the expression's names: positional in ``order``, or by name."""
    if at is None:
        positional, named = (), {}
    elif isinstance(at, str):
        parsed_at = _parsed_point(at)
        positional, named = parsed_at.positional, dict(parsed_at.named)
    elif isinstance(at, Mapping):
        positional, named = (), _named_values(at)
    elif _is_number_like(at):  # at=3: the one value of a function of one variable, as at="3"
        positional, named = (_as_value(at, order[0]),), {}
    elif isinstance(at, list | tuple | np.ndarray | torch.Tensor):
        if len(at) > len(order):  # before converting anything: at may be huge
            raise UsageError(
                f"--at has {len(at):,} positional values but there are {len(order)} variables ({', '.join(order)})"
            )
        positional, named = tuple(_as_value(v, order[i]) for i, v in enumerate(at)), {}
    else:
        raise UsageError(
            "at must be a point: text like '1,2' or 'x=1, y=2', a mapping of names to values, "
            f"or a list of values, not {short(at)}"
        )
    if len(positional) > len(order):
        raise UsageError(
            f"--at has {len(positional)} positional values but there are {len(order)} variables ({', '.join(order)})"
        )
    values = dict(zip(order, positional, strict=False))
    for name, value in named.items():
        if name not in parsed.names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(
                f"--at names {short(name)}, which is not a variable of the expression (variables: {known})"
            )
        if name in values:
            raise UsageError(f"--at gives {name!r} twice (by position and by name)")
        values[name] = value
    missing = [n for n in parsed.names if n not in values]
    if missing:
        if len(positional) == len(order):
            hint = f'parameters need a value by name, e.g. --at "{missing[0]}=1"'
        else:
            hint = f"variables in order: {', '.join(order)}"
        raise UsageError(f"--at has no value for {', '.join(map(repr, missing))} ({hint})")
    limit = language.max_elements()
    for name, value in values.items():
        if value.size > limit:
            raise UsageError(f"the value of {name!r} has {value.size:,} elements; the limit is {limit:,}")
    return {n: values[n] for n in parsed.names}


def _named_values(at: Mapping[Any, Any]) -> dict[str, language.Value]:
    """``{"x": 1, "A": [[1, 2], [3, 4]]}`` -> name -> exact value; names must be strings."""
    named = {}
    for key, value in at.items():
        if not isinstance(key, str):
            raise UsageError(f"the names of a point must be strings, not {short(key)}")
        named[key] = _as_value(value, key)
    return named


def parse_vector(v: Any, size: int, labels: Sequence[str], what: str) -> list[sympy.Expr]:
    """``--v`` of the quantity named ``what``: ``ones``, a flat list, or an array literal with ``size`` elements."""
    if isinstance(v, str) and v.strip() == "ones":
        return [sympy.S.One] * size
    if isinstance(v, str):
        assignments = language.parse_assignments(v, what="--v")
        if assignments.named:
            raise UsageError("--v takes values in order (or 'ones'), not names")
        elements = language.flatten_values(assignments.positional)
    else:
        elements = list(_as_value(v, "--v").flat)
    if len(elements) != size:
        per = "output" if QUANTITIES[what].weights == "out" else "input"
        raise ShapeError(
            f"--v has {len(elements)} value{'s' if len(elements) != 1 else ''} but {what} needs {size} "
            f"(one per {per}: {', '.join(labels[:8])}{', …' if size > 8 else ''})"
        )
    return elements


def fixed_values(at: Point, parsed: language.ParsedExpression) -> dict[str, language.Value]:
    """``--at`` with ``--points``: values by name for the variables that are not columns."""
    if at is None:
        return {}
    if isinstance(at, str):
        assignments = language.parse_assignments(at)
        if assignments.positional:
            raise UsageError('with --points, --at gives values by name (e.g. --at "a=2") for variables not in the file')
        named = dict(assignments.named)
    elif isinstance(at, Mapping):
        named = _named_values(at)
    else:
        raise UsageError("with --points, --at gives values by name, for variables not in the file")
    for name in named:
        if name not in parsed.names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(f"--at names {name!r}, which is not a variable of the expression (variables: {known})")
    return named
