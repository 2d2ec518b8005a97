"""THE function table: one row per function of the language, holding every view of it.

A row says how the function is written and checked (name, arity), its line in
``jacli language``, how torch computes it (``torch``, by name: the lowering in
:mod:`jacli.compile` resolves it, and ``--show-torch`` prints it), its op in
``jacli graph`` (its name), whether SymPy's derivative may come from SymEngine,
and, through its ``views`` resolver, everything that needs SymPy: the SymPy
class it builds (``node``), its builder, its exact value on constants (``value``,
for :mod:`.constants`) and where it is not smooth (``site``, for ``jacli check``).
Every consumer reads this table; adding a function is one row (and a test).

This module imports neither SymPy nor torch, so ``jacli language`` prints the
table's text quickly: a torch function is named by its dotted path, and a row's
SymPy views are resolved on first use, every row at once, by calling its resolver
with :mod:`.sympy_views` (this module imports SymPy only inside the functions that
resolve, once a SymPy view is asked for).

>>> FUNCTIONS["atan2"].arity, FUNCTIONS["atan2"].torch, FUNCTIONS["ceil"].node.__name__
('2 arguments', 'torch.atan2', 'ceiling')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from jacli.reference import FUNCTION_LIST, PAGE

if TYPE_CHECKING:
    from jacli.language.arrays import Value
    from jacli.language.sympy_views import Site, Views


@dataclass(frozen=True)
class Function:
    """One function of the language and every view of it."""

    name: str
    """As the user writes it; also its op in ``jacli graph`` and its name in printed SymPy."""
    help: str
    """Its line in ``jacli language``; neighbouring rows with the same help share the line."""
    views: Callable[[ModuleType], Views]
    """Its SymPy views: called once, with :mod:`.sympy_views` (``v``), on first use of one of them."""
    min_args: int = 1
    max_args: int | None = 1
    """None: any number (``max(a, b, c)``)."""
    torch: str | None = None
    """The torch function, by dotted name: ``--show-torch`` prints it, and :mod:`jacli.compile`
    computes ``node`` with it (folded pairwise over the arguments when ``max_args`` is None)."""
    torch_of_array: str | None = None
    """The torch function of the one-array form (``max(v)`` is ``torch.amax(v)``)."""
    symengine: bool = False
    """SymEngine differentiates ``node`` exactly like SymPy (so it may do so, faster)."""
    usage: str = ""
    """How ``jacli language`` writes it (default: the name): ``atan2(y, x)``."""
    condition_arg: bool = False
    """The first argument is a condition (``where``)."""
    step: bool = False
    """Piecewise constant: a constant argument is decided exactly at build (sign, floor, ceil)."""
    lowering: str | None = None
    """The callable :mod:`jacli.compile` computes ``node`` with, by dotted name, where it is not ``torch``
    (``jacli.tensor_torch.sec``: torch has no ``sec``)."""
    torch_text: str | None = None
    """How ``--show-torch`` writes a call, where it is not ``torch(args)``: Python over torch with the
    arguments as ``_0``, ``_1`` (``1 / torch.cos(_0)``)."""
    keywords: tuple[str, ...] = ()
    """The keyword arguments it takes (``axis``: an integer constant)."""
    axis_arg: int | None = None
    """The position of a positional ``axis`` argument (``sum(x, 1)``), or None."""

    @property
    def arity(self) -> str:
        """``1 argument``, ``1 to 2 arguments``, ``at least 1 argument``."""
        plural = "s" if self.min_args != 1 else ""
        if self.max_args == self.min_args:
            return f"{self.min_args} argument{plural}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{plural}"
        return f"{self.min_args} to {self.max_args} arguments"

    @property
    def node(self) -> type | None:
        """The SymPy class the function builds, or None (see :class:`.sympy_views.Views`)."""
        return views_of(self).node

    @property
    def build(self) -> Callable[..., Value]:
        """Values (object arrays of SymPy) -> value."""
        build = views_of(self).build
        assert build is not None  # complete() gave it one
        return build

    @property
    def value(self) -> Callable[..., Any] | None:
        """mpmath value of ``node`` on constants, ``(evaluator, *args) -> number``."""
        return views_of(self).value

    @property
    def site(self) -> Site | None:
        """Where ``node`` is not smooth, for ``jacli check``."""
        return views_of(self).site


# ---------------------------------------------------------------------------
# THE table, in the order of ``jacli language``. ``v`` is :mod:`.sympy_views`.
# ---------------------------------------------------------------------------


def _elementary(name: str, help: str, views: Callable[[ModuleType], Views], **fields: Any) -> Function:
    """A function of one argument that builds its own SymPy node and is ``torch.<name>``."""
    return Function(name, help, views, **({"torch": f"torch.{name}", "symengine": True} | fields))


_TRIG, _HYPERBOLIC = "trigonometric (radians)", "hyperbolic"
_ROOTS = "square root, absolute value, -1/0/1"
_ROUNDING = "rounding (derivative 0)"
_LOGISTIC = "1/(1+exp(-x)), log(1+exp(x)), max(0, x)"
_EXTREMA = "smallest / largest argument, or element of one array"

# --- tensor language, part A (issue 13) ---
_REDUCE = (
    "mean, product, log(sum(exp(x))) (stable) of\nthe elements, or along an axis: mean(x, 0),\n"
    "mean(x, axis=-1); sum(x, axis), max(x, axis=k)\nand min(x, axis=k) too"
)
_SOFTMAX = "softmax along axis (default the last), stable"
_RECIPROCAL = "reciprocal trigonometric and hyperbolic"
_INVERSE_HYPERBOLIC = "inverse hyperbolic"
_EXP_LOG = "exp(x)-1, log(1+x) (accurate near 0), 2**x"


def _axis_row(name: str, help: str, views: Callable[[ModuleType], Views], **fields: Any) -> Function:
    """A function of one array and an optional axis (positional or ``axis=k``)."""
    return Function(name, help, views, **({"max_args": 2, "keywords": ("axis",), "axis_arg": 1} | fields))


def _reciprocal(name: str, of: str, value: Callable[[ModuleType], Any]) -> Function:
    """``sec`` is ``1 / cos`` and the like: SymPy's node, computed as the reciprocal in torch."""
    return Function(
        name,
        _RECIPROCAL,
        lambda v: v.Views(getattr(v.sympy, name), value=value(v)),
        lowering=f"jacli.tensor_torch.{name}",
        torch_text=f"1 / torch.{of}(_0)",
    )


