"""Points files: CSV, TSV or whitespace-separated rows of numbers, read in chunks.

A file may start with a header row naming its columns (variables, or array
elements such as ``a[0]``); ``#`` starts a comment; blank lines are skipped.
Numbers are parsed by NumPy's C reader a chunk at a time, so reading costs no
Python loop per row. Only when a chunk fails to parse is it scanned line by
line, to name the file, line and column of the first bad field.

>>> reader = PointsReader.from_lines(["x,y", "1,2", "# a comment", "3,4"], "pts.csv")
>>> reader.header, reader.delimiter
(('x', 'y'), ',')
>>> [chunk.values.tolist() for chunk in reader.chunks(10)]
[[[1.0, 2.0], [3.0, 4.0]]]
"""

from __future__ import annotations

import io
import itertools
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import numpy as np

from jacli.errors import UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

MAX_COLUMNS = 100_000
"""Most columns a points file may have."""
MAX_LINE_BYTES = 16 * 1024 * 1024
"""Longest line accepted (a guard against binary data without newlines)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(\[\d+(,\d+)*\])?\Z")


class PointsError(UsageError):
    """A points file that cannot be read: names the file, line and column."""


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of a points file: ``values`` (rows, columns) and the file line of each row."""

    values: NDArray[np.float64]
    first_line: int


def _split(line: str, delimiter: str | None) -> list[tuple[int, str]]:
    """Fields of a line with their 1-based character columns (comments removed)."""
    body = line.split("#", 1)[0].rstrip("\r\n")
    if delimiter is None:
        return [(m.start() + 1, m.group()) for m in re.finditer(r"\S+", body)]
    fields, start = [], 0
    # a comma inside brackets belongs to an element label such as A[0,1]
    pieces = re.split(r",(?![^\[\]]*\])", body) if delimiter == "," else body.split(delimiter)
    for piece in pieces:
        stripped = piece.strip()
        offset = len(piece) - len(piece.lstrip())
        fields.append((start + offset + 1, stripped))
        start += len(piece) + len(delimiter)
    return fields


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _detect_delimiter(line: str) -> str | None:
    body = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0])  # ignore the commas of A[0,1]
    if "," in body:
        return ","
    if "\t" in body:
        return "\t"
    return None


