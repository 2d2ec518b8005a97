"""The paths of many points, decided together in floats: exact SymPy only where floats cannot tell.

:func:`group_points` gives what :func:`jacli.flow.group_points` gives (the same paths, in
the same order, with the same points), but runs the program once per *path* over all the
points that take it, in float64 torch tensors (a column per point), not once per point in
exact SymPy. Each comparison is decided per point in float64; a point whose comparison is
too close to call is taken out of the run and decided exactly, one point at a time, as before.
"Too close to call": an operand or the difference is not finite (nan, inf; a complex value
is nan here), the difference is within :data:`RELATIVE_MARGIN` of the operands' size, or
the same comparison evaluated in float32 disagrees in sign or differs from the float64 one
by more than :data:`PRECISION_MARGIN` times the float64 difference's size (an estimate of
float64's own rounding error, which catches cancellation the operands' size hides), or a third float64 run
with every number moved by :data:`SHAKE` moves the difference by as much as its size (a term absorbed in both
precisions, then blown up by ``sqrt`` or ``log``, which float32 cannot show). Exact
ties (``x == 1`` at 1, ``0.1*x + 0.2*x == 0.3*x`` at 1) always go to the exact decision.

Points that split at a comparison go on in separate runs: the run continues with the larger
side, the others start again from the top with their own run (so a ``while`` whose count
depends on the point costs one vectorised run per distinct count). A run that raises (a limit,
a shape error) hands its points to the exact path too, which raises the same error for the
first point that has it, as before. Points whose values are not all rational (``Float`` s)
take the exact path.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy  # noqa: TID253 - imported by the evaluation of points, which has both
import torch  # noqa: TID253

from jacli import flow
from jacli.errors import ExpressionError, UsageError
from jacli.values import Point, assign_point, text_argument, wrt_names

RELATIVE_MARGIN = 1e-9
"""A float64 difference within this fraction of the largest number computed on the path so far (operands,
inputs, constants, every intermediate step) is re-decided exactly."""
PRECISION_MARGIN = 2.0**-16
"""float64's error taken as at most this times the float32-float64 gap (their epsilons differ by 2**29)."""
SHAKE = 2.0**-40
"""The relative change made to every leaf, constant and step of a third float64 run (about 1e-12: far above
float64's rounding, far below :data:`RELATIVE_MARGIN`). A comparison whose difference moves by as much as its
own size under it is re-decided exactly: float64's rounding, ~10,000 times smaller, is blown up as much (a
cancellation to exactly 0 in both precisions fed to ``sqrt`` or ``log``, which the float32 check cannot see)."""


class _Stop(Exception):
    """Every point of a run was handed to the exact decision: the run ends."""


@dataclass(frozen=True)
class _Both:
    """A value at the run's points: float64 and float32, each (points, *shape)."""

    wide: torch.Tensor
    narrow: torch.Tensor
    rows: torch.Tensor
    """The points (ascending indices into the class) the values are of."""
    shaken: torch.Tensor
    """The float64 values with every number of their computation moved by :data:`SHAKE` (inputs: unmoved)."""
    integral: torch.Tensor
    """Per point: every element an integer computed exactly (integer arithmetic under 2**52), so its float
    comparisons are exact: a loop counter ``n += 1`` decides ``n < 12`` at 12 in floats."""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.wide.shape[1:])

    def take(self, rows: torch.Tensor) -> _Both:
        """The values at ``rows`` (ascending, a subset of :attr:`rows`)."""
        if rows is self.rows:
            return self
        at = torch.searchsorted(self.rows, rows)
        return _Both(self.wide[at], self.narrow[at], rows, self.shaken[at], self.integral[at])


