"""The function table (``jacli/language/functions.py``): every view of a function is its row.

A function added as one row (``arsinh``, here in a fixture) parses, builds, lowers to
torch, prints in ``--show-torch``, ``jacli graph`` and ``jacli check``, goes through
SymEngine and gets the right derivative; and every row's views agree with each other.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import operator
import random
from collections.abc import Iterator

import numpy as np
import pytest
import sympy
import torch
from conftest import Invoke

from jacli import compile as lowering
from jacli import graphs, language, symbolic
from jacli.language import functions

X = sympy.Symbol("x", real=True)


@pytest.fixture
def arsinh() -> Iterator[functions.Function]:
    """A test-only row: ``arsinh`` is SymPy's ``asinh`` under another name (so every view must read the row)."""
    row = functions.Function(
        "arsinh",
        "inverse hyperbolic sine (a test row)",
        lambda v: v.Views(
            v.sympy.asinh,
            value=v.real_function(v.mpmath.asinh),
            site=lambda expr, point: "a test site at 0" if point.is_zero(point.at(expr.args[0])) else None,
        ),
        torch="torch.asinh",
        symengine=True,
    )
    functions.add(row)
    yield row
    functions.remove(row)


def test_an_unknown_function_before_its_row_exists(jacli: Invoke) -> None:
    out = jacli("gradient", "arsinh(x)", "--at", "1")
    assert out.exit_code == 2 and out.stderr.startswith("jacli: error: unknown function 'arsinh'")


def test_one_row_is_a_function_everywhere(jacli: Invoke, arsinh: functions.Function) -> None:
    out = jacli("gradient", "x*arsinh(x)", "--at", "0.5", "--format", "json")
    assert out.exit_code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["result"] == pytest.approx([math.asinh(0.5) + 0.5 / math.sqrt(1.25)], rel=1e-15)
    assert result["symbolic"] == ["x/sqrt(x**2 + 1) + asinh(x)"]  # the symbolic form is SymPy's (Abs, ceiling)

    shown = jacli("gradient", "arsinh(x)", "--at", "0.5", "--show-torch")
    assert shown.exit_code == 0 and "torch.asinh(x)" in shown.stdout

    graph = json.loads(jacli("graph", "arsinh(x)", "--at", "0.5", "--format", "json").stdout)
    assert [(n["op"], n["definition"]) for n in graph["nodes"]] == [("input", "x"), ("arsinh", "arsinh(x)")]
    assert graph["edges"][0]["partial"] == pytest.approx(1 / math.sqrt(1.25), rel=1e-15)

    check = jacli("check", "arsinh(x)", "--at", "0", "--format", "json")
    assert check.exit_code == 0, check.stderr
    assert json.loads(check.stdout)["nonsmooth"] == ["arsinh(x): a test site at 0"]

    assert language.user_text(sympy.asinh(X) + 1) == "arsinh(x) + 1"
    assert symbolic._symengine_knows(sympy.asinh(X))
    assert language.constant_value(sympy.asinh(sympy.Integer(1))) == math.asinh(1)
    line = "  arsinh                          inverse hyperbolic sine (a test row)\n"
    assert line in language.reference_page()
    assert line in jacli("language").stdout


def test_the_lazy_package_names_each_object_of_its_modules() -> None:
    """``jacli.language`` imports a name on first use; it is the defining module's object."""
    for name, module in language._MODULE_OF.items():
        assert getattr(language, name) is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError, match="has no attribute 'nonesuch'"):
        _ = language.nonesuch


def test_a_name_is_one_row() -> None:
    with pytest.raises(ValueError, match="two functions named 'sin'"):
        functions.add(functions.Function("sin", "another sine", lambda v: v.Views(v.sympy.sin)))


# ---------------------------------------------------------------------------
# Every row: its views agree.
# ---------------------------------------------------------------------------

DOMAINS = {"asin": (-0.95, 0.95), "acos": (-0.95, 0.95), "log": (0.1, 4.0), "log2": (0.1, 4.0),
           "log10": (0.1, 4.0), "sqrt": (0.1, 4.0)}  # fmt: skip
"""Where the functions are real; the others are sampled on (-3, 3)."""
ARRAY_ARGUMENTS = {"sum": 1, "dot": 2}
"""Functions of vectors (their arguments are arrays of 3)."""


