"""THE function table: one row per function of the language, holding every view of it.

A row says how the function is written and checked (name, arity), how it builds
SymPy (``build``, and the SymPy class it builds, ``node``), how torch computes it
(``torch``, by name: the lowering in :mod:`jacli.compile` resolves it, and
``--show-torch`` prints it), its op in ``jacli graph``, its exact value on constants
(``value``, for :mod:`.constants`), whether SymEngine may differentiate it, where it
is not smooth (``site``, for ``jacli check``) and its line in ``jacli language``.
Every consumer reads this table; adding a function is one row (and a test).

This module never imports torch: a torch function is named by its dotted path.

>>> FUNCTIONS["atan2"].arity, FUNCTIONS["atan2"].torch, FUNCTIONS["ceil"].node.__name__
('2 arguments', 'torch.atan2', 'ceiling')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import mpmath
import sympy

from jacli.errors import ShapeError
from jacli.language import constants
from jacli.language.arrays import Value, elementwise, scalar, simplifying
from jacli.language.constants import complex_sign, exp_like, extremum, real_function, trig
from jacli.language.sympy_functions import ceiling, detach, floor, sigmoid, softplus
from jacli.reference import LANGUAGE


class Point(Protocol):
    """A point at which ``jacli check`` looks for non-smooth sites (see :mod:`jacli.checking`)."""

    def at(self, expr: sympy.Basic) -> sympy.Expr:
        """``expr`` at the point, to many digits."""

    def is_zero(self, value: sympy.Expr) -> bool:
        """Whether a value is zero to those digits."""

    def text(self, expr: sympy.Basic) -> str:
        """``expr`` in the language's words."""


Site = Callable[[Any, Point], "str | None"]
"""Why a node of the row's class is not smooth at a point (``"kink where x = 0"``), or None."""


@dataclass(frozen=True)
class Function:
    """One function of the language and every view of it."""

    name: str
    """As the user writes it; also its op in ``jacli graph`` and its name in printed SymPy."""
    help: str
    """Its line in ``jacli language``; neighbouring rows with the same help share the line."""
    build: Callable[..., Value]
    """Values (object arrays of SymPy) -> value."""
    min_args: int = 1
    max_args: int | None = 1
    """None: any number (``max(a, b, c)``)."""
    node: type | None = None
    """The SymPy class the function builds (matched along the MRO); None when it builds other
    nodes (``relu`` is ``Max(0, x)``, ``sqrt`` a power), which then need no view of their own."""
    torch: str | None = None
    """The torch function, by dotted name: ``--show-torch`` prints it, and :mod:`jacli.compile`
    computes ``node`` with it (folded pairwise over the arguments when ``max_args`` is None)."""
    torch_of_array: str | None = None
    """The torch function of the one-array form (``max(v)`` is ``torch.amax(v)``)."""
    value: Callable[..., Any] | None = None
    """mpmath value of ``node`` on constants, ``(evaluator, *args) -> number`` (see :mod:`.constants`)."""
    symengine: bool = False
    """SymEngine differentiates ``node`` exactly like SymPy (so it may do so, faster)."""
    site: Site | None = None
    """Where ``node`` is not smooth, for ``jacli check``."""
    usage: str = ""
    """How ``jacli language`` writes it (default: the name): ``atan2(y, x)``."""
    condition_arg: bool = False
    """The first argument is a condition (``where``)."""
    step: bool = False
    """Piecewise constant: a constant argument is decided exactly at build (sign, floor, ceil)."""

    @property
    def arity(self) -> str:
        """``1 argument``, ``1 to 2 arguments``, ``at least 1 argument``."""
        plural = "s" if self.min_args != 1 else ""
        if self.max_args == self.min_args:
            return f"{self.min_args} argument{plural}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{plural}"
        return f"{self.min_args} to {self.max_args} arguments"


# ---------------------------------------------------------------------------
# Builders: values -> value.
# ---------------------------------------------------------------------------


def _unary(fn: Callable[..., Any], name: str) -> Callable[..., Value]:
    build = simplifying(fn)
    return lambda arg: elementwise(name, build, arg)


def _binary(fn: Callable[..., Any], name: str) -> Callable[..., Value]:
    build = simplifying(fn)
    return lambda a, b: elementwise(name, build, a, b)


