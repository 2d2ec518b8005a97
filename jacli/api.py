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
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jacli import calculus, flow, language, layout, symbolic
from jacli.batch import PointsEvaluation
from jacli.errors import UsageError
from jacli.evaluation import (
    DisplayedResult,
    check_mode,
    evaluate,
    evaluate_at,
    evaluate_points,
    make_plan,
    resolve_quantity,
)
from jacli.problem import DTYPES, Problem, parse, problem, program_for, validate_points
from jacli.quantities import Quantity
from jacli.results import Result
from jacli.values import Point, fixed_values, one_of, option_number, parse_vector, short, wrt_names

__all__ = [
    "DTYPES", "DisplayedResult", "Point", "PointsEvaluation", "Problem", "Result", "check", "curl", "derivative",
    "divergence", "evaluate", "evaluate_at", "evaluate_points", "gradient", "graph", "hessian", "hvp", "jacobian",
    "jvp", "laplacian", "option_number", "parse", "parse_vector", "problem", "taylor", "torch_program",
    "validate_points", "vjp", "wrt_names",
]  # fmt: skip


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
    shape: str | Mapping[str, Any] | None = None,
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
        at=None: no point, only the symbolic result (``point``, ``value``, ``result`` are None);
            ``shape`` gives array variables a shape without a value: ``"x=3, A=3x3"``.

    >>> r = jacobian("2*x0+x1**2, x0**2+2*x1**3", at="1,2")
    >>> r.result, r.shape, r.mode
    ([[2.0, 4.0], [2.0, 24.0]], (2, 2), 'reverse')
    """
    return evaluate_at("jacobian", expr, at, wrt=wrt, mode=mode, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


def gradient(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """Gradient ∇f of a scalar ``expr`` at ``at``: ``result`` has shape (n,), one entry per input element.

    Args: as :func:`jacobian`; ``expr`` must have one output (else a :class:`ShapeError`).

    >>> gradient("x1**2 + x2**3 + x3**4", at="1,2,3").result
    [2.0, 12.0, 108.0]
    """
    return evaluate_at("gradient", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


def hessian(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """Hessian ∂²f/∂x² at ``at``: shape (n, n) for a scalar ``expr``, (m, n, n) for a vector-valued one.

    Args: as :func:`jacobian`. Large sparse Hessians (one HVP per colour) are computed that way.

    >>> hessian("x0**2*x1", at="1,2").result
    [[4.0, 2.0], [2.0, 0.0]]
    """
    return evaluate_at("hessian", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


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
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """``vᵀJ`` by one reverse pass (like ``y.backward(gradient=v)``): shape (n,).

    Args: as :func:`jacobian`, and ``v``: one weight per output (m), ``"1,2"``, a list, or ``"ones"``.

    >>> vjp("3*a**3 - b**2", at="a=[1,2], b=[2,3]", v="1,1").result
    [9.0, 36.0, -4.0, -6.0]
    """
    return evaluate_at("vjp", expr, at, v, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


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
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """``J·v`` by one forward-mode pass: shape (m,).

    Args: as :func:`jacobian`, and ``v``: one entry per input element (n).

    >>> jvp("2*x0+x1**2, x0**2+2*x1**3", at="1,2", v="1,0").result
    [2.0, 2.0]
    """
    return evaluate_at("jvp", expr, at, v, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


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
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """``H·v`` of a scalar ``expr`` by forward over reverse, never forming H: shape (n,).

    Args: as :func:`jacobian`, and ``v``: one entry per input element (n).

    >>> hvp("x**2*y", at="x=1, y=2", v="1,0").result
    [4.0, 2.0]
    """
    return evaluate_at("hvp", expr, at, v, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


def laplacian(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """Laplacian Δf = Σᵢ ∂²f/∂xᵢ² of each output: shape (m,), one number per output.

    Args: as :func:`jacobian`.

    >>> laplacian("x**2*y + y**3, x*y", at="x=1, y=2").result
    [16.0, 0.0]
    """
    return evaluate_at("laplacian", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


def divergence(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """Divergence ∇·f = Σᵢ ∂fᵢ/∂xᵢ of f: Rⁿ→Rⁿ: ``result`` is one number (shape ``()``).

    Args: as :func:`jacobian`; f must have as many outputs as inputs (else a :class:`ShapeError`).
    Computed by n forward-mode passes, keeping the diagonal entry of each (the Jacobian is never stored).

    >>> divergence("x*y, y*z, z*x", at="x=1, y=2, z=3").result
    6.0
    """
    return evaluate_at("divergence", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


def curl(
    expr: str,
    at: Point = None,
    *,
    wrt: str | Sequence[str] | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    symbolic_form: bool = True,
    exact: bool = False,
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """Curl ∇×f: shape (3,) for f: R³→R³, one number (shape ``()``) for f: R²→R² (∂f₁/∂x₀ − ∂f₀/∂x₁).

    Args: as :func:`jacobian`; other shapes of f raise a :class:`ShapeError`.

    >>> curl("x*y, y*z, z*x", at="x=1, y=2, z=3").result
    [-2.0, -3.0, -1.0]
    >>> curl("-y, x", at="x=1, y=2").result
    2.0
    """
    return evaluate_at("curl", expr, at, wrt=wrt, dtype=dtype, device=device,
                        symbolic_form=symbolic_form, exact=exact, shape=shape)  # fmt: skip


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
    shape: str | Mapping[str, Any] | None = None,
) -> Result:
    """The ``order``-th derivative tensor: shape (m, n, …, n), ``order`` input axes, always with the outputs axis.

    Args: as :func:`jacobian`, and ``order`` (K ≥ 1): 1 gives the Jacobian, 2 the Hessian (m, n, n).
    ``D[k][i][j][l] = ∂³f_k/∂x_i∂x_j∂x_l``; each distinct mixed partial is computed once.

    >>> derivative("x**3*y", at="x=1, y=2", order=3).result
    [[[[12.0, 6.0], [6.0, 0.0]], [[6.0, 0.0], [0.0, 0.0]]]]
    """
    return evaluate_at("derivative", expr, at, wrt=wrt, dtype=dtype, device=device, symbolic_form=symbolic_form,
                       exact=exact, options={"order": order}, shape=shape)  # fmt: skip


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
    shape: str | Mapping[str, Any] | None = None,
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
                       exact=exact, options={"order": order}, shape=shape)  # fmt: skip


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

    Returns a :class:`~jacli.results.CheckResult` (shown in Jupyter as HTML or LaTeX): the three (m, n) matrices
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
    from jacli.display import displayed  # noqa: PLC0415

    budget = symbolic.Budget()  # parsing and compiling count against it too
    h, rtol, atol = _check_options(mode, h, rtol, atol)
    expr, wrt, path = flow.resolve(expr, at, wrt)  # a control-flow program: the path it takes here
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    result = checking.run_check(prob, budget, h=h, richardson=richardson, rtol=rtol, atol=atol, mode=mode, dtype=dtype)
    return displayed(result if path is None else flow.mark(result, path))


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
        if parsed.flow is None:  # (a control-flow program is built per path, as each point runs)
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

    Returns a :class:`~jacli.results.GraphResult` (shown in Jupyter as HTML or LaTeX): ``nodes`` in
    topological order (each with ``op``, ``label``, ``definition``, ``value``, ``adjoint``, ``tangent``) and
    ``edges`` (operand -> operation, with the local partial), plus the seed ``v`` used.

    >>> g = graph("(a+b)*(b+1)", at="a=2, b=1")
    >>> [(n.label, n.value, n.adjoint) for n in g.nodes]
    [('a', 2.0, 2.0), ('b', 1.0, 5.0), ('c', 3.0, 2.0), ('d', 2.0, 3.0), ('e', 6.0, 1.0)]
    """
    from jacli import graphs  # noqa: PLC0415
    from jacli.display import displayed  # noqa: PLC0415

    if not one_of(mode, ("reverse", "forward")):
        raise UsageError(f"graph --mode must be reverse or forward, not {short(mode)}")
    if input is not None and mode != "forward":
        raise UsageError("--input seeds forward mode; add --mode forward (reverse mode is seeded by --v)")
    expr, wrt, path = flow.resolve(expr, at, wrt)  # a control-flow program: the graph of the path it takes
    prob = problem(expr, at, wrt=wrt, dtype=dtype)
    labels = [s.name for s in prob.input_symbols]
    seed = None
    if v is not None:  # reverse: weights of the outputs (a VJP); forward: a direction over the inputs
        over, what = (prob.program.output_labels, "vjp") if mode == "reverse" else (labels, "jvp")
        seed = [language.constant_value(w) for w in parse_vector(v, len(over), over, what)]
    elif input is not None and not one_of(input, labels):
        raise UsageError(f"--input {short(input)} is not an input (inputs: {', '.join(labels)})")
    result = graphs.run_graph(prob, parse(expr), seed, mode=mode, input=input)
    return displayed(result if path is None else flow.mark(result, path))


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

    quantity = resolve_quantity(command, options)
    check_mode(quantity, mode)
    expr, wrt, path = flow.resolve(expr, at, wrt)  # a control-flow program: the program of the path it takes
    prob = problem(expr, at, wrt=wrt, dtype=dtype)
    x = prob.inputs_tensor
    plan = make_plan(
        quantity, prob.program, prob.compiled, [var.name for var in prob.inputs], v, mode, x.dtype, x.device
    )
    point = prob.point_json()
    return programs.torch_program(
        quantity,
        flow.shown_statements(parse(expr), path),
        inputs=[(var.name, point[var.name]) for var in prob.inputs],
        params=[(var.name, point[var.name]) for var in prob.params],
        outputs=prob.program.output_labels,
        input_labels=[s.name for s in prob.input_symbols],
        dtype=dtype,
        v=plan.v,
        mode=plan.mode,
        command_line=command_line,
    ) + (f"# the path this point takes: {path.note}\n" if path is not None else "")
