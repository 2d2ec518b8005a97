"""Reviewer R1: the version-2 tensor language, control flow and symbolic answers, attacked."""

from __future__ import annotations

import json

import pytest
from conftest import Invoke


@pytest.mark.parametrize(("expr", "at"), [("sinc(x)", "0.7"), ("cbrt(x)", "-0.5"), ("sinc(x)*cbrt(x)", "-1.3")])
def test_check_of_new_functions_agrees_with_the_exact_derivative(jacli: Invoke, expr: str, at: str) -> None:
    """The exact value of sinc/cbrt is not mpmath's (found by name): sin(x)/x, and a complex root for x < 0."""
    outcome = jacli("check", expr, "--at", at, "-f", "json")
    assert outcome.exit_code == 0, outcome
    data = json.loads(outcome.stdout)
    assert data["ok"] is True
    assert data["exact"][0] == pytest.approx(data["autodiff"][0], rel=1e-9)


def test_check_of_exp2_at_a_vertical_tangent_is_a_verdict(jacli: Invoke) -> None:
    """exp2 at a float had no numeric value (mpmath has no exp2): the non-smooth test's comparison raised."""
    outcome = jacli("check", "exp2(x) + cbrt(x - 0.7)", "--at", "0.7")
    assert outcome.exit_code == 1, outcome  # a failed check (a vertical tangent), not a crash
    assert "Traceback" not in outcome.stderr
    assert "jacli: error: check failed" in outcome.stderr
