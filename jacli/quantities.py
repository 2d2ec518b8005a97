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
>>> [QUANTITIES["curl"].shape(outputs=n, inputs=n, scalar_output=False) for n in (3, 2)]
[(3,), ()]
>>> QUANTITIES["divergence"].misfit(outputs=2, inputs=3)
'divergence needs as many outputs as inputs (f: Rⁿ→Rⁿ), but f has 2 outputs and 3 inputs'
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from jacli.errors import UsageError
from jacli.limits import MAX_DERIVATIVE_ORDER

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
class QuantityOption:
    """A parameter of a quantity, an option of its command: ``--order K``, a whole number."""

    name: str
    """The keyword (``order``): ``options={"order": 3}`` in the API, ``--order 3`` on the command line."""
    help: str
    default: int | None = None
    """None: the option must be given."""
    minimum: int = 0
    maximum: int | None = None
    """None: no upper bound."""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def read(self, value: Any) -> int:
        """``value`` (an int, or text from the command line) as a whole number in range, else exit 2."""
        if value is None:
            if self.default is None:
                raise UsageError(f"{self.flag} is required: a whole number ≥ {self.minimum}")
            return self.default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):  # ASCII digits only: not '²'
            number = int(value.strip())
        shown = repr(value[:40]) if isinstance(value, str) else repr(value) if _printable(value) else "a larger number"
        if number is None or number < self.minimum:
            raise UsageError(f"{self.flag} must be a whole number ≥ {self.minimum}, not {shown}")
        if self.maximum is not None and number > self.maximum:
            raise UsageError(
                f"{self.flag} must be at most {self.maximum}, not {shown}: each order nests one more "
                "reverse pass and their cost grows geometrically (see 'Limits and safety' in the README)"
            )
        return number


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,30}")


def _printable(value: Any) -> bool:
    """A value whose repr is short (a huge int's would be thousands of digits, or refused by Python)."""
    return not isinstance(value, int) or abs(value) < 10**30


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
    options: tuple[QuantityOption, ...] = ()
    """Its parameters (``--order K``): :meth:`resolve` turns them into a quantity of fixed shape."""
    specialise: Callable[[Quantity, Mapping[str, int]], Quantity] | None = None
    """``(quantity, options read) -> the quantity for those options`` (axes, computations), by :meth:`resolve`."""
    matrix_form: Callable[..., Any] | None = None
    """``(f, wrt, variables, v) -> the result in matrix notation`` (:mod:`jacli.matrix_results`: the
    Matrix Cookbook's rules on :mod:`jacli.matrix_expr` trees); None: no matrix form."""
    present: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """Rewrites a one-point result's fields (the numbers and symbolic form computed) into the shown ones:
    the Taylor polynomial from its terms. None: shown as computed."""

    def resolve(self, given: Mapping[str, Any] | None = None) -> Quantity:
        """The quantity for the options ``given`` (read and checked, exit 2 when bad); itself without options.

        >>> QUANTITIES["derivative"].resolve({"order": 3}).axes
        ('out', 'in', 'in', 'in')
        """
        given = dict(given or {})
        unknown = sorted(set(given) - {o.name for o in self.options})
        if unknown:
            raise UsageError(f"{self.name} takes no option {unknown[0]!r}")
        if not self.options:
            return self
        values = {o.name: o.read(given.get(o.name)) for o in self.options}
        assert self.specialise is not None
        return dataclasses.replace(self.specialise(self, values), options=())

    requires: Callable[[int, int], str | None] | None = None
    """The shape rule beyond ``scalar``: ``(outputs, inputs) -> why f does not fit`` (exit 2), or None when it does."""
    sized_axes: Callable[[int, int], tuple[str, ...]] | None = None
    """The axes when they depend on the sizes ``(outputs, inputs)``: the curl of a plane field is one number."""
    facts: Facts | None = None
    """What the result says besides its numbers, per point (JSON keys and a table line); None: nothing."""

    def axes_for(self, *, scalar_output: bool, outputs: int = 0, inputs: int = 0) -> tuple[str, ...]:
        """The axes for an f whose output shape is ``()`` (``scalar_output``) or not, of these sizes."""
        if self.sized_axes is not None:
            return self.sized_axes(outputs, inputs)
        if self.drops_scalar_output and scalar_output:
            return self.axes[1:]
        return self.axes

    def shape(self, *, outputs: int, inputs: int, scalar_output: bool) -> tuple[int, ...]:
        """The result's shape at one point."""
        sizes = {"out": outputs, "in": inputs}
        axes = self.axes_for(scalar_output=scalar_output, outputs=outputs, inputs=inputs)
        return tuple(sizes[axis] for axis in axes)

    def misfit(self, *, outputs: int, inputs: int) -> str | None:
        """Why an f of these sizes cannot have this quantity (the ``jacli: error:`` text), or None."""
        return None if self.requires is None else self.requires(outputs, inputs)

    def chunk_width(self, *, outputs: int, inputs: int) -> int:
        """Intermediates per row relative to one pass of f: sets the chunk size (:func:`jacli.batch.chunk_rows`)."""
        if self.limited is None:
            return 1
        if len(self.limited) > 3:  # a tensor of order 3 or more: each row holds all of it
            sizes = {"out": outputs, "in": inputs}
            return math.prod(sizes[axis] for axis in self.limited)
        if self.modes:  # one pass per input or per output, whichever is fewer
            return min(outputs, inputs)
        return outputs * inputs

    def presentation(self, *, scalar_output: bool, outputs: int = 0, inputs: int = 0) -> dict[str, Any]:
        """What a :class:`~jacli.results.Result` carries of the quantity: plain data for the renderers."""
        return {
            "command": self.name,
            "title": self.title,
            "label": self.label,
            "symbol": self.symbol,
            "axes": self.axes_for(scalar_output=scalar_output, outputs=outputs, inputs=inputs),
        }


