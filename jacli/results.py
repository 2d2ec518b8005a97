"""Results of jacli's computations: plain floats and strings (stdlib only).

Renderers read these and nothing else; the tensor and SymPy objects ride along
for Python users (``result.tensor``, ``result.sympy``) but no renderer needs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jacli.limits import SYMBOLIC_DISPLAY_LIMIT  # noqa: F401 - render.table imports it from here

Nested = Any
"""A float (or str), or nested lists of them."""

COMMAND_TITLES = {
    "jacobian": "Jacobian ∂f/∂x",
    "gradient": "gradient ∇f",
    "hessian": "Hessian ∂²f/∂x²",
    "vjp": "VJP vᵀJ",
    "jvp": "JVP J·v",
    "hvp": "HVP H·v",
}


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
class SymbolicText:
    """Display forms of a symbolic result, made on first use (they can be costly)."""

    pretty: Callable[[], str]
    latex: Callable[[], Nested]
    operations: int


@dataclass(frozen=True)
class Result:
    """A derivative at one point, with labels, the value f(x) and the symbolic form."""

    command: str
    expression: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    blocks: tuple[InputBlock, ...]
    point: dict[str, Nested]
    value: tuple[float, ...]
    result: Nested
    shape: tuple[int, ...]
    symbolic: Nested | None = None
    exact: Nested | None = None
    v: tuple[float, ...] | None = None
    mode: str | None = None
    bindings: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    text: SymbolicText | None = field(default=None, repr=False, compare=False)
    tensor: Any = field(default=None, repr=False, compare=False)
    sympy: Any = field(default=None, repr=False, compare=False)

    @property
    def finite(self) -> bool:
        """True when every number in the value and the result is finite."""
        return all(math.isfinite(x) for x in flatten(self.result)) and all(math.isfinite(x) for x in self.value)

    def _repr_latex_(self) -> str:
        """LaTeX for Jupyter: the symbolic result (when present) and the numbers."""
        from jacli.render.latex import render_latex  # noqa: PLC0415 - on display only; latex needs results for types only

        return "$$" + render_latex(self, document=False) + "$$"


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
