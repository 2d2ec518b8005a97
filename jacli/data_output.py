"""``--output FILE`` and ``--header``: results one row per point, to a file (atomically) or stdout.

The file's ending says what it holds: ``.csv`` (the bytes ``--format csv`` writes
on stdout), ``.jsonl`` (those of ``--format json``), ``.parquet`` (the columns of
``--format csv --header``, :mod:`jacli.columns`). The file is written under a
temporary name beside it and renamed when the run succeeds, so a failed or
interrupted run leaves the old file (or none), never half a file. Rows stream:
each chunk of points is written as it is computed (Parquet: one row group a chunk).

``--header`` (csv) switches the CSV to the data-frame layout: one row per point,
even for one point: the point, ``value[…]``, then the result's entries.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import io
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jacli.errors import OutputError, UsageError
from jacli.limits import FORMAT_BYTES, PARQUET_RESULT_ROWS

ENDINGS = {".csv": "csv", ".jsonl": "json", ".parquet": "parquet"}
"""File name endings ``--output`` writes, and the format of each."""

_SINK: contextvars.ContextVar[Rows | None] = contextvars.ContextVar("jacli_rows", default=None)


def rows_sink() -> Rows | None:
    """Where results go one row per point during this run (``--header`` or a ``.parquet`` file), else None."""
    return _SINK.get()


def _kind(path: str) -> str:
    """The format ``path``'s ending names. A name that is only an ending (``.csv``, a hidden file) has none,
    as :attr:`pathlib.PurePath.suffix` says: it is refused, not taken as a CSV file named ``.csv``."""
    name = os.path.basename(path)
    ending = os.path.splitext(name)[1].lower()
    if ending in ENDINGS:
        return ENDINGS[ending]
    accepted = "the name must end in .csv, .jsonl or .parquet"
    if name.lower() in ENDINGS:
        raise UsageError(
            f"--output {path!r}: {name!r} is a hidden file's whole name, not a name with the ending {name.lower()!r}; "
            f"give the file a name before the ending (e.g. 'out{name.lower()}'): {accepted}"
        )
    if not ending:
        raise UsageError(f"--output {path!r}: the name has no ending to say the format; {accepted}")
    raise UsageError(f"--output {path!r}: cannot write {ending!r} files; {accepted}")


def file_format(path: str | None, fmt: str, header: bool) -> str:
    """The output format of the run: ``fmt``, or the one ``path``'s ending names (``parquet`` too)."""
    if path is None:
        if header and fmt != "csv":
            raise UsageError(f"--header goes with --format csv (or --output FILE.csv), not --format {fmt}")
        return fmt
    kind = _kind(path)
    if fmt not in ("table", kind) and not (kind == "parquet" and fmt == "csv"):
        raise UsageError(f"--output {path!r} writes {kind}; drop --format {fmt} (the file's ending says the format)")
    if header and kind == "json":
        raise UsageError("--header names the columns of CSV; a .jsonl file names them in each line")
    return kind


@contextlib.contextmanager
def destination(path: str | None, fmt: str, header: bool) -> Iterator[str]:
    """For the run's duration: stdout goes to ``path`` (atomically), rows to a :class:`Rows` where needed.

    Yields the format the renderers write (``csv``/``json``/``table``/``latex``; Parquet yields ``csv``).
    """
    kind = file_format(path, fmt, header)
    if path is None:
        if not header:
            yield fmt
            return
        token = _SINK.set(Rows(TextRows(sys.stdout.write)))
        try:
            yield "csv"
        finally:
            _SINK.reset(token)
        return
    with _atomic(path) as temporary:
        if kind == "parquet":
            sink = ParquetRows(temporary)
            token = _SINK.set(Rows(sink))
            try:
                yield "csv"
                sink.close()
            finally:
                _SINK.reset(token)
                sink.abandon()
            return
        from jacli.streams import Channel  # noqa: PLC0415

        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            channel = Channel(stream, "stdout", strict=True)
            saved, sys.stdout = sys.stdout, channel  # type: ignore[assignment]
            token = _SINK.set(Rows(TextRows(channel.write)) if header else None)
            try:
                yield kind
                channel.flush()
            finally:
                sys.stdout = saved
                _SINK.reset(token)