def group_points(expr: str, points: Sequence[Point], wrt: Any) -> list[tuple[flow.Path, list[int]]] | None:
    """:func:`jacli.flow.group_points`, decided in floats for all points at once (see the module's text)."""
    parsed = flow.parsed_program(text_argument(expr, "the expression"))
    if parsed.flow is None:
        return None
    order = wrt_names(parsed, wrt)
    keys: dict[int, tuple[Any, ...]] = {}
    classes: dict[tuple[Any, ...], list[int]] = {}
    numbers: dict[int, dict[str, Any]] = {}
    exact: list[int] = []
    names: frozenset[str] | None = None  # the first point's names, when it is a plain mapping of numbers
    failed: Exception | None = None
    for index, point in enumerate(points):
        shapes = _plain_shapes(point, names)
        if shapes is None:
            try:
                key = keys[index] = flow._key(assign_point(parsed, order, point))
            except (UsageError, ExpressionError) as err:  # raised once the points before it are decided
                failed, points = err, points[:index]
                break
            if index == 0 and isinstance(point, Mapping) and _plain_shapes(point, frozenset(point)) is not None:
                names = frozenset(point)
            if not all(isinstance(v, sympy.Rational) for _, _, flat in key for v in flat):
                exact.append(index)
                continue
            shapes = tuple((name, shape) for name, shape, _ in key)
            numbers[index] = {name: [v.p / v.q for v in flat] for name, _, flat in key}
        else:
            numbers[index] = point  # type: ignore[assignment]
        classes.setdefault(shapes, []).append(index)
    paths: dict[int, flow.Path] = {}
    for signature, members in classes.items():
        exact += _decide_class(parsed.flow, signature, [numbers[i] for i in members], members, paths)
    limit = flow.max_iterations()
    for index in sorted(exact):  # one at a time, in order: the first point that raises raises, as before
        key = keys.get(index) or flow._key(assign_point(parsed, order, points[index]))
        paths[index] = flow._run_cached(expr, key, limit)
    if failed is not None:
        raise failed
    groups: dict[str, tuple[flow.Path, list[int]]] = {}
    for index in range(len(points)):
        path = paths[index]
        groups.setdefault(path.text, (path, []))[1].append(index)
    return list(groups.values())


def _plain_shapes(point: Any, names: frozenset[str] | None) -> tuple[Any, ...] | None:
    """``((name, shape), …)`` for a point that is a mapping of ``names`` (the first point's) to floats, small
    ints or nested lists of them, all finite (as a points file's rows are): its floats are its exact values.
    None for anything else (it goes through :func:`jacli.values.assign_point`)."""
    if names is None or not isinstance(point, dict) or point.keys() != names:
        return None
    shapes = []
    for name, value in point.items():
        shape = _number_shape(value)
        if shape is None:
            return None
        shapes.append((name, shape))
    return tuple(shapes)


def _number_shape(value: Any) -> tuple[int, ...] | None:
    kind = type(value)
    if kind is float:
        return () if math.isfinite(value) else None
    if kind is int:
        return () if -(2**53) <= value <= 2**53 else None
    if kind is not list or not value:
        return None
    inner = [_number_shape(v) for v in value]
    if inner[0] is None or any(s != inner[0] for s in inner):
        return None
    return (len(value), *inner[0])


def _decide_class(
    program: Any, signature: tuple[Any, ...], points: list[dict[str, Any]], members: list[int], paths: dict
) -> list[int]:
    """The points of one shape signature: their paths into ``paths``; returns those left to the exact path."""
    values: dict[str, _Both] = {}
    for name, shape in signature:
        flat = [np.asarray(point[name], dtype=np.float64).reshape(-1) for point in points]
        wide = torch.from_numpy(np.stack(flat)).reshape(len(points), *shape)
        flat_wide = wide.reshape(len(points), -1)
        integral = ((flat_wide == flat_wide.round()) & (flat_wide.abs() < _EXACT_INTEGERS)).all(1)
        values[name] = _Both(wide, wide.to(torch.float32), torch.arange(len(points)), wide, integral)
    undecided: list[int] = []
    pending = [torch.arange(len(points))]
    while pending:
        rows = pending.pop()
        run = _VectorInterpreter(program, {n: v.take(rows) for n, v in values.items()}, rows)
        try:
            path = run.path()
        except _Stop:
            path = None
        except (UsageError, ExpressionError, RecursionError, ValueError, TypeError, RuntimeError):
            undecided += [members[int(i)] for i in run.rows]  # the exact path raises it (or not) as before
            path = None
        undecided += [members[int(i)] for i in run.undecided]
        pending += run.deferred
        if path is not None:
            for i in run.rows.tolist():
                paths[members[i]] = path
    return undecided


