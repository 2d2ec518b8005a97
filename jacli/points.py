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

import collections
import io
import itertools
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import numpy as np

from jacli.errors import UsageError
from jacli.limits import BLOCK_BYTES, CHUNK_BYTES, MAX_CHUNK_LINES, MAX_LINE_BYTES
from jacli.limits import MAX_POINT_COLUMNS as MAX_COLUMNS
from jacli.plain_csv import parse_plain

if TYPE_CHECKING:
    from numpy.typing import NDArray


_NEWLINE = b"\n"  # (a name: an f-string may not hold a backslash)
_LONE_CR = re.compile(rb"\r(?!\n)")
"""A bare carriage return (old Mac OS line ends): read as a line end, as Python's universal newlines and pandas do."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(\[\d+(,\d+)*\])?\Z")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
"""A decimal number, as ``--at`` takes it: what a field of a points file may hold."""
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)\Z", re.IGNORECASE)
"""What NumPy's reader also takes, but ``--at`` refuses: these are located and refused after parsing."""
_NONFINITE_FIELD = re.compile(r"^[^#\n]*?(?<![\w.])([+-]?(?:nan|inf(?:inity)?))", re.IGNORECASE | re.MULTILINE)
"""The first ``nan``/``inf`` spelled as a field (not in a comment) in the text of a chunk."""
_FIELD = re.compile(r"(?:[^,\[]|\[[^\[\]]*\]|\[)*")
"""A comma-separated field; a comma inside brackets belongs to an element label such as ``A[0,1]``."""


class PointsError(UsageError):
    """A points file that cannot be read: names the file, line and column."""


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of a points file: ``values`` (rows, columns) and the file line of each row."""

    values: NDArray[np.float64]
    first_line: int


def _split(line: str, delimiter: str | None) -> list[tuple[int, str]]:
    """Fields of a line with their 1-based character columns (comments removed).

    At most ``MAX_COLUMNS + 1`` fields: more is an error however many there are,
    and a 16 MiB line of commas must not become millions of strings.
    """
    body = line.split("#", 1)[0].rstrip("\r\n")
    if delimiter is None:
        return [(m.start() + 1, m.group()) for m in itertools.islice(re.finditer(r"\S+", body), MAX_COLUMNS + 1)]
    fields: list[tuple[int, str]] = []
    start = 0
    while len(fields) <= MAX_COLUMNS:
        if delimiter == ",":
            end = _FIELD.match(body, start).end()  # type: ignore[union-attr]  # matches the empty string too
        else:
            found = body.find(delimiter, start)
            end = len(body) if found < 0 else found
        piece = body[start:end]
        stripped = piece.strip()
        fields.append((start + len(piece) - len(piece.lstrip()) + 1, stripped))
        if end >= len(body):
            break
        start = end + len(delimiter)
    return fields


def _count_fields(line: str, delimiter: str | None) -> int:
    """How many fields a data line has (no element labels in data rows: a plain count, linear)."""
    body = line.split("#", 1)[0].rstrip("\r\n")
    return len(body.split()) if delimiter is None else body.count(delimiter) + 1


def _is_number(text: str) -> bool:
    """A field NumPy's reader parses: a decimal number, or nan/inf (refused later, with their place)."""
    return bool(_NUMBER.match(text) or _NONFINITE.match(text))


def _detect_delimiter(line: str) -> str | None:
    body = re.sub(r"\[[^\[\]]*\]", "", line.split("#", 1)[0])  # ignore the commas of A[0,1]
    if "," in body:
        return ","
    if "\t" in body:
        return "\t"
    return None


def _columns_error(where: str, count: int) -> PointsError:
    shown = f"more than {MAX_COLUMNS:,}" if count > MAX_COLUMNS else f"{count:,}"
    return PointsError(f"{where}: {shown} columns; the limit is {MAX_COLUMNS:,}")


