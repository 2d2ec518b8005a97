"""The fast reader of plain CSV blocks (jacli.plain_csv): the same numbers and the same errors as the exact path."""

from __future__ import annotations

import errno
import io
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import points
from jacli.errors import OutputError
from jacli.plain_csv import parse_plain
from jacli.points import PointsError, PointsReader
from jacli.render.numbers import csv_bytes, csv_lines, write_csv
from jacli.streams import Channel

SEED = "2*x0+x1**2, x0**2+2*x1**3"


@contextmanager
def exact_path() -> Iterator[None]:
    """The reader without its fast path: every block parsed line by line (NumPy's loadtxt), as before."""
    saved = points.parse_plain
    points.parse_plain = lambda *args: None
    try:
        yield
    finally:
        points.parse_plain = saved


def _read(data: bytes, rows: int) -> tuple[object, ...]:
    """What a reader gives for ``data``: (header, [(first line, values' bits)], None) or the error's text."""
    try:
        reader = PointsReader(io.BytesIO(data), "pts.csv")
        chunks = [(c.first_line, c.values.shape, c.values.tobytes()) for c in reader.chunks(rows)]
    except PointsError as err:
        return ("error", str(err))
    return (reader.header, reader.columns, chunks)


def _both(data: bytes, rows: int) -> tuple[object, object]:
    fast = _read(data, rows)
    with exact_path():
        exact = _read(data, rows)
    return fast, exact


# -- numbers: every spelling a field may have ------------------------------------------------------------------

FIELD_SPELLINGS = [
    repr,
    lambda x: f"{x:.17g}",
    lambda x: f"{x:e}",
    lambda x: f"{x:E}",
    lambda x: f"{x:.3f}",
    lambda x: f"{x:+.5g}",  # a leading + (not JSON: the exact path)
    lambda x: str(int(x)) if math.isfinite(x) and abs(x) < 1e30 else repr(x),
]
ODD_FIELDS = ["-0", "0", "-0.0", "+0", ".5", "-.5", "5.", "01", "1e400", "-1e400", "1e-400", "-1e-400", "1E+5"]
ODD_FIELDS += ["123456789012345678901234567890", "18446744073709551616", "-9223372036854775809", "0.1e1", "1e5"]
ODD_FIELDS += ["9007199254740993", "2.4703282292062328e-324", "1.7976931348623157e308", "00", "-", "1e", "1.2.3"]


@st.composite
def plain_files(draw: st.DrawFn) -> bytes:
    columns = draw(st.integers(1, 4))
    delimiter = "\t" if draw(st.booleans()) else ","
    if columns == 1:
        delimiter = ","
    count = draw(st.integers(1, 40))
    finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
    spell = draw(st.sampled_from(FIELD_SPELLINGS))
    junk = st.text("0123456789.eE+-", min_size=1, max_size=6)
    field = st.one_of(finite.map(spell), st.sampled_from(ODD_FIELDS), junk)
    lines = [delimiter.join(draw(st.lists(field, min_size=columns, max_size=columns))) for _ in range(count)]
    end = "\r\n" if draw(st.booleans()) else "\n"
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    return text.encode()