class _VectorInterpreter(flow._Interpreter):
    """:class:`jacli.flow._Interpreter` over many points at once: values are :class:`_Both`, one path per run."""

    def __init__(self, program: Any, values: dict[str, _Both], rows: torch.Tensor) -> None:
        super().__init__(program, values)  # type: ignore[arg-type]
        self.exact = False
        self.rows = rows
        """The points (indices into the class) still on this run's path."""
        self.undecided: list[int] = []
        self.deferred: list[torch.Tensor] = []
        self.size = torch.zeros(int(rows.max()) + 1 if len(rows) else 0, dtype=torch.float64)
        """Per point (by its index in the class), the largest magnitude of any number computed on the path so
        far: the rounding error of float64 is taken as within :data:`RELATIVE_MARGIN` of it."""
        for value in values.values():
            self.size[rows] = torch.maximum(self.size[rows], _magnitude(value.wide, len(rows)))

    def value(self, renamed: Any) -> Any:
        self.ensure(renamed.names)
        for name in renamed.names:  # those computed before points left the run: at the points still on it
            self.values[name] = self.values[name].take(self.rows)
        shapes = tuple((f"v{k}", self.values[n].shape) for k, n in enumerate(renamed.names))
        try:
            program = flow._built(renamed.template, shapes)
        except ExpressionError as err:  # as the exact interpreter words it
            raise self.flow.source.error(str(err).split(" at column ")[0], renamed.node) from None
        function = _lowered(renamed.template, shapes)
        count = len(self.rows)
        out = []
        integral = torch.full((count,), _integer_polynomial(renamed.template, shapes))
        for var in program.variables:
            integral &= self.values[renamed.names[int(var.name[1:])]].integral
        for field, dtype in _FIELDS:
            columns = [
                getattr(self.values[renamed.names[int(var.name[1:])]], field).reshape(count, -1)
                for var in program.variables
            ]
            x = torch.cat(columns, dim=1).T if columns else torch.empty((0, count), dtype=dtype)
            y, size = _evaluate(function, x.to(dtype), count, shake=field == "shaken")
            out.append(y.T.reshape(count, *program.output_shape))
            if field == "wide":
                self.size[self.rows] = torch.maximum(self.size[self.rows], size)
                integral &= size < _EXACT_INTEGERS
        wide, narrow, shaken = out
        return _Both(wide, narrow, self.rows, shaken, integral)

    def scalar(self, node: ast.expr, stmt: Any) -> Any:
        value = self.value(self.rename(node))
        if value.shape:
            super().scalar(node, stmt)  # its error, worded once
        return value

    def compare(self, op: ast.cmpop, left: Any, right: Any, node: ast.AST) -> bool:
        if type(op) not in _CHECKS:
            return super().compare(op, sympy.S.Zero, sympy.S.Zero, node)  # its error, worded once
        left = left.take(self.rows)
        if not isinstance(right, _Both):  # the truth of a scalar: its comparison with 0
            zero = 0 * left.wide
            right = _Both(zero, 0 * left.narrow, self.rows, zero, torch.ones(len(self.rows), dtype=torch.bool))
        right = right.take(self.rows)
        wide, narrow = left.wide - right.wide, left.narrow - right.narrow
        size = torch.maximum(torch.maximum(left.wide.abs(), right.wide.abs()), self.size[self.rows])
        gap = (wide - narrow.to(torch.float64)).abs()
        close = (wide.abs() <= RELATIVE_MARGIN * size) | (wide.abs() <= PRECISION_MARGIN * gap)
        finite = torch.isfinite(left.wide) & torch.isfinite(right.wide) & torch.isfinite(wide) & torch.isfinite(narrow)
        moved = (wide - (left.shaken - right.shaken)).abs()  # nan (a shaken value not finite) compares False
        unclear = ~finite | close | (torch.sign(wide) != torch.sign(narrow.to(torch.float64))) | ~(moved < wide.abs())
        unclear &= ~(left.integral & right.integral)  # integers computed exactly: the float sign is exact
        taken = _CHECKS[type(op)](torch.sign(wide))
        if bool(unclear.any()):
            self.undecided += self.rows[unclear].tolist()
        clear = ~unclear
        yes, no = clear & taken, clear & ~taken
        if not bool(clear.any()):
            raise _Stop
        side = bool(yes.sum() >= no.sum())
        keep, other = (yes, no) if side else (no, yes)
        if bool(other.any()):
            self.deferred.append(self.rows[other])
        if not bool(keep.all()):
            self.rows = self.rows[keep]  # the values follow when next used (:meth:`_Both.take`)
        return side


