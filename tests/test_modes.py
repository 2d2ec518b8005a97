"""``jacobian --mode auto|forward|reverse``: the same Jacobian to rounding, and JSON says which mode ran."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import Invoke, assert_usage_error

from jacli import api, calculus
from jacli.errors import UsageError

CASES = [
    ("2*x0+x1**2, x0**2+2*x1**3", "1,2"),  # square
    ("x0**2, x0*x1, x1**2", "2,3"),  # tall: n < m
    ("sin(x)*exp(y)*z + log(1 + x**2)", "x=0.3, y=-1.2, z=2"),  # wide: one output
    ("A@B", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]"),  # 6 outputs, 10 inputs
    ("c = x*y; d = where(x > 0, sqrt(x), 0); [c*d, detach(c)*x, max(x, y)]", "x=0.7, y=0.2"),
    ("sigmoid(x)*softplus(y), atan2(y, x), erf(x*y)", "x=1.5, y=-0.5"),
]


@pytest.mark.parametrize(("expr", "at"), CASES)
def test_forward_and_reverse_agree_to_rounding(expr: str, at: str) -> None:
    forward = api.jacobian(expr, at=at, mode="forward", symbolic_form=False)
    reverse = api.jacobian(expr, at=at, mode="reverse", symbolic_form=False)
    auto = api.jacobian(expr, at=at, mode="auto", symbolic_form=False)
    assert (forward.mode, reverse.mode) == ("forward", "reverse")
    torch.testing.assert_close(forward.tensor, reverse.tensor, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(auto.tensor, reverse.tensor, rtol=1e-13, atol=1e-15)
    assert forward.shape == reverse.shape == (len(forward.outputs), len(forward.inputs))


@pytest.mark.parametrize(
    ("expr", "at", "expected"),
    [
        ("x0**2, x0*x1, x1**2", "2,3", "forward"),  # 2 inputs < 3 outputs
        ("2*x0+x1**2, x0**2+2*x1**3", "1,2", "reverse"),  # equal: reverse
        ("x*y*z", "1,2,3", "reverse"),
        ("A@B", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "reverse"),  # 10 inputs > 6 outputs
        ("[x, x**2, x**3]", "x=2", "forward"),
    ],
)
def test_auto_picks_forward_when_fewer_inputs_than_outputs(jacli: Invoke, expr: str, at: str, expected: str) -> None:
    out = jacli("jacobian", expr, "--at", at, "--format", "json")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["mode"] == expected


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_json_reports_the_mode_asked_for(jacli: Invoke, mode: str) -> None:
    out = jacli("jacobian", "x0**2, x0*x1, x1**2", "--at", "2,3", "--mode", mode, "--format", "json")
    obj = json.loads(out.stdout)
    assert obj["mode"] == mode
    assert obj["result"] == [[4.0, 0.0], [3.0, 2.0], [0.0, 6.0]]


def test_table_shows_the_mode(jacli: Invoke) -> None:
    out = jacli("jacobian", "x0**2, x0*x1, x1**2", "--at", "2,3", "--mode", "forward")
    assert out.exit_code == 0
    assert any(line.split()[:2] == ["mode", "forward"] for line in out.stdout.splitlines())


def test_bad_mode_is_a_usage_error(jacli: Invoke) -> None:
    assert_usage_error(jacli("jacobian", "x*y", "--at", "1,2", "--mode", "sideways"))
    with pytest.raises(UsageError):
        api.jacobian("x*y", at="1,2", mode="sideways")


def test_choose_mode() -> None:
    assert calculus.choose_mode("auto", 2, 3) == "forward"
    assert calculus.choose_mode("auto", 3, 3) == "reverse"
    assert calculus.choose_mode("auto", 4, 1) == "reverse"
    assert calculus.choose_mode("forward", 4, 1) == "forward"
    assert calculus.choose_mode("reverse", 1, 5) == "reverse"