_TENSOR_ROWS_A: tuple[Function, ...] = (
    Function("transpose", "the axes reversed (A.T is the same)", lambda v: v.Views(build=v.tensor.transpose),
             torch_text="_0.permute(tuple(reversed(range(_0.ndim))))", usage="transpose(A)   A.T"),
    _axis_row("mean", _REDUCE, lambda v: v.Views(build=v.tensor.reduction("mean", v.tensor.mean)),
              torch="torch.mean", usage="mean"),
    _axis_row("prod", _REDUCE, lambda v: v.Views(
        build=v.tensor.reduction("prod", lambda e: v.sympy.Mul(*e), v.sympy.S.One)), torch="torch.prod",
        usage="prod"),
    _axis_row("logsumexp", _REDUCE, lambda v: v.Views(
        v.tensor.logsumexp, build=v.tensor.reduction("logsumexp", lambda e: v.tensor.logsumexp(*e)),
        value=v.tensor.VALUES["logsumexp"]), torch="torch.logsumexp", lowering="jacli.tensor_torch.logsumexp",
        torch_text="torch.logsumexp(_0.reshape(-1), 0)", usage="logsumexp"),
    Function("norm", "2-norm of the elements (Frobenius for a\nmatrix); p-norm of the elements",
             lambda v: v.Views(v.tensor.norm, build=v.tensor.norm_of, value=v.tensor.VALUES["norm"],
                               site=v.tensor.all_zero_site("kink")),
             1, 2, torch="torch.linalg.vector_norm", lowering="jacli.tensor_torch.norm", keywords=("axis",),
             usage="norm(x)   norm(x, p)"),
    _axis_row("softmax", _SOFTMAX, lambda v: v.Views(build=v.tensor.softmax), torch="torch.softmax",
              torch_text="torch.softmax(_0, dim=-1)", usage="softmax(x)"),
    _axis_row("log_softmax", _SOFTMAX, lambda v: v.Views(build=v.tensor.log_softmax), torch="torch.log_softmax",
              torch_text="torch.log_softmax(_0, dim=-1)", usage="log_softmax(x)"),
    _elementary("asinh", _INVERSE_HYPERBOLIC, lambda v: v.Views(
        v.sympy.asinh, value=v.real_function(v.mpmath.asinh)), symengine=False),
    _elementary("acosh", _INVERSE_HYPERBOLIC, lambda v: v.Views(
        v.sympy.acosh, value=v.real_function(v.mpmath.acosh)), symengine=False),
    _elementary("atanh", _INVERSE_HYPERBOLIC, lambda v: v.Views(
        v.sympy.atanh, value=v.real_function(v.mpmath.atanh)), symengine=False),
    _reciprocal("sec", "cos", lambda v: v.trig(v.mpmath.sec)),
    _reciprocal("csc", "sin", lambda v: v.trig(v.mpmath.csc)),
    _reciprocal("cot", "tan", lambda v: v.trig(v.mpmath.cot)),
    _reciprocal("sech", "cosh", lambda v: v.exp_like(v.mpmath.sech, lambda z: 0, lambda z: 0)),
    _reciprocal("csch", "sinh", lambda v: v.exp_like(v.mpmath.csch, lambda z: 0, lambda z: 0)),
    _reciprocal("coth", "tanh", lambda v: v.exp_like(v.mpmath.coth, lambda z: 1, lambda z: -1)),
    Function("sinc", "sin(pi*x)/(pi*x), 1 at 0", lambda v: v.Views(v.tensor.sinc, value=v.tensor.VALUES["sinc"]),
             torch="torch.sinc", lowering="jacli.tensor_torch.sinc"),
    Function("expm1", _EXP_LOG, lambda v: v.Views(v.tensor.expm1, value=v.tensor.VALUES["expm1"]),
             torch="torch.expm1"),
    Function("log1p", _EXP_LOG, lambda v: v.Views(v.tensor.log1p, value=v.tensor.VALUES["log1p"]),
             torch="torch.log1p"),
    Function("exp2", _EXP_LOG, lambda v: v.Views(v.tensor.exp2, value=v.tensor.VALUES["exp2"]),
             torch="torch.exp2"),
    Function("square", "x**2, the real cube root", lambda v: v.Views(
        elementwise=lambda x, **kw: v.sympy.Pow(x, 2, **kw)), torch="torch.square"),
    Function("cbrt", "x**2, the real cube root", lambda v: v.Views(
        v.tensor.cbrt, value=v.tensor.VALUES["cbrt"], site=v.zero_site("vertical tangent")),
        lowering="jacli.tensor_torch.cbrt", torch_text="torch.sign(_0) * torch.abs(_0) ** (1 / 3)"),
    Function("hypot", "sqrt(a**2 + b**2) without overflow", lambda v: v.Views(
        v.tensor.hypot, value=v.tensor.VALUES["hypot"], site=v.tensor.all_zero_site("kink")),
        2, 2, torch="torch.hypot", usage="hypot(a, b)"),
)  # fmt: skip
"""The rows of issue 13, part A (at the end of :data:`ROWS`)."""


