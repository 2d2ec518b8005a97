"""Control flow (issue 13): if/elif/else, while, for, return, def, run at the point with PyTorch's eager semantics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import Invoke, assert_usage_error
from hypothesis import given, settings
from hypothesis import strategies as st

import jacli as jac
from jacli import flow

SEED_CELL = """\
def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c
"""
"""The seed notebooks' cell, as pasted."""

SEED_CELL_V1 = SEED_CELL.replace("b.norm()", "sqrt(sum(b*b))").replace("b.sum()", "sum(b)")
"""The same cell in the words of version 1 (no method form)."""

BRANCH = "x = x*2\nif x > 1:\n    y = x*x\nelse:\n    y = -x\nreturn y"


def _json(jacli: Invoke, *args: str, input: str | None = None, env: dict | None = None) -> list[dict]:
    out = jacli(*args, "--format", "json", input=input, env=env)
    assert out.exit_code == 0, out
    return [json.loads(line) for line in out.stdout.splitlines()]


# --- the seed cell ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "path", "gradient"),
    [("0.3", "while ran 11 times; if took if", 4096.0), ("-0.7", "while ran 10 times; if took else", 204800.0)],
)
def test_seed_cell_v1_words(jacli: Invoke, a: str, path: str, gradient: float) -> None:
    (row,) = _json(jacli, "gradient", SEED_CELL_V1, "--at", f"a={a}")
    c = row["value"][0]
    assert row["path"] == path
    assert row["result"] == [gradient]
    assert row["result"][0] == pytest.approx(c / float(a), rel=1e-15)  # the notebook's assertion: grad == c/a


@pytest.mark.parametrize(
    ("a", "path"), [("0.3", "while ran 11 times; if took if"), ("-0.7", "while ran 10 times; if took else")]
)
def test_seed_cell_as_pasted(jacli: Invoke, a: str, path: str) -> None:
    (row,) = _json(jacli, "gradient", SEED_CELL, "--at", f"a={a}")
    assert row["path"] == path
    assert row["result"][0] == pytest.approx(row["value"][0] / float(a), rel=1e-15)


def test_seed_cell_from_stdin_and_exact(jacli: Invoke) -> None:
    (row,) = _json(jacli, "gradient", "-", "--at", "a=-0.7", "--exact", input=SEED_CELL_V1)
    assert row["result"] == [204800.0]
    assert row["exact"] == ["204800"]
    assert row["path"] == "while ran 10 times; if took else"


# --- the path: its derivative, its note, each format ----------------------------------------


def test_table_names_the_path(jacli: Invoke) -> None:
    out = jacli("gradient", BRANCH, "--at", "x=1")
    assert out.exit_code == 0, out
    assert "where        x_1 = x * 2; y = x_1 * x_1\n" in out.stdout
    assert out.stdout.rstrip().endswith("path: if took if")


def test_latex_and_csv(jacli: Invoke) -> None:
    out = jacli("gradient", BRANCH, "--at", "x=0.2", "--format", "latex")
    assert out.stdout.splitlines()[1] == "% path: if took else"
    assert out.stderr == "jacli: note: path: if took else\n"
    out = jacli("gradient", BRANCH, "--at", "x=0.2", "--format", "csv")
    assert (out.exit_code, out.stdout) == (0, "-2.0\n")


def test_exact_decision_of_equality(jacli: Invoke) -> None:
    program = "if 0.1*x + 0.2*x == 0.3*x:\n    y = x*x\nelse:\n    y = x\nreturn y"
    (row,) = _json(jacli, "gradient", program, "--at", "x=1")
    assert (row["path"], row["result"]) == ("if took if", [2.0])  # in floats 0.1 + 0.2 != 0.3
    program = "if x*x == 2:\n    y = x*x*x\nelse:\n    y = x\ny"
    (row,) = _json(jacli, "gradient", program, "--at", "x=sqrt(2)")
    assert row["path"] == "if took if"  # sqrt(2)**2 is 2.0000000000000004 in floats
    assert row["result"] == [pytest.approx(6.0)]
    (row,) = _json(jacli, "gradient", "if x == 1: y = 2*x\nelse: y = 3*x\ny", "--at", "x=1")
    assert (row["path"], row["result"]) == ("if took if", [2.0])


