"""Results of jacli's computations: plain floats and strings (stdlib only).

Renderers read these and nothing else; the tensor and SymPy objects ride along
for Python users (``result.tensor``, ``result.sympy``) but no renderer needs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SYMBOLIC_DISPLAY_LIMIT = 2_000
"""Symbolic results with more operations than this are elided from tables (JSON keeps them)."""

Nested = Any
"""A float (or str), or nested lists of them."""

COMMAND_TITLES = {
    "jacobian": "Jacobian ∂f/∂x",
    "gradient": "gradient ∇f",
    "hessian": "Hessian ∂²f/∂x²",
    "vjp": "vector-Jacobian product vᵀJ",
    "jvp": "Jacobian-vector product J·v",
    "hvp": "Hessian-vector product H·v",
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
        from jacli.render.latex import render_latex  # noqa: PLC0415 - render imports results

        return "$$" + render_latex(self, document=False) + "$$"


def flatten(nested: Nested) -> list[Any]:
    """The leaves of nested lists, in order."""
    if isinstance(nested, list | tuple):
        return [leaf for item in nested for leaf in flatten(item)]
    return [nested]
