"""The CLI end to end, in-process: exit codes, stdout/stderr split, every format."""

from __future__ import annotations

import json

from conftest import Invoke, assert_usage_error

SEED = "2*x0+x1**2, x0**2+2*x1**3"


def test_jacobian_json_has_the_spec_keys(jacli: Invoke) -> None:
    out = jacli("jacobian", SEED, "--at", "1,2", "--format", "json")
    assert out.exit_code == 0 and out.stderr == ""
    obj = json.loads(out.stdout)
    assert obj == {
        "command": "jacobian",
        "inputs": ["x0", "x1"],
        "outputs": ["f0", "f1"],
        "point": {"x0": 1.0, "x1": 2.0},
        "value": [6.0, 17.0],
        "result": [[2.0, 4.0], [2.0, 24.0]],
        "mode": "reverse",
        "symbolic": [["2", "2*x1"], ["2*x0", "6*x1**2"]],
    }


def test_syntax_error_has_a_caret(jacli: Invoke) -> None:
    out = jacli("gradient", "x +* y", "--at", "1,2")
    assert_usage_error(out)
    assert out.stderr.splitlines()[1:] == ["  x +* y", "     ^"]


def test_click_errors_use_the_jacli_prefix(jacli: Invoke) -> None:
    assert_usage_error(jacli("gradient", "x", "--at", "1", "--digits", "-3"))
    assert_usage_error(jacli("gradient", "x", "--at", "1", "--format", "xml"))
    assert_usage_error(jacli("gradient", "x", "--at", "1", "--dtype", "int8"))
    assert_usage_error(jacli("frobnicate"))
