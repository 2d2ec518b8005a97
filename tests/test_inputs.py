"""Input validation (issue 11): huge or endless points files, many columns, odd values, wrong-typed API arguments.

Every bad input is a :class:`~jacli.errors.JacliError` (exit 2, ``jacli: error: …``), found
before the work it would spoil: a file is read a bounded block at a time, a header is
checked in linear time against the element limit, every ``--at`` is checked before the
first is computed, and a Python argument's size is checked before it is converted.
"""

from __future__ import annotations

import decimal
import errno
import io
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
import torch
from conftest import Outcome, assert_usage_error, invoke_cli

import jacli
from jacli import api, batch, points
from jacli.errors import JacliError, UsageError
from jacli.points import PointsError, PointsReader, open_points

SECONDS = 60
"""Generous bound for a subprocess that must be fast (it takes a few seconds with torch's import)."""


def _write(tmp_path: Path, name: str, data: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def _clean_error(outcome: Outcome, phrase: str) -> None:
    assert_usage_error(outcome)
    assert len(outcome.stderr.splitlines()) == 1, outcome.stderr
    assert phrase in outcome.stderr, outcome.stderr


# ---------------------------------------------------------------------------
# 1. Endless or huge input: read no further than the limits.
# ---------------------------------------------------------------------------


def test_an_endless_line_is_refused_after_the_line_limit(jacli: Any) -> None:
    r = jacli("gradient", "x*y", "--points", "/dev/zero")
    _clean_error(r, "/dev/zero:1: not a text file (binary data)")
    reader_error = "a line longer than 16 MiB"
    with pytest.raises(PointsError, match=reader_error):
        PointsReader(io.BytesIO(b"1," * (points.MAX_LINE_BYTES // 2 + 1)), "long")


class _Endless(io.RawIOBase):
    """An endless stream of ``pattern``, counting the bytes handed out."""

    def __init__(self, pattern: bytes) -> None:
        self.pattern, self.given = pattern, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n, start = len(buffer), self.given % len(self.pattern)  # the pattern goes on across reads
        data = (self.pattern * (n // len(self.pattern) + 2))[start : start + n]
        buffer[:n] = data
        self.given += n
        return n


@pytest.mark.parametrize("pattern", [b"\0", b"7", b"1,2,", b" "])
def test_an_endless_stream_without_newlines_reads_only_the_line_limit(pattern: bytes) -> None:
    stream = _Endless(pattern)
    with pytest.raises(PointsError, match=r"<s>:1: "):
        PointsReader(io.BufferedReader(stream), "<s>")
    assert stream.given <= points.MAX_LINE_BYTES + 2 * points.BLOCK_BYTES


def test_endless_rows_are_read_a_bounded_chunk_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Endless(b"1,2\n")
    reader = PointsReader(io.BufferedReader(stream), "<s>")
    first = next(reader.chunks(10**11))
    assert first.values.shape == (points.MAX_CHUNK_LINES, 2)
    assert stream.given <= 4 * points.MAX_CHUNK_LINES + 2 * points.BLOCK_BYTES
    monkeypatch.setattr(points, "CHUNK_BYTES", 4 * 1024 * 1024)
    wide = _Endless(b"1," * 50_000 + b"1\n")  # 100 KB rows: the byte budget ends the chunk
    first = next(PointsReader(io.BufferedReader(wide), "<w>").chunks(10**11))
    assert len(first.values) * 100_001 <= points.CHUNK_BYTES + points.BLOCK_BYTES
    assert wide.given <= points.CHUNK_BYTES + 2 * points.BLOCK_BYTES


def test_a_huge_chunk_size_is_clamped(tmp_path: Path) -> None:
    path = _write(tmp_path, "rows.csv", "x,y\n" + "".join(f"{i},{i + 1}\n" for i in range(100_000)))
    ev = api.evaluate_points("gradient", "x*y", path, chunk_size=10**11, symbolic_form=False)
    first = next(ev.chunks)
    assert first.rows == batch.MAX_CHUNK_ROWS
    assert ev.source.bytes_read < ev.source.size  # before: the whole file for the first chunk
    ev.chunks.close()
    assert batch.chunk_rows(10, 2, 10**11) == batch.MAX_CHUNK_ROWS
    assert batch.chunk_rows(10, 2, 7) == 7
    assert batch.chunk_rows(10**5, 10**3, 10**11) == 1


def test_chunks_stop_at_the_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(points, "CHUNK_BYTES", 1000)  # about 150 rows of "1234,1234"
    monkeypatch.setattr(points, "BLOCK_BYTES", 100)
    text = "x,y\n" + "".join(f"{i},{i}\n" for i in range(5000))
    reader = PointsReader.from_lines(text.splitlines(), "pts")
    chunks = list(reader.chunks(10**9))
    assert max(len(c.values) for c in chunks) < 400
    assert np.concatenate([c.values for c in chunks])[:, 0].tolist() == list(map(float, range(5000)))
    assert [c.first_line for c in chunks][:2] == [2, 2 + len(chunks[0].values)]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory from /proc (Linux)")
def test_peak_memory_of_endless_and_huge_input_stays_far_under_1_gb(tmp_path: Path) -> None:
    rows = _write(tmp_path, "rows.csv", "x,y\n" + "".join(f"{i},{i + 1}\n" for i in range(400_000)))
    script = textwrap.dedent(f"""
        import re
        from jacli import api
        from jacli.errors import UsageError
        try:
            api.evaluate_points("gradient", "x*y", "/dev/zero")
        except UsageError as err:
            print(err)
        ev = api.evaluate_points("gradient", "x*y", {rows!r}, chunk_size=10**11, symbolic_form=False)
        print(sum(chunk.rows for chunk in ev.chunks))
        # VmHWM, not ru_maxrss: after fork and exec, ru_maxrss still counts the parent (pytest)
        print(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=SECONDS)
    assert done.returncode == 0, done.stderr
    message, count, peak_kb = done.stdout.splitlines()
    assert "not a text file" in message
    assert count == "400000"
    assert int(peak_kb) < 600_000, peak_kb  # before: 3.7 GB (/dev/zero); torch alone is ~260 MB, this ~300 MB


# ---------------------------------------------------------------------------
# 2. Many columns: linear, and header-named elements held to the element limit.
# ---------------------------------------------------------------------------


def test_a_header_naming_more_elements_than_the_limit_is_refused(jacli: Any, tmp_path: Path) -> None:
    n = 20_000
    path = _write(tmp_path, "a.csv", ",".join(f"a[{i}]" for i in range(n)) + "\n" + ",".join(["1"] * n) + "\n")
    _clean_error(jacli("gradient", "sum(a)", "--points", path), "an index past the limit of 10,000 elements")


@pytest.mark.parametrize(
    ("header", "phrase"),
    [
        ("a[" + ",".join(["0"] * 40) + "]", "more than 32 indices"),
        ("a[" + ",".join(["0"] * 33) + "]", "more than 32 indices"),
        ("a[" + "9" * 5000 + "]", "an index past the limit"),
        ("a[0],a[1],a[01]", "the header names 'a[1]' twice"),
        ("a[0,0],a[99,99]", "the header has no column for a[0,1]"),
        ("a[0],a", "both whole and by element"),
        ("a[0],a[0,1]", "different numbers of indices"),
        ("a[" + ",".join(["0"] * 14) + "]," + ",".join("a[" + ",".join(["1"] * 14) + "]" for _ in range(1)), "16,384"),
    ],
)
def test_header_elements_are_checked_before_use(jacli: Any, tmp_path: Path, header: str, phrase: str) -> None:
    columns = header.count("a")
    path = _write(tmp_path, "a.csv", header + "\n" + ",".join(["1"] * columns) + "\n")
    _clean_error(jacli("gradient", "sum(a)", "--points", path), phrase)


def test_the_largest_header_within_the_limit_works(jacli: Any, tmp_path: Path) -> None:
    n = 10_000
    path = _write(tmp_path, "a.csv", ",".join(f"a[{i}]" for i in range(n)) + "\n" + ",".join(["2"] * n) + "\n")
    r = jacli("gradient", "sum(a)", "--points", path, "--format", "csv", "--no-symbolic")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ",".join(["2.0"] * n + ["1.0"] * n) + "\n"


@pytest.mark.parametrize(
    "line",
    [
        ",".join(f"x{i}" for i in range(100_000)),  # a header: before, 45 s (quadratic split)
        ",".join(f"x{i}" for i in range(100_001)),
        ",".join(["1"] * 100_001),
        "\t".join(["1"] * 100_001),
        " ".join(["1"] * 100_001),
        "," * (8 * 1024 * 1024),
        "[" * (8 * 1024 * 1024),
        "a[" * (4 * 1024 * 1024),
    ],
    ids=["header-100k", "header-100k+1", "csv-100k+1", "tsv-100k+1", "spaces-100k+1", "commas", "brackets", "a["],
)
def test_wide_first_lines_are_handled_in_linear_time(line: str) -> None:
    try:
        reader = PointsReader.from_lines([line, line], "wide")
    except PointsError as err:
        assert str(err).startswith("wide:1"), err
    else:
        assert reader.columns == 100_000


@pytest.mark.slow
def test_a_100k_column_file_is_refused_fast(tmp_path: Path) -> None:
    path = _write(tmp_path, "wide.csv", ",".join(f"x{i}" for i in range(100_000)) + "\n")
    argv = [sys.executable, "-m", "jacli", "gradient", "x*y", "--points", path]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=SECONDS)
    assert done.returncode == 2
    assert done.stderr == f"jacli: error: {path}:1: the header names 'x0', not a variable of the expression (x, y)\n"


# ---------------------------------------------------------------------------
# 3. Several --at: all checked before any is computed.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["jacobian", "gradient", "hessian", "check", "graph"])
def test_a_bad_last_at_is_refused_before_any_point_is_computed(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    computed: list[Any] = []
    name = command if command in ("check", "graph") else "evaluate_at"  # the CLI computes a quantity there
    original = getattr(api, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(api, name, counting)
    argv = [command, "x*y"] + [a for i in range(20) for a in ("--at", f"{i},2")]
    r = invoke_cli(*argv, "--at", "1,2,3")
    _clean_error(r, "--at has 3 positional values but there are 2 variables")
    assert computed == []
    r = invoke_cli(*argv, "--at", "x=[1,2], y=[1,2,3]", "--format", "json")
    assert_usage_error(r)
    assert computed == []


def test_validate_points_checks_values_names_and_shapes() -> None:
    api.validate_points("x*y", ["1,2", {"x": 1, "y": 2}, [3, 4]])
    for bad in (["1,2", "1"], ["1,2", "z=1"], ["1,2", b"1,2"], ["1,2", "x=inf, y=1"]):
        with pytest.raises(UsageError):
            api.validate_points("x*y", bad)
    with pytest.raises(UsageError, match="shapes"):
        api.validate_points("a@b", ["a=[1,2], b=[1,2]", "a=[1,2], b=[1,2,3]"])


# ---------------------------------------------------------------------------
# 4. Unreadable points files, and the same values as --at (no raw warnings).
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "phrase"),
    [
        ("/proc/self/mem", "cannot read points file '/proc/self/mem': Input/output error"),
        ("/", "cannot read points file '/': Is a directory"),
        ("/nonexistent/p.csv", "cannot read points file '/nonexistent/p.csv': No such file or directory"),
    ],
)
def test_a_points_file_whose_read_fails_is_a_clean_error(jacli: Any, path: str, phrase: str) -> None:
    _clean_error(jacli("gradient", "x*y", "--points", path), phrase)


class _FailingStream(io.RawIOBase):
    """Good rows, then EIO (a disk or network file system failing mid-file)."""

    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.calls += 1
        if self.calls == 1:
            buffer[:8] = b"1,2\n3,4\n"
            return 8
        raise OSError(errno.EIO, "Input/output error")


def test_an_input_output_error_mid_file_is_a_points_error() -> None:
    reader = PointsReader(io.BufferedReader(_FailingStream()), "flaky.csv")
    with pytest.raises(PointsError, match=r"^cannot read points file 'flaky.csv': Input/output error$"):
        list(reader.chunks(1000))


@pytest.mark.slow
def test_points_from_a_closed_stdin_are_a_clean_error() -> None:
    argv = [sys.executable, "-m", "jacli", "gradient", "x*y", "--points", "-"]
    done = subprocess.run(
        argv,
        check=False,
        capture_output=True,
        text=True,
        timeout=SECONDS,
        stdin=subprocess.DEVNULL,
        close_fds=True,
        preexec_fn=_close_stdin,
    )
    assert done.returncode == 2
    assert done.stderr == "jacli: error: stdin is closed: give --points a file, or redirect one: --points - < FILE\n"


def _close_stdin() -> None:
    os.close(0)  # as `jacli … <&-` starts


@pytest.mark.parametrize(
    ("value", "where"),
    [("inf", "2:3"), ("nan", "2:3"), ("-Infinity", "2:3"), ("+inf", "2:3"), ("NaN", "2:3"), (" inf", "2:4")],
)
@pytest.mark.filterwarnings("error")
def test_nan_and_inf_in_a_points_file_are_refused_as_with_at(
    jacli: Any, tmp_path: Path, value: str, where: str
) -> None:
    path = _write(tmp_path, "p.csv", f"x,y\n1,{value}  # inf in a comment is fine\n")
    r = jacli("gradient", "x*y", "--points", path, "--format", "csv")
    _clean_error(r, f"{path}:{where}: {value.strip()!r} is not a finite number")
    assert_usage_error(jacli("gradient", "x*y", "--at", f"1,{value}"))


@pytest.mark.parametrize("value", ["1", "-2.5", "1e3", ".5", "+1", "5.", "1E-2", "1e999", "-0.5"])
@pytest.mark.filterwarnings("error")
def test_points_files_and_at_accept_the_same_numbers(jacli: Any, tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, "p.csv", f"x\n{value}\n")
    from_file = jacli("gradient", "x*3", "--points", path, "--format", "json", "--no-symbolic")
    from_at = jacli("gradient", "x*3", "--at", value, "--format", "json", "--no-symbolic")
    assert from_file.exit_code == from_at.exit_code == 0, (from_file, from_at)
    assert from_file.stdout == from_at.stdout
    assert "RuntimeWarning" not in from_file.stderr
    assert from_file.stderr.startswith("jacli: warning: non-finite") == (value == "1e999")


@pytest.mark.filterwarnings("error")
def test_nonfinite_results_from_a_points_file_print_no_raw_warning(jacli: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, "p.csv", "x\n0\n1\n")
    for output in ("json", "csv", "table"):
        r = jacli("gradient", "1/x", "--points", path, "--format", output)
        assert r.exit_code == 0
        assert r.stderr.startswith("jacli: warning: non-finite values (nan/inf) at 1 of 2 points"), r.stderr
        assert len(r.stderr.splitlines()) == 1, r.stderr


def test_a_byte_order_mark_and_crlf_are_read(jacli: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, "p.csv", b"\xef\xbb\xbfx,y\r\n1,2\r\n")
    r = jacli("gradient", "x*y", "--points", path, "--format", "csv", "--no-symbolic")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "1.0,2.0,2.0,1.0\n", "")


# ---------------------------------------------------------------------------
# 5. The Python API: only jacli's errors escape.
# ---------------------------------------------------------------------------


def _deep(depth: int) -> Any:
    value: Any = 1.0
    for _ in range(depth):
        value = [value]
    return value


def test_the_reported_api_cases() -> None:
    cases: list[Callable[[], Any]] = [
        lambda: jacli.gradient(None, at="1"),
        lambda: jacli.gradient(b"x", at="1"),
        lambda: jacli.gradient("x", at="1", wrt=5),
        lambda: jacli.check("x", at="1", h="0.1"),
        lambda: jacli.gradient("sum(x)", at={"x": torch.zeros(3, device="meta")}),
        lambda: jacli.gradient("x", at={"x": _deep(34)}),
        lambda: jacli.gradient("x", at=b"1"),
        lambda: jacli.gradient("sum(x)", at={"x": np.broadcast_to(0.0, (10_000_000,))}),
        lambda: jacli.gradient("sum(x)", at={"x": torch.zeros(1).expand(10_000_000)}),
        lambda: jacli.gradient("sum(x)", at={"x": [0.0] * 10_000_000}),
        lambda: jacli.gradient("sum(x)", at={"x": [[0.0] * 1000] * 10_000}),
    ]
    for case in cases:
        with pytest.raises(UsageError):
            case()
    assert jacli.gradient("x**2", at=3).result == [6.0]  # one number for one variable, as at="3"
    for huge in (Fraction(10**5000, 3), 10**5000, Fraction(1, 10**5000), sympy.Integer(3) ** 10**4 * sympy.pi):
        with pytest.raises(UsageError, match="too large to compute exactly"):  # as --at 10**5000
            jacli.gradient("x", at=[huge])
    assert jacli.gradient("x*y", at={"x": Fraction(1, 3), "y": decimal.Decimal("0.5")}).result == [0.5, 1 / 3]
    assert jacli.gradient("x*y", at=np.array([1.0, 2.0])).result == [2.0, 1.0]


def _big_list() -> list[float]:
    return [1.0] * 10_000_001


ODD: list[Any] = [
    None, 3, -1, 2.5, True, np.bool_(False), b"x", bytearray(b"1,2"), memoryview(b"1"), "", " ", "\0", "x" * 200_000,
    "1,2\r3", [], [[]], [1, [2]], [[1], [2, 3]], (), {}, {1: 2}, {"x": None}, {"x": b"1"}, {"x": "1,2"},
    {"x": [1, [2]]}, {None: 1}, object(), float("nan"), float("inf"), -float("inf"), complex(1, 2), 10**5000,
    -(10**5000), Fraction(10**5000, 3), Fraction(1, 10**5000), decimal.Decimal("nan"), decimal.Decimal("1e999999"),
    decimal.Decimal("-Infinity"), np.float64("nan"), np.float32(1.5), np.int64(2), np.array(1.0), np.array([1.0, 2.0]),
    np.zeros((2, 2)), np.array(["a", "b"]), np.array([1 + 2j, 3]), np.array([None, 1], dtype=object),
    np.broadcast_to(0.0, (10_000_000,)), np.zeros((1,) * 32), torch.tensor(1.0), torch.tensor([1.0, 2.0]),
    torch.zeros(3, device="meta"), torch.zeros(1).expand(10_000_000), torch.tensor([1 + 2j]),
    torch.tensor([True, False]), torch.eye(2).to_sparse(), _deep(31), _deep(33), _deep(200), sympy.Symbol("z"),
    sympy.oo, sympy.nan, sympy.I, sympy.pi, sympy.Integer(2), sympy.true, sympy.Matrix([[1, 2]]), range(3),
    iter([1, 2]), {1, 2}, frozenset(), slice(1), print, int, Ellipsis, NotImplemented, 1e308, 5e-324, -0.0,
]  # fmt: skip
"""Wrong-typed, huge and odd values, tried in every argument slot of every public function."""

SLOTS: dict[str, tuple[str, ...]] = {
    "jacobian": ("expr", "at", "wrt", "mode", "dtype", "device"),
    "gradient": ("expr", "at", "wrt", "dtype", "device"),
    "hessian": ("expr", "at", "wrt", "dtype", "device"),
    "vjp": ("expr", "at", "v", "wrt", "dtype", "device"),
    "jvp": ("expr", "at", "v", "wrt", "dtype", "device"),
    "hvp": ("expr", "at", "v", "wrt", "dtype", "device"),
    "check": ("expr", "at", "wrt", "h", "rtol", "atol", "mode", "dtype", "device"),
    "graph": ("expr", "at", "v", "wrt", "mode", "input", "dtype"),
}


def _call(function: str, slot: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"expr": "x*y", "at": "1,2"}
    if function == "graph" and slot == "input":
        kwargs["mode"] = "forward"
    kwargs[slot] = value
    expr, at = kwargs.pop("expr"), kwargs.pop("at")
    getattr(jacli, function)(expr, at, **kwargs)


@pytest.mark.parametrize(
    ("function", "slot"), [(function, slot) for function, slots in SLOTS.items() for slot in slots]
)
def test_public_functions_raise_only_jacli_errors(function: str, slot: str) -> None:
    for value in ODD:
        try:
            _call(function, slot, value)
        except JacliError:
            pass
        except BaseException as err:  # the point of the test: name the escaping error
            pytest.fail(f"jacli.{function}({slot}={_show(value)}) raised {type(err).__name__}: {err}")


@pytest.mark.parametrize("slot", ["command", "points", "at", "wrt", "v", "mode", "chunk_size", "dtype", "device"])
def test_evaluate_points_raises_only_jacli_errors(slot: str) -> None:
    for value in ODD:
        kwargs: dict[str, Any] = {"command": "vjp", "expr": "x*y", "points": [[1, 2], [3, 4]], slot: value}
        try:
            ev = api.evaluate_points(kwargs.pop("command"), kwargs.pop("expr"), kwargs.pop("points"), **kwargs)
            list(ev.chunks)
        except JacliError:
            pass
        except BaseException as err:
            pytest.fail(f"evaluate_points({slot}={_show(value)}) raised {type(err).__name__}: {err}")


def _show(value: Any) -> str:
    text = f"{type(value).__name__}" if isinstance(value, int) and value.bit_length() > 4096 else repr(value)
    return text[:60]


def test_the_validator_for_check_options() -> None:
    assert api.option_number("--h", None) is None
    assert api.option_number("--h", 0.5, positive=True) == 0.5
    assert api.option_number("--rtol", 0) == 0.0
    assert api.option_number("--atol", Fraction(1, 4)) == 0.25
    for bad in ("0.1", b"1", True, None and 1, float("nan"), float("inf"), -1.0, [1], Fraction(10**5000, 3), 1j):
        if bad is None:
            continue
        with pytest.raises(UsageError, match=r"^--rtol must be a finite non-negative number"):
            api.option_number("--rtol", bad)
    with pytest.raises(UsageError, match=r"^--h must be a finite positive number"):
        api.option_number("--h", 0, positive=True)


# ---------------------------------------------------------------------------
# Points-file fuzz: odd bytes never give a traceback.
# ---------------------------------------------------------------------------

_PIECES = [
    "x", "y", "a[0]", "a[1]", "A[0,1]", "1", "-2.5", "1e999", "1e-999", "nan", "inf", "007", "1_0", "0x1", "١", "１",
    ",", ",", ",", "\t", " ", "  ", "\n", "\n", "\r\n", "\r", "#", "# c\n", "[", "]", "\0", "\ufeff", "é", "\u200b",
    '"1"', "'", ";", "e", ".", "-", "+", "==", "\x1b[2J", "\u2028", "\x85",
]  # fmt: skip


def _fuzz_files() -> list[bytes]:
    rng = random.Random(11)  # fixed: the same files every run
    files = []
    for _ in range(60):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 40)))
        files.append(text.encode("utf-8"))
    for _ in range(15):
        files.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))))
    files += [
        "x,y\n1,2\n".encode("utf-16"),
        "x,y\n1,2\n".encode("utf-16-le"),
        "x,y\né,2\n".encode("latin-1"),
        "x,y\n1,2\n".encode("utf-32"),
        b"\xef\xbb\xbfx,y\r\n1,2\r\n",
        b"\xef\xbb\xbf\xef\xbb\xbfx,y\n1,2\n",
        b"x,y\r1,2\r3,4\r",
        b"x,y\n1,2\0\n",
        b"x,y\n" + b"1," * 200_000 + b"\n",
        b"1,2\n" * 1000 + b"1,2," * (points.MAX_LINE_BYTES // 4) + b"\n",
        b"x,y\n" + b"\n" * 100_000 + b"1,2\n",
        b"#" * 1_000_000 + b"\n1,2\n",
        b"",
        b"\n\n\n",
        b"# only comments\n",
        b"x,y\n",
        ("x" + ",x" * 5000 + "\n").encode(),
        (",".join(f"y{i}" for i in range(100_001)) + "\n").encode(),
    ]
    return files


@pytest.mark.parametrize("data", _fuzz_files(), ids=lambda data: f"{len(data)}B")
@pytest.mark.filterwarnings("error")
def test_points_file_fuzz_gives_a_result_or_a_clean_error(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, "fuzz.csv", data)
    r = invoke_cli("gradient", "x*y", "--points", path, "--format", "csv", "--no-symbolic")
    assert r.exit_code in (0, 2), r
    assert "Traceback" not in r.stderr and "Warning:" not in r.stderr, r.stderr
    if r.exit_code == 2:
        assert r.stderr.startswith("jacli: error: "), r.stderr
        assert len(r.stderr.splitlines()) == 1, r.stderr
        assert r.stdout == ""
    else:
        assert all(line.startswith(("jacli: warning: ", "jacli: note: ")) for line in r.stderr.splitlines())


def test_fuzzed_streams_through_the_reader_raise_only_points_errors() -> None:
    for data in _fuzz_files():
        try:
            reader = open_points("-", stdin=io.BytesIO(data))
            for _ in reader.chunks(7):
                pass
        except PointsError:
            pass
