"""One time budget per command (``JACLI_TIME_BUDGET``): skipped parts say so, nothing runs on unbounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import Invoke

from jacli import api, limits, symbolic

SECONDS = 60
"""Each command must finish well within this with a 2 s budget (before: 40 s to minutes)."""


def _run(*args: str, budget: str = "2") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JACLI_SERVER": "off", "JACLI_TIME_BUDGET": budget, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "jacli", *args], capture_output=True, text=True, env=env, timeout=SECONDS, check=False
    )


NOTE = "took longer than 2 s (the time budget; set JACLI_TIME_BUDGET to change it)"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("check", "sin(x**(2**50))", "--at", "3"),
        ("check", "sin(exp(exp(x*20)))", "--at", "1"),
    ],
)
def test_check_skips_the_exact_column_past_the_budget(args: tuple[str, ...]) -> None:
    out = _run(*args, "--format", "json")
    assert out.returncode == 1, out  # f(x) is inf/nan in float64: never "agrees"
    lines = out.stderr.splitlines()
    skipped = f"jacli: note: exact derivative skipped: {NOTE}; the verdict compares autodiff with finite differences"
    assert lines[0] == skipped
    assert lines[-1].startswith("jacli: error: check failed at x=")
    assert "not finite here" in lines[-1] and "Traceback" not in out.stderr
    obj = json.loads(out.stdout)
    assert obj["ok"] is False and obj["reference"] == "finite_difference"
    assert obj["exact"] == [[None]] and obj["max_abs_error"] == {"autodiff": None, "finite_difference": None}


def test_exact_is_skipped_past_the_budget_and_the_numbers_stay(jacli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    # Exact evaluation made slow on purpose: SymPy now decides the floor(exp(exp(20))) at once.
    real = symbolic._exact_value

    def slow(*args: object, **kwargs: object) -> object:
        time.sleep(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(symbolic, "_exact_value", slow)
    out = jacli(
        "gradient", "floor(exp(x))*x", "--at", "1", "--exact", "--format", "json", env={"JACLI_TIME_BUDGET": "1"}
    )
    assert out.exit_code == 0, out
    note = "took longer than 1 s (the time budget; set JACLI_TIME_BUDGET to change it)"
    assert out.stderr.splitlines()[0] == f"jacli: note: --exact skipped: {note}; the numbers are complete"
    obj = json.loads(out.stdout)
    assert "exact" not in obj and obj["symbolic"] == ["floor(exp(x))"] and obj["result"] == [2.0]


def rosenbrock(n: int) -> str:
    """bench/scale.py's function, written out in full."""
    return "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))


@pytest.mark.slow
def test_big_check_gives_the_same_verdict_within_the_budget() -> None:
    # 1000 variables: 65 s before (finite differences one point at a time, then SymPy); the verdict now
    # compares autodiff with finite differences when the exact column does not fit in the budget.
    # Since round 4 the exact column fits in 1 s (about 0.6 s): a tenth of a second does not.
    at = ",".join(["1.1"] * 1000)
    out = _run("check", rosenbrock(1000), "--at", at, "--format", "json", budget="0.1")
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["ok"] is True and obj["verdict"].startswith("OK: autodiff agrees with finite differences")
    assert "jacli: note: exact derivative skipped: took longer than 0.1 s" in out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "1e300"])
def test_bad_budget_is_a_usage_error(value: str) -> None:
    out = _run("check", "x*y", "--at", "1,2", budget=value)
    assert out.returncode == 2
    assert out.stderr == f"jacli: error: JACLI_TIME_BUDGET must be a number of seconds in (0, 86400], not {value!r}\n"


def test_budget_reads_the_environment_once_per_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACLI_TIME_BUDGET", "3.5")
    budget = symbolic.Budget()
    monkeypatch.setenv("JACLI_TIME_BUDGET", "100")
    assert budget.seconds == symbolic.Budget().seconds == symbolic.time_budget() == 3.5  # as the command started
    limits.reset()  # what the server's child does once it has taken the client's environment
    assert symbolic.Budget().seconds == 100
    monkeypatch.delenv("JACLI_TIME_BUDGET")
    limits.reset()
    assert symbolic.Budget().seconds == symbolic.MAX_SYMBOLIC_SECONDS


def test_a_spent_budget_skips_at_once() -> None:
    budget = symbolic.Budget(0.0)
    with pytest.raises(symbolic.SymbolicTooLarge, match=r"^took longer than 0 s"):
        with budget.limit():
            pytest.fail("must not run")


def test_check_past_the_budget_keeps_a_load_independent_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    # a budget spent before the exact column: the verdict is autodiff vs finite differences, the same OK
    monkeypatch.setattr(symbolic, "MAX_SYMBOLIC_SECONDS", 0.0)
    r = api.check("sin(x)*exp(y), log(x*y)", at="x=0.3, y=2")
    assert r.ok and r.reference == "finite_difference"
    assert r.notes[0].startswith("exact derivative skipped: took longer than 0 s")
    bad = api.check("abs(x - 1)", at="x=1")  # no budget left for the probe: not claimed differentiable
    assert not api.check("1/x", at="x=0").ok
    monkeypatch.setattr(symbolic, "MAX_SYMBOLIC_SECONDS", 10.0)
    assert bad.notes and api.check("abs(x - 1)", at="x=1").not_differentiable == ("f w.r.t. x",)
