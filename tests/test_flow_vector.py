"""The paths of many points decided together in floats (jacli/flow_vector.py) equal the one-at-a-time exact ones."""

from __future__ import annotations

import json

import pytest
from conftest import assert_usage_error, invoke_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from test_flow import BRANCH, SEED_CELL

from jacli import flow, flow_vector

EXACT_TIE = "if 0.1*x + 0.2*x == 0.3*x:\n    return x\nreturn -x"
CANCELLATIONS = [
    "y = (x + 1e16) - 1e16\nif y > 0.25:\n    return x\nreturn -x",  # float64 cancels the 0.5 away
    "y = exp(40*x) + 0.5 - exp(40*x)\nif y > 0.25:\n    return x\nreturn -x",  # so do the steps inside one line
    "y = 1/((x + 1) - 1)\nif y > 1e13:\n    return x\nreturn -x",  # a cancellation blown up by a division
    "if sqrt(x)**2 == x:\n    return x\nreturn -x",
    "if x*x == 2:\n    return x\nreturn -x",
]
COUNTED = "y = x\nn = 0\nwhile y < 100 and n < 50:\n    y = y*2 + 1\n    n += 1\nreturn y"


def _both(expr: str, points: list, wrt=None) -> list:
    """The grouping both ways (the exact one-at-a-time one with its cache emptied first): they must agree."""
    flow._run_cached.cache_clear()
    old = flow.group_points(expr, points, wrt)
    new = flow_vector.group_points(expr, points, wrt)
    assert new == old
    return new


def _points(values: list) -> list[dict]:
    return [{"x": v} for v in values]


def test_exact_tie_decided_exactly_at_many_points() -> None:
    values = [1, 1.0, 0.1, 3, -7.25, 1e-300, 123456.789, 0.3] * 20
    ((path, members),) = _both(EXACT_TIE, _points(values))
    assert (path.note, members) == ("if took if", list(range(len(values))))


def test_a_tie_at_the_branch_goes_to_the_exact_decision() -> None:
    groups = _both(BRANCH, _points([0.5, 0.75, 0.25, 0.5000000000000001, 0.49999999999999994, 2]))
    assert [(path.text, members) for path, members in groups] == [
        ("x_1 = x * 2; y = -x_1; y", [0, 2, 4]),
        ("x_1 = x * 2; y = x_1 * x_1; y", [1, 3, 5]),
    ]


@pytest.mark.parametrize("program", CANCELLATIONS)
def test_cancellations_decided_as_the_exact_path_decides(program: str) -> None:
    _both(program, _points([0.5, 1.0, 1e-14, 0.75, 2, 2.0000000000000004, 1.4142135623730951, -1, 0]))


def test_point_dependent_loop_counts() -> None:
    values = [0.001 * k - 3 for k in range(0, 4000, 150)] + [99, 100, 100.0, -1e300]
    groups = _both(COUNTED, _points(values))
    notes = {path.note for path, _ in groups}
    assert "while ran 0 times" in notes and "while ran 50 times" in notes
    assert len(groups) > 5


def test_seed_cell_at_many_points() -> None:
    values = [0.3, -0.7, 1e-3, -1e-3, 5, -5, 1000, 999.9999999999999, 0.0001220703125] + [k / 97 - 1 for k in range(60)]
    groups = _both(SEED_CELL, [{"a": v} for v in values])
    assert {path.note for path, _ in groups} >= {"while ran 11 times; if took if", "while ran 10 times; if took else"}


def test_points_that_are_not_plain_numbers_and_of_several_shapes() -> None:
    program = "if sum(x*x) == 2:\n    return sum(x)\nreturn 0*sum(x)"
    points = [{"x": [1, 1]}, {"x": "[sqrt(2)]"}, {"x": [1.0, 1.0, 0.0]}, {"x": [0.5, 1.5]}, "x=[1, 1]", {"x": [1, 1.0]}]
    groups = _both(program, points)
    assert [members for _, members in groups] == [[0, 1, 2, 4, 5], [3]]


def test_errors_are_those_of_the_first_point_that_has_one(monkeypatch) -> None:
    monkeypatch.setenv("JACLI_MAX_ITERATIONS", "30")
    program = "while x < 10:\n    x = x + 1\nreturn x"
    for points in (_points([5, 9, -100, 2]), [*_points([5, 9, 2]), {"x": "oops"}], [*_points([-100]), {"y": 1}]):
        flow._run_cached.cache_clear()
        with pytest.raises(Exception) as old:
            flow.group_points(program, points, None)
        with pytest.raises(Exception) as new:
            flow_vector.group_points(program, points, None)
        assert (type(new.value), str(new.value)) == (type(old.value), str(old.value))