# --- tensor language, part B (issue 13) ---


def _part_b(name: str) -> Callable[[ModuleType], Views]:
    """The resolver of a part-B row: its views from :mod:`.linalg` and :mod:`.shapes` (SymPy, on first use)."""

    def resolve(v: ModuleType) -> Views:
        from jacli.language import linalg, shapes  # noqa: PLC0415 - SymPy, for the first view only

        node = getattr(linalg, name, None)
        value = getattr(linalg, f"{name}_value", None)
        site = linalg.singular_site if name in ("inv", "solve") else None
        build = getattr(linalg, f"{name}_of", None) or getattr(shapes, f"{name}_of")
        return v.Views(node if isinstance(node, type) else None, build=build, value=value, site=site)

    return resolve


_SIZES = "constant arrays of shape (n,) or (n, m)"
_TENSOR_B: tuple[Function, ...] = (
    Function("trace", "sum of the diagonal of a square matrix", _part_b("trace"), torch="torch.trace",
             usage="trace(A)"),
    Function("det", "determinant of a square matrix", _part_b("det"), torch="torch.linalg.det", usage="det(A)"),
    Function("inv", "inverse of a square matrix (nan if singular)", _part_b("inv"), torch="torch.linalg.inv",
             usage="inv(A)"),
    Function("solve", "inv(A)@b, b a vector or a matrix", _part_b("solve"), 2, 2, torch="torch.linalg.solve",
             usage="solve(A, b)"),
    Function("outer", "outer product of two vectors", _part_b("outer"), 2, 2, torch="torch.outer",
             usage="outer(a, b)"),
    Function("diag", "vector -> diagonal matrix, matrix -> diagonal", _part_b("diag"), torch="torch.diag",
             usage="diag(v)"),
    Function("reshape", "the elements, row-major, in shape (m, n) or\n(n); one size may be -1", _part_b("reshape"),
             2, None, torch="torch.reshape", usage="reshape(x, m, n)"),
    Function("concat", "arrays joined along the first axis", _part_b("concat"), 1, None, torch="torch.cat",
             usage="concat(a, b, ...)"),
    Function("stack", "values of one shape along a new first axis", _part_b("stack"), 1, None,
             torch="torch.stack", usage="stack(a, b, ...)"),
    Function("arange", "0, 1, ..., n-1; a, a+step, ... before b", _part_b("arange"), 1, 3, torch="torch.arange",
             usage="arange(n)   arange(a, b, step)"),
    Function("linspace", "n values from a to b, both included", _part_b("linspace"), 3, 3,
             torch="torch.linspace", usage="linspace(a, b, n)"),
    Function("eye", "the n-by-n identity matrix", _part_b("eye"), torch="torch.eye", usage="eye(n)"),
    Function("ones", _SIZES, _part_b("ones"), 1, 2, torch="torch.ones", usage="ones(n, m)"),
    Function("zeros", _SIZES, _part_b("zeros"), 1, 2, torch="torch.zeros", usage="zeros(n, m)"),
)  # fmt: skip


