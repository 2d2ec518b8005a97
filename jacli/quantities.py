"""THE quantity table: one :class:`Quantity` per derivative command, every view of it in one place.

A quantity is what ``jacli NAME`` computes: its title and labels (the renderers lay
out by :attr:`Quantity.axes`), which ``--v`` weights it takes, whether f must be
scalar, whether it takes ``--mode``, its numeric computation for ONE CHUNK of points
(:mod:`jacli.batch`), its symbolic computation and the lines of its ``--show-torch``
program (:mod:`jacli.torch_program`). :func:`jacli.api.evaluate` and the CLI are
built from this table; adding a quantity is one entry here.

Stdlib only at import (``jacli --help`` builds its commands from this table without
torch or SymPy): the computations import their modules when they run.

>>> QUANTITIES["hessian"].axes_for(scalar_output=True), QUANTITIES["hessian"].axes_for(scalar_output=False)
(('in', 'in'), ('out', 'in', 'in'))
>>> QUANTITIES["laplacian"].shape(outputs=2, inputs=3, scalar_output=False)
(2,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from jacli.batch import Numeric
    from jacli.symbolic import Differentiator

Nested = Any
"""SymPy expressions in nested lists, in the quantity's shape."""
Symbolic = Callable[["Differentiator", Sequence[Any], Sequence[Any], Sequence[Any] | None], Nested]
"""``(differentiator, outputs, inputs, weights) -> nested SymPy expressions`` (outputs axis kept)."""
TorchLines = Callable[[Any, Sequence[tuple[str, Any]], Sequence[float] | None, str | None], list[str]]
"""``(context, inputs, weights, mode) -> the --show-torch lines after the inputs`` (:mod:`jacli.torch_program`)."""


@dataclass(frozen=True)
class Quantity:
    """One derivative command: its names, its shape and how to compute it three ways."""

    name: str
    """The command and the JSON ``command`` value: ``jacobian``."""
    noun: str
    """``Jacobian``: in titles and in the size limit's message."""
    title: str
    """``Jacobian ∂f/∂x``: the table's title."""
    label: str
    """``J``: the row (or column) label of a vector, the name of entries at many points (``J[f0,x1]``)."""
    symbol: str
    """LaTeX: ``J``, ``\\nabla f``."""
    axes: tuple[str, ...]
    """The result's axes at one point: ``out`` (one per output) and ``in`` (one per input element)."""
    help: str
    """The command's one-line help."""
    example: str
    """The arguments after ``jacli NAME`` in the help's example."""
    numeric: Numeric
    """One chunk of points: ``(setup, x (rows, n), p (rows, k)) -> (value (rows, m), result (rows, *axes))``."""
    symbolic: Symbolic
    show_torch: TorchLines
    weights: Literal["out", "in"] | None = None
    """``--v`` has one weight per output (``out``) or per input (``in``); None: no ``--v``."""
    scalar: bool = False
    """f must have one output."""
    modes: bool = False
    """Takes ``--mode`` (forward or reverse)."""
    drops_scalar_output: bool = False
    """A scalar f (output shape ``()``) drops the ``out`` axis: the Hessian of a scalar is n×n."""
    limited: tuple[str, ...] | None = None
    """Axes of the largest array it forms, held to the result-size limit: ``("out", "in", "in")``."""
    program_backward: bool = False
    """The ``--show-torch`` program creates the inputs with ``requires_grad=True`` (it calls ``y.backward``)."""

    def axes_for(self, *, scalar_output: bool) -> tuple[str, ...]:
        """The axes for an f whose output shape is ``()`` (``scalar_output``) or not."""
        if self.drops_scalar_output and scalar_output:
            return self.axes[1:]
        return self.axes

    def shape(self, *, outputs: int, inputs: int, scalar_output: bool) -> tuple[int, ...]:
        """The result's shape at one point."""
        sizes = {"out": outputs, "in": inputs}
        return tuple(sizes[axis] for axis in self.axes_for(scalar_output=scalar_output))

    def chunk_width(self, *, outputs: int, inputs: int) -> int:
        """Intermediates per row relative to one pass of f: sets the chunk size (:func:`jacli.batch.chunk_rows`)."""
        if self.limited is None:
            return 1
        if self.modes:  # one pass per input or per output, whichever is fewer
            return min(outputs, inputs)
        return outputs * inputs

    def presentation(self, *, scalar_output: bool) -> dict[str, Any]:
        """What a :class:`~jacli.results.Result` carries of the quantity: plain data for the renderers."""
        return {
            "command": self.name,
            "title": self.title,
            "label": self.label,
            "symbol": self.symbol,
            "axes": self.axes_for(scalar_output=scalar_output),
        }


# ---------------------------------------------------------------------------
# The computations, imported when they run.
# ---------------------------------------------------------------------------


def _batch() -> Any:
    from jacli import batch  # noqa: PLC0415

    return batch


def _programs() -> Any:
    from jacli import torch_program  # noqa: PLC0415

    return torch_program


