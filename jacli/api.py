"""jacli's Python API: derivatives of an expression at a point.

Each function chains the stages parse -> compile -> differentiate and returns a
:class:`~jacli.results.Result`; the CLI is a thin layer over these.

>>> r = jacobian("2*x0+x1**2, x0**2+2*x1**3", at="1,2")
>>> r.result, r.value
([[2.0, 4.0], [2.0, 24.0]], (6.0, 17.0))
>>> vjp("3*a**3 - b**2", at="a=[1,2], b=[2,3]", v="1,1").result
[9.0, 36.0, -4.0, -6.0]
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy
import torch

from jacli import batch, calculus, language, layout, symbolic, symbolic_result
from jacli.batch import PointsEvaluation
from jacli.compile import TorchFunction
from jacli.errors import ShapeError, UsageError
from jacli.problem import (
    DTYPES,
    Problem,
    as_device,
    as_dtype,
    as_tensor,
    compiled_for,
    parse,
    problem,
    program_for,
    validate_points,
)
from jacli.quantities import QUANTITIES, Quantity
from jacli.results import InputBlock, Result, SymbolicDisplay
from jacli.values import (
    Point,
    assign_point,
    fixed_values,
    one_of,
    option_number,
    parse_vector,
    short,
    wrt_names,
)

if TYPE_CHECKING:
    from torch import Tensor


__all__ = [
    "DTYPES", "Point", "PointsEvaluation", "Problem", "Result", "check", "curl", "divergence", "evaluate",
    "evaluate_at", "evaluate_points", "gradient", "graph", "hessian", "hvp", "jacobian", "jvp", "laplacian",
    "option_number", "parse", "parse_vector", "problem", "torch_program", "validate_points", "vjp", "wrt_names",
]  # fmt: skip

# the names check and graph use (they move out of this module)
_one_of, _short = one_of, short
_Skipped, _within = symbolic_result.Skipped, symbolic_result.within
_flatten_exprs, _unflatten = symbolic_result.flatten_exprs, symbolic_result.unflatten

MAX_DIMS = 32
"""Most dimensions of an array value (NumPy's own limit)."""


def _quantity(quantity: Quantity | str) -> Quantity:
    if isinstance(quantity, Quantity):
        return quantity
    if not isinstance(quantity, str) or quantity not in QUANTITIES:
        raise UsageError(f"cannot evaluate {short(quantity)}; one of {', '.join(QUANTITIES)}")
    return QUANTITIES[quantity]


def _check_mode(quantity: Quantity, mode: Any) -> None:
    if quantity.modes and not one_of(mode, calculus.MODES):
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {short(mode)}")


@dataclass(frozen=True)
class _Plan:
    """A quantity of one program with its ``--v`` and mode settled: what one chunk of points needs."""

    quantity: Quantity
    program: language.Program
    inputs: list[sympy.Symbol]
    setup: Any  # batch.Setup
    weights: list[sympy.Expr] | None
    mode: str | None
    shape: tuple[int, ...]
    """The result's shape at one point."""
    eps: float = 2.0**-52
    """The dtype's machine epsilon: the tolerances of the quantity's facts."""

    @property
    def scalar_output(self) -> bool:
        return not self.program.output_shape

    @property
    def drops_output(self) -> bool:
        return self.quantity.drops_scalar_output and self.scalar_output

    def numeric(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        """(rows, n), (rows, k) -> value (rows, m), result (rows, *shape)."""
        value, result = self.quantity.numeric(self.setup, x, p)
        return value, result[:, 0] if self.drops_output else result

    @property
    def facts(self) -> Any:
        """The quantity's :class:`~jacli.quantities.Facts` when f has them (a scalar f's Hessian), else None."""
        facts = self.quantity.facts
        n, m = len(self.inputs), len(self.program.outputs)
        return facts if facts is not None and facts.applies(m, n, self.scalar_output) else None

    def numeric_with_facts(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor, list[dict[str, Any]] | None]:
        """:meth:`numeric`, and each point's facts (JSON keys) when the quantity has them for this f."""
        value, result = self.numeric(x, p)
        facts = self.facts
        if facts is None:
            return value, result, None
        named = facts.numeric(self.setup, x, p, value, result)
        lists = {key: t.detach().to("cpu", torch.float64).tolist() for key, t in named.items()}
        rows = [{key: column[i] for key, column in lists.items()} for i in range(x.shape[0])]
        return value, result, [facts.describe(row, self.eps) for row in rows]

    def symbolic(self) -> Any:
        """The symbolic result: nested SymPy expressions in the result's shape."""
        exprs = self.quantity.symbolic(
            symbolic.Differentiator(self.program), self.program.outputs, self.inputs, self.weights
        )
        return exprs[0] if self.drops_output else exprs

    @property
    def presentation(self) -> dict[str, Any]:
        return self.quantity.presentation(
            scalar_output=self.scalar_output, outputs=len(self.program.outputs), inputs=len(self.inputs)
        )

    @property
    def v(self) -> tuple[float, ...] | None:
        return None if self.weights is None else tuple(language.constant_value(w) for w in self.weights)


def _plan(
    quantity: Quantity,
    program: language.Program,
    fn: TorchFunction,
    order: Sequence[str],
    v: Any,
    mode: str,
    dtype: torch.dtype,
    device: torch.device,
) -> _Plan:
    """Check the program against the quantity (scalar, size), read ``--v``, choose the mode."""
    from jacli import sparse  # noqa: PLC0415

    inputs = [s for name in order for s in program.variable(name).symbols]
    n, m = len(inputs), len(program.outputs)
    if quantity.scalar and m != 1:
        raise ShapeError(
            f"{quantity.name} needs a scalar expression, but this one has {m} outputs "
            f"(shape {program.output_shape}); use jacobian or hessian"
        )
    misfit = quantity.misfit(outputs=m, inputs=n)
    if misfit is not None:
        raise ShapeError(misfit)
    sizes = {"out": m, "in": n}
    if quantity.limited is not None:  # the same limit at one point and at many
        language.check_result_size(quantity.noun, tuple(sizes[axis] for axis in quantity.limited))
    weights, weights_tensor = None, None
    if quantity.weights is not None:
        labels = list(program.output_labels) if quantity.weights == "out" else [s.name for s in inputs]
        weights = parse_vector(v, len(labels), labels, quantity.name)
        weights_tensor = as_tensor([language.scalar(w) for w in weights], dtype, device)
    chosen = calculus.choose_mode(mode, n, m) if quantity.modes else None
    setup = batch.Setup(
        fn, weights_tensor, chosen, hessian_patterns=functools.partial(sparse.sparse_patterns, program, inputs)
    )
    shape = quantity.shape(outputs=m, inputs=n, scalar_output=not program.output_shape)
    return _Plan(quantity, program, inputs, setup, weights, chosen, shape, torch.finfo(dtype).eps)


def evaluate_at(
    quantity: Quantity | str,
    expr: str,
    at: Point,
    v: Any = "ones",
    *,
    wrt: str | Sequence[str] | None = None,
    mode: str = "auto",
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """``quantity`` of ``expr`` at one point: a chunk of one row, with the symbolic form and ``--exact``."""
    quantity = _quantity(quantity)
    _check_mode(quantity, mode)
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    order = [var.name for var in prob.inputs]
    x, p = prob.inputs_tensor, prob.params_tensor
    plan = _plan(quantity, prob.program, prob.compiled, order, v, mode, x.dtype, x.device)
    value, numeric, facts = plan.numeric_with_facts(x[None], p[None])
    exprs = symbolic_result.derive(plan.symbolic) if symbolic_form else None
    return _one_point_result(
        plan, prob, value[0], numeric[0], exprs, exact=exact, facts=None if facts is None else facts[0]
    )


def _one_point_result(
    plan: _Plan, prob: Problem, value: Tensor, numeric: Tensor, exprs: Any, *, exact: bool, facts: Any = None
) -> Result:
    """The numbers, the value f(x) and (when asked) the symbolic form and its exact value, as a :class:`Result`."""
    display, symbolic_cells, exact_cells = None, None, None
    notes: tuple[str, ...] = ()
    if isinstance(exprs, symbolic_result.Skipped):  # the numbers still come out
        notes = (f"symbolic form skipped: {exprs.reason}" + ("; so is --exact" if exact else ""),)
        exprs, exact = None, False
    if exprs is not None:
        symbolic_cells = symbolic.to_text(exprs)
        operations = symbolic.operation_count(exprs)
        display = SymbolicDisplay(
            pretty=functools.cache(lambda: symbolic.to_pretty(exprs)),
            latex=functools.cache(lambda: symbolic.to_latex(exprs)),
            operations=operations,
        )
        if exact:
            exact_cells, exact_notes = symbolic_result.exact_cells(exprs, prob.program.bindings, prob.exact_point())
            notes += exact_notes
    elif exact:
        raise UsageError("--exact needs the symbolic result; drop --no-symbolic")
    return DisplayedResult(
        **plan.presentation,
        expression=prob.program.text,
        inputs=tuple(s.name for s in prob.input_symbols),
        outputs=prob.program.output_labels,
        blocks=prob.blocks,
        point=prob.point_json(),
        value=tuple(value.detach().cpu().tolist()),
        result=numeric.detach().cpu().tolist(),
        shape=tuple(numeric.shape),
        symbolic=symbolic_cells,
        exact=exact_cells,
        v=plan.v,
        mode=plan.mode,
        bindings=symbolic_result.used_bindings(prob.program, exprs) if exprs is not None else (),
        notes=notes,
        symbolic_display=display,
        facts=facts or {},
        facts_line=plan.facts.line(facts) if facts else None,
        tensor=numeric.detach(),
        symbolic_exprs=exprs,
    )


class DisplayedResult(Result):
    """A :class:`Result` that Jupyter shows as LaTeX: the symbolic result (when present) and the numbers.

    The hook lives here, not on :class:`Result`: results.py imports no renderer.
    """

    def _repr_latex_(self) -> str:
        from jacli.render.latex import render_latex  # noqa: PLC0415 - on display only

        return "$$" + render_latex(self, document=False) + "$$"


def _symbolic_jacobian(prob: Problem) -> list[list[sympy.Expr]]:
    return symbolic.Differentiator(prob.program).jacobian(prob.program.outputs, prob.input_symbols)


# ---------------------------------------------------------------------------
# The named functions: one quantity each, at one point.
# ---------------------------------------------------------------------------


def jacobian(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    mode: str = "auto",
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """Jacobian of ``expr`` at ``at``: ``result`` is m×n (outputs × inputs), ``J[i][j] = ∂fᵢ/∂xⱼ``.

    Args:
        expr: the expression, e.g. ``"2*x0+x1**2, x0**2+2*x1**3"`` (m outputs).
        at: the point: ``"1,2"`` in variable order, ``"x=1, A=[[1,2],[3,4]]"``, a mapping or a list.
        wrt: the differentiation variables, in order (default: all, in order of appearance); the rest are
            parameters, held constant. Array variables count element by element: n inputs in all.
        mode: ``forward`` (one pass per input), ``reverse`` (one per output) or
            ``auto`` (forward when there are fewer inputs than outputs).
        dtype, device: how torch computes (``float64``/``float32``, ``cpu``/``cuda``).
        symbolic_form: also derive the symbolic Jacobian (``symbolic`` as text, ``symbolic_exprs`` as SymPy).
        exact: also evaluate it exactly at the point (``exact``: text such as ``sqrt(2)/2``).

    >>> r = jacobian("2*x0+x1**2, x0**2+2*x1**3", at="1,2")
    >>> r.result, r.shape, r.mode
    ([[2.0, 4.0], [2.0, 24.0]], (2, 2), 'reverse')
    """
    return evaluate_at("jacobian", expr, at, wrt=wrt, mode=mode, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def gradient(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """Gradient ∇f of a scalar ``expr`` at ``at``: ``result`` has shape (n,), one entry per input element.

    Args: as :func:`jacobian`; ``expr`` must have one output (else a :class:`ShapeError`).

    >>> gradient("x1**2 + x2**3 + x3**4", at="1,2,3").result
    [2.0, 12.0, 108.0]
    """
    return evaluate_at("gradient", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def hessian(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """Hessian ∂²f/∂x² at ``at``: shape (n, n) for a scalar ``expr``, (m, n, n) for a vector-valued one.

    Args: as :func:`jacobian`. Large sparse Hessians (one HVP per colour) are computed that way.

    >>> hessian("x0**2*x1", at="1,2").result
    [[4.0, 2.0], [2.0, 0.0]]
    """
    return evaluate_at("hessian", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def vjp(
    expr: str,
    at: Point = None,
    v: Any = "ones",
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """``vᵀJ`` by one reverse pass (like ``y.backward(gradient=v)``): shape (n,).

    Args: as :func:`jacobian`, and ``v``: one weight per output (m), ``"1,2"``, a list, or ``"ones"``.

    >>> vjp("3*a**3 - b**2", at="a=[1,2], b=[2,3]", v="1,1").result
    [9.0, 36.0, -4.0, -6.0]
    """
    return evaluate_at("vjp", expr, at, v, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def jvp(
    expr: str,
    at: Point = None,
    v: Any = "ones",
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """``J·v`` by one forward-mode pass: shape (m,).

    Args: as :func:`jacobian`, and ``v``: one entry per input element (n).

    >>> jvp("2*x0+x1**2, x0**2+2*x1**3", at="1,2", v="1,0").result
    [2.0, 2.0]
    """
    return evaluate_at("jvp", expr, at, v, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def hvp(
    expr: str,
    at: Point = None,
    v: Any = "ones",
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """``H·v`` of a scalar ``expr`` by forward over reverse, never forming H: shape (n,).

    Args: as :func:`jacobian`, and ``v``: one entry per input element (n).

    >>> hvp("x**2*y", at="x=1, y=2", v="1,0").result
    [4.0, 2.0]
    """
    return evaluate_at("hvp", expr, at, v, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def laplacian(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """Laplacian Δf = Σᵢ ∂²f/∂xᵢ² of each output: shape (m,), one number per output.

    Args: as :func:`jacobian`.

    >>> laplacian("x**2*y + y**3, x*y", at="x=1, y=2").result
    [16.0, 0.0]
    """
    return evaluate_at("laplacian", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def divergence(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """Divergence ∇·f = Σᵢ ∂fᵢ/∂xᵢ of f: Rⁿ→Rⁿ: ``result`` is one number (shape ``()``).

    Args: as :func:`jacobian`; f must have as many outputs as inputs (else a :class:`ShapeError`).
    Computed by n forward-mode passes, keeping the diagonal entry of each (the Jacobian is never stored).

    >>> divergence("x*y, y*z, z*x", at="x=1, y=2, z=3").result
    6.0
    """
    return evaluate_at("divergence", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


def curl(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """Curl ∇×f: shape (3,) for f: R³→R³, one number (shape ``()``) for f: R²→R² (∂f₁/∂x₀ − ∂f₀/∂x₁).

    Args: as :func:`jacobian`; other shapes of f raise a :class:`ShapeError`.

    >>> curl("x*y, y*z, z*x", at="x=1, y=2, z=3").result
    [-2.0, -3.0, -1.0]
    >>> curl("-y, x", at="x=1, y=2").result
    2.0
    """
    return evaluate_at("curl", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact)  # fmt: skip


# ---------------------------------------------------------------------------
# Many points: vectorised with torch.func.vmap over chunks, streamed.
# ---------------------------------------------------------------------------


def _input_blocks(program: language.Program, order: Sequence[str]) -> tuple[InputBlock, ...]:
    blocks, start = [], 0
    for name in order:
        var = program.variable(name)
        blocks.append(InputBlock(var.name, var.shape, start))
        start += var.size
    return tuple(blocks)


def _check_chunk_size(chunk_size: Any) -> None:
    integral = isinstance(chunk_size, numbers.Integral) and not isinstance(chunk_size, bool)
    if chunk_size is not None and not (integral and chunk_size >= 1):
        raise UsageError(f"--chunk-size must be a positive integer, not {short(chunk_size)}")


def evaluate(
    quantity: Quantity | str,
    expr: str,
    points: str | Any | Sequence[Point],
    *,
    at: Point = None,
    v: Any = "ones",
    wrt: str | Sequence[str] | None = None,
    mode: str = "auto",
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    chunk_size: int | None = None,
) -> PointsEvaluation:
    """``quantity`` (a :class:`~jacli.quantities.Quantity` or its name) of ``expr`` at many points, a chunk at a time.

    ``points``: a points file path (``-`` for stdin), a :class:`~jacli.points.PointsReader`,
    or a list of points like ``at``. With a file, ``at`` gives by name the variables that
    are not columns; without a header the columns are the variables in order (``wrt``
    first, then the parameters). Results stream: ``chunks`` computes a chunk when asked;
    each chunk's ``result`` has shape (rows, *shape) (:attr:`PointsEvaluation.shape`).

    >>> ev = evaluate("jacobian", "2*x0+x1**2, x0**2+2*x1**3", ["1,2", "0,0"])
    >>> [chunk.result.tolist() for chunk in ev.chunks]
    [[[[2.0, 4.0], [2.0, 24.0]], [[2.0, 0.0], [0.0, 0.0]]]]
    """
    from jacli.points import PointsReader, open_points  # noqa: PLC0415

    quantity = _quantity(quantity)
    _check_chunk_size(chunk_size)
    _check_mode(quantity, mode)
    torch_dtype, torch_device = as_dtype(dtype), as_device(device)
    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    reader, label_column, fixed, flat = None, None, {}, None
    if isinstance(points, str | PointsReader):
        reader = points if isinstance(points, PointsReader) else open_points(points)
        try:
            shapes_of, fixed, label_column = layout.file_layout(reader, parsed, order, fixed_values(at, parsed))
        except BaseException:
            reader.close()
            raise
    elif at is not None:
        raise UsageError("give the points either as a list or with --at, not both")
    elif isinstance(points, list | tuple):
        shapes_of, flat = layout.list_layout(parsed, [assign_point(parsed, order, point) for point in points])
    else:
        raise UsageError(f"points must be a file name, a PointsReader or a list of points, not {short(points)}")
    shapes = tuple((n, shapes_of[n]) for n in parsed.names)
    program = program_for(expr, shapes)
    fn = compiled_for(expr, shapes, order)
    plan = _plan(quantity, program, fn, order, v, mode, torch_dtype, torch_device)
    width = quantity.chunk_width(outputs=len(program.outputs), inputs=len(plan.inputs))
    rows = batch.chunk_rows(
        len(fn._steps) + len(plan.inputs), width + 1, None if chunk_size is None else int(chunk_size)
    )
    if reader is not None:
        source = ((chunk.values, chunk.first_line) for chunk in reader.chunks(rows))
    else:
        source = ((flat[i : i + rows], None) for i in range(0, len(flat), rows))
    return PointsEvaluation(
        **plan.presentation,
        expression=program.text,
        variables=shapes,
        inputs=tuple(s.name for s in plan.inputs),
        outputs=program.output_labels,
        blocks=_input_blocks(program, order),
        shape=plan.shape,
        mode=plan.mode,
        v=plan.v,
        chunks=batch.evaluate(
            plan.numeric_with_facts,
            layout.columns(program, order, fixed, label_column),
            source,
            torch_dtype,
            torch_device,
        ),
        source=reader,
        facts_line=plan.facts.line if plan.facts is not None else (lambda keys: ""),
        derive_symbolic=plan.symbolic if symbolic_form else None,
        bindings=tuple((b.symbol.name, sympy.sstr(b.value)) for b in program.bindings) if symbolic_form else (),
    )


def evaluate_points(
    command: Quantity | str, expr: str, points: str | Any | Sequence[Point], **options: Any
) -> PointsEvaluation:
    """:func:`evaluate` under its earlier name: ``command`` of ``expr`` at many points.

    >>> ev = evaluate_points("laplacian", "x**2*y", [[1, 2], [3, 4]])
    >>> [chunk.result.tolist() for chunk in ev.chunks]
    [[[4.0], [8.0]]]
    """
    return evaluate(command, expr, points, **options)


# ---------------------------------------------------------------------------
# Gradient checking, computation graphs (issue 6).
# Their modules are imported where used: the other commands never load them.
# ---------------------------------------------------------------------------


def check(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    h: float | None = None,
    richardson: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    mode: str = "auto",
    dtype: str = "float64",
    device: str = "cpu",
) -> Any:
    """The Jacobian three ways — autodiff, exact (SymPy at 30 digits), central differences — compared.

    Returns a :class:`~jacli.results.CheckResult`; ``ok`` is False when autodiff
    and the exact derivative disagree beyond ``atol + rtol·|exact|``, when the
    function is not differentiable at the point (a kink, a tie, a jump of any size),
    or when any of f(x) and the three columns is not finite (``jacli check`` then exits 1).

    The exact column and the non-smoothness tests run in the command's time budget
    (:class:`symbolic.Budget`); a part past it is skipped with a note, and the
    verdict compares what was computed: without the exact column, autodiff against
    finite differences within their estimated error.

    >>> r = check("x**2*y", at="x=1, y=2")
    >>> r.ok, r.autodiff, r.exact
    (True, [[4.0, 1.0]], [[4.0, 1.0]])
    >>> check("abs(x - 1)", at="x=1").not_differentiable
    ('f w.r.t. x',)
    >>> check("1/x", at="x=0").nonfinite
    ('f', '∂f/∂x')
    """
    from jacli import checking  # noqa: PLC0415
    from jacli.results import CheckResult  # noqa: PLC0415

    budget = symbolic.Budget()
    if not _one_of(mode, calculus.MODES):
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {_short(mode)}")
    h, rtol, atol = option_number("--h", h, positive=True), option_number("--rtol", rtol), option_number("--atol", atol)
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    program, outputs = prob.program, prob.program.output_labels
    inputs = tuple(s.name for s in prob.input_symbols)
    chosen = calculus.choose_mode(mode, prob.x.numel(), len(program.outputs))
    autodiff = calculus.jacobian(prob.function(), prob.x, chosen).detach().cpu().tolist()
    value = tuple(calculus.value(prob.function(), prob.x).cpu().tolist())
    step = h if h is not None else checking.default_step(prob.x.dtype, richardson)
    fd = checking.central_differences(prob.fn, prob.x, prob.p, step, scale=h is None, richardson=richardson)
    finite_difference = fd.detach().cpu().tolist()
    default_rtol, default_atol = checking.TOLERANCES[prob.x.dtype]
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    notes: list[str] = []

    exact = _check_exact(prob, budget, notes)
    if exact is None:  # compare autodiff with finite differences, within their estimated error
        reference, nan_matrix = "finite_difference", [[math.nan] * len(inputs) for _ in outputs]
        spread = checking.central_differences(prob.fn, prob.x, prob.p, step / 2, scale=h is None)
        slack = (4 * (fd - spread).abs() + 4 * torch.finfo(prob.x.dtype).eps / step).cpu().tolist()
        mismatches = checking.compare_within(autodiff, finite_difference, slack, rtol, atol)
        ad_errors = fd_errors = checking.Comparison(math.nan, math.nan, ())  # no exact column to measure from
        exact_shown = nan_matrix
    else:
        reference, exact_shown = "exact", exact
        ad_errors = checking.compare(autodiff, exact, rtol, atol)
        fd_errors = checking.compare(finite_difference, exact, rtol, atol)
        mismatches = ad_errors.mismatches
    nonfinite = checking.nonfinite_entries(value, [autodiff, finite_difference] + ([exact] if exact else []))
    reference_values = autodiff if exact is None else exact
    far = checking.fd_suspects(finite_difference, reference_values, prob.input_symbols, prob.x.dtype)
    sites, not_diff = _check_smoothness(prob, budget, notes, far)
    if sites and not not_diff:
        notes.insert(0, "non-smooth sub-expressions here, but the one-sided derivatives agree: differentiable")
    if not_diff:
        notes.insert(0, "autodiff and SymPy give a conventional value where no derivative exists")
    return CheckResult(
        expression=program.text,
        inputs=inputs,
        outputs=outputs,
        point=prob.point_json(),
        value=value,
        autodiff=autodiff,
        exact=exact_shown,
        finite_difference=finite_difference,
        max_abs_error={"autodiff": ad_errors.max_abs, "finite_difference": fd_errors.max_abs},
        max_rel_error={"autodiff": ad_errors.max_rel, "finite_difference": fd_errors.max_rel},
        ok=not mismatches and not not_diff and not nonfinite,
        rtol=rtol,
        atol=atol,
        h=step,
        richardson=richardson,
        dtype=dtype,
        mode=chosen,
        nonsmooth=tuple(str(s) for s in sites),
        not_differentiable=tuple(not_diff),
        mismatches=tuple(f"∂{outputs[i]}/∂{inputs[j]}" for i, j in mismatches),
        nonfinite=tuple(_entry_label(label, outputs, inputs) for label in nonfinite),
        reference=reference,
        notes=tuple(notes),
    )


def _entry_label(entry: int | tuple[int, int], outputs: Sequence[str], inputs: Sequence[str]) -> str:
    """``f`` for a value, ``∂f/∂x`` for a Jacobian entry."""
    if isinstance(entry, tuple):
        return f"∂{outputs[entry[0]]}/∂{inputs[entry[1]]}"
    return outputs[entry]


def _check_exact(prob: Problem, budget: symbolic.Budget, notes: list[str]) -> list[list[float]] | None:
    """The exact Jacobian at 30 digits, or None (with a note) when it does not fit in the budget."""
    decided: list[str] = []

    def compute() -> list[list[float]]:
        exprs = _symbolic_jacobian(prob)
        flat = symbolic.evaluate_numeric(
            _flatten_exprs(exprs), prob.program.bindings, prob.exact_point(), decided=decided
        )
        return _unflatten(flat, exprs)

    exact = _within(budget, compute)
    if decided:
        notes.append(symbolic.non_real_note(decided))
    if isinstance(exact, _Skipped):
        notes.append(f"exact derivative skipped: {exact.reason}; the verdict compares autodiff with finite differences")
        return None
    return exact


def _check_smoothness(
    prob: Problem, budget: symbolic.Budget, notes: list[str], suspects: Sequence[sympy.Symbol]
) -> tuple[list[Any], list[str]]:
    """Non-smooth sites and the inputs along which the function is not differentiable, in the budget.

    Probed: the inputs that a non-smooth site depends on, and those where finite
    differences are far from the reference (a jump that no site explains).
    """
    from jacli import checking  # noqa: PLC0415

    program, point = prob.program, prob.exact_point()
    sites = _within(budget, lambda: checking.nonsmooth_sites(program, point))
    if isinstance(sites, _Skipped):
        notes.append(f"non-smoothness test skipped: {sites.reason}")
        sites = []
    # only the inputs a non-smooth site depends on can lose differentiability there
    probed = [s for s in prob.input_symbols if s in suspects or any(s in site.depends_on for site in sites)]
    if not probed:
        return sites, []
    not_diff = _within(budget, lambda: checking.not_differentiable(program, probed, point, program.output_labels))
    if isinstance(not_diff, _Skipped):
        notes.append(f"differentiability test skipped: {not_diff.reason}")
        return sites, []
    return sites, not_diff


def graph(
    expr: str,
    at: Point = None,
    v: Any = None,
    *,
    wrt: str | Sequence[str] | None = None,
    mode: str = "reverse",
    input: str | None = None,
    dtype: str = "float64",
) -> Any:
    """The computation graph at a point: forward values, local partials, adjoints (or tangents).

    ``mode="reverse"``: adjoints ∂(Σ vᵢ fᵢ)/∂node, ``v`` over the outputs (default
    the first output). ``mode="forward"``: also tangents ∂node/∂x along ``v`` over
    the inputs, or along the input named ``input`` (default the first input).

    >>> g = graph("(a+b)*(b+1)", at="a=2, b=1")
    >>> [(n.label, n.value, n.adjoint) for n in g.nodes]
    [('a', 2.0, 2.0), ('b', 1.0, 5.0), ('c', 3.0, 2.0), ('d', 2.0, 3.0), ('e', 6.0, 1.0)]
    """
    from jacli import graphs  # noqa: PLC0415
    from jacli.results import GraphEdge, GraphNode, GraphResult  # noqa: PLC0415

    if not _one_of(mode, ("reverse", "forward")):
        raise UsageError(f"graph --mode must be reverse or forward, not {_short(mode)}")
    if input is not None and mode != "forward":
        raise UsageError("--input seeds forward mode; add --mode forward (reverse mode is seeded by --v)")
    prob = problem(expr, at, wrt=wrt, dtype=dtype)
    inputs, params = prob.input_symbols, [s for var in prob.params for s in var.symbols]
    g = graphs.computation_graph(
        prob.program, inputs + params, prob.x.tolist() + prob.p.tolist(),
        inputs=inputs, parsed=parse(expr), dtype=prob.x.dtype,
    )  # fmt: skip
    outputs, input_labels = prob.program.output_labels, [s.name for s in inputs]
    notes = []
    if mode == "reverse" and v is not None:
        weights = [language.constant_value(w) for w in parse_vector(v, len(outputs), outputs, "vjp")]
    else:
        weights = [1.0] + [0.0] * (len(outputs) - 1)
        if len(outputs) > 1:
            notes.append(f"adjoints of {outputs[0]}, the first output; --v weights the outputs (a VJP)")
    adjoints = g.adjoints(weights)
    tangents, seed = None, tuple(weights)
    if mode == "forward":
        if v is not None:
            direction = [language.constant_value(w) for w in parse_vector(v, len(input_labels), input_labels, "jvp")]
        else:
            chosen = input if input is not None else input_labels[0]
            if not _one_of(chosen, input_labels):
                raise UsageError(f"--input {_short(chosen)} is not an input (inputs: {', '.join(input_labels)})")
            direction = [float(label == chosen) for label in input_labels]
            if input is None and len(input_labels) > 1:
                notes.append(f"tangents ∂node/∂{chosen}, the first input; --input or --v picks another direction")
        node_of = {node.label: i for i, node in enumerate(g.nodes) if node.kind == "input"}
        pairs = zip(input_labels, direction, strict=True)
        tangents = g.tangents({node_of[label]: t for label, t in pairs if label in node_of})
        seed = tuple(direction)
    output_of: dict[int, str] = {}
    for label, node_id in zip(outputs, g.outputs, strict=True):
        output_of[node_id] = f"{output_of[node_id]}, {label}" if node_id in output_of else label
    nodes = tuple(
        GraphNode(
            id=i,
            op=n.op,
            label=n.label,
            definition=n.definition,
            value=n.value,
            adjoint=adjoints[i],
            tangent=None if tangents is None else tangents[i],
            output=output_of.get(i),
        )
        for i, n in enumerate(g.nodes)
    )
    edges = tuple(GraphEdge(e.source, e.target, e.partial) for e in g.edges)
    return GraphResult(
        expression=prob.program.text,
        point=prob.point_json(),
        inputs=tuple(input_labels),
        outputs=outputs,
        mode=mode,
        v=seed,
        nodes=nodes,
        edges=edges,
        notes=tuple(notes),
    )


def torch_program(
    command: Quantity | str,
    expr: str,
    at: Point = None,
    v: Any = "ones",
    *,
    wrt: str | Sequence[str] | None = None,
    mode: str = "auto",
    dtype: str = "float64",
    command_line: str = "",
) -> str:
    """``--show-torch``: a short runnable PyTorch program computing ``command`` of ``expr`` at ``at``.

    >>> print(torch_program("gradient", "x**2*y", at="x=1, y=2").splitlines()[-1])
    print(result.tolist())  # shape (2,): one entry per input element (x, y)
    """
    from jacli import torch_program as programs  # noqa: PLC0415

    quantity = _quantity(command)
    _check_mode(quantity, mode)
    prob = problem(expr, at, wrt=wrt, dtype=dtype)
    x = prob.inputs_tensor
    plan = _plan(quantity, prob.program, prob.compiled, [var.name for var in prob.inputs], v, mode, x.dtype, x.device)
    point = prob.point_json()
    return programs.torch_program(
        quantity,
        parse(expr),
        inputs=[(var.name, point[var.name]) for var in prob.inputs],
        params=[(var.name, point[var.name]) for var in prob.params],
        outputs=prob.program.output_labels,
        input_labels=[s.name for s in prob.input_symbols],
        dtype=dtype,
        v=plan.v,
        mode=plan.mode,
        command_line=command_line,
    )


DENSE_FUNC_HESSIAN_INPUTS = 32
"""From this many inputs, a dense Hessian uses torch.func (vectorised) instead of n autograd passes."""
