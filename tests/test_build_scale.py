"""Issue 16, building at scale: long and deep inputs build without recursion limits, and a big
Rosenbrock Hessian comes with its symbolic form, in the same JSON structure as a small one."""

from __future__ import annotations

import json
import math

import pytest
import sympy
from conftest import Invoke

from jacli import symbolic_result
from jacli.differentiate import ExactDiff


def rosenbrock(n: int) -> str:
    return "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))


def test_the_deepest_nest_the_parser_takes_builds(jacli: Invoke) -> None:
    deep = "sin(" * 99 + "x" + ")" * 99
    out = jacli("gradient", deep, "--at", "0.5", "--format", "json", "--no-symbolic")
    assert out.exit_code == 0, out.stderr
    assert "Traceback" not in out.stderr
    value = 0.5
    for _ in range(99):
        value = math.sin(value)
    assert json.loads(out.stdout)["value"] == [pytest.approx(value, rel=1e-13)]


def test_a_nest_past_the_parser_limit_is_a_named_error(jacli: Invoke) -> None:
    out = jacli("gradient", "sin(" * 2000 + "x" + ")" * 2000, "--at", "0.5", "--no-symbolic")
    assert out.exit_code == 2
    assert out.stderr.startswith("jacli: error: brackets nested more than 100 deep at column ")
    assert "Traceback" not in out.stderr


def test_a_long_sum_builds(jacli: Invoke) -> None:
    text = "+".join(f"{i}*x**2" if i % 2 else f"(x-{i})**2" for i in range(1, 10_001))
    out = jacli("gradient", text, "--at", "1", "--format", "json", "--no-symbolic")
    assert out.exit_code == 0, out.stderr
    expected = sum(2 * i if i % 2 else 2 * (1 - i) for i in range(1, 10_001))
    assert json.loads(out.stdout)["result"] == [float(expected)]


def test_a_sum_builds_with_its_symbolic_form(jacli: Invoke) -> None:
    text = "+".join(f"{i}*x**2" if i % 2 else f"(x-{i})**2" for i in range(1, 301))
    out = jacli("gradient", text, "--at", "1", "--format", "json")
    assert out.exit_code == 0, out.stderr
    x = sympy.Symbol("x", real=True)
    f = sympy.Add(*(sympy.Integer(i) * x**2 if i % 2 else (x - i) ** 2 for i in range(1, 301)))
    assert json.loads(out.stdout)["symbolic"] == [sympy.sstr(sympy.diff(f, x))]


def test_a_sum_past_the_parser_limit_is_a_named_error(jacli: Invoke) -> None:
    out = jacli("gradient", "+".join(["x"] * 100_000), "--at", "1", "--no-symbolic")
    assert out.exit_code == 2
    assert out.stderr.startswith("jacli: error: expression is nested too deeply or chains too many operators")


def test_a_big_hessian_keeps_the_json_structure_of_a_small_one(jacli: Invoke) -> None:
    small = json.loads(jacli("hessian", rosenbrock(3), "--at", "1.1,1.1,1.1", "-f", "json").stdout)
    n = 60
    out = jacli("hessian", rosenbrock(n), "--at", ",".join(["1.1"] * n), "-f", "json")
    assert out.exit_code == 0, out.stderr
    assert "skipped" not in out.stderr
    big = json.loads(out.stdout)
    assert big.keys() == small.keys()
    assert len(big["symbolic"]) == n and all(len(row) == n for row in big["symbolic"])
    xs = [sympy.Symbol(f"x{i}", real=True) for i in range(n)]
    f = sympy.Add(*(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1)))
    differentiate = ExactDiff()
    for i, j in [(0, 0), (0, 1), (1, 0), (5, 5), (5, 6), (5, 7), (n - 1, n - 1)]:
        expected = sympy.diff(sympy.diff(f, xs[i]), xs[j])
        assert big["symbolic"][i][j] == sympy.sstr(expected)
        assert differentiate(differentiate(f, xs[i]), xs[j]) == expected
    assert sum(cell != "0" for row in big["symbolic"] for cell in row) == 3 * n - 2


def test_the_time_budget_still_skips_what_is_too_big(jacli: Invoke) -> None:
    # a form derived earlier in this process is reused whatever the budget (it costs no work): derive afresh
    symbolic_result.cached_symbolic_form.cache_clear()
    n = 60
    out = jacli(
        "hessian", rosenbrock(n), "--at", ",".join(["1.1"] * n), "-f", "json", env={"JACLI_TIME_BUDGET": "0.001"}
    )
    assert out.exit_code == 0
    assert "jacli: note: symbolic form skipped: " in out.stderr
    assert "symbolic" not in json.loads(out.stdout)
