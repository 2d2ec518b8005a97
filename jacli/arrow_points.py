"""Points from columnar data: Parquet and Arrow/Feather files, and pandas data frames (pyarrow).

A column per point element, named as a points file's header would name it (``x``,
``a[0]``, ``A[0,1]``), holding numbers (any integer or floating type). An array
variable may also be one list column (``a`` of equal-length lists; ``A`` of lists
of lists, row-major), expanded here to its element columns. Files are read in
record batches (Parquet by row groups, Arrow memory-mapped), so memory holds one
chunk however many rows there are. The reader has :class:`jacli.points.PointsReader`'s
interface (``header``, ``columns``, ``chunks``); rows are counted from 1 in messages.
It imports no other points module (:mod:`jacli.points` imports it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from jacli.errors import UsageError
from jacli.extras import require


class PointsError(UsageError):
    """A columnar points file or frame that cannot be read as points."""


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows: ``values`` (rows, columns) and the row number of the first (as :class:`jacli.points.Chunk`)."""

    values: np.ndarray
    first_line: int


SUFFIXES = {".parquet": "parquet", ".arrow": "arrow", ".feather": "arrow"}
"""File name endings (any case) read as columnar files."""


def columnar_kind(path: str) -> str | None:
    """``parquet`` or ``arrow`` for a path with such an ending, else None (a text points file)."""
    return SUFFIXES.get(os.path.splitext(path)[1].lower())