class PointsReader:
    """Rows of numbers from a file (or stdin), a chunk at a time, with an optional header."""

    def __init__(self, stream: IO[bytes], name: str, size: int | None = None, *, owned: bool = False) -> None:
        self.name = name
        self._owned = owned
        self.size = size
        """Bytes in the file when known (for a progress bar), else None."""
        self.bytes_read = 0
        self._stream = stream
        self._line_no = 0
        self._pending: list[str] = []
        self._first_data_line = 0
        self.header: tuple[str, ...] | None = None
        self.delimiter: str | None = None
        self.columns = 0
        self.first_line = 1
        """The line of the header, or of the first row when there is none."""
        self._read_first_row()

    @classmethod
    def from_lines(cls, lines: Iterable[str], name: str = "<points>") -> PointsReader:
        """A reader over lines of text (for tests and ``--at`` lists)."""
        data = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        return cls(io.BytesIO(data.encode()), name)

    # -- low level: lines as text ---------------------------------------------------

    def _decode(self, raw: list[bytes], first_line: int) -> list[str]:
        """Bytes lines -> text lines; binary data or bad UTF-8 is an error at its line."""
        for offset, line in enumerate(raw):
            if b"\0" in line or len(line) > MAX_LINE_BYTES:
                where = f"{self.name}:{first_line + offset}"
                raise PointsError(f"{where}: not a text file (binary data); expected rows of numbers")
        blob = b"".join(raw)
        try:
            text = blob.decode("utf-8")
        except UnicodeDecodeError as err:
            line = first_line + blob.count(b"\n", 0, err.start)
            raise PointsError(f"{self.name}:{line}: not UTF-8 text (binary?); expected rows of numbers") from None
        lines = text.split("\n")  # not splitlines: only \n ends a line, as in the byte stream
        if lines[-1] == "":
            lines.pop()
        return lines

    def _read_raw(self, count: int) -> list[bytes]:
        raw = list(itertools.islice(self._stream, count))
        self.bytes_read += sum(map(len, raw))
        return raw

    def _read_first_row(self) -> None:
        """Find the first non-blank, non-comment line: a header or the first row of numbers."""
        while True:
            raw = self._read_raw(1)
            if not raw:
                return
            self._line_no += 1
            (line,) = self._decode(raw, self._line_no)
            if line.split("#", 1)[0].strip():
                break
        self.first_line = self._line_no
        self.delimiter = _detect_delimiter(line)
        fields = _split(line, self.delimiter)
        if len(fields) > MAX_COLUMNS:
            raise PointsError(f"{self.name}:{self._line_no}: {len(fields):,} columns; the limit is {MAX_COLUMNS:,}")
        self.columns = len(fields)
        if all(_is_number(text) for _, text in fields):
            self._pending = [line]
            self._first_data_line = self._line_no
            return
        for col, text in fields:
            if not _NAME.match(text):
                what = "an empty column name" if not text else f"{text!r} is neither a number nor a variable name"
                raise PointsError(f"{self.name}:{self._line_no}:{col}: {what} (a header names variables: x,y or a[0])")
        names = [text for _, text in fields]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PointsError(f"{self.name}:{self._line_no}: the header names {', '.join(map(repr, repeated))} twice")
        self.header = tuple(names)
        self._first_data_line = self._line_no + 1

    # -- chunks -----------------------------------------------------------------------

    def chunks(self, rows: int) -> Iterator[Chunk]:
        """Successive chunks of about ``rows`` lines each, as float64 arrays (rows, columns)."""
        try:
            yield from self._chunks(max(1, rows))
        finally:
            self.close()

    def _chunks(self, rows: int) -> Iterator[Chunk]:
        first_line = self._first_data_line
        lines, self._pending = self._pending, []
        while True:
            wanted = rows - len(lines)
            raw = self._read_raw(wanted) if wanted > 0 else []
            lines += self._decode(raw, first_line + len(lines))
            if not lines:
                return
            values = self._parse(lines, first_line)
            if len(values):
                yield Chunk(values, first_line)
            first_line += len(lines)
            self._line_no = first_line - 1
            if len(raw) < wanted:
                return
            lines = []

    def _parse(self, lines: list[str], first_line: int) -> NDArray[np.float64]:
        try:
            values = np.loadtxt(lines, delimiter=self.delimiter, comments="#", ndmin=2, dtype=np.float64)
        except ValueError:
            self._locate_error(lines, first_line)
            raise  # _locate_error always raises; this is unreachable for well-formed reasons
        if values.size == 0:
            return values.reshape(0, self.columns)
        if values.shape[1] != self.columns:
            self._locate_error(lines, first_line)
        return values

    def _locate_error(self, lines: list[str], first_line: int) -> None:
        """Scan a chunk that NumPy refused, line by line, and raise at the first bad field."""
        for offset, line in enumerate(lines):
            fields = _split(line, self.delimiter)
            if not any(text for _, text in fields):
                continue
            where = f"{self.name}:{first_line + offset}"
            if len(fields) != self.columns:
                expected = f" ({', '.join(self.header)})" if self.header else ""
                raise PointsError(
                    f"{where}: {len(fields)} value{'s' if len(fields) != 1 else ''}, "
                    f"expected {self.columns}{expected} like the first row"
                )
            for col, text in fields:
                if not _is_number(text):
                    shown = "an empty field" if not text else f"{text!r} is not a number"
                    raise PointsError(f"{where}:{col}: {shown}")
        raise PointsError(f"{self.name}:{first_line}: cannot read these rows as numbers")

    def close(self) -> None:
        """Close the file behind the reader (never stdin)."""
        if self._owned:
            self._stream.close()

    def __enter__(self) -> PointsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_points(path: str, stdin: IO[bytes] | None = None) -> PointsReader:
    """``path`` (``-`` for stdin) as a :class:`PointsReader`; an unreadable file is a usage error."""
    if path == "-":
        if stdin is None:
            stdin = sys.stdin.buffer
        return PointsReader(stdin, "<stdin>")
    try:
        stream = open(path, "rb")  # closed by PointsReader.close
    except OSError as err:
        raise PointsError(f"cannot read points file {path!r}: {err.strerror or err}") from None
    try:
        size = os.fstat(stream.fileno()).st_size
        return PointsReader(stream, path, size, owned=True)
    except BaseException:
        stream.close()
        raise
