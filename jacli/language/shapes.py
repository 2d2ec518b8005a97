"""Shapes and constructors of the language (issue 13, part B).

``reshape concat stack`` rearrange the elements of values; ``arange linspace eye
ones zeros`` build constant arrays. Sizes are integer constants, checked against
the element limit before anything is built (``ones(10**9)`` is refused at once).
Every function here builds arrays of existing elements or exact constants: torch
needs no node of its own for them.
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from jacli.errors import ShapeError
from jacli.language.arrays import Value
from jacli.language.linalg import check_size
from jacli.language.source import dimension_problem


def _text(value: Value) -> str:
    return sympy.sstr(value[()]) if value.shape == () else f"an array of shape {value.shape}"


def _size(name: str, value: Value, allow_minus_one: bool = False) -> int:
    """A size argument: an integer constant, positive (or -1 where allowed)."""
    element = value[()] if value.shape == () else None
    if not isinstance(element, sympy.Integer):
        raise ShapeError(f"{name}: sizes must be integer constants, got {_text(value)}")
    size = int(element)
    if size == -1 and allow_minus_one:
        return size
    if size < 1:
        raise ShapeError(f"{name}: sizes must be positive, got {size}")
    return size


def _constant(name: str, value: Value) -> sympy.Expr:
    """A real constant argument (``arange``, ``linspace``)."""
    element = value[()] if value.shape == () else None
    if not isinstance(element, sympy.Expr) or not element.is_number or element.is_real is False:
        raise ShapeError(f"{name}: arguments must be real constants, got {_text(value)}")
    return element


def _constant_array(shape: tuple[int, ...], fill: sympy.Expr) -> Value:
    return np.full(shape, fill, dtype=object)


def reshape_of(x: Value, *sizes: Value) -> Value:
    """``x`` with its elements (row-major) in the shape ``sizes``; one size may be -1."""
    shape = [_size("reshape", s, allow_minus_one=True) for s in sizes]
    problem = dimension_problem(len(shape))
    if problem is not None:
        raise ShapeError(f"reshape: {problem}")
    if shape.count(-1) > 1:
        raise ShapeError("reshape: only one size can be -1")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if x.size % known:
            raise ShapeError(f"reshape: cannot reshape shape {x.shape} ({x.size} elements) into {tuple(shape)}")
        shape[shape.index(-1)] = x.size // known
    if math.prod(shape) != x.size:
        raise ShapeError(f"reshape: cannot reshape shape {x.shape} ({x.size} elements) into {tuple(shape)}")
    return x.reshape(tuple(shape))


def concat_of(*values: Value) -> Value:
    """The arrays joined along their first axis."""
    first = values[0].shape
    for position, value in enumerate(values, start=1):
        if value.ndim == 0:
            raise ShapeError(f"concat needs arrays, argument {position} is a scalar (use stack for scalars)")
        if value.shape[1:] != first[1:]:
            shapes = ", ".join(str(v.shape) for v in values)
            raise ShapeError(f"concat: shapes {shapes} differ beyond the first axis")
    check_size("concat", (sum(v.shape[0] for v in values), *first[1:]))
    return np.concatenate(values, axis=0)


def stack_of(*values: Value) -> Value:
    """The values (of one shape) along a new first axis."""
    first = values[0].shape
    for value in values:
        if value.shape != first:
            shapes = ", ".join(str(v.shape) for v in values)
            raise ShapeError(f"stack needs values of one shape, got shapes {shapes}")
    problem = dimension_problem(len(first) + 1)
    if problem is not None:
        raise ShapeError(f"stack: {problem}")
    check_size("stack", (len(values), *first))
    out = np.empty((len(values), *first), dtype=object)
    for i, value in enumerate(values):
        out[i, ...] = value
    return out


def arange_of(*args: Value) -> Value:
    """``arange(n)``: 0, 1, …, n-1; ``arange(a, b[, step])``: a, a+step, … below b (above, for step < 0)."""
    if len(args) == 1:
        start, stop, step = sympy.S.Zero, _constant("arange", args[0]), sympy.S.One
    else:
        start, stop = _constant("arange", args[0]), _constant("arange", args[1])
        step = _constant("arange", args[2]) if len(args) == 3 else sympy.S.One
    for value in (start, stop, step):
        if not value.is_Rational:
            raise ShapeError(f"arange: arguments must be rational constants (exact), got {sympy.sstr(value)}")
    if step == 0:
        raise ShapeError("arange: the step must not be zero")
    count = max(int(sympy.ceiling((stop - start) / step)), 0)
    if count == 0:
        raise ShapeError(f"arange: no values from {start} to {stop} in steps of {step} (empty arrays are refused)")
    check_size("arange", (count,))
    return np.array([start + k * step for k in range(count)], dtype=object)


def linspace_of(a: Value, b: Value, n: Value) -> Value:
    """``n`` evenly spaced values from ``a`` to ``b``, both included (exact)."""
    start, stop, count = _constant("linspace", a), _constant("linspace", b), _size("linspace", n)
    check_size("linspace", (count,))
    if count == 1:
        return np.array([start], dtype=object)
    return np.array([start + (stop - start) * sympy.Rational(k, count - 1) for k in range(count)], dtype=object)


def eye_of(n: Value) -> Value:
    """The n×n identity matrix."""
    size = _size("eye", n)
    check_size("eye", (size, size))
    out = _constant_array((size, size), sympy.S.Zero)
    for k in range(size):
        out[k, k] = sympy.S.One
    return out


def _filled(name: str, fill: sympy.Expr, sizes: tuple[Value, ...]) -> Value:
    shape = tuple(_size(name, s) for s in sizes)
    check_size(name, shape)
    return _constant_array(shape, fill)


def ones_of(*sizes: Value) -> Value:
    """An array of ones of shape ``(n,)`` or ``(n, m)``."""
    return _filled("ones", sympy.S.One, sizes)


def zeros_of(*sizes: Value) -> Value:
    """An array of zeros of shape ``(n,)`` or ``(n, m)``."""
    return _filled("zeros", sympy.S.Zero, sizes)