ROWS: tuple[Function, ...] = (
    _elementary("sin", _TRIG, lambda v: v.Views(v.sympy.sin, value=v.trig(v.mpmath.sin))),
    _elementary("cos", _TRIG, lambda v: v.Views(v.sympy.cos, value=v.trig(v.mpmath.cos))),
    _elementary("tan", _TRIG, lambda v: v.Views(v.sympy.tan, value=v.trig(v.mpmath.tan))),
    _elementary("asin", "inverse trigonometric", lambda v: v.Views(v.sympy.asin, value=v.real_function(v.mpmath.asin))),
    _elementary("acos", "inverse trigonometric", lambda v: v.Views(v.sympy.acos, value=v.real_function(v.mpmath.acos))),
    _elementary("atan", "inverse trigonometric", lambda v: v.Views(v.sympy.atan, value=v.real_function(v.mpmath.atan))),
    Function(
        "atan2", "angle of the point (x, y)",
        lambda v: v.Views(v.sympy.atan2, value=v.real_function(v.mpmath.atan2), site=v.branch_cut_site),
        2, 2, torch="torch.atan2", usage="atan2(y, x)",
    ),
    _elementary("sinh", _HYPERBOLIC, lambda v: v.Views(
        v.sympy.sinh, value=v.exp_like(v.mpmath.sinh, lambda z: v.mpmath.inf, lambda z: -v.mpmath.inf))),
    _elementary("cosh", _HYPERBOLIC, lambda v: v.Views(
        v.sympy.cosh, value=v.exp_like(v.mpmath.cosh, lambda z: v.mpmath.inf, lambda z: v.mpmath.inf))),
    _elementary("tanh", _HYPERBOLIC, lambda v: v.Views(
        v.sympy.tanh, value=v.exp_like(v.mpmath.tanh, lambda z: 1, lambda z: -1))),
    _elementary("exp", "exponential", lambda v: v.Views(v.sympy.exp, value=lambda ev, z: ev.exp(z))),
    Function(
        "log", "natural logarithm; logarithm in base b",
        lambda v: v.Views(v.sympy.log, elementwise=v.log, value=v.real_function(v.mpmath.log)),
        1, 2, torch="torch.log", symengine=True, usage="log(x)   log(x, b)",
    ),
    Function("log2", "base-2 and base-10 logarithms",
             lambda v: v.Views(elementwise=lambda x, **kw: v.log_base(x, 2, **kw)), torch="torch.log2"),
    Function("log10", "base-2 and base-10 logarithms",
             lambda v: v.Views(elementwise=lambda x, **kw: v.log_base(x, 10, **kw)), torch="torch.log10"),
    Function("sqrt", _ROOTS, lambda v: v.Views(elementwise=v.sympy.sqrt), torch="torch.sqrt"),
    _elementary("abs", _ROOTS, lambda v: v.Views(v.sympy.Abs, value=lambda ev, z: abs(z), site=v.zero_site("kink")),
                symengine=False),
    _elementary("sign", _ROOTS, lambda v: v.Views(
        v.sympy.sign, value=lambda ev, z: v.complex_sign(z), site=v.zero_site("jump")), symengine=False, step=True),
    Function("floor", _ROUNDING, lambda v: v.Views(
        v.sympy.floor, elementwise=v.floor, value=v.real_function(v.mpmath.floor), site=v.integer_site),
        torch="torch.floor", step=True),
    Function("ceil", _ROUNDING, lambda v: v.Views(
        v.sympy.ceiling, elementwise=v.ceiling, value=v.real_function(v.mpmath.ceil), site=v.integer_site),
        torch="torch.ceil", step=True),
    Function("min", _EXTREMA, lambda v: v.Views(
        v.sympy.Min, build=v.extremum_of(v.sympy.Min, "min"), value=v.extremum(min), site=v.tie_site),
        1, None, torch="torch.minimum", torch_of_array="torch.amin", usage="min(a, b, ...)", keywords=("axis",)),
    Function("max", _EXTREMA, lambda v: v.Views(
        v.sympy.Max, build=v.extremum_of(v.sympy.Max, "max"), value=v.extremum(max), site=v.tie_site),
        1, None, torch="torch.maximum", torch_of_array="torch.amax", usage="max(a, b, ...)", keywords=("axis",)),
    _elementary("erf", "error function", lambda v: v.Views(v.sympy.erf, value=v.real_function(v.mpmath.erf)),
                torch="torch.special.erf", symengine=False),
    _elementary("sigmoid", _LOGISTIC, lambda v: v.Views(v.sigmoid, value=v.exp_like(
        lambda z: 1 / (1 + v.mpmath.exp(-z)), lambda z: 1, lambda z: 0)), symengine=False),
    _elementary("softplus", _LOGISTIC, lambda v: v.Views(v.softplus, value=v.exp_like(
        lambda z: v.mpmath.log1p(v.mpmath.exp(z)), lambda z: z.real, lambda z: 0)),
        torch="torch.nn.functional.softplus", symengine=False),
    Function("relu", _LOGISTIC, lambda v: v.Views(elementwise=lambda x, **kw: v.sympy.Max(0, x, **kw)),
             torch="torch.relu"),
    Function(
        "where",
        "a where cond holds, else b; only the taken\nbranch is differentiated, so\n"
        "where(x > 0, sqrt(x), 0) at x = -1 has\ngradient 0, not nan",
        lambda v: v.Views(v.sympy.Piecewise, elementwise=v.where, site=v.boundary_site),
        3, 3, torch="torch.where", usage="where(cond, a, b)", condition_arg=True,
    ),
    Function(
        "detach", "the value of e with derivative zero, like\ntensor.detach() in PyTorch",
        lambda v: v.Views(v.detach, value=lambda ev, z: z), torch="torch.Tensor.detach", usage="detach(e)",
    ),
    Function("sum", "sum of the elements; inner product of vectors", lambda v: v.Views(build=v.sum_of),
             1, 2, torch="torch.sum", usage="sum(v)", keywords=("axis",), axis_arg=1),
    Function("dot", "sum of the elements; inner product of vectors", lambda v: v.Views(build=v.dot), 2, 2,
             torch="torch.dot", usage="dot(a, b)"),
    # --- tensor language, part A (issue 13) ---
    *_TENSOR_ROWS_A,


    # --- tensor language, part B (issue 13) ---
    *_TENSOR_B,
)  # fmt: skip
"""Every function of the language, in the order ``jacli language`` lists them."""

