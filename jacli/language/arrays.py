"""Values: NumPy object arrays of SymPy expressions (0-d for a scalar).

Broadcasting, indexing and stacking follow NumPy's rules; SymPy's automatic
simplification runs only on small arguments (:func:`simplifying`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import sympy

from jacli import limits
from jacli.errors import ShapeError
from jacli.language import fast
from jacli.language.source import max_elements

Value = np.ndarray


def scalar(expr: Any) -> Value:
    """A 0-d object array holding ``expr``."""
    out = np.empty((), dtype=object)
    out[()] = expr
    return out


def _as_value(result: Any) -> Value:
    return result if isinstance(result, np.ndarray) else scalar(result)


def _broadcast_shape(what: str, values: Sequence[Value]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*(v.shape for v in values)))
    except ValueError:
        shapes = " and ".join(str(v.shape) for v in values)
        raise ShapeError(f"{what}: shapes {shapes} do not broadcast") from None


def elementwise(what: str, fn: Callable[..., Any], *values: Value) -> Value:
    """Apply ``fn`` to matching elements of ``values``, broadcasting like torch."""
    for v in values:
        if v.ndim:
            break
    else:  # scalars: no broadcasting, no index loop
        return scalar(fn(*[v[()] for v in values]))
    shape = _broadcast_shape(what, values)
    size, limit = math.prod(shape), max_elements()
    if size > limit:
        raise ShapeError(
            f"{what}: the result would have {size:,} elements; the limit is {limit:,} "
            "(set JACLI_MAX_ELEMENTS to raise it)"
        )
    arrays = np.broadcast_arrays(*values) if len(values) > 1 else values
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        out[index] = fn(*(a[index] for a in arrays))
    return out


KNOWN_SIZES: dict[int, tuple[Any, int, bool]] = {}
"""Tree sizes the builder has measured: ``id(expr)`` -> ``(expr, size, constant)`` (set while it builds)."""


def _small(expr: Any) -> bool:
    """At most :data:`limits.EVALUATE_MAX_NODES` nodes (the count stops there: constant time)."""
    known = KNOWN_SIZES.get(id(expr))
    if known is not None and known[0] is expr:  # measured by the builder already
        return known[1] <= limits.EVALUATE_MAX_NODES
    if not getattr(expr, "args", ()):
        return True  # an atom (one node)
    count, pending = 0, [expr]
    while pending:
        node = pending.pop()
        count += 1
        if count > limits.EVALUATE_MAX_NODES:
            return False
        pending.extend(getattr(node, "args", ()))
    return True


def simplifying(fn: Callable[..., Any], direct: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """``fn(*args)``, with SymPy's automatic simplification only when every argument is small.

    ``direct(*args)``, where given, builds the same evaluated result quicker or returns None
    (:mod:`jacli.language.fast`).
    """

    def build(*args: Any) -> Any:
        for a in args:
            if not _small(a):
                return fn(*args, evaluate=False)
        built = None if direct is None or not fast.ENABLED else direct(*args)
        return fn(*args) if built is None else built

    return build


_ADD = simplifying(sympy.Add, fast.add)
_MUL = simplifying(sympy.Mul, fast.mul)
_POW = simplifying(sympy.Pow, fast.power)


def element_label(name: str, index: tuple[int, ...]) -> str:
    """``x`` for a scalar, ``a[0]``, ``A[0,1]`` for array elements."""
    return name if not index else f"{name}[{','.join(map(str, index))}]"


def _matmul_products(a: Value, b: Value) -> int:
    if a.ndim == 0 or b.ndim == 0:
        return 0  # matmul explains the error
    return a.size * (b.shape[-1] if b.ndim == 2 else 1)


def matmul(a: Value, b: Value) -> Value:
    """Matrix product of 1-D or 2-D arrays, following NumPy's rules for vectors."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"@ needs arrays, got shapes {a.shape} and {b.shape}; use * for scalars")
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError(f"@ supports vectors and matrices, got shapes {a.shape} and {b.shape}")
    left = a.reshape(1, -1) if a.ndim == 1 else a
    right = b.reshape(-1, 1) if b.ndim == 1 else b
    if left.shape[1] != right.shape[0]:
        raise ShapeError(
            f"@: shapes {a.shape} and {b.shape} do not match (inner dimensions {left.shape[1]} and {right.shape[0]})"
        )
    out = np.empty((left.shape[0], right.shape[1]), dtype=object)
    for i, j in np.ndindex(out.shape):
        out[i, j] = sympy.Add(*(left[i, k] * right[k, j] for k in range(left.shape[1])))
    if a.ndim == 1:
        out = out[0]
    if b.ndim == 1:
        out = out[..., 0]
    return _as_value(out)


def flatten_values(values: Iterable[Value]) -> list[sympy.Expr]:
    """All elements of ``values``, row-major, one after the other."""
    return [element for value in values for element in value.flat]