class ColumnarReader:
    """Rows of numbers from record batches; ``batches(rows)`` yields pyarrow ``RecordBatch`` es of ``rows`` at most."""

    delimiter = None

    def __init__(self, name: str, schema: Any, batches: Callable[[int], Iterator[Any]], rows: int | None) -> None:
        self.name = name
        self.first_line = 1
        self.size = rows
        """Rows in the file (a progress bar's total), when known."""
        self.bytes_read = 0
        """Rows read so far (a progress bar's position)."""
        self._batches = batches
        self._schema = schema
        self._closers: list[Callable[[], None]] = []
        self._shapes: dict[str, tuple[int, ...]] = {}
        pa = require("pyarrow", "reading Parquet or Arrow points")
        for field in schema:
            kind = field.type
            if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
                self._shapes[field.name] = ()  # its length comes from the first row
            elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                raise PointsError(f"{name}: column {field.name!r} holds {kind}, not numbers")
        self._pending = None
        if self._shapes:
            first = next(self._batches(1), None)
            for column in self._shapes:
                self._shapes[column] = self._list_shape(first, column)
        self.header: tuple[str, ...] | None = tuple(self._labels())
        self.columns = len(self.header)

    def _labels(self) -> Iterator[str]:
        from jacli.columns import element_labels  # noqa: PLC0415

        for field in self._schema:
            yield from element_labels(field.name, self._shapes.get(field.name, ()))

    def _list_shape(self, batch: Any, column: str) -> tuple[int, ...]:
        if batch is None or batch.num_rows == 0:
            raise PointsError(f"{self.name}: column {column!r} holds lists, and there is no row to size them")
        shape, value = [], batch.column(column)[0].as_py()
        while isinstance(value, list):
            if not value:
                raise PointsError(f"{self.name}:1: column {column!r} holds an empty list")
            shape.append(len(value))
            value = value[0]
        return tuple(shape)

    def chunks(self, rows: int) -> Iterator[Chunk]:
        """Successive chunks of at most ``rows`` rows, as float64 arrays (rows, columns)."""
        first = 1
        try:
            for batch in self._read(max(1, rows)):
                if batch.num_rows:
                    yield Chunk(self._values(batch, first), first)
                first += batch.num_rows
                self.bytes_read = first - 1
        finally:
            self.close()

    def _read(self, rows: int) -> Iterator[Any]:
        """The batches; a file that breaks while it is read (corrupt pages) is a points error, not an output one."""
        batches = self._batches(rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (OSError, ValueError) as err:  # pyarrow's ArrowIOError, ArrowInvalid
                raise PointsError(f"cannot read points file {self.name!r}: {err}") from None
            yield batch

    def _values(self, batch: Any, first: int) -> np.ndarray:
        parts = []
        for field, column in zip(self._schema, batch.columns, strict=True):
            parts.append(self._numbers(field.name, column, first))
        values = np.concatenate(parts, axis=1) if parts else np.empty((batch.num_rows, 0))
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            col = int(np.flatnonzero(~np.isfinite(values[row]))[0])
            raise PointsError(
                f"{self.name}:{first + row}: {self.header[col]!r} is {float(values[row, col])!r}, not a finite number "
                "(points are finite, as with --at)"
            )
        return values

    def _numbers(self, name: str, column: Any, first: int) -> np.ndarray:
        """One column of a batch as a float64 array (rows, elements); a null or misshapen list is an error."""
        pc = require("pyarrow.compute", "reading Parquet or Arrow points")
        rows = len(column)
        shape = self._shapes.get(name, ())
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise PointsError(f"{self.name}:{first + row}: column {name!r} is empty (null); expected a number")
        for depth, size in enumerate(shape):
            lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
            wrong = np.flatnonzero(lengths != size)
            if len(wrong) or column.null_count:
                row = int(wrong[0]) // max(1, int(np.prod(shape[:depth])))
                raise PointsError(
                    f"{self.name}:{first + row}: column {name!r} has a list of {int(lengths[wrong[0]])} "
                    f"element{'s' if lengths[wrong[0]] != 1 else ''} where the first row has {size}"
                )
            column = column.flatten()
        if column.null_count:
            raise PointsError(f"{self.name}: column {name!r} holds an empty (null) element")
        try:
            values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        except (TypeError, ValueError):
            raise PointsError(f"{self.name}: column {name!r} holds {column.type}, not numbers") from None
        return values.reshape(rows, -1)

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        closers, self._closers = self._closers, []
        for closer in closers:
            closer()

    def __enter__(self) -> ColumnarReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_columnar(path: str, kind: str) -> ColumnarReader:
    """A Parquet (``kind="parquet"``) or Arrow IPC/Feather file as a :class:`ColumnarReader`."""
    pa = require("pyarrow", "reading Parquet or Arrow points")
    try:
        if kind == "parquet":
            pq = require("pyarrow.parquet", "reading Parquet points")
            file = pq.ParquetFile(path)
            reader = ColumnarReader(
                path, file.schema_arrow, lambda rows: file.iter_batches(batch_size=rows), file.metadata.num_rows
            )
            reader.on_close(file.close)
            return reader
        with open(path, "rb") as probe:
            if probe.read(4) == FEATHER_V1:
                return _feather_v1(path)
        source = pa.memory_map(path)
        try:
            table = pa.ipc.open_file(source).read_all()  # memory-mapped: no copy, pages read as used
        except pa.ArrowInvalid:
            source.seek(0)
            table = pa.ipc.open_stream(source).read_all()
        reader = ColumnarReader(path, table.schema, lambda rows: iter(table.to_batches(max_chunksize=rows)), len(table))
        reader.on_close(source.close)
        return reader
    except FileNotFoundError:
        raise PointsError(f"cannot read points file {path!r}: No such file or directory") from None
    except (OSError, pa.ArrowException) as err:
        what = "Parquet" if kind == "parquet" else "Arrow"
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PointsError(f"cannot read points file {path!r} as {what}: {first}") from None


FEATHER_V1 = b"FEA1"
"""The first (and last) bytes of a Feather version 1 file (version 2 is the Arrow IPC file format)."""


def _feather_v1(path: str) -> ColumnarReader:
    """A Feather version 1 file, read whole by ``pyarrow.feather`` (the format has no record batches to stream;
    pyarrow deprecates it, so a pyarrow that no longer reads it gives an error saying how to convert it)."""
    import warnings  # noqa: PLC0415

    feather = require("pyarrow.feather", "reading Feather points")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # jacli reads it; the advice is in the README
            table = feather.read_table(path, memory_map=True)
    except Exception as err:  # any failure of a pyarrow without version 1: the same advice
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PointsError(
            f"cannot read points file {path!r}: it is a Feather version 1 file, which this pyarrow cannot read "
            f"({first}); convert it to Feather version 2 (the Arrow IPC file format) with a pyarrow that still "
            "reads version 1 (deprecated since pyarrow 25): "
            "pyarrow.feather.write_feather(pyarrow.feather.read_table(IN), OUT)"
        ) from None
    return ColumnarReader(path, table.schema, lambda rows: iter(table.to_batches(max_chunksize=rows)), len(table))


def frame_reader(frame: Any, name: str = "<data frame>") -> ColumnarReader:
    """A pandas DataFrame's columns as points (its index is ignored)."""
    pa = require("pyarrow", "jacli.frame")
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise PointsError(f"{name}: cannot read the columns as numbers: {str(err).splitlines()[0]}") from None
    return ColumnarReader(name, table.schema, lambda rows: iter(table.to_batches(max_chunksize=rows)), len(table))
