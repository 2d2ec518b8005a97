"""One chunk of points at a time: a quantity's derivative of every row in one pass, streamed.

A chunk of points is one (rows, columns) float64 array. Its columns are mapped
to the flat vector of every variable (variable order) with NumPy fancy
indexing; the derivative of every row is computed at once by running the
compiled function on columns (its tape is scalar operations, so ``fn(x.T, p.T)``
computes all rows elementwise) and differentiating with ``torch.autograd``; the
chunk's points, values f(x) and results come back as NumPy arrays. One point is
a chunk of one row. Only one chunk is in memory at a time.

Rows are independent, so the gradient of the *sum* over rows of output i is row i
of every point's Jacobian: m reverse passes give all Jacobians, without
``torch.func`` (whose first use imports ``torch._dynamo``, seconds of start-up).

>>> import torch
>>> from jacli import language
>>> from jacli.compile import to_torch
>>> program = language.build_program(language.parse_expression("x*y"), {"x": (), "y": ()})
>>> setup = Setup(to_torch(program, program.variables, ()))
>>> value, result = gradient(setup, torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64), torch.zeros(2, 0))
>>> result.tolist()
[[2.0, 1.0], [4.0, 3.0]]
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.autograd import forward_ad

from jacli import language
from jacli.limits import CHUNK_ELEMENTS, DENSE_FUNC_HESSIAN_INPUTS, MAX_CHUNK_ELEMENTS, MAX_CHUNK_ROWS
from jacli.results import InputBlock

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from torch import Tensor

    from jacli.compile import TorchFunction


@dataclass(frozen=True)
class Setup:
    """What a quantity's computation needs besides the points: the function, ``--v``, the mode."""

    fn: TorchFunction
    """``f(x, p)``: flat inputs and parameters -> the m outputs (on columns: (n, rows) -> (m, rows))."""
    weights: Tensor | None = None
    """``--v``: (m,) for a VJP, (n,) for a JVP or HVP."""
    mode: str | None = None
    """``forward`` or ``reverse`` (the Jacobian)."""
    hessian_patterns: Callable[[], Any] = field(default=lambda: None)
    """Each output's sparse Hessian pattern (:func:`jacli.sparse.sparse_patterns`), or None for dense."""


Numeric = Callable[[Setup, "Tensor", "Tensor"], tuple["Tensor", "Tensor"]]
"""``(setup, x (rows, n), p (rows, k)) -> (value (rows, m), result (rows, *shape))``."""


def _run(setup: Setup, x: Tensor, p: Tensor) -> Tensor:
    """Every row at once: (rows, n), (rows, k) -> (m, rows)."""
    y = setup.fn(x.T, p.T)
    # an f that is constant everywhere gives (m,): the same value at every row
    return y if y.dim() == 2 else y[:, None].expand(-1, x.shape[0])


def _forward(setup: Setup, x: Tensor, p: Tensor, tangents: Tensor) -> tuple[Tensor, Tensor]:
    """One forward-mode pass over every row: value and tangent, both (m, rows)."""
    with warnings.catch_warnings():
        # the first make_dual loads torch's jvp decompositions through the deprecated torch.jit.script
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        with forward_ad.dual_level():
            primal, tangent = forward_ad.unpack_dual(_run(setup, forward_ad.make_dual(x, tangents), p))
    return primal, torch.zeros_like(primal) if tangent is None else tangent


def _reverse_rows(y: Tensor, x: Tensor, create_graph: bool = False) -> list[Tensor]:
    """For each output of ``y`` (m, rows): its gradient at every row, (rows, n); m reverse passes."""
    rows = []
    for output in y:
        grad = None
        if output.requires_grad:
            (grad,) = torch.autograd.grad(
                output.sum(), x, retain_graph=True, create_graph=create_graph, allow_unused=True
            )
        rows.append(torch.zeros_like(x) if grad is None else grad)
    return rows


@contextlib.contextmanager
def _taped(x: Tensor) -> Iterator[Tensor]:
    """``x`` as a fresh leaf that records the operations on it."""
    with torch.enable_grad():
        yield x.detach().requires_grad_(True)