class PointsReader:
    """Rows of numbers from a file (or stdin), a chunk at a time, with an optional header.

    The stream is read a block at a time and cut into lines here, so neither an
    endless line (``/dev/zero``) nor a huge chunk size reads more than
    :data:`MAX_LINE_BYTES` per line and about :data:`CHUNK_BYTES` per chunk.
    """

    def __init__(self, stream: IO[bytes], name: str, size: int | None = None, *, owned: bool = False) -> None:
        self.name = name
        self._owned = owned
        self.size = size
        """Bytes in the file when known (for a progress bar), else None."""
        self.bytes_read = 0
        """Bytes of the lines read so far (a progress bar's position)."""
        self._stream = stream
        self._line_no = 0
        self._pending: list[str] = []
        self._first_data_line = 0
        # lines read but not yet taken (without their b"\n"), the start of an unfinished line, end of stream
        self._ready: list[bytes] = []
        self._next = 0
        self._ready_bytes = 0
        self._lines_seen = 0
        self._tail: list[bytes] = []
        self._tail_bytes = 0
        self._eof = False
        self._cr_waits = False  # a CR ended the last block: CRLF or a bare CR, the next byte says
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

    # -- low level: bytes in blocks, lines, text ---------------------------------------

    def _read_block(self) -> bytes:
        """The next bytes of the stream (b"" at its end); a failing read is a usage error, not a traceback."""
        read = getattr(self._stream, "read1", self._stream.read)  # read1: what is there, without waiting to fill
        try:
            return read(BLOCK_BYTES)
        except OSError as err:  # EIO (/proc/self/mem), EISDIR, a vanished device
            raise PointsError(f"cannot read points file {self.name!r}: {err.strerror or err}") from None
        except ValueError:  # a closed stream
            raise PointsError(f"cannot read points file {self.name!r}: it is closed") from None

    def _fill(self) -> None:
        """Read one block: its complete lines join the ready ones; an unfinished line waits (bounded)."""
        block = self._read_block()
        if not block:
            self._eof = True
            if self._tail or self._cr_waits:  # a last CR ends the last line (counted in the bytes read)
                self._add_lines([b"".join(self._tail)])
                self._tail, self._tail_bytes = [], 0
            return
        parts = self._line_ends(block).split(b"\n")
        if len(parts) > 1:
            if self._tail:
                parts[0] = b"".join([*self._tail, parts[0]])
                self._tail, self._tail_bytes = [], 0
            self._add_lines(parts[:-1])
        if parts[-1]:
            self._tail.append(parts[-1])
            self._tail_bytes += len(parts[-1])
            if self._tail_bytes > MAX_LINE_BYTES:
                self._too_long(self._lines_seen + 1, b"".join(self._tail))

    def _line_ends(self, block: bytes) -> bytes:
        """A bare CR ends a line (it becomes \\n); CRLF stays (its CR is stripped with the line end later).

        A CR that ends a block waits for the next block's first byte (it may be CRLF's); one that
        ends the file ends its last line.
        """
        if self._cr_waits:
            block, self._cr_waits = b"\r" + block, False
        if b"\r" not in block:
            return block
        if block.endswith(b"\r"):
            block, self._cr_waits = block[:-1], True
        return _LONE_CR.sub(_NEWLINE, block)

    def _add_lines(self, lines: list[bytes]) -> None:
        if len(lines[0]) > MAX_LINE_BYTES:  # only the first can be long: the others lie within one block
            self._too_long(self._lines_seen + 1, lines[0])
        self._ready.extend(lines)
        self._ready_bytes += sum(map(len, lines)) + len(lines)  # with their newlines
        self._lines_seen += len(lines)

    def _too_long(self, line: int, data: bytes) -> None:
        where = f"{self.name}:{line}"
        if b"\0" in data:
            raise PointsError(f"{where}: not a text file (binary data); expected rows of numbers")
        limit = MAX_LINE_BYTES // (1024 * 1024)
        raise PointsError(f"{where}: a line longer than {limit} MiB; expected rows of numbers")

    def _read_raw(self, count: int) -> list[bytes]:
        """Up to ``count`` lines; fewer at the end of the stream or past :data:`CHUNK_BYTES` of text."""
        while len(self._ready) - self._next < count and not self._eof and self._ready_bytes < CHUNK_BYTES:
            self._fill()
        raw = self._ready[self._next : self._next + count]
        self._next += len(raw)
        taken = sum(map(len, raw)) + len(raw)  # with their newlines
        self._ready_bytes -= taken
        self.bytes_read += taken  # the lines given out (a progress bar's position)
        if self._next > len(self._ready) // 2:  # drop what was taken (amortised: each line is moved once)
            del self._ready[: self._next]
            self._next = 0
        return raw

    def _at_end(self) -> bool:
        return self._eof and self._next >= len(self._ready)

    def _decode(self, raw: list[bytes], first_line: int) -> list[str]:
        """Bytes lines -> text lines; binary data or bad UTF-8 is an error at its line."""
        if not raw:
            return []
        blob = b"\n".join(raw)
        nul = blob.find(b"\0")
        if nul >= 0:
            where = f"{self.name}:{first_line + blob.count(_NEWLINE, 0, nul)}"
            raise PointsError(f"{where}: not a text file (binary data); expected rows of numbers")
        try:
            text = blob.decode("utf-8")
        except UnicodeDecodeError as err:
            line = first_line + blob.count(b"\n", 0, err.start)
            raise PointsError(f"{self.name}:{line}: not UTF-8 text (binary?); expected rows of numbers") from None
        if first_line == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheets write UTF-8
        return text.split("\n")  # not splitlines: only \n ends a line, as in the byte stream

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
            raise _columns_error(f"{self.name}:{self._line_no}", len(fields))
        self.columns = len(fields)
        if all(_is_number(text) for _, text in fields):
            self._pending = [line]
            self._first_data_line = self._line_no
            return
        for col, text in fields:
            if not _NAME.match(text):
                what = (
                    "an empty column name" if not text else f"{_short(text)!r} is neither a number nor a variable name"
                )
                raise PointsError(f"{self.name}:{self._line_no}:{col}: {what} (a header names variables: x,y or a[0])")
        names = [text for _, text in fields]
        repeated = sorted(n for n, count in collections.Counter(names).items() if count > 1)
        if repeated:
            shown = ", ".join(map(repr, repeated[:5])) + (", …" if len(repeated) > 5 else "")
            raise PointsError(f"{self.name}:{self._line_no}: the header names {shown} twice")
        self.header = tuple(names)
        self._first_data_line = self._line_no + 1

    # -- chunks -----------------------------------------------------------------------

    def chunks(self, rows: int) -> Iterator[Chunk]:
        """Successive chunks of about ``rows`` lines each, as float64 arrays (rows, columns)."""
        try:
            yield from self._chunks(max(1, min(rows, MAX_CHUNK_LINES)))
        finally:
            self.close()

    def _chunks(self, rows: int) -> Iterator[Chunk]:
        first_line = self._first_data_line
        lines, self._pending = self._pending, []
        while True:
            wanted = rows - len(lines)
            raw = self._read_raw(wanted) if wanted > 0 else []
            count = len(lines) + len(raw)
            if not count:
                return
            blob = b"\n".join([*(line.encode() for line in lines), *raw])
            values = parse_plain(blob, self.delimiter, self.columns)  # a plain block at once, else line by line
            if values is None:
                lines += self._decode(raw, first_line + len(lines))
                values = self._parse(lines, first_line)
            if len(values):
                yield Chunk(values, first_line)
            first_line += count
            self._line_no = first_line - 1
            if self._at_end():
                return
            lines = []

    def _parse(self, lines: list[str], first_line: int) -> NDArray[np.float64]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NumPy warns of an empty chunk (all comments)
                values = np.loadtxt(lines, delimiter=self.delimiter, comments="#", ndmin=2, dtype=np.float64)
        except ValueError:
            self._locate_error(lines, first_line)
            raise  # _locate_error always raises; this is unreachable for well-formed reasons
        if values.size == 0:
            return values.reshape(0, self.columns)
        if values.shape[1] != self.columns:
            self._locate_error(lines, first_line)
        if not np.isfinite(values).all():
            self._refuse_nonfinite(lines, first_line)
        return values

    def _refuse_nonfinite(self, lines: list[str], first_line: int) -> None:
        """``nan``/``inf`` written in the file: refused, as ``--at`` refuses them (``1e999`` is a number: inf)."""
        text = "\n".join(lines)
        found = _NONFINITE_FIELD.search(text)
        if found is None:
            return
        line_start = text.rfind("\n", 0, found.start(1)) + 1
        line = first_line + text.count("\n", 0, found.start(1))
        col = found.start(1) - line_start + 1
        raise PointsError(
            f"{self.name}:{line}:{col}: {found.group(1)!r} is not a finite number (points are finite, as with --at)"
        )

    def _locate_error(self, lines: list[str], first_line: int) -> None:
        """Scan a chunk that NumPy refused, line by line, and raise at the first bad field."""
        for offset, line in enumerate(lines):
            if not line.split("#", 1)[0].strip():
                continue
            count = _count_fields(line, self.delimiter)
            where = f"{self.name}:{first_line + offset}"
            if count != self.columns:
                expected = (
                    f" ({', '.join(self.header[:8])}{', …' if len(self.header) > 8 else ''})" if self.header else ""
                )
                raise PointsError(
                    f"{where}: {count:,} value{'s' if count != 1 else ''}, "
                    f"expected {self.columns:,}{expected} like the first row"
                )
            for col, text in _split(line, self.delimiter):
                if not _is_number(text):
                    shown = "an empty field" if not text else f"{_short(text)!r} is not a number"
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


