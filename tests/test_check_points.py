"""``jacli check --points`` and ``api.check_points``: one verdict per point, the file validated first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, assert_usage_error

from jacli import api, checking
from jacli.errors import UsageError
from jacli.points import PointsError, PointsReader

KINK = "abs(x - 1) + x**2"  # not differentiable at x = 1, smooth at x = 2
OK = "OK: autodiff agrees with the exact derivative (rtol 1e-07, atol 1e-09)"
FAIL = "FAIL: not differentiable here (f w.r.t. x)"
FAILED = f"jacli: error: check failed at x=1.0: {FAIL}\n"
NOTE = "jacli: note: autodiff and SymPy give a conventional value where no derivative exists\n"


def _file(tmp_path: Path, text: str, name: str = "pts.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _verdicts(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("OK:", "FAIL:"))]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The points ``api.check`` was called at (``check_points`` calls it once per point)."""
    calls: list[Any] = []
    original = api.check

    def counting(expr: str, at: Any = None, **kwargs: Any) -> Any:
        calls.append(at)
        return original(expr, at, **kwargs)

    monkeypatch.setattr(api, "check", counting)
    return calls


def test_a_failing_point_among_ok_ones_exits_1(jacli: Invoke, tmp_path: Path) -> None:
    path = _file(tmp_path, "x\n2\n1\n")
    out = jacli("check", KINK, "--points", path)
    assert out.exit_code == 1
    assert _verdicts(out.stdout) == [OK, FAIL]
    assert [line for line in out.stdout.splitlines() if line.startswith("at ")] == [
        "at            x = 2",
        "at            x = 1",
    ]
    assert out.stderr == FAILED
    # the same blocks, separated the same way, as several --at
    assert out.stdout == jacli("check", KINK, "--at", "x=2", "--at", "x=1").stdout


def test_all_ok_exits_0(jacli: Invoke, tmp_path: Path) -> None:
    out = jacli("check", KINK, "--points", _file(tmp_path, "# x\n2\n\n3\n-1\n"))
    assert out.exit_code == 0 and out.stderr == ""
    assert _verdicts(out.stdout) == [OK, OK, OK]


def test_json_is_one_object_per_point_in_input_order(jacli: Invoke, tmp_path: Path) -> None:
    path = _file(tmp_path, "x,y\n2,0.5\n1,3\n-2,1\n")
    out = jacli("check", "abs(x - 1)*y + y**2", "--points", path, "--format", "json")
    assert out.exit_code == 1
    objects = [json.loads(line) for line in out.stdout.splitlines()]
    assert [o["point"] for o in objects] == [{"x": 2.0, "y": 0.5}, {"x": 1.0, "y": 3.0}, {"x": -2.0, "y": 1.0}]
    assert [o["ok"] for o in objects] == [True, False, True]
    assert objects[1]["not_differentiable"] == ["f w.r.t. x"]
    assert (
        out.stderr == NOTE + "jacli: error: check failed at x=1.0, y=3.0: FAIL: not differentiable here (f w.r.t. x)\n"
    )
    several_at = jacli("check", "abs(x - 1)*y + y**2", "--at", "2,0.5", "--at", "1,3", "--at", "-2,1", "-f", "json")
    assert (several_at.stdout, several_at.stderr) == (out.stdout, out.stderr)


def test_csv_gives_each_point_its_rows(jacli: Invoke, tmp_path: Path) -> None:
    out = jacli("check", "x*y", "--points", _file(tmp_path, "2 3\n4 5\n"), "--format", "csv")
    assert out.exit_code == 0 and out.stderr == ""
    assert [line.split(",")[:4] for line in out.stdout.splitlines()] == [
        ["f", "x", "3.0", "3.0"], ["f", "y", "2.0", "2.0"], ["f", "x", "5.0", "5.0"], ["f", "y", "4.0", "4.0"],
    ]  # fmt: skip


def test_a_bad_line_is_refused_before_any_verdict(jacli: Invoke, tmp_path: Path, counted: list[Any]) -> None:
    path = _file(tmp_path, "x,y\n2,0\n1,0\n3,4,5\n")
    out = jacli("check", "abs(x - 1) + y", "--points", path)
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {path}:4: 3 values, expected 2 (x, y) like the first row\n"
    path = _file(tmp_path, "x\n2\n1\nabc\n", "bad.csv")
    out = jacli("check", KINK, "--points", path, "--format", "json")
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {path}:4:1: 'abc' is not a number\n"
    assert counted == []  # not one point was checked


def test_points_from_stdin_with_a_parameter_by_at(jacli: Invoke) -> None:
    out = jacli("check", "a*x**2", "--wrt", "x", "--at", "a=2", "--points", "-", "-f", "json", input="1\n3\n")
    assert out.exit_code == 0, out.stderr
    objects = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(o["point"], o["exact"]) for o in objects] == [
        ({"a": 2.0, "x": 1.0}, [[4.0]]),
        ({"a": 2.0, "x": 3.0}, [[12.0]]),
    ]


