"""The CLI end to end, in-process: exit codes, stdout/stderr split, every format."""

from __future__ import annotations

import json

import pytest
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


def test_several_points_give_one_json_line_each(jacli: Invoke) -> None:
    out = jacli("gradient", "x*y", "--at", "1,2", "--at", "x=3, y=4", "--at=-1,2", "-f", "json")
    assert out.exit_code == 0
    assert [json.loads(line)["result"] for line in out.stdout.splitlines()] == [[2, 1], [4, 3], [2, -1]]


def test_expression_from_stdin_with_newlines_and_trailing_separators(jacli: Invoke) -> None:
    out = jacli("gradient", "-", "--at", "2,3", "-f", "csv", input="u = x*y\n  v = log(u);\n\nv;\n")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "0.5,0.3333333333333333\n"


def test_parameters_by_name_and_wrt_order(jacli: Invoke) -> None:
    out = jacli("gradient", "a*x**2 + y", "--wrt", "y,x", "--at", "2, 1, a=3", "-f", "json")
    obj = json.loads(out.stdout)
    assert obj["inputs"] == ["y", "x"] and obj["result"] == [1, 6]
    assert obj["point"] == {"a": 3, "x": 1, "y": 2}
    assert obj["symbolic"] == ["1", "2*a*x"]


def test_domain_problems_are_values_with_a_warning(jacli: Invoke) -> None:
    out = jacli("gradient", "log(x) + 1/y", "--at", "-1,0", "-f", "json")
    assert out.exit_code == 0
    obj = json.loads(out.stdout)
    assert obj["value"] == [None] and obj["result"][1] is None
    assert out.stderr.startswith("jacli: warning: non-finite values")


def test_where_does_not_leak_nan_from_the_other_branch(jacli: Invoke) -> None:
    out = jacli("gradient", "where(x > 0, sqrt(x), 0)", "--at", "-1", "-f", "json")
    assert json.loads(out.stdout)["result"] == [0] and out.stderr == ""


def test_float32(jacli: Invoke) -> None:
    out = jacli("gradient", "sin(x)", "--at", "1", "--dtype", "float32", "-f", "json", "--no-symbolic")
    assert json.loads(out.stdout)["result"] == [0.5403023362159729]  # cos(1) rounded to float32


def test_forced_mode_is_reported(jacli: Invoke) -> None:
    out = jacli("jacobian", "x*y, x+y, x-y", "--at", "1,2", "-f", "json")
    assert json.loads(out.stdout)["mode"] == "forward"
    out = jacli("jacobian", "x*y, x+y, x-y", "--at", "1,2", "-f", "json", "--mode", "reverse")
    assert json.loads(out.stdout)["mode"] == "reverse"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jacobian", "A@B", "--at", "A=[[1,2],[3,4]], B=[[1,2,3]]"], "shapes (2, 2) and (1, 3) do not match"),
        (["jacobian", "a+b", "--at", "a=[1,2], b=[1,2,3]"], "shapes (2,) and (3,) do not broadcast"),
        (["vjp", "x*y, x", "--at", "1,2", "--v", "1,2,3"], "--v has 3 values but vjp needs 2"),
        (["jvp", "x*y, x", "--at", "1,2", "--v", "1"], "--v has 1 value but jvp needs 2"),
        (["gradient", "dot(x, y)", "--at", "1,2"], "dot needs two vectors"),
        (["gradient", "x[0]", "--at", "3"], "cannot index a scalar"),
        (["gradient", "x*y", "--at", "1,2,3"], "3 positional values but there are 2 variables"),
        (["gradient", "x*y", "--at", "1"], "no value for 'y'"),
        (["gradient", "x*y", "--at", "x=1, y=2, z=3"], "'z', which is not a variable"),
        (["gradient", "x*y", "--at", "1, x=2"], "'x' twice"),
        (["gradient", "x*y", "--wrt", "z", "--at", "1,2"], "--wrt names 'z'"),
        (["gradient", "a*x", "--wrt", "x", "--at", "1,2"], "2 positional values but there are 1 variables"),
        (["hessian", "x", "--at", "x=[1,2]", "--exact", "--no-symbolic"], "--exact needs the symbolic result"),
    ],
)
def test_usage_errors_name_the_problem(jacli: Invoke, args: list[str], message: str) -> None:
    out = jacli(*args)
    assert_usage_error(out)
    assert message in out.stderr.splitlines()[0], out.stderr


def test_unknown_function_suggests_a_name(jacli: Invoke) -> None:
    out = jacli("gradient", "sine(x)", "--at", "1")
    assert_usage_error(out)
    assert "unknown function 'sine'" in out.stderr and "did you mean 'sin'?" in out.stderr


def test_version(jacli: Invoke) -> None:
    out = jacli("--version")
    assert out.exit_code == 0 and out.stdout.startswith("jacli ")