def jacobian(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, m, n): one forward pass per input (``mode="forward"``), else one reverse pass per output."""
    if setup.mode == "forward":
        columns, y = [], _run(setup, x, p)
        for j in range(x.shape[1]):
            tangents = torch.zeros_like(x)
            tangents[:, j] = 1
            y, tangent = _forward(setup, x, p, tangents)
            columns.append(tangent.T)
        result = torch.stack(columns, dim=2) if columns else x.new_zeros(x.shape[0], y.shape[0], 0)
        return y.T, result
    with _taped(x) as leaf:
        y = _run(setup, leaf, p)
        return y.detach().T, torch.stack(_reverse_rows(y, leaf), dim=1)


def gradient(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, n): one reverse pass."""
    with _taped(x) as leaf:
        y = _run(setup, leaf, p)
        return y.detach().T, _reverse_rows(y, leaf)[0]


def vjp(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, n): ``vᵀJ`` by one reverse pass."""
    assert setup.weights is not None
    with _taped(x) as leaf:
        y = _run(setup, leaf, p)
        weighted = (y * setup.weights[:, None]).sum()
        grad = torch.autograd.grad(weighted, leaf, allow_unused=True)[0] if weighted.requires_grad else None
        return y.detach().T, torch.zeros_like(leaf) if grad is None else grad


def jvp(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, m): ``J·v`` by one forward-mode pass."""
    assert setup.weights is not None
    y, tangent = _forward(setup, x, p, setup.weights.expand_as(x))
    return y.T, tangent.T


def hessian(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, m, n, n): reverse over reverse; at one point sparse (one HVP per colour) or vectorised when large.

    See ``bench/scale.py``: the n=1000 Rosenbrock Hessian at one point takes the sparse path.
    """
    if x.shape[0] == 1:
        one = _one_point_hessian(setup, x[0], p[0])
        if one is not None:
            return one
    with _taped(x) as leaf:
        y = _run(setup, leaf, p)
        blocks = []
        for first in _reverse_rows(y, leaf, create_graph=True):
            blocks.append(torch.stack([r.detach() for r in _reverse_rows(first.T, leaf)], dim=1))
        result = torch.stack(blocks, dim=1) if blocks else x.new_zeros(x.shape[0], 0, x.shape[1], x.shape[1])
        return y.detach().T, result


def _one_point_hessian(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor] | None:
    """The Hessian at one point by the sparse or the vectorised dense method, or None (reverse over reverse)."""
    from jacli import sparse  # noqa: PLC0415 - only the Hessian at one point needs it

    def bound(point: Tensor) -> Tensor:
        return setup.fn(point, p)

    patterns = setup.hessian_patterns()
    if patterns is not None:
        result = sparse.hessian(bound, x, patterns)
    elif x.numel() >= DENSE_FUNC_HESSIAN_INPUTS:
        with warnings.catch_warnings():
            # forward mode loads torch's jvp decompositions through the deprecated torch.jit.script
            warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
            result = torch.func.jacfwd(torch.func.jacrev(bound))(x)
    else:
        return None
    with torch.no_grad():
        value = bound(x)
    return value[None], result[None]


def hvp(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, n): ``H·v`` of a scalar f by forward over reverse (``torch.func.jvp`` of ``torch.func.grad``).

    H (n×n) is never formed; the cost is a small constant times one gradient. ``torch.func``
    imports ``torch._dynamo`` on first use (≈1.3 s); ``forward_ad`` duals through
    ``torch.autograd.grad(create_graph=True)`` import it too (≈2 s), so there is no cheaper way.
    """
    assert setup.weights is not None

    def total(columns: Tensor) -> Tensor:
        return _run(setup, columns, p).sum()  # one output; rows are independent, so ∂/∂x of the sum is per row

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        with torch.no_grad():
            value = _run(setup, x, p).T
        tangents = setup.weights.expand_as(x)
        return value, torch.func.jvp(torch.func.grad(total), (x.detach(),), (tangents,))[1]