def _combine(weights: Sequence[Any] | None, rows: Sequence[Sequence[Any]]) -> list[Any]:
    from jacli.symbolic import combine  # noqa: PLC0415

    assert weights is not None
    return combine(weights, rows)


def _transpose(matrix: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*matrix, strict=True)]


def _laplacian(d: Differentiator, outputs: Sequence[Any], inputs: Sequence[Any]) -> list[Any]:
    """Σᵢ ∂²f/∂xᵢ² of each output: only the diagonal second derivatives are derived."""
    import sympy

    return [sympy.Add(*(d.derivative(d.derivative(f, x), x) for x in inputs)) for f in outputs]


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity(
            "jacobian", "Jacobian", "Jacobian ∂f/∂x", "J", "J", ("out", "in"),
            help="Jacobian matrix (m×n: outputs × inputs) at a point.",
            example='"2*x0+x1**2, x0**2+2*x1**3" --at 1,2',
            numeric=lambda s, x, p: _batch().jacobian(s, x, p),
            symbolic=lambda d, fs, xs, w: d.jacobian(fs, xs),
            show_torch=lambda ctx, inputs, w, mode: _programs().jacobian_lines(ctx, mode),
            modes=True, limited=("out", "in"),
        ),
        Quantity(
            "gradient", "gradient", "gradient ∇f", "∇f", r"\nabla f", ("in",),
            help="Gradient (n-vector) of a scalar expression at a point.",
            example='"x1**2 + x2**3 + x3**4" --at 1,2,3',
            numeric=lambda s, x, p: _batch().gradient(s, x, p),
            symbolic=lambda d, fs, xs, w: d.jacobian(fs, xs)[0],
            show_torch=lambda ctx, inputs, w, mode: _programs().backward_lines(ctx, None),
            scalar=True, program_backward=True,
        ),
        Quantity(
            "hessian", "Hessian", "Hessian ∂²f/∂x²", "H", "H", ("out", "in", "in"),
            help="Hessian at a point: n×n for a scalar expression, m×n×n for a vector-valued one.",
            example='"x0**2*x1, x0*x1**3" --at 1,2',
            numeric=lambda s, x, p: _batch().hessian(s, x, p),
            symbolic=lambda d, fs, xs, w: d.hessian(fs, xs),
            show_torch=lambda ctx, inputs, w, mode: _programs().hessian_lines(ctx),
            drops_scalar_output=True, limited=("out", "in", "in"),
        ),
        Quantity(
            "vjp", "VJP", "VJP vᵀJ", "vᵀJ", "v^T J", ("in",),
            help="Vector-Jacobian product vᵀJ (reverse mode; v has one entry per output).",
            example='"2*x0+x1**2, x0**2+2*x1**3" --at 1,2 --v 1,2',
            numeric=lambda s, x, p: _batch().vjp(s, x, p),
            symbolic=lambda d, fs, xs, w: _combine(w, d.jacobian(fs, xs)),
            show_torch=lambda ctx, inputs, w, mode: _programs().backward_lines(ctx, w),
            weights="out", program_backward=True,
        ),
        Quantity(
            "jvp", "JVP", "JVP J·v", "J·v", "J v", ("out",),
            help="Jacobian-vector product J·v (forward mode; v has one entry per input).",
            example='"2*x0+x1**2, x0**2+2*x1**3" --at 1,2 --v 1,0',
            numeric=lambda s, x, p: _batch().jvp(s, x, p),
            symbolic=lambda d, fs, xs, w: _combine(w, _transpose(d.jacobian(fs, xs))),
            show_torch=lambda ctx, inputs, w, mode: _programs().jvp_lines(ctx, inputs, w),
            weights="in",
        ),
        Quantity(
            "hvp", "HVP", "HVP H·v", "H·v", "H v", ("in",),
            help="Hessian-vector product H·v of a scalar expression (forward over reverse; H is never formed).",
            example='"x**2*y + y**3" --at x=1,y=2 --v 1,0',
            numeric=lambda s, x, p: _batch().hvp(s, x, p),
            # H is symmetric: Σ_i v_i H[i] = H·v
            symbolic=lambda d, fs, xs, w: _combine(w, d.hessian(fs, xs)[0]),
            show_torch=lambda ctx, inputs, w, mode: _programs().hvp_lines(ctx, inputs, w),
            weights="in", scalar=True,
        ),
        Quantity(
            "laplacian", "Laplacian", "Laplacian Δf", "Δf", r"\Delta f", ("out",),
            help="Laplacian Σᵢ ∂²f/∂xᵢ² of each output at a point.",
            example='"x**2*y + y**3" --at x=1,y=2',
            numeric=lambda s, x, p: _batch().laplacian(s, x, p),
            symbolic=lambda d, fs, xs, w: _laplacian(d, fs, xs),
            show_torch=lambda ctx, inputs, w, mode: _programs().laplacian_lines(ctx),
            limited=("out", "in", "in"),
        ),
    )
}  # fmt: skip
"""Every derivative command, in the order ``jacli --help`` lists them."""