@contextlib.contextmanager
def _atomic(path: str) -> Iterator[str]:
    """A temporary file name beside ``path``, renamed to ``path`` when the block succeeds, else removed."""
    shown, path = path, os.path.realpath(path)  # through a symlink: its target is written, the link kept
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        try:  # a device or FIFO (/dev/full, /dev/stdout): written in place, nothing to rename
            yield path
        except OSError as err:
            raise OutputError(f"cannot write {shown!r}: {err.strerror or err}") from None
        return
    folder = os.path.dirname(path)
    remove_stale_parts(path)
    try:
        prefix = f".{os.path.basename(path)}.{_host()}.{os.getpid()}."
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".part")
    except OSError as err:
        raise OutputError(f"cannot write {shown!r}: {err.strerror or err}") from None
    os.close(handle)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask  # as a plain open() would create it, not mkstemp's 0600
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(path).st_mode)  # a file written over keeps its mode (a private one stays so)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as err:
        raise OutputError(f"cannot write {shown!r}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def remove_stale_parts(path: str) -> list[str]:
    """Remove the temporary files of earlier runs writing ``path`` that were killed (SIGKILL leaves
    ``.NAME.HOST.PID.XXXX.part``): only ``path``'s own, plain files, written on this host, whose process
    no longer exists; returns them.

    A file whose pid is alive (a run now writing, or a reused pid), whose name has no pid, or that
    another host wrote (a shared or network folder: its pid means nothing here) is kept.
    """
    folder, name = os.path.split(path)
    own = re.compile(rf"\.{re.escape(name)}\.{re.escape(_host())}\.(\d+)\.[a-z0-9_]{{8}}\.part")  # tempfile's 8
    removed = []
    try:
        entries = list(os.scandir(folder or "."))
    except OSError:
        return removed
    for entry in entries:
        match = own.fullmatch(entry.name)
        if match is None or _alive(int(match[1])) or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(entry.path)
    return removed


def _host() -> str:
    """This machine's name as it goes into a part file's name (letters, digits and ``-`` only)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", os.uname().nodename) or "host"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user's counts as alive)."""
    if pid <= 0 or sys.platform == "win32":  # (on Windows os.kill would end it)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists; anything else: not proven gone
        return True
    return True


class TextRows:
    """CSV text, a header row first."""

    def __init__(self, write: Callable[[str], Any]) -> None:
        self._write = write
        self._started = False

    def start(self, names: list[str]) -> None:
        if not self._started:
            self._started = True
            self._write(_csv_line(names))

    def numbers(self, names: list[str], table: Any) -> None:
        from jacli.render.csv import render_csv_rows  # noqa: PLC0415

        self.start(names)
        step = max(1, FORMAT_BYTES // (24 * max(1, table.shape[1])))  # about 24 bytes a number
        for i in range(0, len(table), step):
            self._write(render_csv_rows(table[i : i + step]))

    def cells(self, names: list[str], rows: list[list[Any]]) -> None:
        from jacli.render import full_precision  # noqa: PLC0415

        self.start(names)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([full_precision(x) for x in row] for row in rows)
        self._write(buffer.getvalue())


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


class ParquetRows:
    """Parquet row groups into ``path``, the writer opened with the first rows (their columns, their types)."""

    def __init__(self, path: str) -> None:
        from jacli.extras import require  # noqa: PLC0415

        self._pa = require("pyarrow", "writing Parquet")
        self._pq = require("pyarrow.parquet", "writing Parquet")
        self._path = path
        self._writer: Any = None
        self._names: list[str] = []

    def start(self, names: list[str]) -> None:
        self._names = names

    def _write(self, table: Any) -> None:
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self._path, table.schema)
        self._writer.write_table(table)

    def numbers(self, names: list[str], table: Any) -> None:
        arrays = [self._pa.array(table[:, j]) for j in range(table.shape[1])]
        self._write(self._pa.Table.from_arrays(arrays, names=names))

    def cells(self, names: list[str], rows: list[list[Any]]) -> None:
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        arrays = [self._pa.array(list(column), type=_type(self._pa, column)) for column in columns]
        self._write(self._pa.Table.from_arrays(arrays, names=names))

    def close(self) -> None:
        if self._writer is None:  # no rows: the columns alone
            self._pq.write_table(
                self._pa.table({n: self._pa.array([], self._pa.float64()) for n in self._names}), self._path
            )
        else:
            self._writer.close()
            self._writer = None

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _type(pa: Any, column: Iterable[Any]) -> Any:
    return pa.string() if any(isinstance(x, str) for x in column) else pa.float64()


class Rows:
    """Results one row per point, to a :class:`TextRows` or :class:`ParquetRows`."""

    def __init__(self, sink: TextRows | ParquetRows) -> None:
        self.sink = sink

    def write_points(self, ev: Any, on_chunk: Callable[[], None] | None = None) -> Any:
        """A :class:`~jacli.batch.PointsEvaluation`, chunk by chunk; the :class:`~jacli.render.points.Summary`."""
        from jacli.columns import names  # noqa: PLC0415
        from jacli.render.points import Summary  # noqa: PLC0415
        from jacli.render.points import _note_nonfinite as note_nonfinite  # noqa: PLC0415

        summary, columns = Summary(), names(ev)
        self.sink.start(columns)
        for chunk in ev.chunks:
            note_nonfinite(summary, ev, chunk)
            self.sink.numbers(columns, chunk.flat(value=True))
            summary.points += chunk.rows
            if on_chunk is not None:
                on_chunk()
        return summary

    def write_results(self, results: Iterable[Any]) -> None:
        """:class:`~jacli.results.Result` s (one point each), in groups of :data:`~jacli.limits.PARQUET_RESULT_ROWS`."""
        from jacli.columns import names  # noqa: PLC0415
        from jacli.results import flatten  # noqa: PLC0415

        columns: list[str] | None = None
        rows: list[list[Any]] = []
        for result in results:
            if columns is None:
                columns = names(result)
                self.sink.start(columns)
            rows.append([*flatten(list(result.point.values())), *result.value, *flatten(result.result)])
            if len(rows) == PARQUET_RESULT_ROWS:
                self.sink.cells(columns, rows)
                rows = []
        if rows and columns is not None:
            self.sink.cells(columns, rows)