def test_expression_and_points_both_from_stdin_are_refused(jacli: Invoke, counted: list[Any]) -> None:
    out = jacli("check", "-", "--points", "-", input="x\n1\n")
    assert_usage_error(out)
    assert out.stderr == "jacli: error: the expression and --points cannot both come from stdin; put one in a file\n"
    assert counted == []


def test_usage_errors_with_points(jacli: Invoke, tmp_path: Path) -> None:
    path = _file(tmp_path, "x\n1\n")
    missing = str(tmp_path / "missing.csv")
    out = jacli("check", "x*y", "--points", missing)
    assert_usage_error(out)
    assert out.stderr.startswith(f"jacli: error: cannot read points file {missing!r}")
    out = jacli("check", "x*y", "--points", path)
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {path}: no column for 'y'; add one or give it by --at\n"
    assert_usage_error(jacli("check", "x", "--points", path, "--at", "2"))  # --at gives values by name
    assert_usage_error(jacli("check", "x", "--points", path, "--h", "0"))


# -- the API ------------------------------------------------------------------------


def test_api_check_points_from_a_list_and_a_file(tmp_path: Path) -> None:
    assert [r.ok for r in api.check_points(KINK, ["x=2", "x=1", {"x": 3}])] == [True, False, True]
    path = _file(tmp_path, "a[1],x,a[0]\n1,2,3\n")
    (r,) = api.check_points("dot(a, a)*x", path)
    assert r.point == {"a": [3.0, 1.0], "x": 2.0} and r.ok
    assert r.exact == api.check("dot(a, a)*x", at="a=[3,1], x=2").exact == [[12.0, 4.0, 10.0]]


def test_api_fixed_values_stay_exact(tmp_path: Path) -> None:
    (r,) = api.check_points("sin(a)*x", _file(tmp_path, "x\n2\n"), at="a=pi")
    assert r.exact == api.check("sin(a)*x", at="a=pi, x=2").exact


def test_api_validates_every_point_first_then_checks_lazily(tmp_path: Path, counted: list[Any]) -> None:
    with pytest.raises(PointsError, match=r"pts\.csv:3:1: 'nan' is not a finite number"):
        api.check_points(KINK, _file(tmp_path, "x\n1\nnan\n"))
    with pytest.raises(UsageError, match="--at has no value for 'y'"):
        api.check_points("x*y", ["1,2", "x=1"])
    results = api.check_points(KINK, _file(tmp_path, "x\n2\n1\n"))
    assert counted == []
    assert next(results).ok and counted == [{"x": 2.0}]
    assert not next(results).ok and len(counted) == 2


@pytest.mark.parametrize(
    ("points", "at", "message"),
    [
        ([], None, "no points given"),
        (["x=1"], "x=1", "either as a list or with --at"),
        (3, None, "points must be a file name"),
    ],
)
def test_api_refuses_bad_arguments(points: Any, at: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        api.check_points("x", points, at=at)
    with pytest.raises(UsageError, match="--mode"):
        api.check_points("x", ["1"], mode="sideways")


def test_read_points_spools_past_memory_and_keeps_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checking, "SPOOL_BYTES", 64)  # 8 numbers in memory, the rest on disk
    monkeypatch.setattr(checking, "POINTS_PER_READ", 3)
    reader = PointsReader.from_lines(["b,a[1],a[0]"] + [f"{i},{2 * i},{3 * i}" for i in range(10)])
    layout = checking.FileLayout({"a": (2,), "b": (), "c": ()}, {"c": "fixed"}, {"b": 0, "a[1]": 1, "a[0]": 2})
    points = list(checking.read_points(reader, layout))
    assert [(p["a"].tolist(), float(p["b"]), p["c"]) for p in points] == [
        ([3.0 * i, 2.0 * i], float(i), "fixed") for i in range(10)
    ]


def test_endless_points_are_refused_before_any_verdict(jacli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """``yes 1,2 | jacli check … --points -`` must end: every point is read before the first verdict."""
    monkeypatch.setattr(checking, "MAX_CHECK_POINTS", 5)
    monkeypatch.setattr(checking, "POINTS_PER_READ", 2)
    out = jacli("check", "x*y", "--points", "-", input="1,2\n" * 6)
    assert_usage_error(out)
    assert out.stdout == ""
    assert out.stderr == (
        "jacli: error: <stdin>: more than 5 points; check verifies each one exactly, "
        "so split the file or check a sample (the other commands stream any number)\n"
    )
    assert jacli("check", "x*y", "--points", "-", input="1,2\n" * 5).exit_code == 0
