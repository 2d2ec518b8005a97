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

import collections
import contextvars
import decimal
import functools
import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy
import torch

from jacli import calculus, language, symbolic
from jacli.compile import TorchFunction, to_torch
from jacli.errors import ShapeError, UsageError
from jacli.language import MAX_DIMENSIONS as MAX_DIMS  # one limit for every reader of arrays
from jacli.limits import DENSE_FUNC_HESSIAN_INPUTS
from jacli.results import InputBlock, Result, SymbolicText

if TYPE_CHECKING:
    from torch import Tensor

Point = str | Mapping[str, Any] | Sequence[Any] | None
"""``"1,2"``, ``"x=1, A=[[1,2],[3,4]]"``, ``{"x": 1}`` or ``[1, 2]``."""

DTYPES = {"float64": torch.float64, "float32": torch.float32}

# ---------------------------------------------------------------------------
# A problem: an expression, which variables, and a point.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Everything needed to differentiate an expression at one point."""

    program: language.Program
    inputs: tuple[language.Variable, ...]
    params: tuple[language.Variable, ...]
    values: dict[str, language.Value]  # exact SymPy values of every variable
    fn: TorchFunction
    x: Tensor
    p: Tensor

    def function(self) -> Any:
        """``x -> f(x, p)`` with the parameters bound."""
        return lambda x: self.fn(x, self.p)

    @property
    def input_symbols(self) -> list[sympy.Symbol]:
        return [s for v in self.inputs for s in v.symbols]

    @property
    def blocks(self) -> tuple[InputBlock, ...]:
        blocks, start = [], 0
        for v in self.inputs:
            blocks.append(InputBlock(v.name, v.shape, start))
            start += v.size
        return tuple(blocks)

    def exact_point(self) -> dict[sympy.Symbol, sympy.Expr]:
        """Symbol -> exact value, for every element of every variable."""
        return {
            s: value
            for v in self.program.variables
            for s, value in zip(v.symbols, self.values[v.name].flat, strict=True)
        }

    def point_json(self) -> dict[str, Any]:
        """Variable name -> float or nested list, in variable order."""
        return {
            v.name: np.vectorize(language.constant_value, otypes=[float])(self.values[v.name]).tolist()
            for v in self.program.variables
        }


def parse(text: str) -> language.ParsedExpression:
    """Parse (cached: many points of one expression parse once); an expression that is not a str is refused."""
    return _parse(_text(text, "the expression"))


@functools.lru_cache(maxsize=64)
def _parse(text: str) -> language.ParsedExpression:
    return language.parse_expression(text)