def test_elif_chain_and_no_branch(jacli: Invoke) -> None:
    program = "y = x\nif x < 0:\n    y = -x\nelif x < 1:\n    y = x*x\nelif x < 2:\n    y = x**3\nreturn y"
    paths = [row["path"] for row in _json(jacli, "gradient", program, *("--at", "-1", "--at", "0.5"))]
    assert paths == ["if took if", "if took elif 1"]
    rows = _json(jacli, "gradient", program, "--at", "1.5", "--at", "3")
    assert [(r["path"], r["result"]) for r in rows] == [("if took elif 2", [6.75]), ("if took no branch", [1.0])]


def test_for_range_break_continue(jacli: Invoke) -> None:
    program = "s = 0\nfor i in range(1, 10, 2):\n    if i == 3:\n        continue\n    s += i*x\n"
    program += "    if i >= 7: break\nreturn s"
    (row,) = _json(jacli, "gradient", program, "--at", "x=2")
    assert row["result"] == [1.0 + 5.0 + 7.0]
    first, second = "if (line 3) took no branch 3 times, if 1 time", "if (line 6) took no branch 2 times, if 1 time"
    assert row["path"] == f"{first}; {second}; for ran 4 times"
    (row,) = _json(jacli, "gradient", "s = x\nfor i in range(-2, 1):\n    s = s * x**(i*i)\ns", "--at", "x=2")
    assert row["result"] == [pytest.approx(6 * 2.0**5)]  # s = x**(1+4+1+0) = x**6


def test_def_parameters_are_the_variables_in_order(jacli: Invoke) -> None:
    (row,) = _json(jacli, "gradient", "def f(y, x):\n    return x*y**2", "--at", "1,2")
    assert (row["inputs"], row["point"], row["result"]) == (["y", "x"], {"y": 1.0, "x": 2.0}, [4.0, 1.0])
    (row,) = _json(jacli, "gradient", "def f(a, b):\n    if a > 0:\n        return a\n    return b", "--at", "1,2")
    assert (row["inputs"], row["result"]) == (["a", "b"], [1.0, 0.0])  # b did not run: its derivative is 0


