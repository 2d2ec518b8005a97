"""``jacli hvp``: H·v by forward-over-reverse, equal to ``hessian`` times v."""

from __future__ import annotations

import json

import pytest
import sympy
import torch
from conftest import Invoke, assert_usage_error
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import api, calculus

CASES = [
    ("x**2*y + y**3", "x=1, y=2"),
    ("x1**2 + x2**3 + x3**4", "1,2,3"),
    ("sin(x*y) + exp(x)*log(y) + sqrt(x**2 + y**2)", "x=0.4, y=1.7"),
    ("2*dot(x,x) + sum(x**3)", "x=[0,1,2,3]"),
    ("c = a*b; d = c**2 + tanh(a); d*b", "a=0.5, b=-1.5"),
    ("where(x > 0, x**3, x**2)*y + max(x, y)**2 + detach(x*y)*x", "x=0.8, y=0.3"),
    ("sum(A@B)**2", "A=[[1,2],[3,4]], B=[[1,0],[2,1]]"),
]


@pytest.mark.parametrize(("expr", "at"), CASES)
def test_hvp_equals_hessian_times_v(expr: str, at: str) -> None:
    n = len(api.problem(expr, at).input_symbols)
    for seed in range(3):
        v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        hv = api.hvp(expr, at=at, v=v.tolist(), symbolic_form=False).tensor
        h = api.hessian(expr, at=at, symbolic_form=False).tensor
        torch.testing.assert_close(hv, h @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("expr", "at"), CASES[:5])
def test_symbolic_hvp_matches_numbers(expr: str, at: str) -> None:
    r = api.hvp(expr, at=at, v="1,2" if len(api.problem(expr, at).input_symbols) == 2 else "ones", exact=True)
    numeric = [float(sympy.sympify(cell)) for cell in r.exact]
    torch.testing.assert_close(torch.tensor(numeric, dtype=torch.float64), r.tensor, rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=25)
@given(
    x=st.floats(-2, 2),
    y=st.floats(0.1, 3),
    v=st.lists(st.floats(-3, 3), min_size=2, max_size=2),
)
def test_hvp_property(x: float, y: float, v: list[float]) -> None:
    expr = "x**3*y + sin(x)*log(y) + exp(x*y/4)"
    at = {"x": x, "y": y}
    hv = api.hvp(expr, at=at, v=v, symbolic_form=False).tensor
    h = api.hessian(expr, at=at, symbolic_form=False).tensor
    torch.testing.assert_close(hv, h @ torch.tensor(v, dtype=torch.float64), rtol=1e-10, atol=1e-10)


def test_hvp_never_forms_the_hessian(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("hvp must not build H")

    monkeypatch.setattr(calculus, "hessian", refuse)
    monkeypatch.setattr(torch.autograd.functional, "hessian", refuse)
    monkeypatch.setattr(torch.autograd.functional, "jacobian", refuse)
    r = api.hvp("sum(x**3)", at={"x": [1.0, 2.0, 3.0]}, v="1,1,1", symbolic_form=False)
    assert r.result == [6.0, 12.0, 18.0]


def test_cli_json(jacli: Invoke) -> None:
    out = jacli("hvp", "x**2*y + y**3", "--at", "x=1,y=2", "--v", "1,0", "--format", "json")
    assert out.exit_code == 0 and out.stderr == ""
    assert json.loads(out.stdout) == {
        "command": "hvp",
        "inputs": ["x", "y"],
        "outputs": ["f"],
        "point": {"x": 1.0, "y": 2.0},
        "value": [10.0],
        "result": [4.0, 2.0],
        "v": [1.0, 0.0],
        "symbolic": ["2*y", "2*x"],
    }


def test_cli_table_and_csv(jacli: Invoke) -> None:
    table = jacli("hvp", "x1**2 + x2**3 + x3**4", "--at", "1,2,3", "--v", "1,1,1")
    assert table.exit_code == 0
    assert "H·v" in table.stdout and "108" in table.stdout
    csv = jacli("hvp", "x1**2 + x2**3 + x3**4", "--at", "1,2,3", "--v", "1,1,1", "--format", "csv")
    assert csv.stdout == "2.0,12.0,108.0\n"


def test_usage_errors(jacli: Invoke) -> None:
    assert_usage_error(jacli("hvp", "x, y", "--at", "1,2", "--v", "1,0"))  # not scalar
    assert_usage_error(jacli("hvp", "x*y", "--at", "1,2", "--v", "1,0,0"))  # wrong length
    assert_usage_error(jacli("hvp", "x*y", "--at", "1,2"))  # --v is required
