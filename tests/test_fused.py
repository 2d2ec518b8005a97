"""Issue 16, the numeric path at scale: the fused tape, JSON of large results, deep and long expressions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import batch, fused, language
from jacli.compile import to_torch
from jacli.render import finite_or_null
from jacli.render.json import FAST_NUMBERS, _result_text

EXPRESSIONS = [
    "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(9)),  # Rosenbrock, n=10
    "x0*x1 + sqrt(x2**2 + 1) / x3 + exp(x4) * sin(x0) - 1/(x1**2 + 2)",
    "where(x0 > 0.5, x1**2 * x2, log(x3 + 3)) + x4 ** x0 + abs(x1 - x2)",
    "x0**3 * x1 + x2 ** 0.5 + x3 ** -2 + x4 * x0 * x1 * x2 + x0 + x1 + x2 + x3 + x4 + 7",
    "a = x0*x1 + x2\nb = a**2 + sin(a)\nwhere(b > 1, b * x3, a * x4) + a*b",
]
POINT = torch.tensor([0.75, 1.25, 0.5, 1.5, 0.25], dtype=torch.float64)


def _function(text: str, n: int) -> tuple[language.Program, object]:
    names = {f"x{i}": () for i in range(n)}
    program = language.build_program(language.parse_expression(text), names)
    return program, to_torch(program, program.variables, ())


@pytest.fixture
def fuse_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fused, "FUSE_MIN_STEPS", 0)


def _stepwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fused, "FUSE_MIN_STEPS", 10**9)


@pytest.mark.parametrize("text", EXPRESSIONS)
@pytest.mark.parametrize("columns", [None, 1, 3])
def test_fused_values_are_the_tapes_to_the_last_bit(text: str, columns: int | None, monkeypatch) -> None:
    n = 10 if text.startswith("100*") else 5
    point = torch.linspace(0.3, 1.7, n, dtype=torch.float64)
    x = point if columns is None else point[:, None].expand(n, columns) * torch.linspace(1, 1.5, columns)
    _stepwise(monkeypatch)
    _, fn = _function(text, n)
    before = fn(x)
    monkeypatch.setattr(fused, "FUSE_MIN_STEPS", 0)
    after = fn(x)
    assert fn._fused is not None and fn._fused.ops <= len(fn._steps)
    assert before.dtype == after.dtype and before.shape == after.shape
    assert torch.equal(before.view(torch.int64), after.view(torch.int64))  # bit for bit, -0.0 and nan included


@pytest.mark.parametrize("text", EXPRESSIONS)
@pytest.mark.parametrize("quantity", ["gradient", "hessian", "jacobian", "jvp"])
def test_fused_derivatives_agree_with_the_tape(text: str, quantity: str, monkeypatch) -> None:
    """Derivatives: the same up to the order in which a value's gradient contributions are summed."""
    n = 10 if text.startswith("100*") else 5
    x = torch.linspace(0.3, 1.7, n, dtype=torch.float64)[None]
    p = x.new_zeros(1, 0)
    compute = getattr(batch, quantity)
    results = []
    for steps in (10**9, 0):
        monkeypatch.setattr(fused, "FUSE_MIN_STEPS", steps)
        _, fn = _function(text, n)
        setup = batch.Setup(fn, weights=torch.ones(n, dtype=torch.float64), mode="reverse")
        results.append(compute(setup, x, p))
    (v0, r0), (v1, r1) = results
    assert torch.equal(v0, v1)
    torch.testing.assert_close(r1, r0, rtol=1e-14, atol=1e-300, equal_nan=True)


def test_the_rosenbrock_hessian_is_byte_identical_fused(jacli, monkeypatch) -> None:
    """n = 150 (a tape of 2,235 steps): the CLI's JSON, sparse Hessian and facts, with and without fusing."""
    text = "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(149))
    args = ("hessian", text, "--at", ",".join(["1.1"] * 150), "-f", "json", "--no-symbolic")
    env = {"JACLI_SERVER": "off", "JACLI_MAX_ELEMENTS": "1000000"}
    _stepwise(monkeypatch)
    before = jacli(*args, env=env)
    monkeypatch.setattr(fused, "FUSE_MIN_STEPS", 0)
    after = jacli(*args, env=env)
    assert before.exit_code == after.exit_code == 0, after.stderr
    assert after.stdout == before.stdout
    assert json.loads(after.stdout)["definiteness"] == "positive definite"


def test_short_tapes_and_wide_batches_run_step_by_step() -> None:
    _, fn = _function(EXPRESSIONS[1], 5)
    assert not fused.worth_fusing(len(fn._steps), POINT)
    assert not fused.worth_fusing(fused.FUSE_MIN_STEPS, torch.zeros(5, fused.FUSE_MAX_COLUMNS + 1))
    assert fused.worth_fusing(fused.FUSE_MIN_STEPS, torch.zeros(5, fused.FUSE_MAX_COLUMNS))


def test_fused_tape_with_parameters_and_float32(fuse_everything) -> None:
    program = language.build_program(language.parse_expression("a*x**2 + sin(a)*y + x*y"), {"x": (), "y": (), "a": ()})
    inputs = [program.variable("x"), program.variable("y")]
    fn = to_torch(program, inputs, [program.variable("a")])
    x = torch.tensor([[1.5, 2.0], [0.5, -1.0]], dtype=torch.float32)  # (n, rows)
    p = torch.tensor([[3.0, 0.5]], dtype=torch.float32)
    a, xs, ys = p[0], x[0], x[1]
    expected = a * xs**2 + torch.sin(a) * ys + xs * ys
    assert torch.equal(fn(x, p)[0], expected)