@dataclass(frozen=True)
class Facts:
    """What a result says besides its numbers: computed per point, shown as JSON keys and one table line."""

    applies: Callable[[int, int, bool], bool]
    """``(outputs, inputs, scalar_output) -> whether f has these facts`` (the Hessian's: a scalar f)."""
    numeric: Callable[[Any, Any, Any, Any, Any], dict[str, Any]]
    """``(setup, x, p, value, result) -> named tensors with one row per point`` (:mod:`jacli.batch`)."""
    describe: Callable[[dict[str, Any], float], dict[str, Any]]
    """``(one point's named values as floats and lists, the dtype's eps) -> the JSON keys, in order``."""
    line: Callable[[dict[str, Any]], str]
    """The JSON keys -> the table's one line."""


# ---------------------------------------------------------------------------
# The computations, imported when they run.
# ---------------------------------------------------------------------------


def _batch() -> Any:
    from jacli import batch  # noqa: PLC0415

    return batch


def _matrix() -> Any:
    from jacli import matrix_results  # noqa: PLC0415

    return matrix_results


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


def _higher() -> Any:
    from jacli import higher  # noqa: PLC0415

    return higher


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _ordinal(k: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd``."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _derivative(q: Quantity, order: int) -> Quantity:
    """``derivative --order K``: K input axes after the outputs axis, each distinct partial once."""
    power = str(order).translate(_SUPERSCRIPTS)
    axes = ("out",) + ("in",) * order
    return dataclasses.replace(
        q, noun=f"{_ordinal(order)} derivative", title=f"{_ordinal(order)} derivative ∂{power}f/∂x{power}",
        label=f"D{power}f", symbol=f"D^{{{order}}} f", axes=axes, limited=axes,
        numeric=lambda s, x, p: _batch().derivative(s, x, p, order),
        symbolic=lambda d, fs, xs, w: _higher().derivative_tensor(d, fs, xs, order),
        show_torch=lambda ctx, inputs, w, mode: _programs().derivative_lines(ctx, order),
    )  # fmt: skip


def _taylor(q: Quantity, order: int) -> Quantity:
    """``taylor --order K``: the terms of orders 0..K computed, the polynomial shown (:attr:`Quantity.present`)."""
    return dataclasses.replace(
        q, title=f"Taylor polynomial of order {order}",
        limited=("out",) + ("in",) * order,
        numeric=lambda s, x, p: _batch().taylor_terms(s, x, p, order),
        symbolic=lambda d, fs, xs, w: _higher().taylor_terms(d, fs, xs, order),
        show_torch=lambda ctx, inputs, w, mode: _programs().taylor_lines(ctx, order),
        present=lambda fields: _higher().present_taylor(fields, order),
    )  # fmt: skip


def _divergence_misfit(outputs: int, inputs: int) -> str | None:
    if outputs == inputs:
        return None
    return (
        f"divergence needs as many outputs as inputs (f: Rⁿ→Rⁿ), but f has {_count(outputs, 'output')} "
        f"and {_count(inputs, 'input')}"
    )


def _curl_misfit(outputs: int, inputs: int) -> str | None:
    if (outputs, inputs) in ((2, 2), (3, 3)):
        return None
    return (
        "curl needs f: R³→R³ (3 outputs of 3 inputs) or f: R²→R² (2 outputs of 2 inputs), "
        f"but f has {_count(outputs, 'output')} and {_count(inputs, 'input')}"
    )


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


def _divergence(d: Differentiator, outputs: Sequence[Any], inputs: Sequence[Any]) -> Any:
    """Σᵢ ∂fᵢ/∂xᵢ: only the Jacobian's diagonal is derived."""
    import sympy

    return sympy.Add(*(d.derivative(f, x) for f, x in zip(outputs, inputs, strict=True)))


def _curl(d: Differentiator, outputs: Sequence[Any], inputs: Sequence[Any]) -> Any:
    """The 3-vector (∂f₂/∂x₁ − ∂f₁/∂x₂, ∂f₀/∂x₂ − ∂f₂/∂x₀, ∂f₁/∂x₀ − ∂f₀/∂x₁), or its last entry in the plane."""
    f, x = outputs, inputs

    def rotation(i: int, j: int) -> Any:  # ∂f_j/∂x_i − ∂f_i/∂x_j
        return d.derivative(f[j], x[i]) - d.derivative(f[i], x[j])

    if len(f) == 2:
        return rotation(0, 1)
    return [rotation(1, 2), rotation(2, 0), rotation(0, 1)]


def _hessian_facts() -> Facts:
    def describe(values: dict[str, Any], eps: float) -> dict[str, Any]:
        from jacli import curvature  # noqa: PLC0415

        return curvature.describe(values["eigenvalues"], values["gradient"], values["value"], eps)

    def line(keys: dict[str, Any]) -> str:
        from jacli import curvature  # noqa: PLC0415

        return curvature.line(keys)

    return Facts(
        applies=lambda outputs, inputs, scalar_output: scalar_output and inputs > 0,
        numeric=lambda s, x, p, value, result: _batch().hessian_facts(s, x, p, value, result),
        describe=describe,
        line=line,
    )


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
            matrix_form=lambda *a: _matrix().jacobian(*a),
        ),
        Quantity(
            "gradient", "gradient", "gradient ∇f", "∇f", r"\nabla f", ("in",),
            help="Gradient (n-vector) of a scalar expression at a point.",
            example='"x1**2 + x2**3 + x3**4" --at 1,2,3',
            numeric=lambda s, x, p: _batch().gradient(s, x, p),
            symbolic=lambda d, fs, xs, w: d.jacobian(fs, xs)[0],
            show_torch=lambda ctx, inputs, w, mode: _programs().backward_lines(ctx, None),
            scalar=True, program_backward=True,
            matrix_form=lambda *a: _matrix().gradient(*a),
        ),
        Quantity(
            "hessian", "Hessian", "Hessian ∂²f/∂x²", "H", "H", ("out", "in", "in"),
            help="Hessian at a point: n×n for a scalar expression, m×n×n for a vector-valued one.",
            example='"x0**2*x1, x0*x1**3" --at 1,2',
            numeric=lambda s, x, p: _batch().hessian(s, x, p),
            symbolic=lambda d, fs, xs, w: d.hessian(fs, xs),
            show_torch=lambda ctx, inputs, w, mode: _programs().hessian_lines(ctx),
            drops_scalar_output=True, limited=("out", "in", "in"), facts=_hessian_facts(),
            matrix_form=lambda *a: _matrix().hessian(*a),
        ),
        Quantity(
            "vjp", "VJP", "VJP vᵀJ", "vᵀJ", "v^T J", ("in",),
            help="Vector-Jacobian product vᵀJ (reverse mode; v has one entry per output).",
            example='"2*x0+x1**2, x0**2+2*x1**3" --at 1,2 --v 1,2',
            numeric=lambda s, x, p: _batch().vjp(s, x, p),
            symbolic=lambda d, fs, xs, w: _combine(w, d.jacobian(fs, xs)),
            show_torch=lambda ctx, inputs, w, mode: _programs().backward_lines(ctx, w),
            weights="out", program_backward=True,
            matrix_form=lambda *a: _matrix().vjp(*a),
        ),
        Quantity(
            "jvp", "JVP", "JVP J·v", "J·v", "J v", ("out",),
            help="Jacobian-vector product J·v (forward mode; v has one entry per input).",
            example='"2*x0+x1**2, x0**2+2*x1**3" --at 1,2 --v 1,0',
            numeric=lambda s, x, p: _batch().jvp(s, x, p),
            symbolic=lambda d, fs, xs, w: _combine(w, _transpose(d.jacobian(fs, xs))),
            show_torch=lambda ctx, inputs, w, mode: _programs().jvp_lines(ctx, inputs, w),
            weights="in",
            matrix_form=lambda *a: _matrix().jvp(*a),
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
            matrix_form=lambda *a: _matrix().hvp(*a),
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
        Quantity(
            "derivative", "derivative", "derivative ∂ᴷf/∂xᴷ", "Dᴷf", "D^K f", ("out", "in"),
            help="K-th derivative tensor (outputs × inputs × … × inputs, K times) at a point; --order K.",
            example='"x**3*y" --order 3 --at x=1,y=2',
            numeric=lambda s, x, p: _batch().derivative(s, x, p, 1),
            symbolic=lambda d, fs, xs, w: d.jacobian(fs, xs),
            show_torch=lambda ctx, inputs, w, mode: _programs().derivative_lines(ctx, 1),
            options=(QuantityOption("order", "The order K of the derivative: 1 is the Jacobian, 2 the Hessian.",
                                    minimum=1, maximum=MAX_DERIVATIVE_ORDER),),
            specialise=lambda q, options: _derivative(q, options["order"]),
        ),
        Quantity(
            "taylor", "Taylor polynomial", "Taylor polynomial", "T", "T", ("out",),
            help="Taylor polynomial of order K (default 2) around a point, in powers of (x - a); --order K.",
            example='"exp(x)*y" --at x=0,y=1 --order 2',
            numeric=lambda s, x, p: _batch().taylor_terms(s, x, p, 2),
            symbolic=lambda d, fs, xs, w: _higher().taylor_terms(d, fs, xs, 2),
            show_torch=lambda ctx, inputs, w, mode: _programs().taylor_lines(ctx, 2),
            options=(QuantityOption("order", "The order K of the polynomial (K ≥ 0).", default=2,
                                    maximum=MAX_DERIVATIVE_ORDER),),
            specialise=lambda q, options: _taylor(q, options["order"]),
        ),
        Quantity(
            "divergence", "divergence", "divergence ∇·f", "∇·f", r"\nabla \cdot f", (),
            help="Divergence Σᵢ ∂fᵢ/∂xᵢ of f: Rⁿ→Rⁿ at a point (one number).",
            example='"x*y, y*z, z*x" --at 1,2,3',
            numeric=lambda s, x, p: _batch().divergence(s, x, p),
            symbolic=lambda d, fs, xs, w: _divergence(d, fs, xs),
            show_torch=lambda ctx, inputs, w, mode: _programs().divergence_lines(ctx),
            requires=_divergence_misfit,
        ),
        Quantity(
            "curl", "curl", "curl ∇×f", "∇×f", r"\nabla \times f", ("in",),
            help="Curl ∇×f of f: R³→R³ (a 3-vector) or of f: R²→R² (one number) at a point.",
            example='"x*y, y*z, z*x" --at 1,2,3',
            numeric=lambda s, x, p: _batch().curl(s, x, p),
            symbolic=lambda d, fs, xs, w: _curl(d, fs, xs),
            show_torch=lambda ctx, inputs, w, mode: _programs().curl_lines(ctx),
            requires=_curl_misfit, sized_axes=lambda outputs, inputs: ("in",) if inputs == 3 else (),
        ),
    )
}  # fmt: skip
"""Every derivative command, in the order ``jacli --help`` lists them."""