def test_points_on_both_sides_of_a_branch(jacli: Invoke, tmp_path: Path) -> None:
    file = tmp_path / "p.csv"
    file.write_text("x\n1\n0.2\n3\n-1\n")
    out = jacli("gradient", BRANCH, "--points", str(file), "--format", "json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["result"] for r in rows] == [[8.0], [-2.0], [24.0], [-2.0]]
    assert [r["path"] for r in rows] == ["if took if", "if took else", "if took if", "if took else"]
    out = jacli("gradient", BRANCH, "--points", str(file), "--format", "csv")
    assert out.stdout == "1.0,8.0\n0.2,-2.0\n3.0,24.0\n-1.0,-2.0\n"
    out = jacli("gradient", BRANCH, "--points", str(file))
    assert "│ 2 │ 0.2 │    -2 │ path: if took else │" in out.stdout
    rows = _json(jacli, "gradient", BRANCH, "--at", "x=1", "--at", "x=0.2", "--chunk-size", "1")
    assert [r["path"] for r in rows] == ["if took if", "if took else"]


def test_paths_of_different_shapes_refused(jacli: Invoke) -> None:
    out = jacli(
        "gradient", "if x > 0:\n    y = x\nelse:\n    y = [x, x]\ny", "--at", "1", "--at", "-1", "--format", "json"
    )
    assert out.exit_code == 2
    assert out.stderr.startswith("jacli: error: ")


def test_api_graph_check_and_show_torch(jacli: Invoke) -> None:
    result = jac.gradient(BRANCH, at="x=1")
    assert result.result == [8.0]
    assert dict(result.extra)["path"] == "if took if"
    evaluation = jac.evaluate("gradient", BRANCH, ["x=1", "x=0.2"])
    assert [c.facts for c in evaluation.chunks] == [[{"path": "if took if"}, {"path": "if took else"}]]
    graph = jac.graph(BRANCH, at="x=1")
    assert graph.notes == ("path: if took if",)
    assert [n.label for n in graph.nodes] == ["x", "x_1", "y"]
    checked = jac.check(BRANCH, at="x=0.2")
    assert checked.ok and checked.notes == ("path: if took else",)
    out = jacli("gradient", BRANCH, "--at", "x=1", "--show-torch")
    assert out.stdout.splitlines()[-1] == "# the path this point takes: if took if"
    assert "    x_1 = x * 2\n    y = x_1 * x_1\n    return y\n" in out.stdout
    out = jacli("check", BRANCH, "--at", "x=1", "--at", "x=0.2")
    assert out.exit_code == 0 and out.stdout.count("path: if took") == 2


def test_float32_and_hessian(jacli: Invoke) -> None:
    (row,) = _json(jacli, "hessian", BRANCH, "--at", "x=1", "--dtype", "float32")
    assert (row["result"], row["path"]) == ([[8.0]], "if took if")


# --- derivative of the path == autodiff of the straight line == finite differences ----------


LOOP = "y = x\nn = 0\nwhile y*y < 50:\n    y = y*1.5 + sin(y)\n    n = n + 1\nif n > 2:\n    y = y*y\nreturn y"


def _straight_line(x: float) -> tuple[str, str]:
    y, n, text = x, 0, "y0 = x"
    while y * y < 50:
        y, n = y * 1.5 + math.sin(y), n + 1
        text += f"; y{n} = y{n - 1}*1.5 + sin(y{n - 1})"
    last = f"y{n}"
    if n > 2:
        text += f"; y{n + 1} = {last}*{last}"
        last = f"y{n + 1}"
    return f"{text}; {last}", f"while ran {n} time{'s' if n != 1 else ''}; if took {'if' if n > 2 else 'no branch'}"


@settings(max_examples=40)
@given(st.floats(min_value=0.3, max_value=6.0, allow_nan=False))
def test_path_derivative_is_the_straight_lines(x: float) -> None:
    text, note = _straight_line(x)
    at = {"x": x}
    result = jac.gradient(LOOP, at=at)
    assert dict(result.extra)["path"] == note
    straight = jac.gradient(text, at=at)
    assert result.result == pytest.approx(straight.result, rel=1e-12)
    h = 1e-6 * max(1.0, abs(x))
    if _straight_line(x - h)[1] == _straight_line(x + h)[1] == note:  # the same path on both sides
        up, down = jac.gradient(LOOP, at={"x": x + h}).value[0], jac.gradient(LOOP, at={"x": x - h}).value[0]
        assert result.result[0] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-6)


# --- limits and refusals ---------------------------------------------------------------------


