"""Many points at once: ``torch.func.vmap`` over chunks of points, streamed.

A chunk of points is one (rows, columns) float64 array. Its columns are mapped
to the flat vector of every variable (variable order) with NumPy fancy
indexing; the derivative of every row is one vmapped torch call; the chunk's
points, values f(x) and results come back as NumPy arrays. Only one chunk is in
memory at a time, so memory stays flat however long the input.

>>> import torch
>>> from jacli import language
>>> from jacli.compile import to_torch
>>> program = language.build_program(language.parse_expression("x*y"), {"x": (), "y": ()})
>>> fn = to_torch(program, program.variables, ())
>>> kernel = make_kernel(fn, "gradient")
>>> value, result = kernel(torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64), torch.zeros(2, 0))
>>> result.tolist()
[[2.0, 1.0], [4.0, 3.0]]
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from jacli.limits import CHUNK_ELEMENTS, MAX_CHUNK_ELEMENTS, MAX_CHUNK_ROWS

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from torch import Tensor

    from jacli.compile import TorchFunction

COMMANDS = ("jacobian", "gradient", "hessian", "vjp", "jvp")

Kernel = Callable[["Tensor", "Tensor"], tuple["Tensor", "Tensor"]]
"""``(x (rows, n), p (rows, k)) -> (value (rows, m), result (rows, *shape))``."""


def _per_point(fn: TorchFunction, command: str, mode: str, v: Tensor | None) -> Callable[..., tuple[Tensor, Tensor]]:
    """The derivative at ONE point ``(x (n,), p (k,)) -> (value (m,), result)``, built from torch.func."""
    from torch import func  # noqa: PLC0415

    def with_value(x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        y = fn(x, p)
        return y, y

    if command == "jacobian":
        transform = func.jacfwd if mode == "forward" else func.jacrev
        jac = transform(with_value, has_aux=True)
        return lambda x, p: jac(x, p)[::-1]
    if command == "gradient":
        jac = func.jacrev(with_value, has_aux=True)

        def gradient(x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
            j, y = jac(x, p)
            return y, j[0]

        return gradient
    if command == "hessian":
        hess = func.jacfwd(func.jacrev(with_value, has_aux=True), has_aux=True)
        return lambda x, p: hess(x, p)[::-1]
    if command == "vjp":
        assert v is not None

        def vjp(x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
            y, pullback = func.vjp(lambda x_: fn(x_, p), x)
            return y, pullback(v)[0]

        return vjp
    if command == "jvp":
        assert v is not None
        return lambda x, p: func.jvp(lambda x_: fn(x_, p), (x,), (v,))
    raise ValueError(f"unknown command {command!r}")


def _columnar(fn: TorchFunction) -> bool:
    """Whether ``fn`` can run on columns: every output varies (a constant output would be 0-d, not (rows,))."""
    return fn.n_outputs > 0 and all(slot >= 0 for slot in fn._outputs)


def _columnar_kernel(fn: TorchFunction, command: str, mode: str, v: Tensor | None) -> Kernel:
    """All rows in one pass of ``fn`` on columns, derivatives by batched ``torch.autograd``.

    The tape holds scalar operations only (array variables are element symbols), so
    ``fn`` applied to ``x.T`` (n, rows) computes every row at once, elementwise. Rows
    are independent, so the gradient of the *sum* over rows of output i is row i of
    every point's Jacobian: m reverse passes give all Jacobians, without ``torch.func``
    (whose first use imports ``torch._dynamo``, seconds of start-up).
    """
    from torch.autograd import forward_ad  # noqa: PLC0415

    def run(x: Tensor, p: Tensor) -> Tensor:  # (rows, n), (rows, k) -> (m, rows)
        return fn(x.T, p.T)

    def forward_columns(x: Tensor, p: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
            with forward_ad.dual_level():
                y = run(forward_ad.make_dual(x, tangents), p)
                primal, tangent = forward_ad.unpack_dual(y)
        return primal, torch.zeros_like(primal) if tangent is None else tangent

    def reverse_rows(y: Tensor, x: Tensor, create_graph: bool = False) -> list[Tensor]:
        rows = []
        for output in y:
            if not output.requires_grad:
                rows.append(torch.zeros_like(x))
                continue
            (grad,) = torch.autograd.grad(
                output.sum(), x, retain_graph=True, create_graph=create_graph, allow_unused=True
            )
            rows.append(torch.zeros_like(x) if grad is None else grad)
        return rows

    def kernel(x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        x = x.detach()
        if command == "jvp":
            assert v is not None
            y, tangent = forward_columns(x, p, v.expand_as(x))
            return y.T, tangent.T
        if command == "jacobian" and mode == "forward":
            columns = []
            for j in range(x.shape[1]):
                tangents = torch.zeros_like(x)
                tangents[:, j] = 1
                y, tangent = forward_columns(x, p, tangents)
                columns.append(tangent.T)
            return y.T, torch.stack(columns, dim=2)
        with torch.enable_grad():
            x.requires_grad_(True)
            y = run(x, p)
            if command == "vjp":
                assert v is not None
                weighted = (y * v[:, None]).sum()
                grad = torch.autograd.grad(weighted, x, allow_unused=True)[0] if weighted.requires_grad else None
                return y.detach().T, torch.zeros_like(x) if grad is None else grad
            if command == "hessian":
                blocks = []
                for first in reverse_rows(y, x, create_graph=True):
                    blocks.append(torch.stack([r.detach() for r in reverse_rows(first.T, x)], dim=1))
                return y.detach().T, torch.stack(blocks, dim=1)
            jac = torch.stack(reverse_rows(y, x), dim=1)  # (rows, m, n)
            if command == "gradient":
                return y.detach().T, jac[:, 0]
            return y.detach().T, jac

    return kernel


def make_kernel(
    fn: TorchFunction, command: str, mode: str = "reverse", v: Tensor | None = None, *, drop_output_axis: bool = False
) -> Kernel:
    """The vectorised derivative over rows: columnar autograd, or ``torch.func.vmap`` of the one-point derivative.

    ``drop_output_axis``: the Hessian of a scalar f as (rows, n, n), not (rows, 1, n, n).
    """
    if _columnar(fn):
        columnar = _columnar_kernel(fn, command, mode, v)

        def kernel(x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
            value, result = columnar(x, p)
            return value, result[:, 0] if drop_output_axis else result

        return kernel
    batched = torch.func.vmap(_per_point(fn, command, mode, v))

    def kernel(x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        with warnings.catch_warnings():
            # A torch op without a batching rule falls back to a loop and says so; results are the same.
            warnings.filterwarnings("ignore", message=".*performance drop.*", category=UserWarning)
            # forward mode loads torch's jvp decompositions through the deprecated torch.jit.script
            warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
            with torch.no_grad():  # torch.func computes its own derivatives; no outer graph
                value, result = batched(x, p)
        return value, result[:, 0] if drop_output_axis else result

    return kernel


def chunk_rows(steps: int, width: int, requested: int | None = None) -> int:
    """A chunk size that keeps ``steps * width`` float intermediates per row within :data:`CHUNK_ELEMENTS`.

    A ``requested`` size (``--chunk-size``) is honoured up to :data:`MAX_CHUNK_ROWS` rows and
    :data:`MAX_CHUNK_ELEMENTS` intermediates: ``--chunk-size 100000000000`` must not
    allocate (or read ahead) for a hundred billion rows. Chunking never changes the results.

    >>> chunk_rows(10, 2), chunk_rows(10, 2, 100), chunk_rows(10, 2, 10**11), chunk_rows(10**6, 100, 50)
    (65536, 100, 65536, 1)
    """
    per_row = max(1, steps * width)
    if requested is None:
        return max(1, min(MAX_CHUNK_ROWS, CHUNK_ELEMENTS // per_row))
    return max(1, min(requested, MAX_CHUNK_ROWS, MAX_CHUNK_ELEMENTS // per_row))


@dataclass(frozen=True)
class Columns:
    """Where each flat element of every variable (variable order) comes from: a column or a fixed value."""

    size: int
    """Flat elements of all variables."""
    from_column: NDArray[np.intp]
    """Flat positions filled from the input ...,"""
    column: NDArray[np.intp]
    """... by these input columns."""
    fixed_at: NDArray[np.intp]
    """Flat positions with one value for every row,"""
    fixed: NDArray[np.float64]
    """... these values."""
    inputs: NDArray[np.intp]
    """Flat positions of the differentiation inputs (``--wrt`` order)."""
    params: NDArray[np.intp]
    """Flat positions of the parameters."""

    def full(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Input rows -> every variable's flat elements, in variable order; shape (rows, size)."""
        out = np.empty((len(values), self.size), dtype=np.float64)
        out[:, self.from_column] = values[:, self.column]
        out[:, self.fixed_at] = self.fixed
        return out


