"""torch lowerings of the linear-algebra nodes of :mod:`jacli.language.linalg` (``det``, ``inv``, ``solve``).

The tape of :mod:`jacli.compile` gives a node its arguments one element at a time
(each 0-d, or one value per point on columns); the matrix is stacked back from them
and handed to ``torch.linalg``. A singular matrix gives nan (``torch.linalg`` would
raise, or give ±inf), like any value outside a function's domain; its derivative is
then non-finite too, and the usual warning says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch  # noqa: TID253 - a stage module, imported by compile.py only
from torch import Tensor  # noqa: TID253


def _matrix(elements: tuple[Tensor, ...], rows: int) -> Tensor:
    """The elements (row-major, broadcast to one shape) as a matrix: (..., rows, len/rows)."""
    stacked = torch.stack(torch.broadcast_tensors(*elements), dim=-1)
    return stacked.reshape(*stacked.shape[:-1], rows, len(elements) // rows)


def _nan_where_failed(info: Tensor, like: Tensor) -> Tensor:
    """0 where the factorization succeeded, nan where the matrix is singular (shaped to add to ``like``)."""
    bad = torch.where(info == 0, 0.0, float("nan")).to(like.dtype)
    return bad.reshape(*bad.shape, *([1] * (like.dim() - bad.dim())))


def _det(expr: Any) -> Callable[..., Tensor]:
    n = expr.side
    return lambda *elements: torch.linalg.det(_matrix(elements, n))


def _inv(expr: Any) -> Callable[..., Tensor]:
    n, i, j = expr.side, int(expr.args[0]), int(expr.args[1])

    def entry(_i: Tensor, _j: Tensor, *elements: Tensor) -> Tensor:
        inverse, info = torch.linalg.inv_ex(_matrix(elements, n))
        return (inverse + _nan_where_failed(info, inverse))[..., i, j]

    return entry


def _solve(expr: Any) -> Callable[..., Tensor]:
    i, j, n, _a, b = expr.parts
    columns = len(b) // n

    def entry(_i: Tensor, _j: Tensor, _n: Tensor, *elements: Tensor) -> Tensor:
        a, rhs = _matrix(elements[: n * n], n), _matrix(elements[n * n :], n)
        shape = torch.broadcast_shapes(a.shape[:-2], rhs.shape[:-2])
        a, rhs = a.expand(*shape, n, n), rhs.expand(*shape, n, columns)
        x, info = torch.linalg.solve_ex(a, rhs)
        return (x + _nan_where_failed(info, x))[..., i, max(j, 0)]

    return entry


LOWERINGS: dict[str, Callable[[Any], Callable[..., Tensor]]] = {"det": _det, "inv": _inv, "solve": _solve}
"""Row name -> (node -> the torch function of its argument values)."""