def test_iteration_limit(jacli: Invoke) -> None:
    forever = "while x < 10:\n    x = x + 0\nx"
    out = jacli("gradient", forever, "--at", "x=1", env={"JACLI_MAX_ITERATIONS": "50"})
    assert_usage_error(out)
    assert out.stderr == (
        "jacli: error: the program's loops ran 50 iterations without ending "
        "(the limit; set JACLI_MAX_ITERATIONS to raise it)\n"
    )
    counted = "s = 0\nfor i in range(3):\n    for j in range(3):\n        s = s + x\ns"
    assert _json(jacli, "gradient", counted, "--at", "1", env={"JACLI_MAX_ITERATIONS": "12"})[0]["result"] == [9.0]
    assert_usage_error(jacli("gradient", counted, "--at", "1", env={"JACLI_MAX_ITERATIONS": "11"}))
    for bad in ("0", "-3", "abc", "1e3", "99999999999"):
        out = jacli("gradient", forever, "--at", "x=1", env={"JACLI_MAX_ITERATIONS": bad})
        assert_usage_error(out)
        assert out.stderr.startswith("jacli: error: JACLI_MAX_ITERATIONS must be a whole number of iterations in [1, ")
    assert flow.max_iterations() == 10_000


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("import os\nx", "import is not part of the language"),
        ("from os import path\nx", "import is not part of the language"),
        ("with x:\n    y = x\ny", "with is not part of the language"),
        ("try:\n    y = x\nexcept:\n    y = 0\ny", "try is not part of the language"),
        ("global y\ny = x\ny", "global is not part of the language"),
        ("class A:\n    pass\nx", "class is not part of the language"),
        ("if x > 0:\n    pass\nx", "pass is not part of the language"),
        ("if x > 0:\n    del x\nx", "del is not part of the language"),
        ("if x > 0:\n    raise x\nx", "raise is not part of the language"),
        ("if x > 0:\n    assert x\nx", "assert is not part of the language"),
        ("if x > 0:\n    y = lambda: 1\nx", "lambda is not part of the language"),
        ("if x > 0:\n    y = __import__('os')\nx", "unknown function '__import__'"),
        (
            "if x > 0:\n    y = x\n    y\nreturn x",
            "a bare expression does nothing here; bind it with 'name = ...' or return it",
        ),
        (
            "def f(x):\n    def g(y):\n        return y\n    return x",
            "def is allowed once, around the whole program (no nested def)",
        ),
        ("def f(x=1):\n    return x", "def takes plain parameters only: def f(a, b)"),
        ("def f(*x):\n    return x", "def takes plain parameters only: def f(a, b)"),
        ("@d\ndef f(x):\n    return x", "decorators and annotations are not part of the language"),
        ("def f(x):\n    return x\ny", "a program with a def is that one def and nothing after it"),
        ("def f(x):\n    y = x", "the program must end with 'return expression'"),
        ("for i in x:\n    y = i\nx", "a for loop runs over range(k) only (k an integer constant)"),
        ("for i in range(x):\n    y = i\nx", "range() takes integer constants (or an enclosing loop's variable)"),
        ("for i in range(3.5):\n    y = i\nx", "range() takes integer constants (or an enclosing loop's variable)"),
        ("if x > 0:\n    break\nx", "'break' outside a loop"),
        ("while x < 1:\n    x = x*2\nelse:\n    x = 0\nx", "while ... else is not part of the language"),
        ("if x > 0:\n    y = x\nreturn y", "'y' is used before it is bound (on this path)"),
        ("if x.__class__:\n    y = x\nx", "attribute access"),
        ("if x:\n    sin = x\nx", "'sin' is a reserved name and cannot be bound"),
    ],
)
def test_hostile_statements_refused(jacli: Invoke, program: str, message: str) -> None:
    out = jacli("gradient", program, "--at", "x=-1")
    assert_usage_error(out)
    assert message in out.stderr.splitlines()[0], out.stderr


def test_condition_must_be_a_scalar(jacli: Invoke) -> None:
    out = jacli("gradient", "if x > 0:\n    y = x\nelse:\n    y = -x\nsum(y)", "--at", "x=[1,2]")
    assert_usage_error(out)
    assert out.stderr.splitlines()[0] == (
        "jacli: error: a condition must be a scalar, but x has shape (2,) "
        "(in if at line 1; reduce it with sum, max, norm or an index)"
    )


def test_indented_paste_and_one_line_forms(jacli: Invoke) -> None:
    indented = "    y = x\n    if y > 0:\n        y = 2*y\n    return y\n"
    assert _json(jacli, "gradient", indented, "--at", "1")[0]["result"] == [2.0]
    assert _json(jacli, "gradient", "if x > 0: y = x*x\nelse: y = x\ny", "--at", "3")[0]["result"] == [6.0]
    # an expression without a block keeps v1's rules: indentation means nothing
    assert _json(jacli, "gradient", "  c = x*x\n    c + x", "--at", "1")[0]["result"] == [3.0]