def laplacian(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, m): Σᵢ ∂²fₖ/∂xᵢ², the trace of each output's Hessian (sparse at one point when it can be)."""
    value, result = hessian(setup, x, p)
    return value, result.diagonal(dim1=-2, dim2=-1).sum(-1)


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
    facts: list[dict[str, Any]] | None = None
    """Each point's facts (JSON keys: a scalar f's Hessian's ``definiteness``, …), or None."""

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
    compute: Callable[[Tensor, Tensor], tuple[Any, ...]],
    columns: Columns,
    chunks: Iterable[tuple[NDArray[np.float64], int | None]],
    dtype: torch.dtype,
    device: torch.device,
) -> Iterator[PointsChunk]:
    """``compute(x (rows, n), p (rows, k)) -> (value, result[, facts])`` on each chunk of rows, as each finishes."""
    for values, first_line in chunks:
        full = columns.full(values)
        tensor = torch.from_numpy(full).to(dtype=dtype, device=device)
        x = tensor[:, torch.from_numpy(columns.inputs).to(device)]
        p = tensor[:, torch.from_numpy(columns.params).to(device)]
        with _one_thread(device):
            value, result, *facts = compute(x, p)
        yield PointsChunk(
            points=full,  # the points as read, whatever --dtype computes in
            value=_numpy(value),
            result=_numpy(result),
            first_line=first_line,
            facts=facts[0] if facts else None,
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


@dataclass(frozen=True)
class PointsEvaluation:
    """A quantity at many points: labels once, then :class:`PointsChunk` s as they finish.

    ``chunks`` is a one-shot iterator: each chunk is computed when it is asked for,
    so memory holds one chunk however many points there are.
    """

    command: str
    title: str
    label: str
    symbol: str
    axes: tuple[str, ...]
    """The quantity's presentation (:meth:`~jacli.quantities.Quantity.presentation`): the renderers lay out by it."""
    expression: str
    variables: tuple[tuple[str, tuple[int, ...]], ...]
    """(name, shape) of every variable, variable order: the columns of ``PointsChunk.points``."""
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    blocks: tuple[InputBlock, ...]
    shape: tuple[int, ...]
    """Shape of the result at one point."""
    mode: str | None
    v: tuple[float, ...] | None
    chunks: Iterator[PointsChunk]
    source: Any = None  # the points.PointsReader, when reading a file (bytes read, size)
    derive_symbolic: Callable[[], Any] | None = None
    """Derives the symbolic result (nested SymPy expressions) when called; None with ``--no-symbolic``."""
    bindings: tuple[tuple[str, str], ...] = ()
    present: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The quantity's :attr:`~jacli.quantities.Quantity.present`: each point is then shown as a result of its own."""
    facts_line: Callable[[dict[str, Any]], str] = field(default=lambda keys: "")
    """One point's facts (:attr:`PointsChunk.facts`) in words, for the table."""

    @functools.cached_property
    def symbolic(self) -> Any:
        """The symbolic result as nested SymPy strings, derived on first use (only json shows it).

        None when ``--no-symbolic``, or when it is too large to derive (:attr:`symbolic_note` says so).
        """
        from jacli import symbolic  # noqa: PLC0415 - json output only

        if self.derive_symbolic is None:
            return None
        try:
            return symbolic.to_text(self.derive_symbolic())
        except symbolic.SymbolicTooLarge as err:
            self.__dict__["symbolic_note"] = f"symbolic form skipped: {err}; the numbers are complete"
            return None

    @property
    def symbolic_note(self) -> str | None:
        """Why the symbolic form is missing, when it was asked for but skipped."""
        return self.__dict__.get("symbolic_note")

    @property
    def point_labels(self) -> tuple[str, ...]:
        """Labels of the columns of ``PointsChunk.points``: ``x``, ``a[0]``, …"""
        return tuple(
            language.element_label(name, index) for name, shape in self.variables for index in np.ndindex(shape)
        )


# ---------------------------------------------------------------------------
# Derivatives of any order (issue 14): nested reverse passes, each distinct mixed partial once.
# ---------------------------------------------------------------------------


ROWS_PER_PASS = 2048
"""Rows (point, output, index tuple) differentiated together in one nest of reverse passes."""


def _sorted_partials(setup: Setup, x: Tensor, p: Tensor, order: int) -> tuple[Tensor, Tensor]:
    """f and every distinct ``order``-th partial of every output: (rows, m), (rows, m, C(n+order-1, order)).

    Each row of x is repeated once per output and per sorted (order-1)-tuple ``t``; row r then
    follows its own path: a reverse pass of the sum over rows (rows are independent), row r's
    component ``t[0]`` of that gradient, summed, another pass (``create_graph`` below the last),
    component ``t[1]``, … The last pass gives at row r every ∂/∂x_j ∂^(order-1) f/∂x_t, of which
    ``j ≥ t[-1]`` are the sorted tuples ``t + (j,)``, in lexicographic order (:func:`symmetric_tensor`
    fills the rest). So ``order`` passes over a batch of rows give each distinct partial once.
    """
    points, n = x.shape
    with torch.no_grad():
        value = _run(setup, x, p).T
    m = value.shape[1]
    span = torch.arange(n)
    if order == 1:
        paths = torch.zeros(1, 0, dtype=torch.int64)
    elif order == 2:
        paths = span[:, None]
    else:
        paths = torch.combinations(span, order - 1, with_replacement=True)
    keep = span[None, :] >= (paths[:, -1:] if order > 1 else torch.zeros(1, 1, dtype=torch.int64))
    count = int(keep.sum())
    if n == 0 or m == 0:
        return value, x.new_zeros(points, m, count)
    total = points * m * len(paths)
    grads = []
    for begin in range(0, total, ROWS_PER_PASS):
        index = torch.arange(begin, min(begin + ROWS_PER_PASS, total))
        point, output, path = index // (m * len(paths)), (index // len(paths)) % m, index % len(paths)
        grads.append(_path_gradients(setup, x[point], p[point], output, paths[path].to(x.device), order))
    full = torch.cat(grads).reshape(points, m, len(paths), n)
    return value, full[:, :, keep.to(x.device)]


def _path_gradients(setup: Setup, x: Tensor, p: Tensor, output: Tensor, path: Tensor, order: int) -> Tensor:
    """(rows, n): at row r, ∂/∂x ∂^(order-1) f_output[r] / ∂x_path[r] (rows independent: passes of sums)."""
    rows = torch.arange(len(x), device=x.device)
    with _taped(x) as leaf:
        y = _run(setup, leaf, p)
        current = y[output.to(x.device), rows].sum()
        for level in range(order):
            last = level == order - 1
            grad = None
            if current.requires_grad:
                (grad,) = torch.autograd.grad(current, leaf, create_graph=not last, allow_unused=True)
            if grad is None:
                return torch.zeros_like(x)
            if last:
                return grad.detach()
            current = grad[rows, path[:, level]].sum()
    raise AssertionError("unreachable")


def symmetric_tensor(compact: Tensor, n: int, order: int) -> Tensor:
    """(rows, m, C(n+k-1, k)) distinct partials (sorted tuples, lexicographic) -> (rows, m, n, …, n).

    Each entry takes the partial of its sorted index tuple: the index grid is sorted and
    ranked a block of the first axis at a time, so no n^k × k index array is ever held.

    >>> symmetric_tensor(torch.tensor([[[1.0, 2.0, 3.0]]]), 2, 2).tolist()
    [[[[1.0, 2.0], [2.0, 3.0]]]]
    """
    rows, m, _ = compact.shape
    if order == 0:
        return compact[:, :, 0]
    out = compact.new_zeros((rows, m, n, n ** (order - 1)))
    if n == 0:
        return out.reshape((rows, m) + (0,) * order)
    radix = n ** torch.arange(order - 1, -1, -1, dtype=torch.int64)
    span = torch.arange(n)
    combos = torch.combinations(span, order, with_replacement=True) if order > 1 else span[:, None]
    codes = (combos.reshape(-1, order) * radix).sum(-1)  # increasing: the tuples are in lexicographic order
    rest = torch.cartesian_prod(*[torch.arange(n)] * (order - 1)).reshape(-1, order - 1) if order > 1 else None
    for first in range(n):
        if rest is None:
            index = torch.tensor([[first]])
        else:
            index = torch.cat([torch.full((len(rest), 1), first), rest], dim=1)
        ranks = torch.searchsorted(codes, (index.sort(dim=-1).values * radix).sum(-1))
        out[:, :, first] = compact[:, :, ranks.to(compact.device)]
    return out.reshape((rows, m) + (n,) * order)


def derivative(setup: Setup, x: Tensor, p: Tensor, order: int) -> tuple[Tensor, Tensor]:
    """(rows, m, n, …, n): the ``order``-th derivative tensor of every output."""
    value, compact = _sorted_partials(setup, x, p, order)
    return value, symmetric_tensor(compact, x.shape[1], order)


def taylor_terms(setup: Setup, x: Tensor, p: Tensor, order: int) -> tuple[Tensor, Tensor]:
    """(rows, Σₖ m·nᵏ): the derivative tensors of orders 0..``order``, each flattened, one after another."""
    rows, n = x.shape
    with torch.no_grad():
        value = _run(setup, x, p).T
    parts = [symmetric_tensor(_sorted_partials(setup, x, p, k)[1], n, k).reshape(rows, -1) for k in range(1, order + 1)]
    return value, torch.cat([value, *parts], dim=1)


# Issue 14: divergence, curl, and what the Hessian of a scalar f says.
# ---------------------------------------------------------------------------


def _forward_columns(setup: Setup, x: Tensor, p: Tensor, columns: Iterable[int]) -> tuple[Tensor, dict[int, Tensor]]:
    """Value (m, rows) and the Jacobian columns ∂f/∂x_j (m, rows) for these j: one forward pass each."""
    y, found = _run(setup, x, p), {}
    for j in columns:
        tangents = torch.zeros_like(x)
        tangents[:, j] = 1
        y, found[j] = _forward(setup, x, p, tangents)
    return y, found


def divergence(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows,): Σᵢ ∂fᵢ/∂xᵢ by n forward passes, keeping entry i of column i (the n×n Jacobian is never held)."""
    n = x.shape[1]
    y, columns = _forward_columns(setup, x, p, range(n))
    total = sum((columns[i][i] for i in range(n)), x.new_zeros(x.shape[0]))
    return y.T, total


def curl(setup: Setup, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    """(rows, 3) for f: R³→R³, (rows,) for f: R²→R²: differences of Jacobian entries (one forward pass per input)."""
    n = x.shape[1]
    y, d = _forward_columns(setup, x, p, range(n))

    def rotation(i: int, j: int) -> Tensor:  # ∂f_j/∂x_i − ∂f_i/∂x_j
        return d[i][j] - d[j][i]

    if n == 2:
        return y.T, rotation(0, 1)
    return y.T, torch.stack([rotation(1, 2), rotation(2, 0), rotation(0, 1)], dim=1)


def symmetric_parts(result: Tensor) -> tuple[Tensor, Tensor]:
    """(rows,) whether each (n, n) matrix is finite, and (rows, n, n) its symmetric part (H + Hᵀ) / 2, 0 where not.

    The same bits as ``torch.where(finite, (H + Hᵀ) / 2, 0)``, with one n × n temporary instead of
    three (fresh pages cost: 8 MB each at n = 1000).
    """
    finite = torch.isfinite(result).flatten(1).all(dim=1)
    symmetric = result + result.transpose(1, 2)
    symmetric.div_(2)
    if not bool(finite.all()):
        symmetric[~finite] = 0
    return finite, symmetric


def hessian_facts(setup: Setup, x: Tensor, p: Tensor, value: Tensor, result: Tensor) -> dict[str, Tensor]:
    """A scalar f's Hessian (rows, n, n) -> its eigenvalues (ascending), the gradient (one reverse pass), f(x).

    A Hessian with a nan or inf has nan eigenvalues (:mod:`jacli.curvature` then says nothing of it).
    """
    with _one_thread(result.device):  # LAPACK threads fight under load: 1000 × 1000 in 6 s on 2, 0.4 s on 1
        finite, symmetric = symmetric_parts(result)  # elementwise (the same bits on any threads), so on one too
        eigenvalues = torch.linalg.eigvalsh(symmetric)
    eigenvalues[~finite] = torch.nan
    return {"eigenvalues": eigenvalues, "gradient": gradient(setup, x, p)[1], "value": value[:, 0]}