FUNCTIONS: dict[str, Function] = {}
"""Name -> row: the only callables user text can reach."""
CONSTANTS: dict[str, str] = {"pi": "pi", "e": "E"}
"""Name -> the SymPy constant it is, by its name in ``sympy``."""


# ---------------------------------------------------------------------------
# Rows -> SymPy views, resolved on first use (all rows at once).
# ---------------------------------------------------------------------------

_VIEWS: dict[Function, Views] = {}
"""Each resolved row's views; empty until a first view is used, then holding every row of the table."""
_BY_NODE: dict[type, Function] = {}
"""SymPy class -> the row that builds it, for the resolved rows."""


def _resolve(row: Function) -> Views:
    """Call ``row``'s resolver; index its node and give :mod:`.constants` its exact value."""
    from jacli.language import constants, sympy_views  # noqa: PLC0415 - SymPy, for the first view only

    views = sympy_views.complete(row.name, row.views(sympy_views))
    _VIEWS[row] = views
    if views.node is not None:
        _BY_NODE[views.node] = row
        if views.value is not None:
            constants.RULES[views.node] = views.value
    return views


def resolve_views() -> None:
    """Resolve every row (once): SymPy may build any function's node, so every row is indexed together."""
    if not _VIEWS:
        for row in FUNCTIONS.values():
            _resolve(row)