@given(plain_files(), st.integers(1, 7))
@settings(max_examples=300)
def test_plain_files_read_as_the_exact_path_reads_them(data: bytes, rows: int) -> None:
    fast, exact = _both(data, rows)
    assert fast == exact


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=2, max_size=60))
def test_parse_plain_is_bit_exact(values: list[float]) -> None:
    array = np.array(values[: len(values) // 2 * 2]).reshape(-1, 2)
    blob = "\n".join(f"{a!r},{b:.17g}" for a, b in array.tolist()).encode()
    parsed = parse_plain(blob, ",", 2)
    assert parsed is not None
    assert parsed.tobytes() == array.tobytes()  # -0.0 keeps its sign


def test_random_digit_strings_round_as_numpy_does() -> None:
    rng = np.random.default_rng(16)
    fields = [
        f"{'-' if rng.random() < 0.5 else ''}{rng.integers(1, 10)}.{''.join(map(str, rng.integers(0, 10, 25)))}"
        f"e{rng.integers(-330, 300)}"
        for _ in range(20000)
    ]
    blob = "\n".join(fields).encode()
    parsed = parse_plain(blob, None, 1)
    assert parsed is not None
    assert parsed.ravel().tobytes() == np.array([float(x) for x in fields]).tobytes()


# -- not-so-plain blocks: the exact path, its numbers and its error lines --------------------------------------

ODD_LINES = [
    "# a comment",
    "",
    "   ",
    "1,2 # after",
    " 1,2",
    "1, 2",
    "1,,2",
    "1,2,",
    ",1,2",
    "1",
    "1,2,3",
    "nan,1",
    "1,inf",
    "1,-Infinity",
    "x,y",
    '"1","2"',
    "1;2",
    "1,2\r",
    "\r",
    "1,\x00",
    "1,\xe9",
    "1,0x10",
    "1_0,2",
    "1,٣",
]


@st.composite
def odd_files(draw: st.DrawFn) -> bytes:
    plain = [f"{draw(st.floats(-1e6, 1e6))!r},{draw(st.integers(-5, 5))}" for _ in range(draw(st.integers(1, 12)))]
    for _ in range(draw(st.integers(1, 3))):
        plain.insert(draw(st.integers(0, len(plain))), draw(st.sampled_from(ODD_LINES)))
    header = ["x0,x1"] if draw(st.booleans()) else []
    return "\n".join(header + plain).encode("utf-8", errors="surrogateescape")


@given(odd_files(), st.integers(1, 5))
@settings(max_examples=300)
def test_odd_files_read_and_fail_as_the_exact_path(data: bytes, rows: int) -> None:
    fast, exact = _both(data, rows)
    assert fast == exact


@pytest.mark.parametrize(
    ("blob", "delimiter", "columns"),
    [
        (b"1,2\n# c", ",", 2),
        (b"1,2\n\n3,4", ",", 2),
        (b"1,2\n3", ",", 2),
        (b"1,2,3\n3,4", ",", 2),
        (b"1,,2", ",", 3),
        (b"1,2,", ",", 2),
        (b"1, 2", ",", 2),
        (b"+1,2", ",", 2),
        (b".5,2", ",", 2),
        (b"1,nan", ",", 2),
        (b"1,1e999", ",", 2),
        (b"1,-0", ",", 2),
        (b"1 2", None, 2),
        (b"1;2", ";", 2),
        (b"1,2\r3,4", ",", 2),
        (b"", ",", 2),
        (b"1\n", None, 1),
    ],
)
def test_parse_plain_refuses_what_is_not_plain(blob: bytes, delimiter: str | None, columns: int) -> None:
    assert parse_plain(blob, delimiter, columns) is None


def test_parse_plain_takes_tabs_crlf_and_one_column() -> None:
    assert parse_plain(b"1\t2\r\n3\t-4.5e1\r", "\t", 2).tolist() == [[1.0, 2.0], [3.0, -45.0]]  # type: ignore[union-attr]
    assert parse_plain(b"1\n2.5\n-0.0", None, 1).tolist() == [[1.0], [2.5], [-0.0]]  # type: ignore[union-attr]


def test_an_error_after_many_plain_chunks_names_its_line() -> None:
    lines = [f"{i}.5,{i}" for i in range(1000)]
    lines[777] = "1,two"
    fast, exact = _both("\n".join(lines).encode(), 64)
    assert fast == exact == ("error", "pts.csv:778:3: 'two' is not a number")


# -- whole runs: the bytes of every output are those of the exact path ----------------------------------------


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    values = rng.uniform(-2, 2, size=(70_000, 2))
    values[::997] *= 1e-7  # tiny numbers: rows formatted by repr between orjson's runs
    values[5, 1] = 0.0
    values[6, 0] = -0.0
    path = tmp_path_factory.mktemp("plain") / "pts.csv"
    np.savetxt(path, values, delimiter=",", fmt="%.17g")
    return path


@pytest.mark.parametrize(
    "options",
    [
        ["--format", "csv"],
        ["--format", "csv", "--header"],
        ["--format", "json"],
        ["--format", "csv", "--dtype", "float32"],
    ],
)
def test_big_runs_write_the_bytes_of_the_exact_path(jacli: Invoke, big_file: Path, options: list[str]) -> None:
    fast = jacli("jacobian", SEED, "--points", str(big_file), *options)
    with exact_path():
        exact = jacli("jacobian", SEED, "--points", str(big_file), *options)
    assert fast.exit_code == exact.exit_code == 0, fast.stderr
    assert fast.stdout == exact.stdout
    assert len(fast.stdout.splitlines()) >= 70_000


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_big_output_files_are_the_bytes_of_the_exact_path(
    jacli: Invoke, big_file: Path, tmp_path: Path, suffix: str
) -> None:
    fast_path, exact_path_file = tmp_path / f"fast{suffix}", tmp_path / f"exact{suffix}"
    assert jacli("jacobian", SEED, "--points", str(big_file), "--output", str(fast_path)).exit_code == 0
    with exact_path():
        assert jacli("jacobian", SEED, "--points", str(big_file), "--output", str(exact_path_file)).exit_code == 0
    assert fast_path.read_bytes() == exact_path_file.read_bytes()


def test_several_at_points_are_unchanged(jacli: Invoke) -> None:
    argv = ["jacobian", SEED, "--at", "1,2", "--at", "-0.0,1e-05", "--format", "csv"]
    assert jacli(*argv).stdout == "1.0,2.0,2.0,4.0,2.0,24.0\n0.0,1e-05,2.0,2e-05,0.0,6.000000000000001e-10\n"


# -- CSV lines: orjson's runs and repr's rows between them ------------------------------------------------------


def _old_csv(rows: np.ndarray) -> str:
    return "".join(",".join(map(repr, row)) + "\n" for row in rows.tolist())


@given(
    st.integers(1, 300),
    st.integers(1, 5),
    st.lists(st.tuples(st.integers(0, 299), st.sampled_from([1e-5, -0.0, math.nan, math.inf, 1e20, 5e-324]))),
)
def test_csv_bytes_with_a_few_rows_for_repr(count: int, width: int, odd: list[tuple[int, float]]) -> None:
    rows = np.random.default_rng(count).uniform(-3, 3, size=(count, width))
    for row, value in odd:
        rows[row % count, row % width] = value
    assert csv_bytes(rows).decode() == csv_lines(rows) == _old_csv(rows)
    assert csv_bytes(rows[:, ::-1]).decode() == _old_csv(rows[:, ::-1])  # not contiguous
    assert csv_bytes(rows.astype(np.float32)).decode() == _old_csv(rows.astype(np.float32).astype(np.float64))


def test_csv_bytes_of_float32_on_the_edges() -> None:
    """float32 1e-4 is 9.99…e-05 as the float64 written: the repr test is on the float64 values."""
    rows = np.array([[1e-4, 0.5, 0.1], [2.0, 1.0, -1e-4]], dtype=np.float32)
    expected = _old_csv(rows.astype(np.float64))
    assert expected.startswith("9.999999747378752e-05,")
    assert csv_bytes(rows).decode() == csv_lines(rows) == expected


# -- Channel.write_ascii: bytes straight to stdout, with write's guarantees ------------------------------------


class _Sink(io.RawIOBase):
    """A buffer that takes at most ``step`` bytes a write and fails with ``error`` past ``room`` bytes."""

    def __init__(self, step: int = 1 << 30, room: int | None = None, error: int = errno.EPIPE) -> None:
        self.data, self.step, self.room, self.error = bytearray(), step, room, error

    def write(self, b: Any) -> int:
        if self.room is not None and len(self.data) >= self.room:
            raise BrokenPipeError() if self.error == errno.EPIPE else OSError(self.error, os.strerror(self.error))
        taken = bytes(b[: self.step])[: None if self.room is None else self.room - len(self.data)]
        self.data += taken
        return len(taken)


class _Text:
    def __init__(self, buffer: Any, encoding: str = "utf-8") -> None:
        self.buffer, self.encoding = buffer, encoding

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_write_ascii_keeps_the_order_and_continues_short_writes() -> None:
    sink = _Sink(step=7)
    channel = Channel(_Text(sink), "stdout", strict=True)  # type: ignore[arg-type]
    channel.write("x,y\n")
    channel.write_ascii(b"1.0,2.0\n" * 1000)
    channel.write("end\n")
    channel.flush()
    assert bytes(sink.data) == b"x,y\n" + b"1.0,2.0\n" * 1000 + b"end\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_write_ascii_to_a_stream_spelling_ascii_otherwise_is_text(encoding: str) -> None:
    sink = _Sink()
    channel = Channel(_Text(sink, encoding), "stdout", strict=True)  # type: ignore[arg-type]
    channel.write_ascii(b"1.0,2.0\n")
    channel.flush()
    assert bytes(sink.data).decode(encoding) == "1.0,2.0\n"


def test_write_ascii_to_a_text_stream_and_to_a_closed_one() -> None:
    text = io.StringIO()
    channel = Channel(text, "stdout", strict=True)
    channel.write_ascii(b"1.0\n")
    assert text.getvalue() == "1.0\n"
    with pytest.raises(OutputError, match="stdout is closed"):
        Channel(None, "stdout", strict=True).write_ascii(b"1.0\n")


@pytest.mark.parametrize(("error", "raised"), [(errno.EPIPE, BrokenPipeError), (errno.ENOSPC, OutputError)])
def test_write_ascii_failures_raise_once(error: int, raised: type[Exception]) -> None:
    channel = Channel(_Text(_Sink(step=1000, room=5000, error=error)), "stdout", strict=True)  # type: ignore[arg-type]
    with pytest.raises(raised):
        channel.write_ascii(b"1.0,2.0\n" * 10_000)
    channel.write_ascii(b"more\n")  # dropped: reported once
    assert channel.lost and channel.broken_pipe == (error == errno.EPIPE)


def test_write_csv_to_any_text_stream() -> None:
    rows = np.array([[1.0, 1e-05], [-0.0, 2.5]])
    text = io.StringIO()
    write_csv(text, rows)
    assert text.getvalue() == "1.0,1e-05\n-0.0,2.5\n"
