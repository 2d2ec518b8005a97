"""A problem: an expression, which variables it is differentiated by, and a point, compiled to torch.

:func:`problem` parses the expression (cached), matches the point to its variables
(:mod:`jacli.values`), builds the program for the variables' shapes and compiles it
(both cached: many points of one expression build once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy
import torch

from jacli import collector, flow, language, warm_cache
from jacli.compile import TorchFunction, to_torch
from jacli.errors import UsageError
from jacli.results import InputBlock
from jacli.values import Point, assign_point, short, text_argument, wrt_names

if TYPE_CHECKING:
    from torch import Tensor

DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class Problem:
    """Everything needed to differentiate an expression at one point."""

    program: language.Program
    inputs: tuple[language.Variable, ...]
    params: tuple[language.Variable, ...]
    values: dict[str, language.Value]  # exact SymPy values of every variable
    compiled: TorchFunction
    """``f(x, p)``: the expression compiled to torch, on the flat inputs and parameters."""
    inputs_tensor: Tensor
    """(n,): the flat elements of the inputs at the point, in ``--wrt`` order."""
    params_tensor: Tensor
    """(k,): the flat elements of the parameters at the point."""

    def bound(self) -> Any:
        """``x -> f(x, p)``: the compiled function with the parameters bound."""
        return lambda x: self.compiled(x, self.params_tensor)

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
    return _parse(text_argument(text, "the expression"))


@warm_cache.cached(maxsize=64, env=warm_cache.BUILD_ENV)
def _parse(text: str) -> language.ParsedExpression:
    with collector.paused():
        return language.parse_expression(text)


@warm_cache.cached(maxsize=64, env=warm_cache.BUILD_ENV)
def program_for(text: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> language.Program:
    with collector.paused():
        return language.build_program(parse(text), dict(shapes))


@warm_cache.cached(maxsize=64, env=warm_cache.BUILD_ENV)
def compiled_for(text: str, shapes: tuple[tuple[str, tuple[int, ...]], ...], wrt: tuple[str, ...]) -> TorchFunction:
    program = program_for(text, shapes)
    inputs, params = inputs_and_parameters(program, wrt)
    with collector.paused():
        return to_torch(program, list(inputs), list(params))


def variables_named(program: language.Program, names: Sequence[str]) -> list[language.Variable]:
    """The program's variables of these names, in this order (one look-up each: 1000 variables in O(n))."""
    by_name = {v.name: v for v in program.variables}
    return [by_name[name] for name in names]


def inputs_and_parameters(
    program: language.Program, wrt: Sequence[str]
) -> tuple[tuple[language.Variable, ...], tuple[language.Variable, ...]]:
    """The variables differentiated (in ``wrt``'s order) and the others (the parameters, in program order)."""
    differentiated = set(wrt)
    params = tuple(v for v in program.variables if v.name not in differentiated)
    return tuple(variables_named(program, wrt)), params


def as_dtype(dtype: str) -> torch.dtype:
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, not {short(dtype)}")
    return DTYPES[dtype]


def as_device(device: str) -> torch.device:
    if not isinstance(device, str) or device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, not {short(device)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device here; use --device cpu")
    return torch.device(device)


def as_tensor(values: Sequence[language.Value], dtype: torch.dtype, device: torch.device) -> Tensor:
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
    program = program_for(expr, shapes)
    fn = compiled_for(expr, shapes, order)
    inputs, params = inputs_and_parameters(program, order)
    torch_dtype, torch_device = as_dtype(dtype), as_device(device)
    x = as_tensor([values[v.name] for v in inputs], torch_dtype, torch_device)
    p = as_tensor([values[v.name] for v in params], torch_dtype, torch_device)
    return Problem(program, inputs, params, values, fn, x, p)


# ---------------------------------------------------------------------------
# One evaluation: a quantity of a program, for one chunk of points at a time.
# ---------------------------------------------------------------------------


def validate_points(expr: str, points: Sequence[Point], *, wrt: str | Sequence[str] | None = None) -> None:
    """Refuse a bad point among many before any is computed (``--at`` given several times).

    Each point is matched to the variables and the program is built for its shapes
    (cached, so this is the cheap part of the work); the first bad one raises.
    """
    groups = flow.group_points(expr, points, wrt)
    if groups is not None:  # a control-flow program: each point's path is run, and built
        for path, members in groups:
            validate_points(path.text, [points[i] for i in members], wrt=flow.order(expr, wrt))
        return
    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    for point in points:
        values = assign_point(parsed, order, point)
        program_for(expr, tuple((n, tuple(v.shape)) for n, v in values.items()))