def _text(value: Any, what: str) -> str:
    """``value`` when it is a str; bytes or anything else is a usage error naming ``what``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        raise UsageError(f"{what} must be text (str), not bytes; decode it first")
    raise UsageError(f"{what} must be a string, not {type(value).__name__}")


def option_number(name: str, value: Any, *, positive: bool = False) -> float | None:
    """A numeric option such as ``--h``, ``--rtol``, ``--atol``: None, or a finite number ≥ 0 (> 0 if ``positive``).

    Any other value, of any type, is a :class:`UsageError`:

    >>> option_number("--h", "0.1", positive=True)
    Traceback (most recent call last):
    ...
    jacli.errors.UsageError: --h must be a finite positive number, not '0.1'
    """
    if value is None:
        return None
    number = math.nan
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except (OverflowError, ValueError):  # Fraction(10**5000, 3): too large for a float
            pass
    if not (math.isfinite(number) and (number > 0 if positive else number >= 0)):
        kind = "positive" if positive else "non-negative"
        raise UsageError(f"{name} must be a finite {kind} number, not {_short(value)}")
    return number


def _one_of(value: Any, choices: Sequence[str]) -> bool:
    """Whether ``value`` is one of the strings ``choices`` (an array or other object is not, without a ValueError)."""
    return isinstance(value, str) and value in choices


def _short(value: Any) -> str:
    """``repr(value)`` for a message, at most 40 characters (a huge value in a message is noise)."""
    if isinstance(value, str | bytes):
        value = value[:41]
    elif not _cheap_repr(value):
        return f"a {type(value).__name__}"
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits inside a Fraction or SymPy number
        return f"a huge {type(value).__name__}"
    return text if len(text) <= 40 else text[:28] + "…" + text[-8:]


def _cheap_repr(value: Any) -> bool:
    """Whether ``repr(value)`` is short work: a number or None, not a huge int (quadratic) or a container."""
    if isinstance(value, int):
        return value.bit_length() < 4096
    return value is None or isinstance(value, numbers.Number | decimal.Decimal | sympy.Basic)


@functools.lru_cache(maxsize=64)
def _program(text: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> language.Program:
    return language.build_program(parse(text), dict(shapes))


@functools.lru_cache(maxsize=64)
def _compiled(text: str, shapes: tuple[tuple[str, tuple[int, ...]], ...], wrt: tuple[str, ...]) -> TorchFunction:
    program = _program(text, shapes)
    inputs = [program.variable(n) for n in wrt]
    params = [v for v in program.variables if v.name not in wrt]
    return to_torch(program, inputs, params)


def wrt_names(parsed: language.ParsedExpression, wrt: str | Sequence[str] | None) -> tuple[str, ...]:
    """The differentiation variables: ``wrt`` checked against the expression, or all its names."""
    if not parsed.names:
        raise UsageError("the expression has no variables, so there is nothing to differentiate")
    if wrt is None:
        return parsed.names
    if isinstance(wrt, str):
        names = [n.strip() for n in wrt.split(",")]
    elif isinstance(wrt, list | tuple) and all(isinstance(n, str) for n in wrt):
        names = list(wrt)
    else:
        raise UsageError(f"wrt must be names: a string like 'x,y' or a list of strings, not {_short(wrt)}")
    known_names = set(parsed.names)
    for name in names:
        if name not in known_names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(
                f"--wrt names {_short(name)}, which is not a variable of the expression (variables: {known})"
            )
    duplicates = sorted(n for n, count in collections.Counter(names).items() if count > 1)
    if duplicates:
        raise UsageError(f"--wrt names {', '.join(map(repr, duplicates))} more than once")
    if not names:
        raise UsageError("--wrt names no variable")
    return tuple(names)


def _number(x: Any, name: str) -> sympy.Expr:
    """A Python, NumPy or SymPy number -> an exact SymPy number (floats by their decimal repr).

    Finite real numbers only, as ``--at`` takes them: bool, complex, nan, inf, strings
    and other objects are usage errors (never a TypeError or OverflowError).
    """
    if isinstance(x, bool | np.bool_):
        raise UsageError(f"value for {name!r} is not numeric: {x!r}")
    if isinstance(x, numbers.Rational):  # int, Fraction, NumPy and SymPy integers: exact
        numerator, denominator = int(x.numerator), int(x.denominator)
        if max(numerator.bit_length(), denominator.bit_length()) > language.MAX_INT_BITS:  # as --at refuses it
            raise UsageError(
                f"value for {name!r} is too large to compute exactly (over {language.MAX_INT_BITS:,} bits)"
            )
        return sympy.Rational(numerator, denominator)
    if isinstance(x, numbers.Real | decimal.Decimal):
        try:
            value = float(x)
        except (OverflowError, ValueError):
            value = math.nan
        if math.isfinite(value):
            return sympy.Rational(repr(value))
    if isinstance(x, sympy.Expr) and x.is_number and x.is_real is True and x.is_finite is True:
        for rational in x.atoms(sympy.Rational):  # the numbers inside are held to the same size
            _number(rational, name)
        return x
    raise UsageError(f"value for {name!r} is not a finite real number: {_short(x)}")


def _as_value(raw: Any, name: str) -> language.Value:
    """A number, nested list, NumPy array or torch tensor from Python -> an object array of SymPy numbers.

    Sizes and depth are checked before anything is converted, so a 10,000,000-element
    array is refused at once (not after seconds and hundreds of MB).
    """
    if isinstance(raw, str):
        parsed = language.parse_assignments(raw)
        if len(parsed.positional) != 1 or parsed.named:
            raise UsageError(f"value for {name!r} must be one number or array, got {_short(raw)}")
        return parsed.positional[0]
    if isinstance(raw, bytes | bytearray | memoryview):
        raise UsageError(f"value for {name!r} is bytes, not a number; decode it, or give a number")
    shape, flat = _nested(_plain(raw, name), name)
    out = np.empty(len(flat), dtype=object)
    out[:] = [_number(x, name) for x in flat]
    return out.reshape(shape)


def _plain(raw: Any, name: str) -> Any:
    """A NumPy array or torch tensor as nested lists, after checking its size; anything else as it is."""
    if isinstance(raw, torch.Tensor):
        if raw.is_meta or raw.layout != torch.strided or raw.is_nested or raw.is_quantized:
            raise UsageError(f"value for {name!r}: a {_tensor_kind(raw)} tensor has no values to read")
        _check_size(tuple(raw.shape), name)
        return raw.detach().cpu().tolist()
    if isinstance(raw, np.ndarray | np.generic):
        _check_size(raw.shape, name)
        return raw.tolist()
    return raw


def _tensor_kind(t: torch.Tensor) -> str:
    if t.is_meta:
        return "meta"
    if t.is_nested:
        return "nested"
    if t.is_quantized:
        return "quantized"
    return str(t.layout).removeprefix("torch.")


def _check_size(shape: Sequence[int], name: str) -> None:
    """Refuse an array deeper than :data:`MAX_DIMS` or larger than ``language.max_elements()``."""
    if len(shape) > MAX_DIMS:
        raise UsageError(
            f"value for {name!r} is nested more than {MAX_DIMS} deep (arrays have at most {MAX_DIMS} axes)"
        )
    size, limit = math.prod(shape), language.max_elements()
    if size > limit:
        raise UsageError(
            f"the value of {name!r} has {size:,} elements; the limit is {limit:,} (set JACLI_MAX_ELEMENTS to raise it)"
        )


def _nested(raw: Any, name: str) -> tuple[tuple[int, ...], list[Any]]:
    """The shape and the flat elements of nested lists/tuples, checked level by level.

    Each level's size is checked before the next is built, so a huge list costs
    nothing to refuse; ragged or empty arrays and arrays nested too deeply are errors.
    """
    shape: list[int] = []
    level = [raw]
    while isinstance(level[0], list | tuple):
        width = len(level[0])
        if width == 0:
            raise UsageError(f"value for {name!r} is an empty array")
        if not all(isinstance(item, list | tuple) and len(item) == width for item in level):
            raise ShapeError(f"value for {name!r} is a ragged array: its rows have different lengths")
        shape.append(width)
        _check_size(shape, name)
        level = [_plain(x, name) for item in level for x in item]
    if any(isinstance(x, list | tuple) for x in level):
        raise ShapeError(f"value for {name!r} is a ragged array: its rows have different lengths")
    return tuple(shape), level


def _is_number_like(at: Any) -> bool:
    """One value standing for a point of one variable: ``at=3``, ``at=Fraction(1, 3)``, a 0-d array."""
    if isinstance(at, np.ndarray | torch.Tensor):
        return at.ndim == 0
    return isinstance(at, numbers.Number | decimal.Decimal | sympy.Basic | np.generic)


def assign_point(parsed: language.ParsedExpression, order: Sequence[str], at: Point) -> dict[str, language.Value]:
    """Match the values of ``at`` to the expression's names: positional in ``order``, or by name."""
    if at is None:
        positional, named = (), {}
    elif isinstance(at, str):
        parsed_at = language.parse_assignments(at)
        positional, named = parsed_at.positional, dict(parsed_at.named)
    elif isinstance(at, Mapping):
        positional, named = (), _named_values(at)
    elif _is_number_like(at):  # at=3: the one value of a function of one variable, as at="3"
        positional, named = (_as_value(at, order[0]),), {}
    elif isinstance(at, list | tuple | np.ndarray | torch.Tensor):
        if len(at) > len(order):  # before converting anything: at may be huge
            raise UsageError(
                f"--at has {len(at):,} positional values but there are {len(order)} variables ({', '.join(order)})"
            )
        positional, named = tuple(_as_value(v, order[i]) for i, v in enumerate(at)), {}
    else:
        raise UsageError(
            "at must be a point: text like '1,2' or 'x=1, y=2', a mapping of names to values, "
            f"or a list of values, not {_short(at)}"
        )
    if len(positional) > len(order):
        raise UsageError(
            f"--at has {len(positional)} positional values but there are {len(order)} variables ({', '.join(order)})"
        )
    values = dict(zip(order, positional, strict=False))
    for name, value in named.items():
        if name not in parsed.names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(
                f"--at names {_short(name)}, which is not a variable of the expression (variables: {known})"
            )
        if name in values:
            raise UsageError(f"--at gives {name!r} twice (by position and by name)")
        values[name] = value
    missing = [n for n in parsed.names if n not in values]
    if missing:
        if len(positional) == len(order):
            hint = f'parameters need a value by name, e.g. --at "{missing[0]}=1"'
        else:
            hint = f"variables in order: {', '.join(order)}"
        raise UsageError(f"--at has no value for {', '.join(map(repr, missing))} ({hint})")
    limit = language.max_elements()
    for name, value in values.items():
        if value.size > limit:
            raise UsageError(f"the value of {name!r} has {value.size:,} elements; the limit is {limit:,}")
    return {n: values[n] for n in parsed.names}


