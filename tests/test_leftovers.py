"""Round-2 leftovers: no ``x_unused`` binding shown, frames refused by type, ``--output`` endings, Feather v1,
stale ``.part`` files of killed runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pandas as pd
import pyarrow as pa
import pytest
from conftest import assert_usage_error, invoke_cli
from pyarrow import feather

import jacli.frame
from jacli import api, data_output

TESTS_ONLY_X = "if x:\n    return y*2\nreturn y"
"""A program whose condition is the only use of ``x``: the path ``y * 2`` keeps ``x`` a variable."""


# --- 4: a variable only a condition reads is no binding on the path ---------------------------------------


def test_condition_only_variable_shows_no_binding() -> None:
    out = invoke_cli("gradient", TESTS_ONLY_X, "--at", "x=1,y=2")
    assert out.exit_code == 0, out
    assert out.stdout.splitlines()[0] == "gradient of  f(x, y) = y * 2"
    assert "unused" not in out.stdout + out.stderr
    assert out.stdout.splitlines()[1] == "at           x = 1, y = 2"
    (row,) = [json.loads(line) for line in invoke_cli("gradient", TESTS_ONLY_X, "--at", "x=0,y=2", "--format",
                                                      "json").stdout.splitlines()]  # fmt: skip
    assert (row["result"], row["path"], row["inputs"]) == ([0.0, 1.0], "if took no branch", ["x", "y"])


def test_condition_only_variable_in_show_torch_and_graph() -> None:
    program = invoke_cli("gradient", TESTS_ONLY_X, "--at", "x=1,y=2", "--show-torch")
    assert program.exit_code == 0, program
    assert "def f(x, y):\n    return y * 2\n" in program.stdout
    assert "unused" not in program.stdout
    scope: dict = {}
    exec(compile(program.stdout, "<show-torch>", "exec"), scope)  # jacli's own program, run as asked
    graph = invoke_cli("graph", TESTS_ONLY_X, "--at", "x=1,y=2")
    assert graph.exit_code == 0, graph
    assert graph.stdout.splitlines()[0] == "graph of  f(x, y) = y * 2"
    assert "unused" not in graph.stdout


def test_condition_only_variable_through_the_api_and_points() -> None:
    result = api.hessian(TESTS_ONLY_X, at={"x": 1, "y": 2})
    assert result.expression == "y * 2"
    assert result.result == [[0.0, 0.0], [0.0, 0.0]]
    out = invoke_cli("gradient", TESTS_ONLY_X, "--points", "-", "--format", "csv", input="1,2\n0,3\n")
    assert out.exit_code == 0, out
    assert out.stdout == "1.0,2.0,0.0,2.0\n0.0,3.0,0.0,1.0\n"


def test_user_binding_of_a_variable_still_shown() -> None:
    out = invoke_cli("gradient", "z = x\nif x > 0:\n    return y\nreturn -y", "--at", "x=1,y=2")
    assert out.exit_code == 0, out
    assert out.stdout.splitlines()[:2] == ["gradient of  f(x, y) = y", "where        z = x"]


# --- 2: jacli.frame refuses what is not a data frame --------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "kind"),
    [([[1, 2]], "list"), ({"x": [1.0]}, "dict"), (None, "NoneType"), (pd.Series([1.0]), "pandas.Series")],
)
def test_frame_refuses_what_is_not_a_data_frame(frame: object, kind: str) -> None:
    with pytest.raises(TypeError) as raised:
        jacli.frame.gradient("x*y", frame)
    assert str(raised.value) == (
        "jacli.frame.gradient() takes a pandas DataFrame or a Dask DataFrame of points (one row per point, "
        f"a column per variable), not {kind}"
    )


def test_frame_still_takes_a_data_frame() -> None:
    out = jacli.frame.gradient("x*y", pd.DataFrame({"x": [1.0], "y": [2.0]}))
    assert out.to_dict("list") == {"x": [1.0], "y": [2.0], "value[f]": [2.0], "gradient[x]": [2.0],
                                   "gradient[y]": [1.0]}  # fmt: skip


# --- 5: Feather version 1 ------------------------------------------------------------------------------------


def _feather_v1(path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        feather.write_feather(pa.table({"x0": [1.0, 0.5], "x1": [2, 3]}), path, version=1)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_feather_v1_points_read(tmp_path, fmt: str) -> None:
    path = str(tmp_path / "v1.feather")
    _feather_v1(path)
    with open(path, "rb") as handle:
        assert handle.read(4) == b"FEA1"
    text = tmp_path / "v1.csv"
    text.write_text("x0,x1\n1,2\n0.5,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning reaches the user
        got = invoke_cli("jacobian", "x0**2*x1", "--points", path, "--format", fmt)
    assert got.exit_code == 0, got
    assert got.stderr == ""
    assert got.stdout == invoke_cli("jacobian", "x0**2*x1", "--points", str(text), "--format", fmt).stdout


def test_feather_v1_unreadable_says_how_to_convert(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "v1.feather")
    _feather_v1(path)

    def dropped(*args: object, **kwargs: object) -> None:
        raise pa.ArrowInvalid("Feather V1 files are no longer supported")

    monkeypatch.setattr(feather, "read_table", dropped)
    out = invoke_cli("gradient", "x0*x1", "--points", path)
    assert_usage_error(out)
    assert out.stderr == (
        f"jacli: error: cannot read points file {path!r}: it is a Feather version 1 file, which this pyarrow "
        "cannot read (Feather V1 files are no longer supported); convert it to Feather version 2 (the Arrow IPC "
        "file format) with a pyarrow that still reads version 1 (deprecated since pyarrow 25): "
        "pyarrow.feather.write_feather(pyarrow.feather.read_table(IN), OUT)\n"
    )


# --- 6: stale .part files of killed runs ---------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_stale_part_files_of_the_target_removed(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    dead, alive, host = _dead_pid(), os.getppid(), data_output._host()
    names = {
        "stale": f".out.csv.{host}.{dead}.abcd_123.part",
        "alive": f".out.csv.{host}.{alive}.abcd_123.part",
        "another host's (a shared folder)": f".out.csv.other-{host}.{dead}.abcd_123.part",
        "no host (a run of this round's first build)": f".out.csv.{dead}.abcd_123.part",
        "no pid (older jacli)": ".out.csv.abcd_123.part",
        "another target": f".other.csv.{host}.{dead}.abcd_123.part",
        "a target named out.csv.7.csv": f".out.csv.7.csv.{host}.{dead}.abcd_123.part",
        "not tempfile's name": f".out.csv.{host}.{dead}.abc.part",
    }
    for name in names.values():
        (tmp_path / name).write_text("half")
    (tmp_path / f".out.csv.{host}.{dead}.dir_1234.part").mkdir()  # not a plain file: kept
    out = invoke_cli("gradient", "x*y", "--at", "1,2", "--output", "out.csv")
    assert out.exit_code == 0, out
    assert (tmp_path / "out.csv").read_text() == "2.0,1.0\n"
    left = sorted(os.listdir(tmp_path))
    assert left == sorted({*names.values(), f".out.csv.{host}.{dead}.dir_1234.part", "out.csv"} - {names["stale"]})


def test_stale_parts_helper_returns_what_it_removed(tmp_path) -> None:
    dead = _dead_pid()
    stale = tmp_path / f".r.parquet.{data_output._host()}.{dead}.zzzzzzzz.part"
    stale.write_bytes(b"")
    assert data_output.remove_stale_parts(str(tmp_path / "r.parquet")) == [str(stale)]
    assert data_output.remove_stale_parts(str(tmp_path / "missing" / "r.parquet")) == []


def test_sigkilled_run_leaves_a_part_file_the_next_run_removes(tmp_path) -> None:
    target = tmp_path / "out.jsonl"
    killed = subprocess.Popen(
        [sys.executable, "-m", "jacli", "gradient", "x*y", "--points", "-", "--output", str(target),
         "--chunk-size", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert killed.stdin is not None
    killed.stdin.write(b"1,2\n")
    killed.stdin.flush()  # stdin stays open: the run waits for more points, its part file written so far
    deadline = time.monotonic() + 60
    while not [n for n in os.listdir(tmp_path) if n.endswith(".part")] and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    killed.stdin.close()
    (part,) = os.listdir(tmp_path)
    assert part.startswith(f".out.jsonl.{data_output._host()}.{killed.pid}.") and part.endswith(".part")
    out = invoke_cli("gradient", "x*y", "--at", "1,2", "--output", str(target))
    assert out.exit_code == 0, out
    assert os.listdir(tmp_path) == ["out.jsonl"]
