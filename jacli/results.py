"""Results of jacli's computations: plain floats and strings (stdlib only).

Renderers read these and nothing else; the tensor and SymPy objects ride along
for Python users (``result.tensor``, ``result.symbolic_exprs``) but no renderer needs them.
This module imports no renderer: Jupyter's LaTeX hook is on :class:`jacli.api.DisplayedResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jacli.limits import SYMBOLIC_DISPLAY_LIMIT  # noqa: F401 - render.table imports it from here

Nested = Any
"""A float (or str), or nested lists of them."""


@dataclass(frozen=True)
class InputBlock:
    """One variable among the inputs: its name, shape and first flat index."""

    name: str
    shape: tuple[int, ...]
    start: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def stop(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class SymbolicDisplay:
    """Display forms of a symbolic result, made on first use (they can be costly)."""

    pretty: Callable[[], str]
    latex: Callable[[], Nested]
    operations: Callable[[], int]
    """SymPy's ``count_ops`` total of the result (a table elides a form above ``SYMBOLIC_DISPLAY_LIMIT``)."""
    blocks: Callable[[], list[tuple[str, str]] | None] = lambda: None
    """The pretty form in the numeric tables' layout, as (title, block) pairs; None: :attr:`pretty` has it."""


@dataclass(frozen=True)
class Result:
    """A derivative at one point, with labels, the value f(x) and the symbolic form.

    ``command`` to ``axes`` come from the quantity (:meth:`jacli.quantities.Quantity.presentation`):
    the renderers lay a result out by its ``axes`` (``out``: one entry per output, ``in``: per input).
    """

    command: str
    title: str
    """``Jacobian ∂f/∂x``."""
    label: str
    """``J``, ``∇f``: a vector's row or column label, the name of entries at many points."""
    symbol: str
    """LaTeX: ``J``, ``\\nabla f``."""
    axes: tuple[str, ...]
    """``("out", "in")``, ``("in",)``, ``("in", "in")``, …: one name per axis of ``result``."""
    expression: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    blocks: tuple[InputBlock, ...]
    point: dict[str, Nested] | None
    """None for a symbolic answer without a point (then ``value`` and ``result`` are None too)."""
    value: tuple[float, ...] | None
    result: Nested
    shape: tuple[int, ...]
    symbolic: Nested | None = None
    exact: Nested | None = None
    v: tuple[float | str, ...] | None = None
    """``--v``: numbers, or names for a symbolic ``--v`` (``("v0", "v1")``)."""
    mode: str | None = None
    bindings: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    extra: tuple[tuple[str, Nested], ...] = ()
    """More JSON keys of the quantity, before ``result``: a Taylor polynomial's ``polynomial`` and ``terms``."""
    facts: dict[str, Any] = field(default_factory=dict)
    """What the result says besides its numbers, as JSON keys after the others (a scalar f's Hessian:
    ``eigenvalues``, ``definiteness``, ``critical_point``)."""
    facts_line: str | None = None
    """The same in words, one line under the table: ``positive definite: a local minimum``."""
    symbolic_display: SymbolicDisplay | None = field(default=None, repr=False, compare=False)
    """The symbolic result drawn for a table (pretty) and LaTeX, made on first use."""
    tensor: Any = field(default=None, repr=False, compare=False)
    """The numeric result as a torch tensor (``--dtype``, ``--device``)."""
    symbolic_exprs: Any = field(default=None, repr=False, compare=False)
    """The symbolic result as nested SymPy expressions (``symbolic`` holds them as text, as in JSON)."""
    symbolic_matrix: Any = None
    """The result in matrix notation (:class:`jacli.matrix_form.MatrixForm`: ``text``, ``unicode``, ``latex``),
    checked against the numbers; None when there is none."""
    shapes: dict[str, tuple[int | str, ...]] = field(default_factory=dict)
    """Each variable's shape (from the point, or ``--shape``): a dimension may be a name (``"n"``)."""

    @property
    def sympy(self) -> Any:
        """``symbolic_exprs`` under its earlier name (the README's Python example uses it)."""
        return self.symbolic_exprs

    @property
    def finite(self) -> bool:
        """True when every number in the value and the result is finite (a symbolic answer has none)."""
        if self.point is None:
            return True
        return _all_finite(self.result) and all(math.isfinite(x) for x in self.value)