def _named_values(at: Mapping[Any, Any]) -> dict[str, language.Value]:
    """``{"x": 1, "A": [[1, 2], [3, 4]]}`` -> name -> exact value; names must be strings."""
    named = {}
    for key, value in at.items():
        if not isinstance(key, str):
            raise UsageError(f"the names of a point must be strings, not {_short(key)}")
        named[key] = _as_value(value, key)
    return named


def _dtype(dtype: str) -> torch.dtype:
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, not {_short(dtype)}")
    return DTYPES[dtype]


def _device(device: str) -> torch.device:
    if not isinstance(device, str) or device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, not {_short(device)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device here; use --device cpu")
    return torch.device(device)


def _tensor(values: Sequence[language.Value], dtype: torch.dtype, device: torch.device) -> Tensor:
    flat = [language.constant_value(e) for e in language.flatten_values(values)]
    return torch.tensor(flat, dtype=dtype, device=device)


def problem(
    expr: str, at: Point = None, *, wrt: str | Sequence[str] | None = None, dtype: str = "float64", device: str = "cpu"
) -> Problem:
    """Parse ``expr``, match ``at`` to its variables and compile it to torch."""
    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    values = assign_point(parsed, order, at)
    shapes = tuple((n, tuple(v.shape)) for n, v in values.items())
    program = _program(expr, shapes)
    fn = _compiled(expr, shapes, order)
    inputs = tuple(program.variable(n) for n in order)
    params = tuple(v for v in program.variables if v.name not in order)
    torch_dtype, torch_device = _dtype(dtype), _device(device)
    x = _tensor([values[v.name] for v in inputs], torch_dtype, torch_device)
    p = _tensor([values[v.name] for v in params], torch_dtype, torch_device)
    return Problem(program, inputs, params, values, fn, x, p)


def _vector(prob: Problem, v: Any, labels: Sequence[str], what: str) -> tuple[list[sympy.Expr], Tensor]:
    """``--v`` as exact weights and as a tensor of the problem's dtype and device."""
    weights = parse_vector(v, len(labels), labels, what)
    return weights, _tensor([language.scalar(w) for w in weights], prob.x.dtype, prob.x.device)


def parse_vector(v: Any, size: int, labels: Sequence[str], what: str) -> list[sympy.Expr]:
    """``--v``: ``ones``, a flat list, or an array literal with ``size`` elements."""
    if isinstance(v, str) and v.strip() == "ones":
        return [sympy.S.One] * size
    if isinstance(v, str):
        assignments = language.parse_assignments(v, what="--v")
        if assignments.named:
            raise UsageError("--v takes values in order (or 'ones'), not names")
        elements = language.flatten_values(assignments.positional)
    else:
        elements = list(_as_value(v, "--v").flat)
    if len(elements) != size:
        raise ShapeError(
            f"--v has {len(elements)} value{'s' if len(elements) != 1 else ''} but {what} needs {size} "
            f"(one per {'output' if what == 'vjp' else 'input'}: {', '.join(labels[:8])}{', …' if size > 8 else ''})"
        )
    return elements


# ---------------------------------------------------------------------------
# Results.
# ---------------------------------------------------------------------------


def _finish(
    command: str,
    prob: Problem,
    numeric: Tensor,
    exprs: Any,
    *,
    exact: bool,
    v: Sequence[sympy.Expr] | None = None,
    mode: str | None = None,
) -> Result:
    """Package numbers, the value f(x) and (when asked) the symbolic result."""
    fn = prob.function()
    value = calculus.value(fn, prob.x)
    text, symbolic_cells, exact_cells = None, None, None
    notes: tuple[str, ...] = ()
    if isinstance(exprs, _Skipped):  # the numbers still come out
        notes = (f"symbolic form skipped: {exprs.reason}" + ("; so is --exact" if exact else ""),)
        exprs, exact = None, False
    if exprs is not None:
        symbolic_cells = symbolic.to_text(exprs)
        operations = symbolic.operation_count(exprs)
        text = SymbolicText(
            pretty=functools.cache(lambda: symbolic.to_pretty(exprs)),
            latex=functools.cache(lambda: symbolic.to_latex(exprs)),
            operations=operations,
        )
        if exact:
            exact_cells, exact_notes = _exact(exprs, prob)
            notes += exact_notes
    elif exact:
        raise UsageError("--exact needs the symbolic result; drop --no-symbolic")
    return Result(
        command=command,
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
        v=None if v is None else tuple(language.constant_value(e) for e in v),
        mode=mode,
        bindings=_used_bindings(prob.program, exprs) if exprs is not None else (),
        notes=notes,
        text=text,
        tensor=numeric.detach(),
        sympy=exprs,
    )


def _used_bindings(program: language.Program, exprs: Any) -> tuple[tuple[str, str], ...]:
    """The bindings a symbolic result refers to, directly or through other bindings, in order."""
    used: set[sympy.Symbol] = set()
    pending = set().union(*(symbolic.as_expr(e).free_symbols for e in _flatten_exprs(exprs)))
    definitions = {b.symbol: b.value for b in program.bindings}
    while pending:
        symbol = pending.pop()
        if symbol in definitions and symbol not in used:
            used.add(symbol)
            pending |= definitions[symbol].free_symbols
    return tuple((b.symbol.name, sympy.sstr(b.value)) for b in program.bindings if b.symbol in used)


def _exact(exprs: Any, prob: Problem) -> tuple[Any, tuple[str, ...]]:
    """``--exact`` cells and notes; in what is left of the command's time budget, else skipped (None)."""
    budget = _BUDGET.get() or symbolic.Budget()
    flat = _flatten_exprs(exprs)
    decided: list[str] = []
    try:
        with budget.limit():
            values = symbolic.evaluate_exact(flat, prob.program.bindings, prob.exact_point(), decided)
            cells = _unflatten([symbolic.exact_text(e) for e in values], exprs)
    except symbolic.SymbolicTooLarge as err:
        return None, (f"--exact skipped: {err}; the numbers are complete",)
    return cells, (symbolic.non_real_note(decided),) if decided else ()


def _flatten_exprs(exprs: Any) -> list[sympy.Expr]:
    if isinstance(exprs, list):
        return [e for item in exprs for e in _flatten_exprs(item)]
    return [exprs]


def _unflatten(flat: list[Any], like: Any) -> Any:
    iterator = iter(flat)

    def rebuild(node: Any) -> Any:
        return [rebuild(n) for n in node] if isinstance(node, list) else next(iterator)

    return rebuild(like)


def _require_scalar(command: str, prob: Problem) -> None:
    m = len(prob.program.outputs)
    if m != 1:
        raise ShapeError(
            f"{command} needs a scalar expression, but this one has {m} outputs "
            f"(shape {prob.program.output_shape}); use jacobian{' or hessian' if command != 'hessian' else ''}"
        )


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
    """Jacobian of ``expr`` at ``at``: an m×n matrix (outputs × inputs).

    ``mode``: ``forward`` (one pass per input), ``reverse`` (one per output) or
    ``auto`` (forward when there are fewer inputs than outputs).
    """
    if not _one_of(mode, calculus.MODES):
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {_short(mode)}")
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    language.check_result_size("Jacobian", (len(prob.program.outputs), prob.x.numel()))
    chosen = calculus.choose_mode(mode, prob.x.numel(), len(prob.program.outputs))
    numeric = calculus.jacobian(prob.function(), prob.x, chosen)
    exprs = _symbolic(lambda: _symbolic_jacobian(prob)) if symbolic_form else None
    return _finish("jacobian", prob, numeric, exprs, exact=exact, mode=chosen)


def _symbolic_jacobian(prob: Problem) -> list[list[sympy.Expr]]:
    return symbolic.Differentiator(prob.program).jacobian(prob.program.outputs, prob.input_symbols)


@dataclass(frozen=True)
class _Skipped:
    """A part that was not computed: too large, or past the command's time budget (``reason`` says which)."""

    reason: str


_BUDGET: contextvars.ContextVar[symbolic.Budget | None] = contextvars.ContextVar("jacli_budget", default=None)
"""The time budget of the command being computed: started by :func:`_symbolic`, shared by :func:`_exact`."""


def _symbolic(compute: Callable[[], Any]) -> Any:
    """``compute()``, or :class:`_Skipped` when the symbolic work is over its bounds.

    Starts the command's time budget (:class:`symbolic.Budget`); ``--exact`` gets what is left of it.
    """
    budget = symbolic.Budget()
    _BUDGET.set(budget)
    return _within(budget, compute)


def _within(budget: symbolic.Budget, compute: Callable[[], Any]) -> Any:
    """``compute()`` in what is left of ``budget``, or :class:`_Skipped`."""
    try:
        with budget.limit():
            return compute()
    except symbolic.SymbolicTooLarge as err:
        return _Skipped(str(err))


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
    """Gradient of a scalar ``expr``: an n-vector."""
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    _require_scalar("gradient", prob)
    numeric = calculus.vjp(prob.function(), prob.x, torch.ones(1, dtype=prob.x.dtype, device=prob.x.device))
    exprs = _symbolic(lambda: _symbolic_jacobian(prob)[0]) if symbolic_form else None
    return _finish("gradient", prob, numeric, exprs, exact=exact)


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
    """Hessian: n×n for a scalar ``expr``, m×n×n for a vector-valued one."""
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    language.check_result_size("Hessian", (len(prob.program.outputs), prob.x.numel(), prob.x.numel()))
    numeric = _numeric_hessian(prob)
    exprs = None
    if symbolic_form:
        differentiator = symbolic.Differentiator(prob.program)
        exprs = _symbolic(lambda: differentiator.hessian(prob.program.outputs, prob.input_symbols))
    if not prob.program.output_shape:  # a scalar f: drop the output axis
        numeric = numeric[0]
        exprs = exprs[0] if isinstance(exprs, list) else exprs
    return _finish("hessian", prob, numeric, exprs, exact=exact)


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
    """``vᵀJ``, one reverse pass (like ``y.backward(gradient=v)``): an n-vector."""
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    labels = prob.program.output_labels
    weights, v_tensor = _vector(prob, v, labels, "vjp")
    numeric = calculus.vjp(prob.function(), prob.x, v_tensor)
    exprs = _symbolic(lambda: symbolic.combine(weights, _symbolic_jacobian(prob))) if symbolic_form else None
    return _finish("vjp", prob, numeric, exprs, exact=exact, v=weights)


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
    """``J·v``, one forward-mode pass: an m-vector."""
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    labels = [s.name for s in prob.input_symbols]
    weights, v_tensor = _vector(prob, v, labels, "jvp")
    numeric = calculus.jvp(prob.function(), prob.x, v_tensor)
    exprs = None
    if symbolic_form:
        exprs = _symbolic(lambda: symbolic.combine(weights, symbolic.transpose(_symbolic_jacobian(prob))))
    return _finish("jvp", prob, numeric, exprs, exact=exact, v=weights)


# ---------------------------------------------------------------------------
# Many points: vectorised with torch.func.vmap over chunks, streamed.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsEvaluation:
    """A derivative at many points: labels once, then :class:`~jacli.batch.PointsChunk` s as they finish.

    ``chunks`` is a one-shot iterator: each chunk is computed when it is asked for,
    so memory holds one chunk however many points there are.
    """

    command: str
    expression: str
    variables: tuple[tuple[str, tuple[int, ...]], ...]
    """(name, shape) of every variable, variable order: the columns of ``PointsChunk.points``."""
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    blocks: tuple[InputBlock, ...]
    shape: tuple[int, ...]
    """Shape of the result at one point."""
    mode: str | None
    v: tuple[float, ...] | None
    chunks: Any  # Iterator[batch.PointsChunk]
    source: Any = None  # the points.PointsReader, when reading a file (bytes read, size)
    symbolic_exprs: Any = None
    """A function giving the symbolic result (nested SymPy expressions), or None with ``--no-symbolic``."""
    bindings: tuple[tuple[str, str], ...] = ()

    @functools.cached_property
    def symbolic(self) -> Any:
        """The symbolic result as nested SymPy strings, derived on first use (only json shows it).

        None when ``--no-symbolic``, or when it is too large to derive (:attr:`symbolic_note` says so).
        """
        if self.symbolic_exprs is None:
            return None
        try:
            return symbolic.to_text(self.symbolic_exprs())
        except symbolic.SymbolicTooLarge as err:
            self.__dict__["symbolic_note"] = f"symbolic form skipped: {err}; the numbers are complete"
            return None

    @property
    def symbolic_note(self) -> str | None:
        """Why the symbolic form is missing, when it was asked for but skipped."""
        return self.__dict__.get("symbolic_note")

    @property
    def point_labels(self) -> tuple[str, ...]:
        """Labels of the columns of ``PointsChunk.points``: ``x``, ``a[0]``, …"""
        return tuple(
            language.element_label(name, index) for name, shape in self.variables for index in np.ndindex(shape)
        )


def _fixed_values(at: Point, parsed: language.ParsedExpression) -> dict[str, language.Value]:
    """``--at`` with ``--points``: values by name for the variables that are not columns."""
    if at is None:
        return {}
    if isinstance(at, str):
        assignments = language.parse_assignments(at)
        if assignments.positional:
            raise UsageError('with --points, --at gives values by name (e.g. --at "a=2") for variables not in the file')
        named = dict(assignments.named)
    elif isinstance(at, Mapping):
        named = _named_values(at)
    else:
        raise UsageError("with --points, --at gives values by name, for variables not in the file")
    for name in named:
        if name not in parsed.names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(f"--at names {name!r}, which is not a variable of the expression (variables: {known})")
    return named


def _header_columns(
    reader: Any, parsed: language.ParsedExpression, fixed: Mapping[str, language.Value]
) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """A header row -> each column variable's shape, and element label -> column index.

    Linear in the number of columns, and each array is held to ``language.max_elements()``
    and :data:`MAX_DIMS` before its shape is used.
    """
    where = f"{reader.name}:{reader.first_line}"
    limit = language.max_elements()
    names = set(parsed.names)
    indices: dict[str, list[tuple[int, ...]]] = {}
    label_column: dict[str, int] = {}
    for col, label in enumerate(reader.header):
        name, _, rest = label.partition("[")
        if name not in names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(f"{where}: the header names {_short(label)}, not a variable of the expression ({known})")
        if name in fixed:
            raise UsageError(f"{where}: {name!r} is both a column and given by --at; give it once")
        index = _header_index(where, label, rest, limit)
        seen = indices.setdefault(name, [])
        if seen and (not index) != (not seen[0]):
            raise UsageError(f"{where}: the header names {name!r} both whole and by element")
        seen.append(index)
        if len(seen) > limit:
            raise UsageError(
                f"{where}: the header names more than {limit:,} elements of {name!r}; the limit is {limit:,}"
            )
        element = language.element_label(name, index)
        if element in label_column:
            raise UsageError(f"{where}: the header names {element!r} twice")
        label_column[element] = col
    shapes: dict[str, tuple[int, ...]] = {}
    for name, seen in indices.items():
        shapes[name] = _header_shape(where, name, seen, limit)
    return shapes, label_column


def _header_index(where: str, label: str, rest: str, limit: int) -> tuple[int, ...]:
    """The index of ``a[0,1]`` (``rest`` is ``0,1]``); too many axes or too large an index is refused."""
    if not rest:
        return ()
    parts = rest[:-1].split(",", MAX_DIMS)
    if len(parts) > MAX_DIMS:
        raise UsageError(
            f"{where}: {_short(label)} has more than {MAX_DIMS} indices (arrays have at most {MAX_DIMS} axes)"
        )
    if any(len(part) > len(str(limit)) or int(part) >= limit for part in parts):  # no int() of 5,000 digits
        raise UsageError(f"{where}: {_short(label)}: an index past the limit of {limit:,} elements")
    return tuple(int(part) for part in parts)


def _header_shape(where: str, name: str, seen: list[tuple[int, ...]], limit: int) -> tuple[int, ...]:
    """The shape of array ``name`` from the indices of its columns, which must be all of its elements."""
    rank = len(seen[0])
    if any(len(i) != rank for i in seen):
        raise UsageError(f"{where}: the elements of {name!r} in the header have different numbers of indices")
    shape = tuple(max(i[d] for i in seen) + 1 for d in range(rank))
    size = math.prod(shape)
    if size > limit:
        raise UsageError(
            f"{where}: the header makes {name!r} an array of shape {shape}, {size:,} elements; the limit is {limit:,}"
        )
    if len(seen) != size:  # labels are distinct, so some are missing
        present = set(seen)
        missing = [language.element_label(name, i) for i in np.ndindex(shape) if i not in present]
        shown = ", ".join(missing[:5])
        raise UsageError(f"{where}: the header has no column for {shown} (array {name!r} of shape {shape})")
    return shape


def _file_layout(
    reader: Any, parsed: language.ParsedExpression, order: Sequence[str], at: Point
) -> tuple[dict[str, tuple[int, ...]], dict[str, list[float]], dict[str, int]]:
    """Shapes of the variables, fixed values (from ``at``), and element label -> column of a points file."""
    fixed = _fixed_values(at, parsed)
    if reader.header is not None:
        shapes, label_column = _header_columns(reader, parsed, fixed)
    else:
        names = [*order, *(n for n in parsed.names if n not in order and n not in fixed)]
        names = [n for n in names if n not in fixed]
        if reader.columns and reader.columns != len(names):
            raise UsageError(
                f"{reader.name}:{reader.first_line}: {reader.columns} column{'s' if reader.columns != 1 else ''} "
                f"but {len(names)} expected ({', '.join(names) or 'none'}); a header row can name the columns"
            )
        shapes = {n: () for n in names}
        label_column = {n: i for i, n in enumerate(names)}
    for name, value in fixed.items():
        shapes[name] = tuple(value.shape)
    missing = [n for n in parsed.names if n not in shapes]
    if missing:
        raise UsageError(f"{reader.name}: no column for {', '.join(map(repr, missing))}; add one or give it by --at")
    values = {n: [language.constant_value(e) for e in value.flat] for n, value in fixed.items()}
    return shapes, values, label_column


def validate_points(expr: str, points: Sequence[Point], *, wrt: str | Sequence[str] | None = None) -> None:
    """Refuse a bad point among many before any is computed (``--at`` given several times).

    Each point is matched to the variables and the program is built for its shapes
    (cached, so this is the cheap part of the work); the first bad one raises.
    """
    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    for point in points:
        values = assign_point(parsed, order, point)
        _program(expr, tuple((n, tuple(v.shape)) for n, v in values.items()))


def _list_layout(
    parsed: language.ParsedExpression, order: Sequence[str], points: Sequence[Point]
) -> tuple[dict[str, tuple[int, ...]], Any]:
    """Shapes of the variables and the (points, elements) array of a list of points."""
    assigned = [assign_point(parsed, order, point) for point in points]
    if not assigned:
        raise UsageError("no points given")
    shapes = {n: tuple(val.shape) for n, val in assigned[0].items()}
    for values in assigned[1:]:
        for n, val in values.items():
            if tuple(val.shape) != shapes[n]:
                raise ShapeError(f"{n!r} has shape {shapes[n]} at one point and {tuple(val.shape)} at another")
    flat = [[language.constant_value(e) for n in parsed.names for e in values[n].flat] for values in assigned]
    return shapes, np.asarray(flat, dtype=np.float64).reshape(len(assigned), -1)


def _columns(
    program: language.Program,
    order: Sequence[str],
    fixed: Mapping[str, list[float]],
    label_column: Mapping[str, int] | None,
) -> Any:
    """The :class:`~jacli.batch.Columns` map: input columns and fixed values -> every variable's flat elements."""
    from jacli import batch  # noqa: PLC0415

    offsets, start = {}, 0
    for var in program.variables:
        offsets[var.name] = start
        start += var.size
    from_column: list[int] = []
    column: list[int] = []
    fixed_at: list[int] = []
    fixed_values: list[float] = []
    for var in program.variables:
        base = offsets[var.name]
        if var.name in fixed:
            fixed_at.extend(range(base, base + var.size))
            fixed_values.extend(fixed[var.name])
        else:
            from_column.extend(range(base, base + var.size))
            column.extend(range(base, base + var.size) if label_column is None else map(label_column.get, var.labels))
    params = [var for var in program.variables if var.name not in order]
    positions = [
        [offsets[var.name] + k for var in group for k in range(var.size)]
        for group in ([program.variable(n) for n in order], params)
    ]
    return batch.Columns(
        size=start,
        from_column=np.asarray(from_column, dtype=np.intp),
        column=np.asarray(column, dtype=np.intp),
        fixed_at=np.asarray(fixed_at, dtype=np.intp),
        fixed=np.asarray(fixed_values, dtype=np.float64),
        inputs=np.asarray(positions[0], dtype=np.intp),
        params=np.asarray(positions[1], dtype=np.intp),
    )


def _symbolic_result(
    command: str, program: language.Program, inputs: list[sympy.Symbol], weights: Sequence[sympy.Expr] | None
) -> Any:
    """The symbolic form of ``command`` (nested lists of SymPy expressions)."""
    differentiator = symbolic.Differentiator(program)
    if command == "hessian":
        exprs = differentiator.hessian(program.outputs, inputs)
        return exprs if program.output_shape else exprs[0]
    jac = differentiator.jacobian(program.outputs, inputs)
    if command == "gradient":
        return jac[0]
    if command == "vjp":
        return symbolic.combine(weights, jac)
    if command == "jvp":
        return symbolic.combine(weights, symbolic.transpose(jac))
    return jac


def _input_blocks(program: language.Program, order: Sequence[str]) -> tuple[InputBlock, ...]:
    blocks, start = [], 0
    for name in order:
        var = program.variable(name)
        blocks.append(InputBlock(var.name, var.shape, start))
        start += var.size
    return tuple(blocks)


def _check_batch_options(command: Any, chunk_size: Any, commands: Sequence[str]) -> None:
    if not isinstance(command, str) or command not in commands:
        raise UsageError(f"cannot evaluate {_short(command)} at many points; one of {', '.join(commands)}")
    integral = isinstance(chunk_size, numbers.Integral) and not isinstance(chunk_size, bool)
    if chunk_size is not None and not (integral and chunk_size >= 1):
        raise UsageError(f"--chunk-size must be a positive integer, not {_short(chunk_size)}")


def evaluate_points(
    command: str,
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
    """``command`` (jacobian, gradient, hessian, vjp, jvp) of ``expr`` at many points, vectorised.

    ``points``: a points file path (``-`` for stdin), a :class:`~jacli.points.PointsReader`,
    or a list of points like ``at``. With a file, ``at`` gives by name the variables that
    are not columns; without a header the columns are the variables in order (``wrt``
    first, then the parameters). Results stream: ``chunks`` computes a chunk when asked.

    >>> ev = evaluate_points("jacobian", "2*x0+x1**2, x0**2+2*x1**3", ["1,2", "0,0"])
    >>> [chunk.result.tolist() for chunk in ev.chunks]
    [[[[2.0, 4.0], [2.0, 24.0]], [[2.0, 0.0], [0.0, 0.0]]]]
    """
    from jacli import batch  # noqa: PLC0415
    from jacli.points import PointsReader, open_points  # noqa: PLC0415

    _check_batch_options(command, chunk_size, batch.COMMANDS)
    if not _one_of(mode, calculus.MODES):
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {_short(mode)}")
    torch_dtype, torch_device = _dtype(dtype), _device(device)
    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    reader, label_column, fixed, flat = None, None, {}, None
    if isinstance(points, str | PointsReader):
        reader = points if isinstance(points, PointsReader) else open_points(points)
        try:
            shapes_of, fixed, label_column = _file_layout(reader, parsed, order, at)
        except BaseException:
            reader.close()
            raise
    elif at is not None:
        raise UsageError("give the points either as a list or with --at, not both")
    elif isinstance(points, list | tuple):
        shapes_of, flat = _list_layout(parsed, order, points)
    else:
        raise UsageError(f"points must be a file name, a PointsReader or a list of points, not {_short(points)}")
    shapes = tuple((n, shapes_of[n]) for n in parsed.names)
    program = _program(expr, shapes)
    fn = _compiled(expr, shapes, order)
    inputs = [s for n in order for s in program.variable(n).symbols]
    n, m = len(inputs), len(program.outputs)
    if command == "gradient" and m != 1:
        raise ShapeError(
            f"gradient needs a scalar expression, but this one has {m} outputs "
            f"(shape {program.output_shape}); use jacobian or hessian"
        )
    weights, v_tensor = None, None
    if command in ("vjp", "jvp"):
        labels = list(program.output_labels) if command == "vjp" else [s.name for s in inputs]
        weights = parse_vector(v, len(labels), labels, command)
        v_tensor = _tensor([language.scalar(w) for w in weights], torch_dtype, torch_device)
    chosen = calculus.choose_mode(mode, n, m) if command == "jacobian" else None
    scalar_hessian = command == "hessian" and not program.output_shape
    kernel = batch.make_kernel(fn, command, chosen or "reverse", v_tensor, drop_output_axis=scalar_hessian)
    shape = {
        "jacobian": (m, n),
        "gradient": (n,),
        "hessian": (n, n) if scalar_hessian else (m, n, n),
        "vjp": (n,),
        "jvp": (m,),
    }[command]
    if command in ("jacobian", "hessian"):
        language.check_result_size(command.capitalize(), shape)  # the same limit as for one point
    width = {"jacobian": min(n, m), "hessian": m * n}.get(command, 1)
    rows = batch.chunk_rows(len(fn._steps) + n, width + 1, None if chunk_size is None else int(chunk_size))
    if reader is not None:
        source = ((chunk.values, chunk.first_line) for chunk in reader.chunks(rows))
    else:
        source = ((flat[i : i + rows], None) for i in range(0, len(flat), rows))
    derive = functools.partial(_symbolic_result, command, program, inputs, weights)
    return PointsEvaluation(
        command=command,
        expression=program.text,
        variables=shapes,
        inputs=tuple(s.name for s in inputs),
        outputs=program.output_labels,
        blocks=_input_blocks(program, order),
        shape=shape,
        mode=chosen,
        v=None if weights is None else tuple(language.constant_value(w) for w in weights),
        chunks=batch.evaluate(kernel, _columns(program, order, fixed, label_column), source, torch_dtype, torch_device),
        source=reader,
        symbolic_exprs=derive if symbolic_form else None,
        bindings=tuple((b.symbol.name, sympy.sstr(b.value)) for b in program.bindings) if symbolic_form else (),
    )


# ---------------------------------------------------------------------------
# Hessian-vector products, gradient checking, computation graphs (issue 6).
# Their modules are imported where used: the other commands never load them.
# ---------------------------------------------------------------------------


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
    """``H·v`` of a scalar ``expr`` by forward-over-reverse, never forming H: an n-vector.

    >>> hvp("x**2*y", at="x=1, y=2", v="1,0").result
    [4.0, 2.0]
    """
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    _require_scalar("hvp", prob)
    labels = [s.name for s in prob.input_symbols]
    weights, v_tensor = _vector(prob, v, labels, "hvp")
    numeric = calculus.hvp(prob.function(), prob.x, v_tensor)
    exprs = None
    if symbolic_form:  # H is symmetric: Σ_i v_i H[i] = H·v
        differentiator = symbolic.Differentiator(prob.program)
        exprs = _symbolic(
            lambda: symbolic.combine(weights, differentiator.hessian(prob.program.outputs, prob.input_symbols)[0])
        )
    return _finish("hvp", prob, numeric, exprs, exact=exact, v=weights)


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
    if not _one_of(mode, calculus.MODES):
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {_short(mode)}")
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
        raise UsageError(f"points must be a file name, a PointsReader or a list of points, not {_short(points)}")
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
        shapes, _, label_column = _file_layout(reader, parsed, order, at)
        _program(expr, tuple((n, shapes[n]) for n in parsed.names))  # a shape error before the rows are read
        fixed = _fixed_values(at, parsed)  # exact, as --at gives them (the layout's are floats)
        layout = checking.FileLayout({n: shapes[n] for n in parsed.names}, fixed, label_column)
        return checking.read_points(reader, layout)


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

    if not _one_of(mode, ("reverse", "forward")):
        raise UsageError(f"graph --mode must be reverse or forward, not {_short(mode)}")
    if input is not None and mode != "forward":
        raise UsageError("--input seeds forward mode; add --mode forward (reverse mode is seeded by --v)")
    prob = problem(expr, at, wrt=wrt, dtype=dtype)
    labels = [s.name for s in prob.input_symbols]
    seed = None
    if v is not None:  # reverse: weights of the outputs (a VJP); forward: a direction over the inputs
        over, what = (prob.program.output_labels, "vjp") if mode == "reverse" else (labels, "jvp")
        seed = [language.constant_value(w) for w in parse_vector(v, len(over), over, what)]
    elif input is not None and not _one_of(input, labels):
        raise UsageError(f"--input {_short(input)} is not an input (inputs: {', '.join(labels)})")
    return graphs.run_graph(prob, parse(expr), seed, mode=mode, input=input)


def torch_program(
    command: str,
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

    prob = problem(expr, at, wrt=wrt, dtype=dtype)
    point = prob.point_json()
    outputs, labels = prob.program.output_labels, [s.name for s in prob.input_symbols]
    if command in ("gradient", "hvp"):
        _require_scalar(command, prob)
    weights = None
    if command == "vjp":
        weights = [language.constant_value(w) for w in parse_vector(v, len(outputs), outputs, "vjp")]
    elif command in ("jvp", "hvp"):
        weights = [language.constant_value(w) for w in parse_vector(v, len(labels), labels, command)]
    chosen = None
    if command == "jacobian":
        if not _one_of(mode, calculus.MODES):
            raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {_short(mode)}")
        chosen = calculus.choose_mode(mode, prob.x.numel(), len(outputs))
    return programs.torch_program(
        command,
        parse(expr),
        inputs=[(var.name, point[var.name]) for var in prob.inputs],
        params=[(var.name, point[var.name]) for var in prob.params],
        outputs=outputs,
        input_labels=labels,
        dtype=dtype,
        v=weights,
        mode=chosen,
        command_line=command_line,
    )


def _numeric_hessian(prob: Problem) -> Tensor:
    """(m, n, n): sparse (one HVP per colour) when the pattern allows, else dense; see ``bench/scale.py``."""
    from jacli import sparse  # noqa: PLC0415

    patterns = sparse.sparse_patterns(prob.program, prob.input_symbols)
    if patterns is not None:
        return sparse.hessian(prob.function(), prob.x, patterns)
    if prob.x.numel() >= DENSE_FUNC_HESSIAN_INPUTS:
        import warnings  # noqa: PLC0415

        with warnings.catch_warnings():
            # forward mode loads torch's jvp decompositions through the deprecated torch.jit.script
            warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
            return torch.func.jacfwd(torch.func.jacrev(prob.function()))(prob.x)
    return calculus.hessian(prob.function(), prob.x)
