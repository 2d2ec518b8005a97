"""Line ends of a points file: LF, CRLF and bare CR (old Mac OS) are all line ends, mixed too.

A bare CR is read as Python's universal newlines and pandas read it; a CR that ends a block
of the stream waits for the next byte (it may be a CRLF's), so any cut gives the same rows.
"""

from __future__ import annotations

import io

import pytest
from conftest import Invoke

from jacli.points import PointsReader


class _Trickle(io.RawIOBase):
    """A stream that gives ``size`` bytes per read: every block boundary falls somewhere new."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size = data, size

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        block, self._data = self._data[: self._size], self._data[self._size :]
        return block

    read = read1


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1 << 16])
@pytest.mark.parametrize(
    "data",
    [b"x,y\r1,2\r3,4\r", b"x,y\r\n1,2\r\n3,4\r\n", b"x,y\n1,2\n3,4\n", b"x,y\r1,2\r\r\n3,4\r\r", b"x,y\r\n1,2\r3,4"],
)
def test_every_cut_of_every_line_end_gives_the_same_rows(data: bytes, size: int) -> None:
    reader = PointsReader(_Trickle(data, size), "pts.csv")
    assert reader.header == ("x", "y")
    assert [chunk.values.tolist() for chunk in reader.chunks(10)] == [[[1.0, 2.0], [3.0, 4.0]]]
    ends = data.endswith((b"\r", b"\n"))
    assert reader.bytes_read == len(data) + (0 if ends else 1)  # every byte of every line, its line end counted


def test_a_bare_cr_file_reads_as_lines(jacli: Invoke, tmp_path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"1,2\r3,4\r")
    out = jacli("gradient", "x*y", "--points", str(path), "--format", "csv")
    assert (out.exit_code, out.stdout, out.stderr) == (0, "1.0,2.0,2.0,1.0\n3.0,4.0,4.0,3.0\n", "")
    path.write_bytes(b"x,y\r1,2\r3,4\r")
    assert jacli("gradient", "x*y", "--points", str(path), "--format", "csv").stdout == out.stdout


def test_errors_name_the_line_counted_by_every_line_end(jacli: Invoke, tmp_path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"x,y\r1,2\r\r# a comment\r\n3,oops\r")
    out = jacli("gradient", "x*y", "--points", str(path), "--format", "csv")
    assert out.exit_code == 2
    assert out.stderr == f"jacli: error: {path}:5:3: 'oops' is not a number\n"
    assert "Traceback" not in out.stderr