def _all_finite(nested: Nested) -> bool:
    """Every number among the leaves is finite (a polynomial is text, not checked); rows in one C loop."""
    if isinstance(nested, list | tuple):
        try:
            return all(map(math.isfinite, nested))
        except TypeError:  # lists or text among the items
            return all(_all_finite(x) for x in nested)
    return isinstance(nested, str) or math.isfinite(nested)


def flatten(nested: Nested) -> list[Any]:
    """The leaves of nested lists, in order."""
    if isinstance(nested, list | tuple):
        return [leaf for item in nested for leaf in flatten(item)]
    return [nested]


# ---------------------------------------------------------------------------
# check and graph (issue 6).
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """``jacli check``: the Jacobian three ways (m×n each), their errors and the verdict."""

    expression: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    point: dict[str, Nested]
    value: tuple[float, ...]
    autodiff: Nested
    exact: Nested
    finite_difference: Nested
    max_abs_error: dict[str, float]
    """Keys ``autodiff`` and ``finite_difference``: max |method - exact| over the entries."""
    max_rel_error: dict[str, float]
    """Same keys: max |method - exact| / max(|method|, |exact|) (0 where both are 0)."""
    ok: bool
    rtol: float
    atol: float
    h: float
    """The base finite-difference step (scaled by max(1, |x_j|) unless --h was given)."""
    richardson: bool
    dtype: str
    mode: str
    nonsmooth: tuple[str, ...] = ()
    """Non-smooth sub-expressions at the point, e.g. ``abs(x - 1): kink (x - 1 = 0)``."""
    not_differentiable: tuple[str, ...] = ()
    """Inputs along which the one-sided derivatives differ: the derivative does not exist."""
    mismatches: tuple[str, ...] = ()
    """Entries where autodiff and the reference disagree beyond atol + rtol·|reference|."""
    notes: tuple[str, ...] = ()
    nonfinite: tuple[str, ...] = ()
    """Values (``f``) and entries (``∂f/∂x``) that are nan or inf in f(x) or any column: never "agrees"."""
    reference: str = "exact"
    """What autodiff was compared with: ``exact``, or ``finite_difference`` when the exact column was skipped."""

    @property
    def verdict(self) -> str:
        """One line: OK, or why not."""
        if self.not_differentiable:
            return "FAIL: not differentiable here (" + "; ".join(self.not_differentiable) + ")"
        if self.nonfinite:
            return (
                f"FAIL: not finite here (nan/inf at {', '.join(self.nonfinite)}): "
                "no derivative to check, or the point is outside the domain"
            )
        against = "the exact derivative" if self.reference == "exact" else "finite differences"
        if self.mismatches:
            return f"FAIL: autodiff and {against} disagree at {', '.join(self.mismatches)}"
        within = f"rtol {self.rtol:g}, atol {self.atol:g}" + ("" if self.reference == "exact" else " + their error")
        return f"OK: autodiff agrees with {against} ({within})"


@dataclass(frozen=True)
class GraphNode:
    """A node of the computation graph: an input, a let-bound name, or an operation."""

    id: int
    op: str
    """``input``, ``parameter``, ``const`` or the operation: ``add``, ``mul``, ``pow``, ``log``, ``where``, …"""
    label: str
    """The variable (``x``, ``A[0,1]``), the bound name (``c``), or an automatic name (``c``, ``d``, …)."""
    definition: str
    """The operation over the operands' labels: ``a + b``, ``c*d``, ``log(a)``."""
    value: float
    adjoint: float
    """∂(seeded output)/∂node from the reverse pass."""
    tangent: float | None = None
    """∂node/∂(seeded input direction), forward mode only."""
    output: str | None = None
    """The output label (``f``, ``f0``) when this node is an output."""


@dataclass(frozen=True)
class GraphEdge:
    """An operand edge: ``target`` uses ``source``; ``partial`` is ∂target/∂source at the point."""

    source: int
    target: int
    partial: float


@dataclass(frozen=True)
class GraphResult:
    """``jacli graph``: nodes in topological order (inputs first), edges, and the seeds."""

    expression: str
    point: dict[str, Nested]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    mode: str
    v: tuple[float, ...]
    """Reverse mode: the output weights (a VJP). Forward mode: the input tangent (a JVP)."""
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    notes: tuple[str, ...] = ()

    def node(self, label: str) -> GraphNode:
        """The node labelled ``label``."""
        return next(n for n in self.nodes if n.label == label)