def _short(text: str) -> str:
    """A field as shown in a message: at most 40 characters."""
    return text if len(text) <= 40 else text[:28] + "…" + text[-8:]


def open_points(path: str, stdin: IO[bytes] | None = None) -> PointsReader:
    """``path`` (``-`` for stdin) as a :class:`PointsReader`; an unreadable file is a usage error."""
    if path == "-":
        if stdin is None:
            stdin = getattr(sys.stdin, "buffer", None)  # sys.stdin is None when jacli starts with it closed
        if stdin is None:
            raise PointsError("cannot read points from stdin: it is closed")
        return PointsReader(stdin, "<stdin>")
    from jacli.arrow_points import columnar_kind, open_columnar  # noqa: PLC0415 - Parquet, Arrow (issue 17)

    if (kind := columnar_kind(path)) is not None:
        return open_columnar(path, kind)  # type: ignore[return-value]  # PointsReader's interface
    try:
        stream = open(path, "rb")  # closed by PointsReader.close
    except OSError as err:
        raise PointsError(f"cannot read points file {path!r}: {err.strerror or err}") from None
    except ValueError:  # a NUL byte, or a lone surrogate the file system cannot encode
        raise PointsError(f"cannot read points file {path!r}: not a valid file name") from None
    try:
        size = os.fstat(stream.fileno()).st_size
        return PointsReader(stream, path, size, owned=True)
    except BaseException:
        stream.close()
        raise