def _arguments(row: functions.Function, rng: random.Random) -> list[list[sympy.Rational]]:
    low, high = DOMAINS.get(row.name, (-3.0, 3.0))
    count = ARRAY_ARGUMENTS.get(row.name, row.min_args if row.max_args is not None else 3)
    size = 3 if row.name in ARRAY_ARGUMENTS else 1
    return [[sympy.Rational(round(rng.uniform(low, high), 6)) for _ in range(size)] for _ in range(count)]


def _value(numbers: list[sympy.Rational], array: bool) -> language.Value:
    return np.array(numbers, dtype=object) if array else language.scalar(numbers[0])


def _tensor(numbers: list[sympy.Rational], array: bool) -> torch.Tensor:
    values = torch.tensor([float(n) for n in numbers], dtype=torch.float64)
    return values if array else values[0]


V1_ROWS = [row for row in functions.ROWS if row not in functions._TENSOR_ROWS_A]
"""The rows of version 1 (issue 13's rows, of arrays and with axes, are checked in tests/test_tensor_language.py)."""


@pytest.mark.parametrize("row", V1_ROWS, ids=lambda row: row.name)
def test_torch_computes_what_sympy_builds(row: functions.Function) -> None:
    """The named torch function, and compile's lowering of the built node, agree with the exact value."""
    rng = random.Random(row.name)
    array = row.name in ARRAY_ARGUMENTS
    for _ in range(5):
        numbers = _arguments(row, rng)
        values = [_value(n, array) for n in numbers]
        tensors = [_tensor(n, array) for n in numbers]
        if row.condition_arg:  # where(x > 0, a, b)
            values[0] = language.scalar(sympy.Gt(numbers[0][0], 0))
            tensors[0] = tensors[0] > 0
        exact = language.constant_value(row.build(*values)[()])
        assert row.torch is not None
        named = operator.attrgetter(row.torch.removeprefix("torch."))(torch)
        by_name = named(*tensors) if row.max_args is not None else functools.reduce(named, tensors)  # pairwise
        assert float(by_name) == pytest.approx(exact, rel=1e-12, abs=1e-12), (row.name, numbers)
        if row.node is not None and row.node is not sympy.Piecewise:
            symbols = [language.scalar(sympy.Symbol(f"a{i}", real=True)) for i in range(len(values))]
            node = row.build(*symbols)[()]
            assert isinstance(node, row.node), (row.name, node)
            lowered = lowering.torch_function(node)(*tensors)
            assert float(lowered) == pytest.approx(exact, rel=1e-12, abs=1e-12), (row.name, numbers)


@pytest.mark.parametrize("row", [r for r in V1_ROWS if r.node is not None], ids=lambda row: row.name)
def test_a_node_prints_and_graphs_as_its_function(row: functions.Function) -> None:
    count = row.min_args if row.max_args is not None else 2  # min(a0) is a0 itself
    symbols = [language.scalar(sympy.Symbol(f"a{i}", real=True)) for i in range(count)]
    if row.condition_arg:
        symbols[0] = language.scalar(sympy.Gt(sympy.Symbol("a0", real=True), 0))
    node = row.build(*symbols)[()]
    assert language.user_text(node).startswith(f"{row.name}("), node
    assert graphs._op_name(node, "operation") == row.name
    assert language.row_of(node) is row


def test_every_row_is_documented(jacli: Invoke) -> None:
    page = jacli("language").stdout
    assert page == language.reference_page()  # the page is the table's text
    for row in functions.ROWS:
        assert row.help.strip(), row.name
        assert f" {row.usage or row.name}" in page, row.name
    assert list(functions.FUNCTIONS) == [row.name for row in functions.ROWS]


def test_the_symengine_rows_differentiate_alike() -> None:
    """A row that lets SymEngine differentiate gets SymPy's derivative from it."""
    for row in functions.ROWS:
        if row.symengine:
            expr = row.build(language.scalar(X**2 + 1))[()]
            assert symbolic._symengine_knows(expr), row.name
            assert sympy.simplify(symbolic._diff(expr, X) - sympy.diff(expr, X)) == 0, row.name