def _log_base(x: Any, base: Any, evaluate: bool = True) -> sympy.Expr:
    if evaluate:
        return sympy.log(x, base)
    return sympy.Mul(sympy.log(x, evaluate=False), sympy.Pow(sympy.log(base), -1), evaluate=False)


def _log(arg: Value, base: Value | None = None) -> Value:
    if base is None:
        return elementwise("log", simplifying(sympy.log), arg)
    return elementwise("log", simplifying(_log_base), arg, base)


def _extremum(fn: type, name: str) -> Callable[..., Value]:
    build = simplifying(fn)

    def apply(*args: Value) -> Value:
        if len(args) == 1:  # max(v): the largest element of an array
            return scalar(build(*args[0].flat))
        return elementwise(name, build, *args)

    return apply


def _piecewise(cond: Any, a: Any, b: Any, evaluate: bool = True) -> sympy.Expr:
    return sympy.Piecewise((a, cond), (b, True), evaluate=evaluate)


def _where(cond: Value, when_true: Value, when_false: Value) -> Value:
    return elementwise("where", simplifying(_piecewise), cond, when_true, when_false)


def _sum(arg: Value) -> Value:
    return scalar(sympy.Add(*arg.flat))


def _dot(a: Value, b: Value) -> Value:
    if a.ndim != 1 or a.shape != b.shape:
        raise ShapeError(f"dot needs two vectors of the same length, got shapes {a.shape} and {b.shape}")
    return scalar(sympy.Add(*(x * y for x, y in zip(a.flat, b.flat, strict=True))))


# ---------------------------------------------------------------------------
# Non-smooth sites (``jacli check``).
# ---------------------------------------------------------------------------


def _number_text(value: sympy.Expr) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.6g}"


def _zero_site(kind: str) -> Site:
    def site(expr: Any, point: Point) -> str | None:
        (arg,) = expr.args
        return f"{kind} where {point.text(arg)} = 0" if point.is_zero(point.at(arg)) else None

    return site


def _integer_site(expr: Any, point: Point) -> str | None:
    (arg,) = expr.args
    value = point.at(arg)
    if value.is_number and value.is_real and point.is_zero(value - sympy.Integer(round(value))):
        return f"jump: {point.text(arg)} = {round(value)} is an integer"
    return None


def _tie_site(expr: Any, point: Point) -> str | None:
    args = [(a, point.at(a)) for a in expr.args]
    real = [(a, v) for a, v in args if v.is_number and v.is_real]
    if len(real) < len(args):
        return None
    best = max(v for _, v in real) if isinstance(expr, sympy.Max) else min(v for _, v in real)
    tied = [a for a, v in real if point.is_zero(v - best)]
    if len(tied) < 2:
        return None
    shown = "" if any(a.is_number for a in tied) else f" = {_number_text(best)}"
    return f"tie: {' = '.join(point.text(a) for a in tied)}{shown}"


def _branch_cut_site(expr: Any, point: Point) -> str | None:
    y, x = (point.at(a) for a in expr.args)
    if point.is_zero(y) and x.is_number and x.is_real and x < 0:
        return f"jump: the branch cut {point.text(expr.args[0])} = 0 with {point.text(expr.args[1])} < 0"
    return None


def _relations(cond: sympy.Basic) -> list[sympy.core.relational.Relational]:
    if isinstance(cond, sympy.core.relational.Relational):
        return [cond]
    if isinstance(cond, sympy.logic.boolalg.BooleanFunction):
        return [r for a in cond.args for r in _relations(a)]
    return []


def _boundary_site(expr: Any, point: Point) -> str | None:
    for _value, cond in expr.args:
        for relation in _relations(cond):
            if point.is_zero(point.at(relation.lhs - relation.rhs)):
                where = f"{point.text(relation.lhs)} = {point.text(relation.rhs)}"
                return f"on the boundary of its condition {point.text(relation)} ({where})"
    return None


# ---------------------------------------------------------------------------
# THE table, in the order of ``jacli language``.
# ---------------------------------------------------------------------------


def _elementary(name: str, node: type, help: str, value: Callable[..., Any], **views: Any) -> Function:
    """A function of one argument that builds its own SymPy node and is ``torch.<name>``."""
    views = {"torch": f"torch.{name}", "symengine": True} | views
    return Function(name, help, _unary(node, name), node=node, value=value, **views)