def test_cli_points_file_equals_the_points_one_at_a_time(tmp_path) -> None:
    path = tmp_path / "points.csv"
    values = ["0.5", "1", "0.25", "3", "-2", "0.5000000000000001", "1e-9"]
    path.write_text("x\n" + "\n".join(values) + "\n")
    many = invoke_cli("gradient", BRANCH, "--points", str(path), "--format", "json")
    assert many.exit_code == 0, many
    rows = [json.loads(line) for line in many.stdout.splitlines()]
    for value, row in zip(values, rows, strict=True):
        (one,) = [json.loads(line) for line in invoke_cli("gradient", BRANCH, "--at", value, "--format",
                                                          "json").stdout.splitlines()]  # fmt: skip
        assert (row["path"], row["result"], row["value"]) == (one["path"], one["result"], one["value"])


def test_cli_iteration_limit_over_points(tmp_path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("x\n1\n-1e9\n")
    program = "while x < 10:\n    x = x + 1\nreturn x"
    out = invoke_cli("gradient", program, "--points", str(path), env={"JACLI_MAX_ITERATIONS": "40"})
    assert_usage_error(out)
    assert out.stderr.splitlines()[0] == (
        "jacli: error: the program's loops ran 40 iterations without ending (the limit; set "
        "JACLI_MAX_ITERATIONS to raise it)"
    )


# --- random programs at random points ------------------------------------------------------------------------

# (no sin or exp: the exact path may simplify an undecidable tie of them for minutes)
_ATOMS = st.sampled_from(["x", "y", "0.1*x", "0.2*y", "0.3", "1", "2", "x*x", "1e16", "x/7", "y*y", "x/3"])
_OPS = st.sampled_from(["+", "-", "*"])
_COMPARISONS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])


@st.composite
def _expressions(draw: st.DrawFn) -> str:
    parts = [draw(_ATOMS) for _ in range(draw(st.integers(1, 4)))]
    text = parts[0]
    for part in parts[1:]:
        text = f"({text} {draw(_OPS)} {part})"
    return text


@st.composite
def _programs(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["if", "ifelse", "loop", "assign"]))
        cond = f"{draw(_expressions())} {draw(_COMPARISONS)} {draw(_expressions())}"
        if draw(st.booleans()):
            cond += f" and {draw(_expressions())} {draw(_COMPARISONS)} {draw(_expressions())}"
        if kind == "assign":
            lines.append(f"x = {draw(_expressions())}")
        elif kind == "if":
            lines += [f"if {cond}:", f"    y = {draw(_expressions())}"]
        elif kind == "ifelse":
            lines += [f"if {cond}:", f"    x = {draw(_expressions())}", "else:", f"    y = {draw(_expressions())}"]
        else:
            lines += [
                f"for i in range({draw(st.integers(1, 4))}):",
                f"    if {cond}:",
                f"        x = x * {draw(st.sampled_from(['2', '0.5', '-1', '1.1']))}",
                "    else:",
                "        break",
            ]
    lines.append(f"return {draw(_expressions())}")
    return "\n".join(lines)


_VALUES = st.one_of(
    st.sampled_from([0, 1, -1, 2, 0.5, 0.1, 0.2, 0.3, 1 / 3, 3.0, 1e16, -1e-16]),
    st.integers(-5, 5),
    st.floats(-10, 10, allow_nan=False, width=64),
)


@settings(max_examples=30)
@given(_programs(), st.lists(st.tuples(_VALUES, _VALUES), min_size=1, max_size=10))
def test_random_programs_group_as_one_at_a_time(program: str, values: list) -> None:
    points = [{"x": x, "y": y} for x, y in values]
    flow._run_cached.cache_clear()
    try:
        old = flow.group_points(program, points, None)
    except Exception as err:  # then the vectorised grouping raises the very same
        with pytest.raises(type(err)) as new:
            flow_vector.group_points(program, points, None)
        assert str(new.value) == str(err)
        return
    assert flow_vector.group_points(program, points, None) == old


ABSORBED = [  # the small term is lost in float32 and float64 alike (both compute 0), and sqrt/log blow it up
    "y = sqrt(x + 1e-17 - 1)\nif y > 2e-9:\n    return x\nreturn -x",
    "t = x + 1e-17 - 1\nif log(t + 1e-30) > -50:\n    return x\nreturn -x",
    "t = x + 1e-17 - 1\nif (t + 1e-40)**(1/3) > 1e-7:\n    return x\nreturn -x",
]


@pytest.mark.parametrize("program", ABSORBED)
def test_an_absorbed_term_blown_up_is_decided_exactly(program: str) -> None:
    ((path, members),) = _both(program, _points([1.0, 1, 2.0, 3.5]))
    assert (path.note, members) == ("if took if", [0, 1, 2, 3])
