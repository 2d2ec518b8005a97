"""Column names of results laid out one row per point: the CSV header, Parquet columns, ``jacli.frame``.

One name per column, derived from the result's axes (never from the command):
the point's element labels (``x0``, ``a[1]``, ``A[0,1]``), then ``value[f0]`` …
(one per output), then the result's entries ``COMMAND[i,j,…]``, one index per
axis, ``out`` axes indexed by output labels and ``in`` axes by input labels
(array elements keep their labels: ``gradient[a[1]]``, ``jacobian[f0,A[0,1]]``).
A result with no axes (``divergence``, a plane ``curl``) is one column named by the
command. Stdlib only.

>>> result_names("jacobian", ("out", "in"), ("f0", "f1"), ("x0", "x1"))
['jacobian[f0,x0]', 'jacobian[f0,x1]', 'jacobian[f1,x0]', 'jacobian[f1,x1]']
>>> result_names("hessian", ("in", "in"), ("f",), ("x0", "x1"))
['hessian[x0,x0]', 'hessian[x0,x1]', 'hessian[x1,x0]', 'hessian[x1,x1]']
>>> result_names("divergence", (), ("f0", "f1"), ("x", "y")), value_names(("f",))
(['divergence'], ['value[f]'])
>>> point_names([("a", (2,)), ("x", ())])
['a[0]', 'a[1]', 'x']
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any


def element_labels(name: str, shape: Sequence[int]) -> list[str]:
    """``x`` for a scalar; ``a[0]``, ``A[0,1]`` for array elements, row-major (as jacli labels them)."""
    if not shape:
        return [name]
    return [f"{name}[{','.join(map(str, index))}]" for index in itertools.product(*(range(n) for n in shape))]


def point_names(variables: Iterable[tuple[str, Sequence[int]]]) -> list[str]:
    """The point's columns: every variable's element labels, variable order."""
    return [label for name, shape in variables for label in element_labels(name, shape)]


def value_names(outputs: Sequence[str]) -> list[str]:
    """``value[f0]``, ``value[f1]``, … (``value[f]`` for a scalar f)."""
    return [f"value[{label}]" for label in outputs]


def result_names(prefix: str, axes: Sequence[str], outputs: Sequence[str], inputs: Sequence[str]) -> list[str]:
    """The result's entries, row-major over its axes: ``PREFIX[index,…]`` (the command's name); no axes: ``PREFIX``."""
    if not axes:
        return [prefix]
    labels = {"out": outputs, "in": inputs}
    return [f"{prefix}[{','.join(index)}]" for index in itertools.product(*(labels[axis] for axis in axes))]


def _shape(nested: Any) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(nested, list | tuple):
        shape.append(len(nested))
        nested = nested[0] if nested else None
    return tuple(shape)


def names(result: Any) -> list[str]:
    """All columns of ``result``: a :class:`~jacli.results.Result` or a :class:`~jacli.batch.PointsEvaluation`."""
    variables = getattr(result, "variables", None)
    if variables is None:  # a Result: the shapes from its point's nested values
        variables = [(name, _shape(value)) for name, value in result.point.items()]
    return [
        *point_names(variables),
        *value_names(result.outputs),
        *result_names(result.command, result.axes, result.outputs, result.inputs),
    ]