_FIELDS = (("wide", torch.float64), ("narrow", torch.float32), ("shaken", torch.float64))
_EXACT_INTEGERS = 2.0**52
"""Integers below this in magnitude, and their sums, differences and products while every step stays below
it, are exact in float64."""


@functools.lru_cache(maxsize=256)
def _integer_polynomial(template: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> bool:
    """Whether a template's every output and binding is a polynomial with integer coefficients (sums, products,
    non-negative integer powers): exact in float64 on exact integers while its steps stay under 2**52."""
    program = flow._built(template, shapes)
    for expr in (*program.outputs, *(b.value for b in program.bindings)):
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Symbol | sympy.Integer | sympy.Add | sympy.Mul):
                continue
            if isinstance(node, sympy.Pow) and node.exp.is_Integer and node.exp >= 0:
                continue
            return False
    return True


_CHECKS = {
    ast.Eq: lambda s: s == 0,
    ast.NotEq: lambda s: s != 0,
    ast.Lt: lambda s: s < 0,
    ast.LtE: lambda s: s <= 0,
    ast.Gt: lambda s: s > 0,
    ast.GtE: lambda s: s >= 0,
}


def _evaluate(function: Any, x: torch.Tensor, count: int, shake: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``function(x)`` on columns (inputs, points) -> (outputs, points), and per point the largest magnitude of
    any number of the computation (inputs, constants, every step): a cancellation inside one expression,
    ``(x + 1e16) - 1e16``, shows as a large step though its result is small. (``TorchFunction.__call__``'s
    tape walk, with the magnitudes kept.) ``shake``: every leaf, constant and step moved by :data:`SHAKE`, up
    and down in turn."""
    leaves = list(x.unbind())
    constants = [torch.tensor(c, dtype=x.dtype) for c in function._constants]
    if shake:
        leaves = [_shaken(leaf, k) for k, leaf in enumerate(leaves)]
        constants = [_shaken(c, k + 1) for k, c in enumerate(constants)]
    size = _magnitude(x, count)
    for constant in constants:
        size = torch.maximum(size, constant.abs())
    steps: list[torch.Tensor] = []
    offset = len(leaves)

    def get(i: int) -> torch.Tensor:
        return constants[-i - 1] if i < 0 else leaves[i] if i < offset else steps[i - offset]

    for step in function._steps:
        value = step.fn(*(get(i) for i in step.args))
        if shake:
            value = _shaken(value, len(steps))
        steps.append(value)
        size = torch.maximum(size, _magnitude(value, count))
    if not function._outputs:
        return x.new_zeros((0, count)), size
    outputs = [get(i).to(x.dtype) for i in function._outputs]
    y = torch.stack([o.expand(count) if o.dim() == 0 else o for o in torch.broadcast_tensors(*outputs)])
    return y, size


def _shaken(value: torch.Tensor, k: int) -> torch.Tensor:
    """``value`` times ``1 ± SHAKE`` (by ``k``'s parity), when it is a float tensor."""
    if not torch.is_floating_point(value):
        return value
    return value * (1 + SHAKE if k % 2 else 1 - SHAKE)


def _magnitude(value: torch.Tensor, count: int) -> torch.Tensor:
    """Per point, the largest absolute value in ``value`` (points last, or first for a (points, *shape) value;
    0-d: the same for all); nan counts as inf, and a layout not recognised as inf (so the decision is exact)."""
    if not torch.is_floating_point(value):
        value = value.to(torch.float64)
    magnitude = torch.nan_to_num(value.detach().abs().to(torch.float64), nan=math.inf)
    if magnitude.dim() == 0:
        return magnitude.expand(count)
    if magnitude.shape[-1] == count:
        return magnitude.reshape(-1, count).amax(0) if magnitude.numel() else torch.zeros(count, dtype=torch.float64)
    if magnitude.shape[0] == count:
        return magnitude.reshape(count, -1).amax(1) if magnitude.numel() else torch.zeros(count, dtype=torch.float64)
    return torch.full((count,), math.inf, dtype=torch.float64)


@functools.lru_cache(maxsize=256)
def _lowered(template: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> Any:
    from jacli.compile import to_torch  # noqa: PLC0415

    program = flow._built(template, shapes)
    return to_torch(program, program.variables, ())