_TRIG, _HYPERBOLIC = "trigonometric (radians)", "hyperbolic"
_ROOTS = "square root, absolute value, -1/0/1"
_ROUNDING = "rounding (derivative 0)"
_LOGISTIC = "1/(1+exp(-x)), log(1+exp(x)), max(0, x)"
_EXTREMA = "smallest / largest argument, or element of one array"

ROWS: tuple[Function, ...] = (
    _elementary("sin", sympy.sin, _TRIG, trig(mpmath.sin)),
    _elementary("cos", sympy.cos, _TRIG, trig(mpmath.cos)),
    _elementary("tan", sympy.tan, _TRIG, trig(mpmath.tan)),
    _elementary("asin", sympy.asin, "inverse trigonometric", real_function(mpmath.asin)),
    _elementary("acos", sympy.acos, "inverse trigonometric", real_function(mpmath.acos)),
    _elementary("atan", sympy.atan, "inverse trigonometric", real_function(mpmath.atan)),
    Function(
        "atan2", "angle of the point (x, y)", _binary(sympy.atan2, "atan2"), 2, 2, node=sympy.atan2,
        torch="torch.atan2", value=real_function(mpmath.atan2), site=_branch_cut_site, usage="atan2(y, x)",
    ),
    _elementary("sinh", sympy.sinh, _HYPERBOLIC, exp_like(mpmath.sinh, lambda z: mpmath.inf, lambda z: -mpmath.inf)),
    _elementary("cosh", sympy.cosh, _HYPERBOLIC, exp_like(mpmath.cosh, lambda z: mpmath.inf, lambda z: mpmath.inf)),
    _elementary("tanh", sympy.tanh, _HYPERBOLIC, exp_like(mpmath.tanh, lambda z: 1, lambda z: -1)),
    _elementary("exp", sympy.exp, "exponential", lambda ev, z: ev.exp(z)),
    Function(
        "log", "natural logarithm; logarithm in base b", _log, 1, 2, node=sympy.log, torch="torch.log",
        value=real_function(mpmath.log), symengine=True, usage="log(x)   log(x, b)",
    ),
    Function("log2", "base-2 and base-10 logarithms", _unary(lambda x, **kw: _log_base(x, 2, **kw), "log2"),
             torch="torch.log2"),
    Function("log10", "base-2 and base-10 logarithms", _unary(lambda x, **kw: _log_base(x, 10, **kw), "log10"),
             torch="torch.log10"),
    Function("sqrt", _ROOTS, _unary(sympy.sqrt, "sqrt"), torch="torch.sqrt"),
    _elementary("abs", sympy.Abs, _ROOTS, lambda ev, z: abs(z), symengine=False, site=_zero_site("kink")),
    _elementary("sign", sympy.sign, _ROOTS, lambda ev, z: complex_sign(z), symengine=False,
                site=_zero_site("jump"), step=True),
    Function("floor", _ROUNDING, _unary(floor, "floor"), node=sympy.floor, torch="torch.floor",
             value=real_function(mpmath.floor), site=_integer_site, step=True),
    Function("ceil", _ROUNDING, _unary(ceiling, "ceil"), node=sympy.ceiling, torch="torch.ceil",
             value=real_function(mpmath.ceil), site=_integer_site, step=True),
    Function("min", _EXTREMA, _extremum(sympy.Min, "min"), 1, None, node=sympy.Min, torch="torch.minimum",
             torch_of_array="torch.amin", value=extremum(min), site=_tie_site, usage="min(a, b, ...)"),
    Function("max", _EXTREMA, _extremum(sympy.Max, "max"), 1, None, node=sympy.Max, torch="torch.maximum",
             torch_of_array="torch.amax", value=extremum(max), site=_tie_site, usage="max(a, b, ...)"),
    _elementary("erf", sympy.erf, "error function", real_function(mpmath.erf), torch="torch.special.erf",
                symengine=False),
    _elementary("sigmoid", sigmoid, _LOGISTIC, exp_like(lambda z: 1 / (1 + mpmath.exp(-z)), lambda z: 1, lambda z: 0),
                symengine=False),
    _elementary("softplus", softplus, _LOGISTIC,
                exp_like(lambda z: mpmath.log1p(mpmath.exp(z)), lambda z: z.real, lambda z: 0),
                torch="torch.nn.functional.softplus", symengine=False),
    Function("relu", _LOGISTIC, _unary(lambda x, **kw: sympy.Max(0, x, **kw), "relu"), torch="torch.relu"),
    Function(
        "where",
        "a where cond holds, else b; only the taken\nbranch is differentiated, so\n"
        "where(x > 0, sqrt(x), 0) at x = -1 has\ngradient 0, not nan",
        _where, 3, 3, node=sympy.Piecewise, torch="torch.where", site=_boundary_site, usage="where(cond, a, b)",
        condition_arg=True,
    ),
    Function(
        "detach", "the value of e with derivative zero, like\ntensor.detach() in PyTorch", _unary(detach, "detach"),
        node=detach, torch="torch.Tensor.detach", value=lambda ev, z: z, usage="detach(e)",
    ),
    Function("sum", "sum of the elements; inner product of vectors", _sum, torch="torch.sum", usage="sum(v)"),
    Function("dot", "sum of the elements; inner product of vectors", _dot, 2, 2, torch="torch.dot",
             usage="dot(a, b)"),
)  # fmt: skip
"""Every function of the language, in the order ``jacli language`` lists them."""

