"""Gradient checking: finite differences, non-smooth points, and comparing derivatives.

``jacli check`` computes a Jacobian three ways — torch autodiff, the exact SymPy
derivative evaluated at high precision, and central finite differences — and
compares the first two. This module holds the numerical parts:

- :func:`central_differences`: ``(f(x + h e_j) - f(x - h e_j)) / 2h`` per input,
  truncation error ``h²/6·|f'''|`` (Richardson: ``(4 D(h/2) - D(h)) / 3``, error
  ``O(h⁴)``), plus rounding ``≈ ε|f|/h``; the default step balances the two.
- :func:`_smoothness`: the non-smooth sub-expressions at the point, and the inputs
  along which they make the function not differentiable, in the time budget (the
  tests themselves are :mod:`jacli.nonsmooth`).
- :func:`run_check` (one point: the command behind :func:`jacli.api.check`) and
  :func:`check_points` with :func:`read_points` (many points, a file read through first).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import sympy  # noqa: TID253 - a stage module, like symbolic.py
import torch  # noqa: TID253

from jacli import calculus, language, symbolic
from jacli.errors import UsageError
from jacli.limits import CHECK_POINTS_PER_READ as POINTS_PER_READ
from jacli.limits import CHECK_SPOOL_BYTES as SPOOL_BYTES
from jacli.limits import FD_CHUNK_ELEMENTS, MAX_CHECK_POINTS
from jacli.nonsmooth import NonSmooth, nonsmooth_sites, not_differentiable
from jacli.results import CheckResult

if TYPE_CHECKING:
    from torch import Tensor

    from jacli.compile import TorchFunction
    from jacli.points import PointsReader

TOLERANCES = {torch.float64: (1e-7, 1e-9), torch.float32: (1e-3, 1e-5)}
"""Default (rtol, atol) per dtype for autodiff vs the exact derivative: generous against
rounding in long expressions, far tighter than any real disagreement."""


def machine_epsilon(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def default_step(dtype: torch.dtype, richardson: bool = False) -> float:
    """ε^(1/3) for central differences (ε^(1/5) with Richardson): truncation ≈ rounding.

    >>> round(default_step(torch.float64), 9), round(default_step(torch.float32), 6)
    (6.055e-06, 0.004922)
    """
    return machine_epsilon(dtype) ** (1 / 5 if richardson else 1 / 3)


def central_differences(
    fn: TorchFunction, x: Tensor, p: Tensor, h: float, *, scale: bool = True, richardson: bool = False
) -> Tensor:
    """Jacobian ``(m, n)`` by central differences with step ``h`` (times ``max(1, |x_j|)`` when ``scale``).

    The step actually taken is ``(x + h) - (x - h)`` in the dtype, so the
    representation error of ``x ± h`` does not enter the quotient. All ``2n``
    perturbed points go through ``fn`` in batches (one pass per batch, not one
    per point: 1000 inputs took 106 s one by one).

    >>> f = lambda x, p: torch.stack([x[0] ** 3])
    >>> d = central_differences(f, torch.tensor([1.0], dtype=torch.float64), None, 1e-3)
    >>> abs(float(d[0, 0]) - 3) < 2e-6   # truncation h²/6·f''' = 1e-6
    True
    """
    n = x.numel()
    if n == 0:
        return x.new_zeros(fn(x, p).numel(), 0)
    steps = torch.full_like(x, h)
    if scale:
        steps = steps * torch.clamp(x.detach().abs(), min=1.0)
    estimate = _central(fn, x, p, steps)
    if richardson:
        estimate = (4 * _central(fn, x, p, steps / 2) - estimate) / 3
    return estimate


def _central(fn: TorchFunction, x: Tensor, p: Tensor, steps: Tensor) -> Tensor:
    """``(f(x + s_j e_j) - f(x - s_j e_j)) / ((x + s_j) - (x - s_j))`` for every j, shape (m, n)."""
    n = x.numel()
    with torch.no_grad():
        x = x.detach()
        plus, minus = x + steps, x - steps
        taken = plus - minus
        columns = []
        rows = max(1, FD_CHUNK_ELEMENTS // n)
        for start in range(0, n, rows):
            index = torch.arange(start, min(start + rows, n), device=x.device)
            upper = _evaluate_rows(fn, _perturbed(x, index, plus), p)
            lower = _evaluate_rows(fn, _perturbed(x, index, minus), p)
            columns.append(((upper - lower) / taken[index].unsqueeze(1)).T)
        return torch.cat(columns, dim=1)


def _perturbed(x: Tensor, index: Tensor, values: Tensor) -> Tensor:
    """Rows ``x`` with element ``index[r]`` replaced by ``values[index[r]]``, shape (len(index), n)."""
    rows = x.expand(len(index), -1).clone()
    rows[torch.arange(len(index), device=x.device), index] = values[index]
    return rows


def _evaluate_rows(fn: TorchFunction, rows: Tensor, p: Tensor) -> Tensor:
    """``fn`` at each row, shape (rows, m): one columnar pass when the tape allows it, else row by row."""
    columnar = getattr(fn, "n_outputs", 0) > 0 and all(slot >= 0 for slot in getattr(fn, "_outputs", (-1,)))
    if columnar:  # the tape holds scalar operations: fn on (n, rows) columns computes every row at once
        params = p if p is None or p.numel() == 0 else p.reshape(-1, 1).expand(-1, len(rows))
        return fn(rows.T, params).reshape(-1, len(rows)).T
    return torch.stack([fn(row, p).reshape(-1) for row in rows])


def predicted_error(h: float, third: float, rounding: float, fourth: float = 0.0) -> float:
    """A bound on the error of a central difference with step ``h``: truncation plus rounding.

    Truncation: ``D(h) - f'(x) = h²/12·(f'''(ξ₁) + f'''(ξ₂))`` with ξ in ``[x - h, x + h]``, so
    at most ``h²/6·max|f'''|`` over the interval; ``third`` is ``max|f'''|`` sampled at
    ``x - h, x, x + h`` and ``fourth`` likewise ``max|f''''|``, which bounds how far
    ``|f'''|`` rises between the samples (at most ``h/2·max|f''''|``).
    Rounding: each computed ``f(x ± h)`` is off by at most ``rounding`` (a bound on the
    absolute error of one evaluation, :func:`rounding_error`: it is ``ε·|1|`` for
    ``log(1 + x²)`` near 0, not ``ε·|f|``), so the quotient is off by ``rounding/h``.

    >>> predicted_error(1e-3, 6.0, 2.2e-16) < 1.01e-6
    True
    """
    return h * h / 6 * (abs(third) + h / 2 * abs(fourth)) + abs(rounding) / h


ULPS_PER_FUNCTION = 2
"""Rounding of one elementary function in torch (libm/SLEEF are within 1 ulp; one ulp of margin)."""


def rounding_error(
    exprs: Sequence[sympy.Expr], point: dict[sympy.Symbol, sympy.Expr], eps: float, precision: int = 30
) -> float:
    """A first-order bound on the absolute rounding error of computing ``exprs`` at ``point`` in floating point.

    Running error analysis (Wilkinson): every operation rounds its result once
    (``ε/2·|result|``, a function ``ULPS_PER_FUNCTION`` ulps), and errors of the
    operands propagate through the local derivative (``|b|·δa + |a|·δb`` for a
    product, ``|g'(a)|·δa`` for ``g(a)``). The inputs are exact. Only the smooth
    operations of the language (sums, products, powers, one-argument functions).

    >>> x = sympy.Symbol("x")
    >>> bound = rounding_error([sympy.log(1 + x**2)], {x: sympy.Float(2**-7)}, 2.0**-52)
    >>> 2.0**-53 < bound < 2.0**-50   # the rounding of 1 + x², about ε/2, not ε·|log(1 + x²)| ≈ 1e-20
    True
    """
    memo: dict[sympy.Basic, tuple[sympy.Float, float]] = {}
    values = {s: sympy.Float(v, precision) for s, v in point.items()}
    return max((_running(e, values, eps, precision, memo)[1] for e in exprs), default=0.0)


def _running(
    expr: sympy.Basic, values: dict[sympy.Symbol, sympy.Expr], eps: float, precision: int,
    memo: dict[sympy.Basic, tuple[sympy.Float, float]],
) -> tuple[sympy.Expr, float]:  # fmt: skip
    """(value, error bound) of ``expr``."""
    known = memo.get(expr)
    if known is not None:
        return known
    unit = eps / 2
    if isinstance(expr, sympy.Symbol):
        result = (values[expr], 0.0)
    elif expr.is_Number or expr.is_NumberSymbol:
        value = expr.evalf(precision)
        result = (value, 0.0 if expr.is_Integer else unit * abs(float(value)))
    else:
        args = [_running(a, values, eps, precision, memo) for a in expr.args]
        value = expr.func(*(v for v, _ in args)).evalf(precision)
        size = abs(float(value))
        if isinstance(expr, sympy.Add):
            error = sum(e for _, e in args) + (len(args) - 1) * unit * sum(abs(float(v)) for v, _ in args)
        elif isinstance(expr, sympy.Mul):
            others = [abs(float(sympy.Mul(*(w for k, (w, _) in enumerate(args) if k != i)))) for i in range(len(args))]
            error = sum(o * e for o, (_, e) in zip(others, args, strict=True)) + (len(args) - 1) * unit * size
        elif isinstance(expr, sympy.Pow):
            (base, base_error), (power, power_error) = args
            slope = abs(float(power * base ** (power - 1))) * base_error
            slope += abs(float(value * sympy.log(abs(base)))) * power_error if power_error else 0.0
            result_ulps = 1 if power.is_Integer else ULPS_PER_FUNCTION
            error = slope + result_ulps * unit * size
        elif len(args) == 1 and isinstance(expr, sympy.Function):
            t = sympy.Dummy("t")
            slope = sympy.diff(expr.func(t), t).xreplace({t: args[0][0]}).evalf(precision)
            error = abs(float(slope)) * args[0][1] + ULPS_PER_FUNCTION * eps * size
        else:
            raise NotImplementedError(f"rounding_error: {type(expr).__name__} is not a smooth operation")
        result = (value, error)
    memo[expr] = result
    return result


# ---------------------------------------------------------------------------
# Comparing.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    max_abs: float
    max_rel: float
    mismatches: tuple[tuple[int, int], ...]  # (output, input) entries beyond atol + rtol·|exact|


def compare(
    method: Sequence[Sequence[float]], exact: Sequence[Sequence[float]], rtol: float, atol: float
) -> Comparison:
    """Errors of ``method`` against ``exact``; nan agrees with nan and inf with the same inf.

    >>> compare([[1.0, 2.0]], [[1.0, 2.5]], 1e-7, 1e-9)
    Comparison(max_abs=0.5, max_rel=0.2, mismatches=((0, 1),))
    """
    max_abs, max_rel, mismatches = 0.0, 0.0, []
    for i, (row, exact_row) in enumerate(zip(method, exact, strict=True)):
        for j, (a, e) in enumerate(zip(row, exact_row, strict=True)):
            if _same(a, e):
                continue
            diff = abs(a - e)
            if math.isnan(diff):
                diff = math.inf
            max_abs = max(max_abs, diff)
            scale = max(abs(a), abs(e))
            max_rel = max(max_rel, diff / scale if scale > 0 and math.isfinite(scale) else math.inf)
            if not diff <= atol + rtol * abs(e):
                mismatches.append((i, j))
    return Comparison(max_abs, max_rel, tuple(mismatches))


def compare_within(
    method: Sequence[Sequence[float]],
    reference: Sequence[Sequence[float]],
    slack: Sequence[Sequence[float]],
    rtol: float,
    atol: float,
) -> tuple[tuple[int, int], ...]:
    """Entries where ``|method - reference| > atol + rtol·|reference| + slack`` (or either is not finite)."""
    return tuple(
        (i, j)
        for i, (row, ref_row, slack_row) in enumerate(zip(method, reference, slack, strict=True))
        for j, (a, r, s) in enumerate(zip(row, ref_row, slack_row, strict=True))
        if not abs(a - r) <= atol + rtol * abs(r) + s
    )


def nonfinite_entries(
    value: Sequence[float], matrices: Sequence[Sequence[Sequence[float]]]
) -> list[int | tuple[int, int]]:
    """Outputs ``i`` whose value is not finite, then entries ``(i, j)`` not finite in any of ``matrices``.

    >>> nonfinite_entries([math.inf], [[[1.0, math.nan]], [[2.0, 3.0]]])
    [0, (0, 1)]
    """
    found: list[int | tuple[int, int]] = [i for i, v in enumerate(value) if not math.isfinite(v)]
    entries = {
        (i, j)
        for matrix in matrices
        for i, row in enumerate(matrix)
        for j, entry in enumerate(row)
        if not math.isfinite(entry)
    }
    return found + sorted(entries)


FD_FAR = {torch.float64: 1e-4, torch.float32: 1e-1}
"""|finite difference - reference| beyond this × (1 + |reference|) is far more than its error (≈1e-10 in
float64 at the default step): such an input is probed for a jump or kink that no non-smooth site explains."""


def fd_suspects(
    finite_difference: Sequence[Sequence[float]],
    reference: Sequence[Sequence[float]],
    inputs: Sequence[sympy.Symbol],
    dtype: torch.dtype,
) -> list[sympy.Symbol]:
    """The inputs along which finite differences are far from the reference (``atan2`` across its cut: 5e5 vs -1)."""
    far = FD_FAR.get(dtype, FD_FAR[torch.float32])
    return [
        symbol
        for j, symbol in enumerate(inputs)
        if any(
            math.isfinite(row[j]) and math.isfinite(ref[j]) and abs(row[j] - ref[j]) > far * (1 + abs(ref[j]))
            for row, ref in zip(finite_difference, reference, strict=True)
        )
    ]


def _same(a: float, e: float) -> bool:
    return a == e or (math.isnan(a) and math.isnan(e))


# ---------------------------------------------------------------------------
# ``jacli check`` at one point: the three columns, the comparison, the verdict.
# The API builds the Problem (and the time budget); this module never imports the API.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    """What a check reads of a :class:`jacli.api.Problem`; read from it in one place, :func:`_checked`."""

    program: language.Program
    fn: TorchFunction  # (x, p) -> f, m outputs
    x: Tensor  # the n input elements
    p: Tensor  # the parameters' elements
    inputs: list[sympy.Symbol]  # the n input element symbols
    exact: dict[sympy.Symbol, sympy.Expr]  # every variable element -> its exact value
    point: dict[str, Any]  # variable name -> float or nested list (the result's ``point``)

    def f(self, x: Tensor) -> Tensor:
        """``x -> f(x, p)`` with the parameters bound."""
        return self.fn(x, self.p)


def _checked(prob: Any) -> _Checked:
    return _Checked(
        prob.program,
        prob.compiled,
        prob.inputs_tensor,
        prob.params_tensor,
        prob.input_symbols,
        prob.exact_point(),
        prob.point_json(),
    )


def run_check(
    prob: Any,
    budget: symbolic.Budget,
    *,
    h: float | None,
    richardson: bool,
    rtol: float | None,
    atol: float | None,
    mode: str,
    dtype: str,
) -> CheckResult:
    """Check the Jacobian of a :class:`jacli.api.Problem` three ways (see :func:`jacli.api.check`).

    ``h``, ``rtol``, ``atol``: validated numbers, or None for the dtype's defaults; ``mode``
    one of ``calculus.MODES``. The exact column and the non-smoothness tests run in ``budget``.
    """
    at = _checked(prob)
    outputs, inputs = at.program.output_labels, tuple(s.name for s in at.inputs)
    chosen = calculus.choose_mode(mode, at.x.numel(), len(at.program.outputs))
    autodiff = calculus.jacobian(at.f, at.x, chosen).detach().cpu().tolist()
    value = tuple(calculus.value(at.f, at.x).cpu().tolist())
    step = h if h is not None else default_step(at.x.dtype, richardson)
    fd = central_differences(at.fn, at.x, at.p, step, scale=h is None, richardson=richardson)
    finite_difference = fd.detach().cpu().tolist()
    default_rtol, default_atol = TOLERANCES[at.x.dtype]
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    notes: list[str] = []

    exact = _exact_jacobian(at, budget, notes)
    if exact is None:  # compare autodiff with finite differences, within their estimated error
        reference, exact_shown = "finite_difference", [[math.nan] * len(inputs) for _ in outputs]
        spread = central_differences(at.fn, at.x, at.p, step / 2, scale=h is None)
        slack = (4 * (fd - spread).abs() + 4 * torch.finfo(at.x.dtype).eps / step).cpu().tolist()
        mismatches = compare_within(autodiff, finite_difference, slack, rtol, atol)
        ad_errors = fd_errors = Comparison(math.nan, math.nan, ())  # no exact column to measure from
    else:
        reference, exact_shown = "exact", exact
        ad_errors = compare(autodiff, exact, rtol, atol)
        fd_errors = compare(finite_difference, exact, rtol, atol)
        mismatches = ad_errors.mismatches
    nonfinite = nonfinite_entries(value, [autodiff, finite_difference] + ([exact] if exact else []))
    far = fd_suspects(finite_difference, autodiff if exact is None else exact, at.inputs, at.x.dtype)
    sites, not_diff = _smoothness(at, budget, notes, far)
    if sites and not not_diff:
        notes.insert(0, "non-smooth sub-expressions here, but the one-sided derivatives agree: differentiable")
    if not_diff:
        notes.insert(0, "autodiff and SymPy give a conventional value where no derivative exists")
    return CheckResult(
        expression=at.program.text,
        inputs=inputs,
        outputs=outputs,
        point=at.point,
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


def _in_budget(budget: symbolic.Budget, compute: Callable[[], Any]) -> tuple[Any, str | None]:
    """``(compute(), None)`` in what is left of ``budget``; ``(None, why)`` when past it or too large."""
    try:
        with budget.limit():
            return compute(), None
    except symbolic.SymbolicTooLarge as err:
        return None, str(err)


def _entry_label(entry: int | tuple[int, int], outputs: Sequence[str], inputs: Sequence[str]) -> str:
    """``f`` for a value, ``∂f/∂x`` for a Jacobian entry."""
    if isinstance(entry, tuple):
        return f"∂{outputs[entry[0]]}/∂{inputs[entry[1]]}"
    return outputs[entry]


def _exact_jacobian(at: _Checked, budget: symbolic.Budget, notes: list[str]) -> list[list[float]] | None:
    """The exact Jacobian (m, n) at 30 digits, or None (with a note) when it does not fit in the budget."""
    decided: list[str] = []

    def compute() -> list[list[float]]:
        rows = symbolic.Differentiator(at.program).jacobian(at.program.outputs, at.inputs)
        flat = [e for row in rows for e in row]
        values = symbolic.evaluate_numeric(flat, at.program.bindings, at.exact, decided=decided)
        n = len(at.inputs)
        return [values[i * n : (i + 1) * n] for i in range(len(rows))]

    exact, skipped = _in_budget(budget, compute)
    if decided:
        notes.append(symbolic.non_real_note(decided))
    if skipped is not None:
        notes.append(f"exact derivative skipped: {skipped}; the verdict compares autodiff with finite differences")
        return None
    return exact


def _smoothness(
    at: _Checked, budget: symbolic.Budget, notes: list[str], suspects: Sequence[sympy.Symbol]
) -> tuple[list[NonSmooth], list[str]]:
    """Non-smooth sites and the inputs along which the function is not differentiable, in the budget.

    Probed: the inputs that a non-smooth site depends on, and those where finite
    differences are far from the reference (a jump that no site explains).
    """
    program = at.program
    sites, skipped = _in_budget(budget, lambda: nonsmooth_sites(program, at.exact))
    if skipped is not None:
        notes.append(f"non-smoothness test skipped: {skipped}")
        sites = []
    # only the inputs a non-smooth site depends on can lose differentiability there
    probed = [s for s in at.inputs if s in suspects or any(s in site.depends_on for site in sites)]
    if not probed:
        return sites, []
    not_diff, skipped = _in_budget(budget, lambda: not_differentiable(program, probed, at.exact, program.output_labels))
    if skipped is not None:
        notes.append(f"differentiability test skipped: {skipped}")
        return sites, []
    return sites, not_diff


# ---------------------------------------------------------------------------
# ``jacli check`` at many points: every point read (and so validated) first, then one verdict each.
# ---------------------------------------------------------------------------


def check_points(points: Iterable[Any], check_one: Callable[[Any], CheckResult]) -> Iterator[CheckResult]:
    """``check_one(point)`` for each point, in order, each computed when asked for (one point in memory).

    The caller validates ``points`` first (:func:`read_points` does it for a file), so a bad
    point is refused before any verdict is shown.
    """
    for point in points:
        yield check_one(point)


@dataclass(frozen=True)
class FileLayout:
    """How a row of a points file makes a point (``jacli.api`` reads it from the file's header)."""

    shapes: dict[str, tuple[int, ...]]
    """Every variable's shape, in the expression's order."""
    fixed: dict[str, Any]
    """Variables given by ``--at``, not columns: name -> exact value (a ``language.Value``)."""
    column: dict[str, int]
    """Element label (``x``, ``a[0]``) -> its column in the file."""


def read_points(reader: PointsReader, layout: FileLayout) -> Iterator[dict[str, Any]]:
    """The points of ``reader`` as name -> value (an array of the variable's shape), in file order.

    The whole file is read before this returns, so a bad line (``file:line:col``) raises
    here, before any point is checked. Meanwhile the parsed rows wait in a spooled temporary
    file (memory up to :data:`SPOOL_BYTES`, then disk), so memory stays bounded however long the file.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    rows = columns = 0
    try:
        for chunk in reader.chunks(POINTS_PER_READ):
            spool.write(np.ascontiguousarray(chunk.values, dtype=np.float64).tobytes())
            rows, columns = rows + len(chunk.values), chunk.values.shape[1]
            if rows > MAX_CHECK_POINTS:  # endless input (`yes 1,2 |`) must not fill the disk before any verdict
                raise UsageError(
                    f"{reader.name}: more than {MAX_CHECK_POINTS:,} points; check verifies each one exactly, "
                    "so split the file or check a sample (the other commands stream any number)"
                )
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return _replay(spool, rows, columns, layout)


def _replay(spool: IO[bytes], rows: int, columns: int, layout: FileLayout) -> Iterator[dict[str, Any]]:
    """The spooled rows again, :data:`POINTS_PER_READ` at a time, as points."""
    where = {
        name: np.asarray([layout.column[language.element_label(name, i)] for i in np.ndindex(shape)], dtype=np.intp)
        for name, shape in layout.shapes.items()
        if name not in layout.fixed
    }
    with spool:
        for start in range(0, rows, POINTS_PER_READ):
            count = min(POINTS_PER_READ, rows - start)
            block = np.frombuffer(spool.read(count * columns * 8), dtype=np.float64).reshape(count, columns)
            for row in block:
                yield {
                    name: layout.fixed[name] if name in layout.fixed else row[where[name]].reshape(shape)
                    for name, shape in layout.shapes.items()
                }
