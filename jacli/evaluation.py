"""One evaluation path for every quantity of the table: at one point, and at many.

:func:`evaluate_at` computes a quantity at one point as a chunk of one row;
:func:`evaluate` streams it over many points in chunks. Both share the plan
(:class:`Plan`: the quantity checked against the program, its ``--v`` and mode
settled) and the numeric computation of :mod:`jacli.quantities`. The named
functions of :mod:`jacli.api` are thin wrappers over these two.

>>> evaluate_at("gradient", "x**2*y", "x=1, y=2").result
[4.0, 1.0]
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy
import torch

from jacli import (
    batch,
    calculus,
    flow,
    flow_points,
    language,
    layout,
    symbolic,
    symbolic_answers,
    symbolic_layout,
    symbolic_result,
)
from jacli.batch import PointsEvaluation
from jacli.compile import TorchFunction
from jacli.errors import ShapeError, UsageError
from jacli.problem import (
    Problem,
    as_device,
    as_dtype,
    as_tensor,
    compiled_for,
    parse,
    problem,
    program_for,
    variables_named,
)
from jacli.quantities import QUANTITIES, Quantity
from jacli.results import InputBlock, Result
from jacli.values import (
    Point,
    assign_point,
    fixed_values,
    one_of,
    parse_vector,
    short,
    wrt_names,
)

if TYPE_CHECKING:
    from torch import Tensor


def resolve_quantity(quantity: Quantity | str, options: Mapping[str, Any] | None = None) -> Quantity:
    """The quantity (or its name) for its ``options`` (``{"order": 3}``): :meth:`Quantity.resolve`."""
    if not isinstance(quantity, Quantity):
        if not isinstance(quantity, str) or quantity not in QUANTITIES:
            raise UsageError(f"cannot evaluate {short(quantity)}; one of {', '.join(QUANTITIES)}")
        quantity = QUANTITIES[quantity]
    if options is not None and not isinstance(options, Mapping):
        raise UsageError(f"options must be a mapping such as {{'order': 3}}, not {short(options)}")
    return quantity.resolve(options)


def check_mode(quantity: Quantity, mode: Any) -> None:
    if quantity.modes and not one_of(mode, calculus.MODES):
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {short(mode)}")


@dataclass(frozen=True)
class Plan:
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
        exprs = symbolic_result.symbolic_form(self.program, self.quantity, self.inputs, self.weights)  # cached
        return exprs[0] if self.drops_output else exprs

    @property
    def presentation(self) -> dict[str, Any]:
        return self.quantity.presentation(
            scalar_output=self.scalar_output, outputs=len(self.program.outputs), inputs=len(self.inputs)
        )

    @property
    def v(self) -> tuple[float, ...] | None:
        return None if self.weights is None else symbolic_answers.weights_text(self.weights)


def make_plan(
    quantity: Quantity,
    program: language.Program,
    fn: TorchFunction,
    order: Sequence[str],
    v: Any,
    mode: str,
    dtype: torch.dtype,
    device: torch.device,
    *,
    symbolic_v: bool = False,
) -> Plan:
    """Check the program against the quantity (scalar, size), read ``--v``, choose the mode.

    ``symbolic_v``: ``--v`` may be names (a symbolic answer without a point, :mod:`jacli.symbolic_answers`).
    """
    from jacli import sparse  # noqa: PLC0415

    inputs = [s for var in variables_named(program, order) for s in var.symbols]
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
        weights = symbolic_answers.symbolic_weights(v, labels, quantity, program, allowed=symbolic_v)
        if weights is None:
            weights = parse_vector(v, len(labels), labels, quantity.name)
            weights_tensor = as_tensor([language.scalar(w) for w in weights], dtype, device)
    chosen = calculus.choose_mode(mode, n, m) if quantity.modes else None
    setup = batch.Setup(
        fn, weights_tensor, chosen, hessian_patterns=functools.partial(sparse.sparse_patterns, program, inputs)
    )
    shape = quantity.shape(outputs=m, inputs=n, scalar_output=not program.output_shape)
    return Plan(quantity, program, inputs, setup, weights, chosen, shape, torch.finfo(dtype).eps)


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
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """``quantity`` of ``expr`` at one point: a chunk of one row, with the symbolic form and ``--exact``.

    ``options``: the quantity's parameters, e.g. ``{"order": 3}`` for ``derivative``.
    ``at=None``: no point, the symbolic result only (``shape``: array variables' shapes, ``"x=3, A=3x3"``).
    """
    quantity = resolve_quantity(quantity, options)
    check_mode(quantity, mode)
    if at is None:  # issue 15: the symbolic answer without a point (jacli/symbolic_answers.py)
        return _symbolic_only(quantity, expr, v, wrt=wrt, shape=shape, symbolic_form=symbolic_form, exact=exact)
    expr, wrt, path = flow.resolve(expr, at, wrt)  # a control-flow program: the path it takes here
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    symbolic_answers.check_point_shapes(shape, prob.program)
    order = [var.name for var in prob.inputs]
    x, p = prob.inputs_tensor, prob.params_tensor
    plan = make_plan(quantity, prob.program, prob.compiled, order, v, mode, x.dtype, x.device)
    value, numeric, facts = plan.numeric_with_facts(x[None], p[None])
    exprs = symbolic_result.derive(plan.symbolic) if symbolic_form else None
    result = _one_point_result(
        plan, prob, value[0], numeric[0], exprs, exact=exact, facts=None if facts is None else facts[0]
    )
    if path is not None:
        result = flow.mark(result, path)
    if not symbolic_form:
        return result
    shapes = {var.name: var.shape for var in prob.program.variables}
    if all(len(shape) == 0 for shape in shapes.values()):  # no array: no matrix form, its modules stay unloaded
        return result
    from jacli import matrix_results  # noqa: PLC0415

    return matrix_results.attach(result, quantity, parse(expr), order, shapes, plan.v)


def elementwise_result(quantity: str, text: str, point: dict[str, Any], v: Any, wrt: Sequence[str]) -> Any:
    """The elementwise (autodiff) result of ``quantity`` at ``point``: what a matrix form is checked against."""
    return evaluate_at(quantity, text, point, v=v, wrt=list(wrt), symbolic_form=False).result


def _symbolic_only(quantity: Quantity, expr: str, v: Any, *, wrt: Any, shape: Any, **given: bool) -> Result:
    """No point: the symbolic result over the variables, no numbers (:mod:`jacli.symbolic_answers`)."""
    if parse(expr).flow is not None:
        raise UsageError("a program with control flow runs at a point, which decides its path: give --at")
    order, every = symbolic_answers.variables_without_point(quantity, expr, wrt, shape, **given)
    if symbolic_answers.named_dimensions(every):  # only the matrix form exists (issue 15: jacli.matrix_form)
        return DisplayedResult(**symbolic_answers.matrix_form_only(quantity, expr, order, every, v, elementwise_result))
    program = symbolic_answers.program_without_point(expr, every)
    cpu = torch.device("cpu")
    plan = make_plan(quantity, program, None, order, v, "auto", torch.float64, cpu, symbolic_v=True)  # type: ignore[arg-type]
    exprs = symbolic_result.derive(plan.symbolic)
    answer = symbolic_answers.fields(plan, program, exprs, every, _input_blocks(program, order))
    answer = symbolic_answers.with_matrix_form(answer, quantity, expr, order, every, v, elementwise_result)
    return DisplayedResult(**answer)


def _one_point_result(
    plan: Plan, prob: Problem, value: Tensor, numeric: Tensor, exprs: Any, *, exact: bool, facts: Any = None
) -> Result:
    """The numbers, the value f(x) and (when asked) the symbolic form and its exact value, as a :class:`Result`."""
    display, symbolic_cells, exact_cells, exact_values, exact_point = None, None, None, None, {}
    notes: tuple[str, ...] = ()
    if isinstance(exprs, symbolic_result.Skipped):  # the numbers still come out
        notes = (f"symbolic form skipped: {exprs.reason}" + ("; so is --exact" if exact else ""),)
        exprs, exact = None, False
    if exprs is not None:
        symbolic_cells = symbolic.to_text(exprs)
        inputs = [s.name for s in prob.input_symbols]
        display = symbolic_layout.display(exprs, plan.presentation, prob.blocks, prob.program.output_labels, inputs)
        if exact:
            exact_point = prob.exact_point()
            exact_values, exact_cells, exact_notes = symbolic_result.exact_result(
                exprs, prob.program.bindings, exact_point
            )
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
        shapes={v.name: v.shape for v in prob.program.variables},
    )
    if plan.quantity.present is not None:  # with --exact, it may use the exact values (then it drops the keys)
        center = [exact_point[s] for s in prob.input_symbols] if exact_values is not None else None
        fields = plan.quantity.present({**fields, "exact_point": center, "exact_values": exact_values})
    return DisplayedResult(**fields)


class DisplayedResult(Result):
    """A :class:`Result` that Jupyter shows: as HTML (the terminal's tables) or LaTeX (symbolic and numbers).

    The hooks live here, not on :class:`Result`: results.py imports no renderer.
    """

    def _repr_latex_(self) -> str:
        from jacli.render.latex import render_latex  # noqa: PLC0415 - on display only

        return "$$" + render_latex(self, document=False) + "$$"

    def _repr_html_(self) -> str:
        from jacli.render.notebook import html_of  # noqa: PLC0415 - on display only

        return html_of(self)


# ---------------------------------------------------------------------------
# Many points: chunks of rows through the same computation, streamed.
# ---------------------------------------------------------------------------


def _input_blocks(program: language.Program, order: Sequence[str]) -> tuple[InputBlock, ...]:
    blocks, start = [], 0
    for var in variables_named(program, order):
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
    shape: str | Mapping[str, Any] | None = None,
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
    from jacli.arrow_points import ColumnarReader  # noqa: PLC0415
    from jacli.points import PointsReader, open_points  # noqa: PLC0415

    quantity = resolve_quantity(quantity, options)
    _check_chunk_size(chunk_size)
    check_mode(quantity, mode)
    torch_dtype, torch_device = as_dtype(dtype), as_device(device)
    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    if parsed.flow is not None:  # a control-flow program: each point's path, the points of a path together
        group = functools.partial(
            evaluate, quantity, v=v, wrt=order, mode=mode, dtype=dtype, device=device, symbolic_form=symbolic_form
        )
        return flow_points.evaluate_points(expr, points, at, order, chunk_size, group)
    reader, label_column, fixed, flat = None, None, {}, None
    if isinstance(points, str | PointsReader | ColumnarReader):
        reader = open_points(points) if isinstance(points, str) else points
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
    symbolic_answers.check_point_shapes(shape, program)  # --shape beside the points: must agree
    fn = compiled_for(expr, shapes, order)
    try:
        plan = make_plan(quantity, program, fn, order, v, mode, torch_dtype, torch_device)
    except BaseException:  # a bad --v: the points file is closed, not left to the garbage collector
        if reader is not None:
            reader.close()
        raise
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
