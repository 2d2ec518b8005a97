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
import numbers
from collections.abc import Iterator, Mapping, Sequence
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
    "DTYPES", "Point", "PointsEvaluation", "Problem", "Result", "check", "curl", "derivative", "divergence",
    "evaluate", "evaluate_at", "evaluate_points", "gradient", "graph", "hessian", "hvp", "jacobian", "jvp",
    "laplacian", "option_number", "parse", "parse_vector", "problem", "taylor", "torch_program", "validate_points",
    "vjp", "wrt_names",
]  # fmt: skip


def _quantity(quantity: Quantity | str, options: Mapping[str, Any] | None = None) -> Quantity:
    """The quantity (or its name) for its ``options`` (``{"order": 3}``): :meth:`Quantity.resolve`."""
    if not isinstance(quantity, Quantity):
        if not isinstance(quantity, str) or quantity not in QUANTITIES:
            raise UsageError(f"cannot evaluate {short(quantity)}; one of {', '.join(QUANTITIES)}")
        quantity = QUANTITIES[quantity]
    if options is not None and not isinstance(options, Mapping):
        raise UsageError(f"options must be a mapping such as {{'order': 3}}, not {short(options)}")
    return quantity.resolve(options)


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
    options: Mapping[str, Any] | None = None,
) -> Result:
    """``quantity`` of ``expr`` at one point: a chunk of one row, with the symbolic form and ``--exact``.

    ``options``: the quantity's parameters, e.g. ``{"order": 3}`` for ``derivative``.
    """
    quantity = _quantity(quantity, options)
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
    fields = dict(
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
    if plan.quantity.present is not None:  # with --exact, it may use the exact point (then it drops the key)
        exact_point = [prob.exact_point()[s] for s in prob.input_symbols] if exact_cells is not None else None
        fields = plan.quantity.present({**fields, "exact_point": exact_point})
    return DisplayedResult(**fields)


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


def derivative(
    expr: str,
    at: Point = None,
    order: int = 1,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """The ``order``-th derivative tensor: shape (m, n, …, n), ``order`` input axes, always with the outputs axis.

    Args: as :func:`jacobian`, and ``order`` (K ≥ 1): 1 gives the Jacobian, 2 the Hessian (m, n, n).
    ``D[k][i][j][l] = ∂³f_k/∂x_i∂x_j∂x_l``; each distinct mixed partial is computed once.

    >>> derivative("x**3*y", at="x=1, y=2", order=3).result
    [[[[12.0, 6.0], [6.0, 0.0]], [[6.0, 0.0], [0.0, 0.0]]]]
    """
    return evaluate_at("derivative", expr, at, wrt=wrt, dtype=dtype, device=device, symbolic_form=symbolic_form,
                       exact=exact, options={"order": order})  # fmt: skip


def taylor(
    expr: str,
    at: Point = None,
    order: int = 2,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
) -> Result:
    """The Taylor polynomial of order ``order`` (K ≥ 0) around ``at``, in powers of ``(x - a)``.

    ``result``: one string per output in jacli's language (it parses back); ``extra`` holds
    ``polynomial`` (the same) and ``terms``: the k-th derivative tensors for k = 0..K, shapes
    (m,), (m, n), (m, n, n), … Coefficients are floats (printed to round-trip), exact with ``exact=True``.

    >>> taylor("exp(x)", at="x=0", order=3).result
    ['1 + x + 0.5*x**2 + 0.16666666666666666*x**3']
    >>> taylor("exp(x)", at="x=0", order=3, exact=True).result
    ['1 + x + 1/2*x**2 + 1/6*x**3']
    """
    return evaluate_at("taylor", expr, at, wrt=wrt, dtype=dtype, device=device, symbolic_form=symbolic_form,
                       exact=exact, options={"order": order})  # fmt: skip


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
    options: Mapping[str, Any] | None = None,
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

    quantity = _quantity(quantity, options)
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
        present=quantity.present,
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

    Args: ``expr`` and ``at`` as for :func:`jacobian` (``wrt`` picks the n inputs);
    ``h`` the finite-difference step (None: ε^(1/3)·max(1, |xⱼ|), ε^(1/5) with
    ``richardson``); ``rtol``/``atol`` the tolerance (None: 1e-7/1e-9 in float64,
    1e-3/1e-5 in float32); ``mode`` of autodiff (``auto``, ``forward``, ``reverse``).

    Returns a :class:`~jacli.results.CheckResult`: the three (m, n) matrices
    ``autodiff``, ``exact``, ``finite_difference``, their errors, and ``ok``, which is
    False when autodiff and the exact derivative disagree beyond ``atol + rtol·|exact|``,
    when the function is not differentiable at the point (a kink, a tie, a jump of any
    size), or when any of f(x) and the three columns is not finite (``jacli check`` then exits 1).

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

    budget = symbolic.Budget()  # parsing and compiling count against it too
    h, rtol, atol = _check_options(mode, h, rtol, atol)
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    return checking.run_check(prob, budget, h=h, richardson=richardson, rtol=rtol, atol=atol, mode=mode, dtype=dtype)


def _check_options(mode: Any, h: Any, rtol: Any, atol: Any) -> tuple[float | None, float | None, float | None]:
    """``check``'s mode refused unless one of ``calculus.MODES``; ``h``, ``rtol``, ``atol`` as numbers (or None)."""
    if not one_of(mode, calculus.MODES):
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {short(mode)}")
    return option_number("--h", h, positive=True), option_number("--rtol", rtol), option_number("--atol", atol)


def check_points(
    expr: str,
    points: str | Any | Sequence[Point],
    *,
    at: Point = None,
    wrt: str | Sequence[str] | None = None,
    h: float | None = None,
    richardson: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    mode: str = "auto",
    dtype: str = "float64",
    device: str = "cpu",
) -> Iterator[Any]:
    """:func:`check` at many points: one :class:`~jacli.results.CheckResult` per point, in order.

    Args: ``points`` a points file path (``-`` for stdin), a :class:`~jacli.points.PointsReader`,
    or a list of points like ``at``; with a file, ``at`` gives by name the variables that are
    not columns, as for :func:`evaluate_points`. The other arguments as for :func:`check`.

    Returns an iterator that checks each point when asked for it. Every point is read and
    validated before this returns: a bad point (a file's ``file:line:col``) raises here,
    before any verdict; meanwhile a file's rows wait in a spooled temporary file.

    >>> [r.ok for r in check_points("abs(x - 1) + x**2", ["x=2", "x=1"])]
    [True, False]
    """
    from jacli import checking  # noqa: PLC0415
    from jacli.points import PointsReader  # noqa: PLC0415

    _check_options(mode, h, rtol, atol)  # refused before any point is read
    if isinstance(points, list | tuple):
        if at is not None:
            raise UsageError("give the points either as a list or with --at, not both")
        if not points:
            raise UsageError("no points given")
        validate_points(expr, points, wrt=wrt)
    elif isinstance(points, str | PointsReader):
        points = _file_points(expr, points, at, wrt)
    else:
        raise UsageError(f"points must be a file name, a PointsReader or a list of points, not {short(points)}")
    options = {"wrt": wrt, "h": h, "richardson": richardson, "rtol": rtol, "atol": atol, "mode": mode}
    return checking.check_points(points, functools.partial(check, expr, **options, dtype=dtype, device=device))


def _file_points(expr: str, source: Any, at: Point, wrt: str | Sequence[str] | None) -> Iterator[dict[str, Any]]:
    """A points file's points as name -> value, the whole file read (and so validated) first."""
    from jacli import checking  # noqa: PLC0415
    from jacli.points import PointsReader, open_points  # noqa: PLC0415

    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    reader = source if isinstance(source, PointsReader) else open_points(source)
    with reader:
        fixed = fixed_values(at, parsed)  # exact, as --at gives them (the layout's are floats)
        shapes, _, label_column = layout.file_layout(reader, parsed, order, fixed)
        program_for(expr, tuple((n, shapes[n]) for n in parsed.names))  # a shape error before the rows are read
        columns = checking.FileLayout({n: shapes[n] for n in parsed.names}, fixed, label_column)
        return checking.read_points(reader, columns)


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

    Args: ``expr``, ``at`` and ``wrt`` as for :func:`jacobian`. ``mode="reverse"``:
    adjoints ∂(Σ vᵢ fᵢ)/∂node, ``v`` over the m outputs (default: the first output).
    ``mode="forward"``: also tangents ∂node/∂x along ``v`` over the n inputs, or along
    the input named ``input`` (default: the first input).

    Returns a :class:`~jacli.results.GraphResult`: ``nodes`` in topological order (each
    with ``op``, ``label``, ``definition``, ``value``, ``adjoint``, ``tangent``) and
    ``edges`` (operand -> operation, with the local partial), plus the seed ``v`` used.

    >>> g = graph("(a+b)*(b+1)", at="a=2, b=1")
    >>> [(n.label, n.value, n.adjoint) for n in g.nodes]
    [('a', 2.0, 2.0), ('b', 1.0, 5.0), ('c', 3.0, 2.0), ('d', 2.0, 3.0), ('e', 6.0, 1.0)]
    """
    from jacli import graphs  # noqa: PLC0415

    if not one_of(mode, ("reverse", "forward")):
        raise UsageError(f"graph --mode must be reverse or forward, not {short(mode)}")
    if input is not None and mode != "forward":
        raise UsageError("--input seeds forward mode; add --mode forward (reverse mode is seeded by --v)")
    prob = problem(expr, at, wrt=wrt, dtype=dtype)
    labels = [s.name for s in prob.input_symbols]
    seed = None
    if v is not None:  # reverse: weights of the outputs (a VJP); forward: a direction over the inputs
        over, what = (prob.program.output_labels, "vjp") if mode == "reverse" else (labels, "jvp")
        seed = [language.constant_value(w) for w in parse_vector(v, len(over), over, what)]
    elif input is not None and not one_of(input, labels):
        raise UsageError(f"--input {short(input)} is not an input (inputs: {', '.join(labels)})")
    return graphs.run_graph(prob, parse(expr), seed, mode=mode, input=input)


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
    options: Mapping[str, Any] | None = None,
) -> str:
    """``--show-torch``: a short runnable PyTorch program computing ``command`` of ``expr`` at ``at``.

    >>> print(torch_program("gradient", "x**2*y", at="x=1, y=2").splitlines()[-1])
    print(result.tolist())  # shape (2,): one entry per input element (x, y)
    """
    from jacli import torch_program as programs  # noqa: PLC0415

    quantity = _quantity(command, options)
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
