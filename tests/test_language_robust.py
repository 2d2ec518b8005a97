"""Robustness of the language and its lowerings (issue 11): linear where-chains, deep nests, exact constants.

Each test states a bound on work (tape length, tree size, a generous
subprocess timeout), never a wall-clock measurement.
"""

from __future__ import annotations

import json
import math
import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import sympy
import torch
from conftest import Invoke, assert_usage_error

from jacli import language, symbolic
from jacli.compile import TorchFunction, to_torch
from jacli.errors import UsageError
from jacli.language import MAX_DIMENSIONS

# ---------------------------------------------------------------------------
# where chains: one tape step per operation, not one per path
# ---------------------------------------------------------------------------


def _chain(n: int) -> str:
    steps = "; ".join(f"b{i + 1} = where(b{i} > 0, 2*b{i}, 3*b{i})" for i in range(n))
    return f"b0 = x; {steps}; b{n}"


def _lowered(text: str, names: tuple[str, ...] = ("x",)) -> tuple[language.Program, TorchFunction]:
    program = language.build_program(language.parse_expression(text), dict.fromkeys(names, ()))
    return program, to_torch(program, program.variables, ())


@pytest.mark.parametrize("n", [12, 20, 100])
def test_a_chain_of_bound_where_steps_lowers_to_a_linear_tape(n: int) -> None:
    # inlining each binding into both branches made 12 steps take 144 s and 9.2 GB
    _, fn = _lowered(_chain(n))
    assert len(fn._steps) <= 20 * n
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    assert grad.item() == 2.0**n