@dataclass(frozen=True)
class PointsChunk:
    """Results at consecutive points: NumPy arrays with one row per point."""

    points: NDArray[np.float64]
    """(rows, size): every variable's flat elements, variable order."""
    value: NDArray[np.float64]
    """(rows, m): f at each point."""
    result: NDArray[np.float64]
    """(rows, *shape): the derivative at each point."""
    first_line: int | None = None
    """File line of the first point (None for ``--at`` points)."""

    @property
    def rows(self) -> int:
        return len(self.points)

    def flat(self, *, value: bool) -> NDArray[np.float64]:
        """(rows, ...): the points, optionally the value, then the flattened result."""
        parts = [self.points] + ([self.value] if value else []) + [self.result.reshape(self.rows, -1)]
        return np.concatenate(parts, axis=1)

    def nonfinite_rows(self) -> NDArray[np.intp]:
        """Indices of rows whose value or result has a nan or inf."""
        bad = ~np.isfinite(self.value).all(axis=1) | ~np.isfinite(self.result.reshape(self.rows, -1)).all(axis=1)
        return np.flatnonzero(bad)


def evaluate(
    kernel: Kernel,
    columns: Columns,
    chunks: Iterable[tuple[NDArray[np.float64], int | None]],
    dtype: torch.dtype,
    device: torch.device,
) -> Iterator[PointsChunk]:
    """Run ``kernel`` on each chunk of input rows; yields as each chunk finishes."""
    for values, first_line in chunks:
        full = columns.full(values)
        tensor = torch.from_numpy(full).to(dtype=dtype, device=device)
        x = tensor[:, torch.from_numpy(columns.inputs).to(device)]
        p = tensor[:, torch.from_numpy(columns.params).to(device)]
        with _one_thread(device):
            value, result = kernel(x, p)
        yield PointsChunk(
            points=full,  # the points as read, whatever --dtype computes in
            value=_numpy(value),
            result=_numpy(result),
            first_line=first_line,
        )


@contextlib.contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Run a chunk's torch ops on one CPU thread.

    A chunk is a few thousand cheap, memory-bound elementwise ops: intra-op threads
    cost more in hand-offs than they gain, and on a busy machine far more (measured
    here, 2 cores under load: 700 ms per 65,536-point seed Jacobian with 2 threads,
    10 ms with 1). The setting is restored after the chunk.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _numpy(t: Tensor) -> Any:
    return t.detach().to("cpu", torch.float64).numpy()