FUNCTIONS: dict[str, Function] = {}
"""Name -> row: the only callables user text can reach."""
CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "e": sympy.E}

NODE_SITES: dict[type, Site] = {sympy.Heaviside: _zero_site("jump")}
"""Non-smooth SymPy nodes that are no function of the language (SymPy's own forms)."""


_BY_NODE: dict[type, Function] = {}


def add(row: Function) -> None:
    """Make ``row`` a function of the language: every view reads it from here on (tests add rows)."""
    if row.name in FUNCTIONS and FUNCTIONS[row.name] is not row:
        raise ValueError(f"two functions named {row.name!r}")
    FUNCTIONS[row.name] = row
    if row.node is not None:
        _BY_NODE[row.node] = row
        if row.value is not None:
            constants.RULES[row.node] = row.value


def remove(row: Function) -> None:
    """Undo :func:`add` (for tests)."""
    del FUNCTIONS[row.name]
    if row.node is not None:
        _BY_NODE.pop(row.node, None)
        constants.RULES.pop(row.node, None)


for _row in ROWS:
    add(_row)


def row_of(expr: sympy.Basic) -> Function | None:
    """The row whose ``node`` ``expr`` is an instance of (along the MRO), or None."""
    for cls in type(expr).__mro__:
        row = _BY_NODE.get(cls)
        if row is not None:
            return row
    return None


def site_of(expr: sympy.Basic) -> Site | None:
    """How to find where ``expr`` is not smooth, or None (smooth everywhere it is defined)."""
    row = row_of(expr)
    if row is not None:
        return row.site
    return next((site for cls, site in NODE_SITES.items() if isinstance(expr, cls)), None)


def is_reserved(name: str) -> bool:
    """A function or constant name: never a variable."""
    return name in FUNCTIONS or name in CONSTANTS


def function_lines() -> str:
    """The function list of ``jacli language``, one line per run of rows with the same help."""
    groups: list[list[Function]] = []
    for row in FUNCTIONS.values():
        if groups and groups[-1][0].help == row.help:
            groups[-1].append(row)
        else:
            groups.append([row])
    lines = []
    for group in groups:
        usages = [row.usage or row.name for row in group]
        usage = ("   " if any("(" in u for u in usages) else " ").join(usages)
        first, *rest = group[0].help.split("\n")
        lines.append(f"  {usage:<31} {first}")
        lines.extend(" " * 34 + line for line in rest)
    return "\n".join(lines) + "\n"


def reference_page() -> str:
    """``jacli language`` as the function table writes it: :data:`jacli.reference.LANGUAGE`, with its
    function list generated (the page itself stays plain text, so it prints without SymPy)."""
    head, rest = LANGUAGE.split("\nFunctions\n", 1)
    tail = rest[rest.index("  Functions act elementwise") :]
    return f"{head}\nFunctions\n{function_lines()}{tail}"
