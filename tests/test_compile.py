"""The torch lowering agrees with SymPy, shares work, and keeps where() branches apart."""

from __future__ import annotations

import math
import random

import pytest
import sympy
import torch

from jacli import language
from jacli.compile import to_torch, torch_function

EXPRESSIONS = [
    "2*x0+x1**2, x0**2+2*x1**3",
    "sin(x0)*cos(x1) + tan(x0/3)",
    "asin(x0/3) + acos(x1/3) + atan(x0*x1)",
    "sinh(x0) - cosh(x1) + tanh(x0*x1)",
    "exp(x0) + log(x1**2 + 1) + log(x1**2 + 2, 3) + log2(x0**2 + 1) + log10(x1**2 + 1)",
    "sqrt(x0**2 + 1) + abs(x1) + sign(x0)",
    "min(x0, x1) + max(x0, x1, 0.5) + relu(x0 - x1)",
    "floor(x0) + ceil(x1) + erf(x0)",
    "sigmoid(x0) + softplus(x1)",
    "atan2(x0, x1) + x0^2^1",
    "where(x0 > x1, x0*x1, x0 - x1) + where(x0 > 0 and x1 < 0, 1, 2)",
    "pi*x0 + e**x1 + 2**x0 + (x0**2 + 1)**x1**2",
    "c = x0 + x1; d = c*c; d + c, d - 1, 7",
]


def sympy_value(expr: sympy.Expr, bindings: dict, point: dict) -> float:
    values = dict(point)
    for symbol, definition in bindings.items():
        values[symbol] = definition.xreplace(values)
    return float(sympy.N(sympy.sympify(expr).xreplace(values), 30))


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_torch_matches_sympy_at_random_points(text: str) -> None:
    parsed = language.parse_expression(text)
    program = language.build_program(parsed, {n: () for n in parsed.names})
    fn = to_torch(program, program.variables, ())
    bindings = {b.symbol: b.value for b in program.bindings}
    rng = random.Random(text)
    for _ in range(5):
        xs = [rng.uniform(0.1, 2.5) * rng.choice([-1, 1]) for _ in program.variables]
        got = fn(torch.tensor(xs, dtype=torch.float64)).tolist()
        point = {v.symbols[0]: sympy.Float(x, 30) for v, x in zip(program.variables, xs, strict=True)}
        for out, value in zip(program.outputs, got, strict=True):
            expected = sympy_value(out, bindings, point)
            assert math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-12), (text, xs)


def test_parameters_are_a_second_argument() -> None:
    parsed = language.parse_expression("a*x**2 + y")
    program = language.build_program(parsed, {"a": (), "x": (), "y": ()})
    fn = to_torch(program, [program.variable("x"), program.variable("y")], [program.variable("a")])
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert fn(x, torch.tensor([3.0], dtype=torch.float64)).tolist() == [5.0]
    assert fn(x, torch.tensor([10.0], dtype=torch.float64)).tolist() == [12.0]


def test_shared_subexpressions_are_computed_once() -> None:
    parsed = language.parse_expression("sin(x*y) + cos(x*y), sin(x*y)")
    program = language.build_program(parsed, {"x": (), "y": ()})
    fn = to_torch(program, program.variables, ())
    # x*y, sin, cos, + : four steps, not six
    assert len(fn._steps) == 4


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("where(x > 0, sqrt(x), 0)", -1.0),
        ("where(x < 0, 0, log(x))", -2.0),
        ("u = sqrt(x); where(x > 0, u, 0)", -1.0),
        ("where(x > 0, where(x > 1, sqrt(x - 1), 1/x), 0)", -0.5),
    ],
)
def test_untaken_branch_does_not_leak_nan(text: str, at: float) -> None:
    parsed = language.parse_expression(text)
    program = language.build_program(parsed, {"x": ()})
    fn = to_torch(program, program.variables, ())
    x = torch.tensor([at], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x)
    assert grad.item() == 0.0 and second.item() == 0.0


def test_constant_expression_is_a_tensor() -> None:
    program = language.build_program(language.parse_expression("3, pi"), {})
    fn = to_torch(program, (), ())
    assert fn(torch.zeros(0, dtype=torch.float64)).tolist() == [3.0, math.pi]


def test_every_language_function_has_a_torch_lowering() -> None:
    for name in language.FUNCTIONS:
        if name in {"sum", "dot", "where", "log2", "log10", "relu", "sqrt", "square"}:
            continue  # built from Add/Mul/Piecewise/log/Max/Pow, lowered by the walker
        if name in {"softmax", "log_softmax"}:
            continue  # of a scalar a constant (1, 0); tests/test_tensor_language.py lowers them on arrays
        if name in {"trace", "det", "inv", "solve", "outer", "diag", "reshape", "concat", "stack", "arange",
                    "linspace", "eye", "ones", "zeros"}:  # fmt: skip
            continue  # functions of matrices and sizes: tests/test_tensor_b.py lowers their nodes
        spec = language.FUNCTIONS[name]
        x = sympy.Symbol("x", real=True)
        built = spec.build(*[language.scalar(x + i + 2) for i in range(spec.min_args)])[()]
        assert callable(torch_function(built)), name