# -- deep and long expressions: the lowering has no recursion limit ----------------------------


def test_a_chain_of_2000_powers_compiles_and_differentiates() -> None:
    x, y = sympy.symbols("x y", real=True)
    expr: sympy.Expr = x
    half, quarter = sympy.Rational(1, 2), sympy.Rational(1, 4)
    for _ in range(2000):  # unevaluated: SymPy's own canonicalisation of such a chain takes minutes
        expr = sympy.Add(sympy.Mul(half, sympy.Pow(expr, 2, evaluate=False), evaluate=False),
                         sympy.Mul(quarter, y, evaluate=False), evaluate=False)  # fmt: skip
    program = language.Program("chain", (language.Variable("x", (), (x,)), language.Variable("y", (), (y,))), (),
                               (expr,), ())  # fmt: skip
    fn = to_torch(program, program.variables, ())
    value, grad = 0.5, [1.0, 0.0]  # forward: v -> v²/2 + y/4, and its derivative by the chain rule
    for _ in range(2000):
        grad = [value * grad[0], value * grad[1] + 0.25]
        value = value * value / 2 + 0.9 / 4
    setup = batch.Setup(fn)
    got_value, got_grad = batch.gradient(setup, torch.tensor([[0.5, 0.9]], dtype=torch.float64), torch.zeros(1, 0))
    assert math.isclose(got_value.item(), value, rel_tol=1e-12)
    assert np.allclose(got_grad[0].tolist(), grad, rtol=1e-10, atol=1e-300)


def test_a_sum_of_100000_terms_compiles_and_evaluates() -> None:
    xs = sympy.symbols("x0:10", real=True)
    powers = [[sympy.Pow(x, k, evaluate=False) for k in (1, 2, 3)] for x in xs]
    terms = [sympy.Mul(1 + i % 97, powers[i % 10][i % 3], evaluate=False) for i in range(100_000)]
    expr = sympy.Add(*terms, evaluate=False)  # 100,000 arguments, as a long sum in the language
    variables = tuple(language.Variable(s.name, (), (s,)) for s in xs)
    fn = to_torch(language.Program("sum", variables, (), (expr,), ()), variables, ())
    point = np.linspace(0.5, 1.4, 10)
    value, grad = batch.gradient(batch.Setup(fn), torch.tensor(point)[None], torch.zeros(1, 0))
    coefficient = np.array([1 + i % 97 for i in range(100_000)], dtype=float)
    var, power = np.arange(100_000) % 10, 1 + np.arange(100_000) % 3
    expected_grad = np.bincount(var, coefficient * power * point[var] ** (power - 1), minlength=10)
    assert math.isclose(value.item(), float(np.sum(coefficient * point[var] ** power)), rel_tol=1e-12)
    assert np.allclose(grad[0].numpy(), expected_grad, rtol=1e-12)


# -- JSON of a large result: orjson's text where it is json.dumps's, json.dumps elsewhere ---------

FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-4, 9.999e-5, -1e-5, 1e16, 9.999999999999998e15, 1.0000000000000002, 5e-324]),
    st.integers(min_value=-(2**70), max_value=2**70),
)


@given(st.lists(FLOATS, min_size=1, max_size=12), st.integers(min_value=1, max_value=5))
def test_result_text_is_json_dumps(values: list[float], width: int) -> None:
    rows = -(-FAST_NUMBERS // width)
    nested = [[values[(r * width + c) % len(values)] for c in range(width)] for r in range(rows)]
    text = _result_text(nested)
    expected = json.dumps(finite_or_null(nested), allow_nan=False, ensure_ascii=False)
    assert text is None or text == expected


def test_result_text_takes_the_fast_path_for_ordinary_numbers() -> None:
    nested = np.random.default_rng(3).uniform(-1e6, 1e6, (100, 100)).tolist()
    nested[5][7], nested[9][1] = float("nan"), -0.0
    text = _result_text(nested)
    assert text is not None
    assert text == json.dumps(finite_or_null(nested), allow_nan=False, ensure_ascii=False)
    nested[0][0] = 1e-5
    assert _result_text(nested) is None


def test_json_of_a_large_hessian_matches_the_standard_library(jacli) -> None:
    text = "+".join(f"(x{i + 1}-x{i}**2)**2*1e-7+x{i}**4" for i in range(69))  # tiny numbers: json.dumps
    for expr in (text, text.replace("1e-7", "3")):
        out = jacli("hessian", expr, "--at", ",".join(["0.9"] * 70), "-f", "json", "--no-symbolic")
        assert out.exit_code == 0, out.stderr
        obj = json.loads(out.stdout)
        assert out.stdout.rstrip("\n") == json.dumps(obj, allow_nan=False, ensure_ascii=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from([1, 2, 3]), max_size=3), min_size=1, max_size=3))
def test_broadcast_shapes_is_torch_s(shapes: list[list[int]]) -> None:
    """fused._broadcast_shapes (no import of torch's symbolic shapes) agrees with torch, errors included."""
    try:
        expected = tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        with pytest.raises(RuntimeError):
            fused._broadcast_shapes(shapes)
    else:
        assert fused._broadcast_shapes(shapes) == expected