def views_of(row: Function) -> Views:
    """``row``'s SymPy views (the first call imports SymPy and resolves the whole table)."""
    resolve_views()
    return _VIEWS[row] if row in _VIEWS else _resolve(row)


def add(row: Function) -> None:
    """Make ``row`` a function of the language: every view reads it from here on (tests add rows)."""
    if row.name in FUNCTIONS and FUNCTIONS[row.name] is not row:
        raise ValueError(f"two functions named {row.name!r}")
    FUNCTIONS[row.name] = row
    if _VIEWS:  # the table is resolved already: so is the new row
        _resolve(row)


def remove(row: Function) -> None:
    """Undo :func:`add` (for tests)."""
    del FUNCTIONS[row.name]
    views = _VIEWS.pop(row, None)
    if views is not None and views.node is not None:
        from jacli.language import constants  # noqa: PLC0415 - resolved: SymPy is imported already

        _BY_NODE.pop(views.node, None)
        constants.RULES.pop(views.node, None)
        for other in FUNCTIONS.values():  # a row of the table with the same node (asinh) is indexed again
            if other in _VIEWS and _VIEWS[other].node is views.node:
                _resolve(other)


for _row in ROWS:
    add(_row)


def row_of(expr: Any) -> Function | None:
    """The row whose ``node`` the SymPy ``expr`` is an instance of (along the MRO), or None."""
    resolve_views()
    for cls in type(expr).__mro__:
        row = _BY_NODE.get(cls)
        if row is not None:
            return row
    return None


def site_of(expr: Any) -> Site | None:
    """How to find where the SymPy ``expr`` is not smooth, or None (smooth everywhere it is defined)."""
    from jacli.language.sympy_views import NODE_SITES  # noqa: PLC0415 - ``expr`` is SymPy: it is imported

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
    """``jacli language``: the page of :mod:`jacli.reference`, with the function list of this table."""
    return PAGE.replace(FUNCTION_LIST, function_lines())