def test_a_chain_takes_the_right_branch_at_every_step() -> None:
    _, fn = _lowered(_chain(30))
    x = torch.tensor([-0.5], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    assert grad.item() == 3.0**30


@pytest.mark.parametrize(
    ("text", "at"),
    [
        # a bound value undefined (or with an infinite derivative) only on the branch not taken
        ("u = sqrt(x); v = where(x > 0, u, 0); v*x", -1.0),
        ("u = sqrt(x); v = where(x > 0, u, 0); v*x", 0.0),
        ("u = log(x); v = u*u; w = where(x > 0, v, x); where(x > 1, w, 2*w)", -3.0),
        ("u = sqrt(x); v = where(x > 0, u, 1); w = where(x < 0, v, u); w + detach(u)", -2.0),
        ("u = 1/x; v = where(x != 0, u, 0); w = where(x > 1, v, 5*x); w*w", 0.0),
        ("u = sqrt(x - 1); v = sqrt(1 - x); where(x > 1, u, v) + where(x > 1, 0, v*v)", 2.0),
    ],
)
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # torch.func's jvp rules
def test_untaken_branch_does_not_leak_through_bindings(text: str, at: float) -> None:
    _, fn = _lowered(text)
    x = torch.tensor([at], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x, allow_unused=True)
    forward = torch.func.jacfwd(torch.func.jacrev(lambda v: fn(v).sum()))(x.detach())
    assert math.isfinite(grad.item()) and math.isfinite(second.item()), (grad, second)
    assert forward.item() == second.item()


# A fuzz: random chains of bound where steps, with branches that are undefined on parts of the line.
_BRANCHES = ["2*{b}", "sqrt({b})", "log({b})", "{b}*x", "sin({b})", "1/{b}", "{b}*{p}", "y", "3", "{b}**2/4"]
_CONDITIONS = ["{b} > 0", "{b} < x", "x + {b} >= 0.25", "{b} > 0 and y < 1", "not {b} < -1", "{p} > {b}"]


def _random_chain(rng: random.Random, n: int) -> str:
    steps = ["b0 = x*y - 0.3", "b1 = x + y"]
    for k in range(2, n + 2):
        b, p = f"b{k - 1}", f"b{k - 2}"
        cond = rng.choice(_CONDITIONS).format(b=b, p=p)
        one, two = (rng.choice(_BRANCHES).format(b=b, p=p) for _ in range(2))
        steps.append(f"b{k} = where({cond}, {one}, {two})")
    return "; ".join(steps) + f"; b{n + 1}*x + b{n}"


_Dual = tuple[np.float64, list[np.float64 | None]]
"""A value and its partial derivatives (None: structurally zero, as torch passes nothing)."""


def _dual(expr: sympy.Basic, known: dict[sympy.Basic, _Dual], n: int) -> _Dual:
    """Forward-mode value and gradient of ``expr`` in IEEE floats; a ``where`` evaluates its taken branch only."""
    if expr in known:
        return known[expr]
    if expr.is_Number or isinstance(expr, sympy.logic.boolalg.BooleanAtom):
        return np.float64(float(expr)), [None] * n
    if isinstance(expr, sympy.Piecewise):
        for value, cond in expr.args:
            if cond is sympy.true or _dual(cond, known, n)[0]:
                return _dual(value, known, n)
        return np.float64(math.nan), [None] * n
    args = [_dual(a, known, n) for a in expr.args]
    values = [a[0] for a in args]
    compare = {sympy.StrictGreaterThan: np.greater, sympy.StrictLessThan: np.less, sympy.GreaterThan: np.greater_equal,
               sympy.LessThan: np.less_equal, sympy.Equality: np.equal, sympy.Unequality: np.not_equal}  # fmt: skip
    if type(expr) in compare:
        return np.float64(compare[type(expr)](*values)), [None] * n
    logic = {sympy.And: all, sympy.Or: any, sympy.Not: lambda v: not v[0], sympy.ITE: lambda v: v[1] if v[0] else v[2]}
    if type(expr) in logic:
        return np.float64(logic[type(expr)](values)), [None] * n
    if isinstance(expr, sympy.Add):
        return np.sum(values), [_total([a[1][j] for a in args]) for j in range(n)]
    if isinstance(expr, sympy.Mul):
        others = [np.prod(values[:i] + values[i + 1 :]) for i in range(len(args))]
        terms = [[a[1][j] * o for a, o in zip(args, others, strict=True) if a[1][j] is not None] for j in range(n)]
        return np.prod(values), [_total(t) for t in terms]
    (value, grad), rest = args[0], args[1:]
    if isinstance(expr, sympy.Pow):
        k = values[1]
        assert not rest[0][1] or all(g is None for g in rest[0][1]), expr  # constant exponents only
        return value**k, _scaled(grad, k * value ** (k - 1))
    rules = {sympy.sin: (np.sin, np.cos), sympy.cos: (np.cos, lambda v: -np.sin(v)),
             sympy.log: (np.log, lambda v: 1 / v), sympy.Abs: (np.abs, np.sign)}  # fmt: skip
    fn, derivative = rules[type(expr)]
    return fn(value), _scaled(grad, derivative(value))


def _total(parts: list[np.float64 | None]) -> np.float64 | None:
    present = [p for p in parts if p is not None]
    return np.sum(present) if present else None


def _scaled(grad: list[np.float64 | None], factor: np.float64) -> list[np.float64 | None]:
    return [None if g is None else g * factor for g in grad]


def _reference_gradient(program: language.Program, point: dict[str, float]) -> list[float]:
    """The gradient by forward-mode dual numbers through the bindings, only ever on taken branches."""
    symbols = [v.symbols[0] for v in program.variables]
    n = len(symbols)
    known: dict[sympy.Basic, _Dual] = {
        s: (np.float64(point[s.name]), [np.float64(1) if i == j else None for j in range(n)])
        for i, s in enumerate(symbols)
    }
    with np.errstate(all="ignore"):
        for binding in program.bindings:
            known[binding.symbol] = _dual(binding.value, known, n)
        _, grad = _dual(program.outputs[0], known, n)
    return [0.0 if g is None else float(g) for g in grad]


@pytest.mark.parametrize("seed", range(40))
def test_random_where_chains_agree_with_dual_numbers_on_the_taken_branches(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_chain(rng, rng.randint(2, 12))
    program, fn = _lowered(text, ("x", "y"))
    for _ in range(4):
        point = {"x": rng.uniform(-2, 2), "y": rng.uniform(-2, 2)}
        x = torch.tensor([point["x"], point["y"]], dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(fn(x).sum(), x)
        expected = _reference_gradient(program, point)
        assert np.allclose(grad.tolist(), expected, rtol=1e-9, atol=1e-12, equal_nan=True), (text, point, expected)


# ---------------------------------------------------------------------------
# Deep nests: building a nest of any function is linear, not SymPy's superlinear simplification
# ---------------------------------------------------------------------------

_UNARY = ["{f}({0} - 1)", "{f}({0})*x + 1"]
NEST_TEMPLATES: dict[str, list[str]] = {name: _UNARY for name, spec in language.FUNCTIONS.items() if spec.min_args == 1}
NEST_TEMPLATES |= {
    "log": [*_UNARY, "log({0} + 2, 3)"],
    "atan2": ["atan2({0} - 1, x)", "atan2(x, {0}) - 1"],
    "min": ["min({0} - 1, x)", "min([{0}, x]) + 1"],
    "max": ["max(x, {0}) - 1", "max([{0}, x])*x"],
    "where": [
        "where(x > 0, {0} - 1, x)",
        "where({0} > 1, x, 2) + x",
        "where(x < 1 and {0} > 0, x, 1)",
        "where(x < 1, 0, {0})*x",
    ],
    "sum": ["sum([{0}, x]) - 1"],
    "hypot": ["hypot({0} - 1, x)", "hypot(x, {0})*x + 1"],
    "dot": ["dot([{0}, 1], [x, 2]) - 1"],
    "+": ["({0}) + x - 1"],
    "*": ["({0})*x*2"],
    "/": ["1/({0}) + 1"],
    "**": ["({0})**2 - 1", "x**({0})"],
    # tensor language, part B (issue 13)
    "trace": ["trace([[{0}, 1], [x, 2]]) - 1"],
    "det": ["det([[{0}, 1], [x, 2]]) - 1"],
    "inv": ["inv([[{0}, 1], [x, 2]])[0, 1] + 1"],
    "solve": ["solve([[2, 1], [x, 3]], [{0}, 1])[0] - 1"],
    "outer": ["outer([{0}], [x, 1])[0, 0] - 1"],
    "diag": ["diag([{0}, x])[0, 0] - 1"],
    "reshape": ["reshape([{0}, x], 2, 1)[0, 0] - 1"],
    "concat": ["concat([{0}], [x])[0] - 1"],
    "stack": ["stack({0}, x)[0] - 1"],
    "arange": ["sum(arange(3)*({0})) - 1"],
    "linspace": ["sum(linspace(0, 1, 3)*({0})) - 1"],
    "eye": ["sum(eye(2)*({0})) - 1"],
    "ones": ["sum(ones(2)*({0})) - 1"],
    "zeros": ["sum(zeros(2)*({0})) + x"],
}
"""Templates nested into themselves ``{0}``; ``{f}`` is the function's name."""


def _nest(template: str, name: str, inner: str) -> str:
    brackets = template.count("(") + template.count("[")
    text = inner
    for _ in range(language.MAX_NESTING // brackets - 1):
        text = template.format(text, f=name)
    return text


def test_every_function_has_a_nest_template() -> None:
    assert set(language.FUNCTIONS) <= set(NEST_TEMPLATES)


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """A generous bound on work (not a timing): fail instead of hanging for minutes."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still building after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("template", "name"), [(t, name) for name, templates in NEST_TEMPLATES.items() for t in dict.fromkeys(templates)]
)
@pytest.mark.parametrize("inner", ["x - 1", "pi/7"])
def test_a_deep_nest_of_any_function_builds_and_lowers_at_once(template: str, name: str, inner: str) -> None:
    text = _nest(template, name, inner)
    # abs(abs(…abs(x - 1)…) - 1) 99 deep took 29 s in SymPy's Abs.eval before any limit applied
    with _deadline(60):
        try:
            program = language.build_program(language.parse_expression(text), {"x": ()})
        except UsageError as err:  # sinh(sinh(…(pi/7 - 1)…)): a constant beyond any float
            assert inner == "pi/7" and "too large" in str(err), err
            return
        fn = to_torch(program, program.variables, ())
        x = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
        y = fn(x).sum()
        if y.requires_grad:  # not for detach(…)
            y.backward()


def test_a_where_inside_a_condition_is_computed() -> None:
    # SymPy rewrote the condition into an ITE, which the lowering refused ("cannot evaluate ITE with torch")
    program, fn = _lowered("where(where(x > 0, x, 2) + x > 1, x, 2)")
    x = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    assert grad.item() == 1.0
    assert fn(torch.tensor([0.2], dtype=torch.float64)).item() == 2.0
    assert [b.symbol.name for b in program.bindings] == ["_w1"]


def test_hidden_bindings_avoid_the_names_of_the_expression() -> None:
    program, _ = _lowered("_w1 = x*2; where(where(x > 0, _w1, 2) > 1, _w2, 2)", ("x", "_w2"))
    assert [b.symbol.name for b in program.bindings] == ["_w1", "_w3"]


# ---------------------------------------------------------------------------
# Arrays deeper than NumPy's 32 dimensions: a clear error, in the expression and in --at
# ---------------------------------------------------------------------------


def _nested_array(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize("depth", [33, 34, 40, 99])
@pytest.mark.parametrize("where", ["expression", "--at"])
def test_arrays_deeper_than_the_dimension_limit_are_refused(jacli: Invoke, depth: int, where: str) -> None:
    if where == "expression":
        outcome = jacli("gradient", f"sum({_nested_array(depth, 'x')})", "--at", "1")
    else:
        outcome = jacli("gradient", "sum(x)", "--at", f"x={_nested_array(depth, '1')}")
    assert_usage_error(outcome)
    assert outcome.stderr.startswith(f"jacli: error: this array has 33 dimensions; the limit is {MAX_DIMENSIONS}")


@pytest.mark.parametrize("where", ["expression", "--at"])
def test_arrays_of_the_dimension_limit_are_computed(jacli: Invoke, where: str) -> None:
    deepest = _nested_array(MAX_DIMENSIONS, "x" if where == "expression" else "2")
    args = (f"sum({deepest})", "--at", "3") if where == "expression" else ("sum(x*x)", "--at", f"x={deepest}")
    outcome = jacli("gradient", *args, "-f", "json", "--no-symbolic")
    assert outcome.exit_code == 0, outcome
    assert json.loads(outcome.stdout)["result"] == ([1.0] if where == "expression" else [4.0])


def test_the_dimension_check_is_shared() -> None:
    assert language.dimension_problem(MAX_DIMENSIONS) is None
    assert language.dimension_problem(MAX_DIMENSIONS + 1) == "this array has 33 dimensions; the limit is 32"


# ---------------------------------------------------------------------------
# Conditions: a comparison, and between constants decided exactly (never by rounding)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cond", ["x", "1", "x + 1", "sin(x)", "x > 0 and y", "not x", "(x > 0) or 2"])
def test_the_condition_of_where_must_be_a_comparison(jacli: Invoke, cond: str) -> None:
    outcome = jacli("gradient", f"where({cond}, x, 2*x) + y", "--at", "x=1, y=2")
    assert_usage_error(outcome)
    assert "the condition of where(cond, a, b) must be a comparison such as x > 0, not " in outcome.stderr


@pytest.mark.parametrize(
    ("text", "value", "gradient"),
    [
        ("where(sin(pi/7)**2+cos(pi/7)**2 > 1, x, -x)", -0.5, -1.0),  # was a traceback
        ("x*where(sin(pi/7)**2 + cos(pi/7)**2 == 1, 1, 2)", 0.5, 1.0),  # was null
        ("sign(sin(pi/7)**2+cos(pi/7)**2-1) + x", 0.5, 1.0),  # was -1 + x
        ("floor(sin(pi/7)**2+cos(pi/7)**2)*x", 0.5, 1.0),
        ("ceil(sin(pi/7)**2+cos(pi/7)**2 - 1 + 10**-50)*x", 0.5, 1.0),
        ("where(pi > 355/113, x, 2*x)", 1.0, 2.0),
    ],
)
def test_constant_comparisons_and_signs_are_exact(jacli: Invoke, text: str, value: float, gradient: float) -> None:
    outcome = jacli("gradient", text, "--at", "0.5", "-f", "json")
    assert outcome.exit_code == 0, outcome
    result = json.loads(outcome.stdout)
    assert (result["value"], result["result"]) == ([value], [gradient])
    assert outcome.stderr == ""


def test_an_undecidable_constant_comparison_is_an_error(jacli: Invoke) -> None:
    # atan(1/2) + atan(1/3) is pi/4, but SymPy cannot prove it
    outcome = jacli("gradient", "where(atan(1/2) + atan(1/3) >= pi/4, x, 2*x)", "--at", "1")
    assert_usage_error(outcome)
    assert "cannot decide exactly whether" in outcome.stderr


_ZEROS = [
    "sin(pi/7)**2 + cos(pi/7)**2 - 1",
    "sin(pi/7)*sin(2*pi/7)*sin(3*pi/7) - sqrt(7)/8",
    "cos(pi/7) - cos(2*pi/7) + cos(3*pi/7) - 1/2",
    "sqrt(2 + sqrt(3)) - (sqrt(6) + sqrt(2))/2",
    "(sqrt(2) + sqrt(3))**2 - 5 - 2*sqrt(6)",
    "log(8)/log(2) - 3",
    "tan(pi/8) - sqrt(2) + 1",
]
"""Constants that are exactly zero, but not in floating point."""
_RELATIONS = {"<": lambda s: s < 0, "<=": lambda s: s <= 0, ">": lambda s: s > 0, ">=": lambda s: s >= 0,
              "==": lambda s: s == 0, "!=": lambda s: s != 0}  # fmt: skip


@pytest.mark.parametrize("seed", range(24))
def test_random_constant_comparisons_are_decided_exactly(seed: int) -> None:
    rng = random.Random(seed)
    zero, op = rng.choice(_ZEROS), rng.choice(sorted(_RELATIONS))
    offset, sign = rng.choice([("", 0), (" + 10**-40", 1), (" - 10**-40", -1), (" + 10**-400", 1), (" - 1/3", -1)])
    text = f"where({zero}{offset} {op} 0, x, 2*x) + sign({zero}{offset})*y + floor({zero}{offset} + 5)"
    program = language.build_program(language.parse_expression(text), {"x": (), "y": ()})
    x, y = (v.symbols[0] for v in program.variables)
    expected = (x if _RELATIONS[op](sign) else 2 * x) + sign * y + (5 if sign >= 0 else 4)
    assert program.outputs == (expected,), text


# ---------------------------------------------------------------------------
# Line breaks: CR, LF and CRLF are one and the same
# ---------------------------------------------------------------------------


def test_a_bare_carriage_return_is_a_line_break(jacli: Invoke) -> None:
    outcome = jacli("gradient", "x*2\r3", "--at", "1")  # was read as x*23
    assert_usage_error(outcome)
    assert outcome.stderr.startswith("jacli: error: only the last statement may be a bare expression")
    assert "x*2?3" in outcome.stderr  # the CR is shown, column for column


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_statements_split_by_any_line_break(jacli: Invoke, newline: str) -> None:
    text = newline.join(["a = x*2", "  b = a + 1", "a*b", ""])
    outcome = jacli("gradient", text, "--at", "1", "-f", "json", "--no-symbolic")
    assert outcome.exit_code == 0, outcome
    assert json.loads(outcome.stdout)["result"] == [10.0]


def _outcome_of(text: str) -> tuple[str, ...] | str:
    try:
        parsed = language.parse_expression(text)
        program = language.build_program(parsed, dict.fromkeys(parsed.names, ()))
    except UsageError as err:
        return type(err).__name__
    return tuple(map(str, program.outputs))


@pytest.mark.parametrize("text", ["x*23 + y", "a = x**2; a*y", "where(x > 10, x, 2.5e3)*y"])
def test_a_carriage_return_anywhere_reads_as_a_newline(text: str) -> None:
    for position in range(len(text) + 1):
        with_cr = text[:position] + "\r" + text[position:]
        with_lf = text[:position] + "\n" + text[position:]
        assert _outcome_of(with_cr) == _outcome_of(with_lf), repr(with_cr)


# ---------------------------------------------------------------------------
# Printed forms: a constant is never read as a variable named like it
# ---------------------------------------------------------------------------


def test_exact_values_do_not_confuse_the_imaginary_unit_with_a_variable_named_i(jacli: Invoke) -> None:
    outcome = jacli("gradient", "sqrt(x)*I + E", "--at", "x=-1, I=2, E=3", "--exact", "-f", "json")
    result = json.loads(outcome.stdout)
    assert result["inputs"] == ["E", "I", "x"]
    assert result["exact"] == ["1", "sqrt(-1)", "-sqrt(-1)"]
    assert result["symbolic"] == ["1", "sqrt(x)", "I/(2*sqrt(x))"]


@pytest.mark.parametrize("seed", range(30))
def test_printed_values_read_back_as_the_same_value(seed: int) -> None:
    rng = random.Random(seed)
    i_var, e_var = sympy.Symbol("I", real=True), sympy.Symbol("E", real=True)
    atoms = [sympy.I, sympy.E, sympy.pi, sympy.sqrt(2), sympy.Rational(3, 7), i_var, e_var, sympy.exp(i_var)]
    value = sum(rng.choice([-2, -1, 1, 3]) * rng.choice(atoms) * rng.choice(atoms) for _ in range(3))
    for text in (symbolic.exact_text(value), symbolic.to_text(value)):
        parsed = language.parse_expression(text)
        program = language.build_program(parsed, dict.fromkeys(parsed.names, ()))
        assert sympy.simplify(program.outputs[0] - value) == 0, (text, value)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_latex_keeps_every_line_of_the_expression_in_its_comment(jacli: Invoke, newline: str) -> None:
    outcome = jacli("gradient", f"a = x*2{newline}a*x", "--at", "1", "--format", "latex")
    lines = outcome.stdout.splitlines()
    assert lines[:2] == ["% jacli gradient: a = x*2", "% a*x at x = 1.0"]
    assert all(line.startswith("%") for line in lines[:2]) and not lines[2].startswith("%")
