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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy
import torch

from jacli import calculus, language, symbolic
from jacli.compile import TorchFunction, to_torch
from jacli.errors import ShapeError, UsageError
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


@functools.lru_cache(maxsize=64)
def parse(text: str) -> language.ParsedExpression:
    """Parse (cached: many points of one expression parse once)."""
    return language.parse_expression(text)


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
    if wrt is None:
        return parsed.names
    names = [n.strip() for n in wrt.split(",")] if isinstance(wrt, str) else list(wrt)
    for name in names:
        if name not in parsed.names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(f"--wrt names {name!r}, which is not a variable of the expression (variables: {known})")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"--wrt names {', '.join(map(repr, duplicates))} more than once")
    if not names:
        raise UsageError("--wrt names no variable")
    return tuple(names)


def _number(x: Any, name: str) -> sympy.Expr:
    """A Python or SymPy number -> an exact SymPy number (floats by their decimal repr)."""
    if isinstance(x, bool):
        raise UsageError(f"value for {name!r} is not numeric: {x!r}")
    if isinstance(x, numbers.Integral):
        return sympy.Integer(int(x))
    if isinstance(x, numbers.Real) and math.isfinite(float(x)):
        return sympy.Rational(repr(float(x)))
    if isinstance(x, sympy.Expr) and x.is_number and x.is_real and x.is_finite:
        return x
    raise UsageError(f"value for {name!r} is not a finite real number: {x!r}")


def _as_value(raw: Any, name: str) -> language.Value:
    """A number or nested list from Python -> an object array of SymPy numbers."""
    if isinstance(raw, str):
        parsed = language.parse_assignments(raw)
        if len(parsed.positional) != 1 or parsed.named:
            raise UsageError(f"value for {name!r} must be one number or array, got {raw!r}")
        return parsed.positional[0]
    array = np.asarray(raw.tolist() if hasattr(raw, "tolist") else raw, dtype=object)
    return np.vectorize(lambda x: _number(x, name), otypes=[object])(array)


def assign_point(parsed: language.ParsedExpression, order: Sequence[str], at: Point) -> dict[str, language.Value]:
    """Match the values of ``at`` to the expression's names: positional in ``order``, or by name."""
    if at is None:
        positional, named = (), {}
    elif isinstance(at, str):
        parsed_at = language.parse_assignments(at)
        positional, named = parsed_at.positional, dict(parsed_at.named)
    elif isinstance(at, Mapping):
        positional, named = (), {k: _as_value(v, k) for k, v in at.items()}
    else:
        positional, named = tuple(_as_value(v, str(i)) for i, v in enumerate(at)), {}
    if len(positional) > len(order):
        raise UsageError(
            f"--at has {len(positional)} positional values but there are {len(order)} variables ({', '.join(order)})"
        )
    values = dict(zip(order, positional, strict=False))
    for name, value in named.items():
        if name not in parsed.names:
            known = ", ".join(parsed.names) or "none"
            raise UsageError(f"--at names {name!r}, which is not a variable of the expression (variables: {known})")
        if name in values:
            raise UsageError(f"--at gives {name!r} twice (by position and by name)")
        values[name] = value
    missing = [n for n in parsed.names if n not in values]
    if missing:
        hint = "parameters need a value by name, e.g. " + f"--at \"{missing[0]}=1\"" if len(positional) == len(order) else f"variables in order: {', '.join(order)}"
        raise UsageError(f"--at has no value for {', '.join(map(repr, missing))} ({hint})")
    limit = language.max_elements()
    for name, value in values.items():
        if value.size > limit:
            raise UsageError(f"the value of {name!r} has {value.size:,} elements; the limit is {limit:,}")
    return {n: values[n] for n in parsed.names}


def _dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    return DTYPES[dtype]


def _device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device here; use --device cpu")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, not {device!r}")
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
    if exprs is not None:
        symbolic_cells = symbolic.to_text(exprs)
        operations = symbolic.operation_count(exprs)
        text = SymbolicText(
            pretty=functools.cache(lambda: symbolic.to_pretty(exprs)),
            latex=functools.cache(lambda: symbolic.to_latex(exprs)),
            operations=operations,
        )
        if exact:
            exact_cells = _exact(exprs, prob)
    elif exact:
        raise UsageError("--exact needs the symbolic result; drop --no-symbolic")
    notes = ()
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
        bindings=tuple((b.symbol.name, sympy.sstr(b.value)) for b in prob.program.bindings) if exprs is not None else (),
        notes=notes,
        text=text,
        tensor=numeric.detach(),
        sympy=exprs,
    )


def _exact(exprs: Any, prob: Problem) -> Any:
    flat = _flatten_exprs(exprs)
    values = symbolic.evaluate_exact(flat, prob.program.bindings, prob.exact_point())
    return _unflatten([sympy.sstr(e) for e in values], exprs)


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
    if mode not in calculus.MODES:
        raise UsageError(f"--mode must be one of {', '.join(calculus.MODES)}, not {mode!r}")
    prob = problem(expr, at, wrt=wrt, dtype=dtype, device=device)
    chosen = calculus.choose_mode(mode, prob.x.numel(), len(prob.program.outputs))
    numeric = calculus.jacobian(prob.function(), prob.x, chosen)
    exprs = _symbolic_jacobian(prob) if symbolic_form else None
    return _finish("jacobian", prob, numeric, exprs, exact=exact, mode=chosen)


def _symbolic_jacobian(prob: Problem) -> list[list[sympy.Expr]]:
    return symbolic.Differentiator(prob.program).jacobian(prob.program.outputs, prob.input_symbols)


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
    exprs = _symbolic_jacobian(prob)[0] if symbolic_form else None
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
    numeric = calculus.hessian(prob.function(), prob.x)
    exprs = None
    if symbolic_form:
        exprs = symbolic.Differentiator(prob.program).hessian(prob.program.outputs, prob.input_symbols)
    if not prob.program.output_shape:  # a scalar f: drop the output axis
        numeric = numeric[0]
        exprs = exprs[0] if exprs is not None else None
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
    weights = parse_vector(v, len(labels), labels, "vjp")
    v_tensor = _tensor([language.scalar(w) for w in weights], prob.x.dtype, prob.x.device)
    numeric = calculus.vjp(prob.function(), prob.x, v_tensor)
    exprs = symbolic.combine(weights, _symbolic_jacobian(prob)) if symbolic_form else None
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
    weights = parse_vector(v, len(labels), labels, "jvp")
    v_tensor = _tensor([language.scalar(w) for w in weights], prob.x.dtype, prob.x.device)
    numeric = calculus.jvp(prob.function(), prob.x, v_tensor)
    exprs = None
    if symbolic_form:
        exprs = symbolic.combine(weights, symbolic.transpose(_symbolic_jacobian(prob)))
    return _finish("jvp", prob, numeric, exprs, exact=exact, v=weights)
